"""Load and validate the guardrails data the policies read at `data.burst.guardrails`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from burst.errors import BurstError

GUARDRAILS_DATA_PATH = "burst/guardrails"
"""Where the guardrails are mounted in OPA's data document (`data.burst.guardrails`)."""


YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it (much faster on big files), else the pure-Python one."""


def read_yaml(path: Path) -> Any:
    """Read a YAML file; problems become a BurstError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BurstError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise BurstError(f"{path}: is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BurstError(f"{path}: cannot read: {error}") from None
    try:
        return yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise BurstError(f"{path}: invalid YAML{at}: {problem}") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string_list(value: object, allow_empty: bool) -> bool:
    return (
        isinstance(value, list)
        and (allow_empty or bool(value))
        and all(isinstance(v, str) and v for v in value)
    )


def validate_guardrails(data: object, source: str) -> list[str]:
    """Problems of a guardrails document, one line each naming `source` and the field."""
    if not isinstance(data, Mapping):
        keys = "allowed_regions, data_classifications, teams, iam, spot"
        return [f"{source}: must be a mapping with {keys}"]
    problems: list[str] = []

    def bad(field: str, problem: str) -> None:
        problems.append(f"{source}: {field}: {problem}")

    def section(key: str) -> Mapping[str, Any] | None:
        value = data.get(key)
        if key not in data:
            bad(key, "missing")
        elif not isinstance(value, Mapping):
            bad(key, f"must be a mapping, got {type(value).__name__}")
        else:
            return value
        return None

    if "allowed_regions" not in data:
        bad("allowed_regions", "missing")
    elif not _string_list(data["allowed_regions"], allow_empty=False):
        bad("allowed_regions", "must be a non-empty list of region names")

    classes = section("data_classifications")
    if classes is not None:
        for name, regions in classes.items():
            if not _string_list(regions, allow_empty=True):
                bad(f"data_classifications.{name}", 'must be a list of region names (or "*")')

    teams = section("teams")
    if teams is not None:
        for team, limits in teams.items():
            if not isinstance(limits, Mapping):
                bad(f"teams.{team}", "must be a mapping with gpu_quota and monthly_budget_usd")
                continue
            if "gpu_quota" not in limits:
                bad(f"teams.{team}.gpu_quota", "missing")
            elif not _is_int(limits["gpu_quota"]) or limits["gpu_quota"] < 0:
                bad(f"teams.{team}.gpu_quota", "must be an integer >= 0")
            if "monthly_budget_usd" not in limits:
                bad(f"teams.{team}.monthly_budget_usd", "missing")
            elif not _is_number(limits["monthly_budget_usd"]) or limits["monthly_budget_usd"] < 0:
                bad(f"teams.{team}.monthly_budget_usd", "must be a number >= 0")

    iam = section("iam")
    if iam is not None:
        if "max_session_seconds" not in iam:
            bad("iam.max_session_seconds", "missing")
        elif (
            not _is_int(iam["max_session_seconds"])
            or not 900 <= iam["max_session_seconds"] <= 43200
        ):
            bad("iam.max_session_seconds", "must be an integer from 900 to 43200")

    spot = section("spot")
    if spot is not None:
        if "taint_key" not in spot:
            bad("spot.taint_key", "missing")
        elif not isinstance(spot["taint_key"], str) or not spot["taint_key"]:
            bad("spot.taint_key", "must be a non-empty string")
        if "min_instance_types" not in spot:
            bad("spot.min_instance_types", "missing")
        elif not _is_int(spot["min_instance_types"]) or spot["min_instance_types"] < 1:
            bad("spot.min_instance_types", "must be an integer >= 1")
    return problems


def load_guardrails(path: Path) -> dict[str, Any]:
    """Read and validate a guardrails file; raises BurstError with one line per problem."""
    data = read_yaml(path)
    problems = validate_guardrails(data, str(path))
    if problems or not isinstance(data, dict):
        raise BurstError(problems or [f"{path}: must be a mapping"])
    return data

"""Load and validate the guardrails data the policies read at `data.burst.guardrails`."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from burst_platform.cost.model import FREQUENCY_BUCKETS
from burst_platform.documents import is_finite_number, key_hint, read_yaml, unknown_keys
from burst_platform.errors import BurstError

GUARDRAILS_DATA_PATH = "burst/guardrails"
"""Where the guardrails are mounted in OPA's data document (`data.burst.guardrails`)."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_is_number = is_finite_number

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

DEFAULT_WAIVER_MAX_DAYS = 90
"""How far ahead a waiver may expire unless guardrails `waivers.max_days` says otherwise."""

_SECTIONS = {
    "allowed_regions": None,
    "data_classifications": None,
    "teams": None,
    "iam": {"max_session_seconds"},
    "spot": {"taint_key", "min_instance_types"},
    "waivers": {"max_days"},
    "budgets": {"require_action"},
    "checkpoints": None,
}

CHECKPOINT_KEYS = ("stack", "prices_as_of", "teams")
"""Keys of the `checkpoints` section (written by `burst cost --guardrails`)."""
CHECKPOINT_TEAM_KEYS = (
    "checkpoint_minutes",
    "restart_minutes",
    "optimal_interval_minutes",
    "region",
    "frequency_bucket",
    "regions",
)
"""Keys of each team's entry of the `checkpoints` section, in the order they are written."""
CHECKPOINT_REGION_KEYS = ("optimal_interval_minutes", "frequency_bucket", "instance_types")
"""Keys of each region of a team's entry."""


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
    problems: list[str] = unknown_keys(data, _SECTIONS, source)

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

    for key, fields in _SECTIONS.items():
        if fields is not None and isinstance(data.get(key), Mapping):
            problems.extend(unknown_keys(data[key], fields, f"{source}: {key}"))
    if isinstance(teams, Mapping):
        for team, limits in teams.items():
            if isinstance(limits, Mapping):
                fields = {"gpu_quota", "monthly_budget_usd"}
                problems.extend(unknown_keys(limits, fields, f"{source}: teams.{team}"))

    budgets = data.get("budgets")
    if budgets is not None and not isinstance(budgets, Mapping):
        bad("budgets", "must be a mapping with require_action")
    elif isinstance(budgets, Mapping) and not isinstance(
        budgets.get("require_action", False), bool
    ):
        bad("budgets.require_action", "must be true or false")

    waivers = data.get("waivers")
    if waivers is not None and not isinstance(waivers, Mapping):
        bad("waivers", "must be a mapping with max_days")
    elif isinstance(waivers, Mapping) and "max_days" in waivers:
        max_days = waivers["max_days"]
        if not _is_int(max_days) or not 1 <= max_days <= 366:
            bad("waivers.max_days", "must be an integer from 1 to 366")

    problems.extend(_checkpoint_problems(data, source))

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


def _checkpoint_problems(data: Mapping[str, Any], source: str) -> list[str]:
    """Problems of the optional `checkpoints` section (`burst cost --stack S --guardrails`)."""
    if "checkpoints" not in data:
        return []
    problems: list[str] = []
    where = f"{source}: checkpoints"

    def bad(field: str, problem: str) -> None:
        problems.append(f"{where}.{field}: {problem}")

    section = data["checkpoints"]
    if not isinstance(section, Mapping):
        return [f"{where}: must be a mapping with {', '.join(CHECKPOINT_KEYS)}"]
    problems += unknown_keys(section, CHECKPOINT_KEYS, where)
    problems += [f"{where}.{key}: missing" for key in CHECKPOINT_KEYS if key not in section]
    if "stack" in section and not (isinstance(section["stack"], str) and section["stack"]):
        bad("stack", "must name the stack it was computed for")
    as_of = section.get("prices_as_of")
    if "prices_as_of" in section and not (isinstance(as_of, str) and _DATE.fullmatch(as_of)):
        bad("prices_as_of", f"must be the price table's date, YYYY-MM-DD, got {as_of!r}")
    teams = section.get("teams", {})
    if not isinstance(teams, Mapping):
        bad("teams", "must map team names to their optimal intervals")
        return problems
    guardrail_teams = data.get("teams")
    known = list(guardrail_teams) if isinstance(guardrail_teams, Mapping) else []
    for team, entry in teams.items():
        if team not in known:
            bad(f"teams.{team}", f"not a team of the guardrails{key_hint(team, known)}")
        if not isinstance(entry, Mapping):
            bad(f"teams.{team}", f"must be a mapping with {', '.join(CHECKPOINT_TEAM_KEYS)}")
            continue
        problems.extend(unknown_keys(entry, CHECKPOINT_TEAM_KEYS, f"{where}.teams.{team}"))
        problems.extend(
            f"{where}.teams.{team}.{key}: missing"
            for key in CHECKPOINT_TEAM_KEYS
            if key not in entry
        )
        for key in ("checkpoint_minutes", "optimal_interval_minutes"):
            if key in entry and not _positive(entry[key]):
                bad(f"teams.{team}.{key}", f"must be minutes above 0, got {entry[key]!r}")
        restart = entry.get("restart_minutes")
        if "restart_minutes" in entry and not (
            _is_number(restart) and isinstance(restart, int | float) and restart >= 0
        ):
            bad(f"teams.{team}.restart_minutes", f"must be minutes >= 0, got {restart!r}")
        _bucket(entry, f"teams.{team}", bad)
        regions = entry.get("regions", {})
        if not isinstance(regions, Mapping) or not regions:
            bad(f"teams.{team}.regions", "must map regions to their optimal intervals")
            continue
        if "region" in entry and entry["region"] not in regions:
            bad(f"teams.{team}.region", f"must be one of its regions, got {entry['region']!r}")
        for region, values in regions.items():
            field = f"teams.{team}.regions.{region}"
            if not isinstance(values, Mapping):
                bad(field, f"must be a mapping with {', '.join(CHECKPOINT_REGION_KEYS)}")
                continue
            problems.extend(unknown_keys(values, CHECKPOINT_REGION_KEYS, f"{where}.{field}"))
            problems.extend(
                f"{where}.{field}.{key}: missing"
                for key in CHECKPOINT_REGION_KEYS
                if key not in values
            )
            tau = values.get("optimal_interval_minutes")
            if "optimal_interval_minutes" in values and not _positive(tau):
                bad(f"{field}.optimal_interval_minutes", f"must be above 0, got {tau!r}")
            _bucket(values, field, bad)
            types = values.get("instance_types")
            if "instance_types" in values and not _string_list(types, allow_empty=False):
                bad(f"{field}.instance_types", "must be a non-empty list of instance types")
    return problems


def _positive(value: object) -> bool:
    return _is_number(value) and isinstance(value, int | float) and value > 0


def _bucket(entry: Mapping[str, Any], field: str, bad: Callable[[str, str], None]) -> None:
    bucket = entry.get("frequency_bucket")
    if "frequency_bucket" in entry and bucket not in FREQUENCY_BUCKETS:
        known = ", ".join(FREQUENCY_BUCKETS)
        bad(f"{field}.frequency_bucket", f"unknown bucket {bucket!r} (known: {known})")


def load_guardrails(path: Path) -> dict[str, Any]:
    """Read and validate a guardrails file; raises BurstError with one line per problem."""
    data = read_yaml(path)
    problems = validate_guardrails(data, str(path))
    if problems or not isinstance(data, dict):
        raise BurstError(problems or [f"{path}: must be a mapping"])
    return data


def waiver_max_days(guardrails: Mapping[str, Any]) -> int:
    """How many days ahead a waiver may expire (guardrails `waivers.max_days`, default 90)."""
    waivers = guardrails.get("waivers")
    if isinstance(waivers, Mapping) and _is_int(waivers.get("max_days")):
        days: int = waivers["max_days"]
        return days
    return DEFAULT_WAIVER_MAX_DAYS

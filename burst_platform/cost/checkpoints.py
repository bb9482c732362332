"""The `checkpoints` section of the guardrails: each team's optimal checkpoint interval τ* for the
policy `checkpoints.interval_far_from_optimal`, written by `burst cost --stack S --guardrails`.

What τ* is computed for
    A team's spot GPU pool in a region may launch any instance type of the stack's GPU families;
    Karpenter picks among them by price and capacity, so a workload can land on the one AWS
    interrupts most. τ* per team and region is therefore the model's τ* (Daly's exact W,
    `burst_platform.cost.model.optimal_interval_minutes`) at the team's `checkpointMinutes` for
    the region's worst (highest-rate) Spot Instance Advisor bucket among the priced instance
    types of those families. `restartMinutes` does not move τ* (it scales W) and is recorded
    only so the section says what it was computed from.

    The same Job manifest may be submitted to any region's cluster, and manifests checked with
    `burst check --manifests` carry no region at all, so each team also has one team-wide τ*:
    the smallest over its regions, i.e. the worst bucket across everything its workloads can land
    on. The policy uses the regional value when the workload's region is known (a plan: the
    region of its Kubernetes provider) and the team-wide one otherwise.

The section is plain data, so Rego does no arithmetic beyond its 2x / 1/2 comparison. It is
spliced into the guardrails file in place: every byte outside the `checkpoints:` block stays as
it was (`splice_section`), and `tests/test_checkpoints.py` regenerates it from the prod stack and
the pinned price table and compares it with the committed file, so the data cannot drift from
the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from burst_platform.check.guardrails import CHECKPOINT_TEAM_KEYS
from burst_platform.cost.model import (
    FREQUENCY_BUCKETS,
    optimal_interval_minutes,
    rate_from_bucket,
)
from burst_platform.cost.prices import PriceTable
from burst_platform.errors import BurstError
from burst_platform.infra.config import StackConfig

SECTION = "checkpoints"
"""The guardrails key of the section."""

DECIMALS = 1
"""τ* is stored in minutes rounded to this many decimals (the policy compares at 2x and 1/2)."""


def checkpoint_section(stack: str, config: StackConfig, table: PriceTable) -> dict[str, Any]:
    """The `checkpoints` section for `config` priced with `table`; BurstError when a team has no
    priced GPU instance type in any region (it would have no τ*)."""
    teams: dict[str, Any] = {}
    problems: list[str] = []
    worst: dict[str, tuple[str, list[str]]] = {}
    for region in config.regions:
        priced = table.in_region(region, config.gpu_families)
        if not priced:
            continue
        top = max(FREQUENCY_BUCKETS[e.interruption_frequency] for e in priced)
        bucket = next(b for b, share in FREQUENCY_BUCKETS.items() if share == top)
        types = [e.instance_type for e in priced if e.interruption_frequency == bucket]
        worst[region] = (bucket, types)
    if not worst:
        problems.append(
            f"--guardrails: no GPU family of stack {stack} is priced in any of its regions "
            f"({', '.join(config.regions)}) in {table.path}"
        )
    for team in config.teams:
        regions: dict[str, Any] = {}
        for region, (bucket, types) in worst.items():
            tau = optimal_interval_minutes(rate_from_bucket(bucket), team.checkpoint_minutes)
            regions[region] = {
                "optimal_interval_minutes": round(tau or 0.0, DECIMALS),  # every bucket's λ > 0
                "frequency_bucket": bucket,
                "instance_types": types,
            }
        if not regions:
            continue
        region = min(regions, key=lambda r: (regions[r]["optimal_interval_minutes"], r))
        teams[team.name] = {
            "checkpoint_minutes": team.checkpoint_minutes,
            "restart_minutes": team.restart_minutes,
            "optimal_interval_minutes": regions[region]["optimal_interval_minutes"],
            "region": region,
            "frequency_bucket": regions[region]["frequency_bucket"],
            "regions": regions,
        }
    if problems:
        raise BurstError(problems)
    return {"stack": stack, "prices_as_of": table.as_of, "teams": teams}


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    text = str(value)
    if re.fullmatch(r"[a-z][a-z0-9.-]*", text) and text not in {"true", "false", "null", "yes"}:
        return text
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _flow(mapping: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in mapping.items()) + "}"


def render_section(section: Mapping[str, Any]) -> str:
    """The section as YAML text (block style, one line per team region), ending in a newline."""
    lines = [
        f"{SECTION}:",
        f"  # Written by `burst cost --stack {section['stack']} --guardrails`; do not edit.",
        "  # Per team: τ* in minutes (burst_platform/cost/checkpoints.py) for its",
        "  # checkpointMinutes at the worst Spot Instance Advisor bucket of its GPU pools, per",
        "  # region and, at the top, across its regions. Read by the policy",
        "  # checkpoints.interval_far_from_optimal.",
        f"  stack: {_scalar(section['stack'])}",
        f"  prices_as_of: {json.dumps(section['prices_as_of'])}",
        "  teams:",
    ]
    for team, entry in section["teams"].items():
        lines.append(f"    {team}:")
        for key in CHECKPOINT_TEAM_KEYS:
            if key == "regions":
                lines.append("      regions:")
                for region, values in entry["regions"].items():
                    lines.append(f"        {region}: {_flow(values)}")
            else:
                lines.append(f"      {key}: {_scalar(entry[key])}")
    return "\n".join(lines) + "\n"


_TOP_KEY = re.compile(rf"^{SECTION}\s*:")


def splice_section(text: str, section_text: str) -> str:
    """`text` (a guardrails file) with its top-level `checkpoints:` block replaced by
    `section_text`, or with it appended; every other byte is kept."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _TOP_KEY.match(line)), None)
    if start is None:
        prefix = text if text.endswith("\n") or not text else text + "\n"
        return prefix + section_text
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line[:1] in (" ", "\t"):
            end += 1
            continue
        if not line.strip():
            rest = lines[end:]
            following = next((x for x in rest if x.strip()), "")
            if following[:1] in (" ", "\t"):
                end += 1
                continue
        break
    return "".join(lines[:start]) + section_text + "".join(lines[end:])

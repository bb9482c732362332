"""The per-team stack config keys of `burst cost`: `checkpointMinutes` and `restartMinutes`."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from burst_platform.errors import BurstError
from burst_platform.infra.config import (
    DEFAULT_CHECKPOINT_MINUTES,
    DEFAULT_RESTART_MINUTES,
    PROJECT,
    parse_stack_config,
    read_stack_file,
)
from tests.conftest import ROOT

PROD = read_stack_file(ROOT / "Pulumi.prod.yaml")


def with_team_keys(**keys: Any) -> dict[str, Any]:
    raw = copy.deepcopy(PROD)
    raw["teams"][0].update(keys)
    return raw


def test_the_stacks_declare_them_and_defaults_fill_in() -> None:
    teams = {t.name: t for t in parse_stack_config(PROD).teams}
    assert (teams["quant"].checkpoint_minutes, teams["quant"].restart_minutes) == (1.0, 6.0)
    assert (teams["ml"].checkpoint_minutes, teams["ml"].restart_minutes) == (8.0, 15.0)
    research = teams["research"]
    assert (research.checkpoint_minutes, research.restart_minutes) == (
        DEFAULT_CHECKPOINT_MINUTES,
        DEFAULT_RESTART_MINUTES,
    )
    dev = parse_stack_config(read_stack_file(ROOT / "Pulumi.dev.yaml"))
    assert {t.name: t.restart_minutes for t in dev.teams} == {"quant": 10.0, "ml": 15.0}


def test_zero_restart_and_fractional_minutes_are_fine() -> None:
    team = parse_stack_config(with_team_keys(checkpointMinutes=0.5, restartMinutes=0)).teams[0]
    assert (team.checkpoint_minutes, team.restart_minutes) == (0.5, 0.0)


@pytest.mark.parametrize(
    ("keys", "line"),
    [
        ({"checkpointMinutes": 0}, "teams[0].checkpointMinutes: must be above 0, got 0"),
        ({"checkpointMinutes": -3}, "teams[0].checkpointMinutes: must be above 0, got -3"),
        ({"restartMinutes": -1}, "teams[0].restartMinutes: must be between 0 and 10080, got -1"),
        ({"restartMinutes": "10m"}, "teams[0].restartMinutes: must be a number, got '10m'"),
        ({"restartMinutes": float("nan")}, "teams[0].restartMinutes: must be a number, got nan"),
        ({"checkpointMinutes": 20000}, "teams[0].checkpointMinutes: must be at most 10080"),
        ({"checkpointMinute": 5}, "teams[0].checkpointMinute: unknown key (did you mean"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(keys: dict[str, Any], line: str) -> None:
    with pytest.raises(BurstError) as error:
        parse_stack_config(with_team_keys(**keys))
    (problem,) = error.value.problems
    assert problem.startswith(f"{PROJECT}:{line}"), problem

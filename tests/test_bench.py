"""Tests of the benchmark's own logic (no timings asserted): `pytest bench/test_bench.py`.

Not under `tests/` (the bench is owned separately); the lead may move this file there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.estate import REGIONS, SHAPES, EstateShape, guardrails, raw_config, stack_config
from bench.measure import CommandFailed, descendants, tree_rss_bytes
from bench.report import TABLE_END, TABLE_START, loglog_slope, update_readme
from bench.run import parse_check_summary, require_summary, summarise
from burst_platform.check.guardrails import validate_guardrails


@pytest.mark.parametrize("shape", [*SHAPES, EstateShape(1, 1)], ids=lambda s: s.label)
def test_estate_config_is_valid_and_matches_its_guardrails(shape: EstateShape) -> None:
    raw, config = stack_config(shape)
    assert len(config.regions) == shape.regions
    assert len(config.teams) == shape.teams
    rails = guardrails(config)
    assert validate_guardrails(rails, "bench") == []
    assert set(rails["allowed_regions"]) == set(config.regions)
    assert set(rails["teams"]) == {t.name for t in config.teams}
    for team in config.teams:
        per_region = team.gpu_quota + team.gpu_borrowing_limit
        assert rails["teams"][team.name]["gpu_quota"] == shape.regions * per_region
    assert raw["allowedRegions"] == raw["regions"]


def test_regions_are_real_looking_and_unique() -> None:
    assert len(set(REGIONS)) == len(REGIONS)
    assert max(s.regions for s in SHAPES) <= len(REGIONS)


def test_shape_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError, match="regions"):
        EstateShape(len(REGIONS) + 1, 1)
    with pytest.raises(ValueError, match="teams"):
        EstateShape(1, 0)


def test_raw_config_is_deterministic() -> None:
    assert raw_config(EstateShape(2, 3)) == raw_config(EstateShape(2, 3))


def test_loglog_slope() -> None:
    assert loglog_slope(1000, 1.0, 16000, 16.0) == pytest.approx(1.0)
    assert loglog_slope(1000, 2.0, 4000, 2.0) == pytest.approx(0.0)


def test_update_readme_keeps_hand_written_sections(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{TABLE_START}\nold\n{TABLE_END}\n\n## Findings\nmine\n")
    update_readme(readme, "new table")
    text = readme.read_text()
    assert "new table" in text
    assert "old" not in text
    assert text.startswith("# Title\n\nintro")
    assert text.endswith("## Findings\nmine\n")


def test_update_readme_creates_a_missing_file(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    update_readme(readme, "table")
    assert "table" in readme.read_text()
    assert "## Findings" in readme.read_text()


def test_parse_check_summary(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_text(
        "report...\nburst check passed: 0 deny, 3 warn, 1 unknown, 2 waived; "
        "375 resources checked (1 could not be decided at preview: review them)\n"
    )
    assert parse_check_summary(out) == {
        "verdict": "passed",
        "deny": 0,
        "warn": 3,
        "unknown": 1,
        "waived": 2,
        "resources": 375,
    }
    out.write_text("no summary here\n")
    assert parse_check_summary(out) == {}


def test_require_summary_rejects_a_crash_and_a_partial_check(tmp_path: Path) -> None:
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    out.write_text("")
    err.write_text("Traceback ...\nModuleNotFoundError: No module named 'x'\n")
    with pytest.raises(CommandFailed, match="no summary"):
        require_summary(out, err, 10)
    out.write_text("burst check passed: 0 deny, 0 warn, 0 unknown, 0 waived; 9 resources checked\n")
    with pytest.raises(CommandFailed, match="9 resources"):
        require_summary(out, err, 10)
    assert require_summary(out, err, 9)["resources"] == 9


def _size(resources: int, check: float, floor: float) -> dict[str, object]:
    return {
        "resources": resources,
        "check": {"median_wall_s": check},
        "opa_eval": {"median_wall_s": floor},
        "check_memory": {"tree_peak_mib": 100.0},
    }


def test_summarise_formats_the_last_line() -> None:
    summary = summarise([_size(1000, 0.5, 0.2), _size(16000, 2.0, 1.6)])
    assert summary["last_line"] == "ratio=1.25 slope=0.50 resources=16000 seconds=2.00"
    assert summary["targets"]["ratio"]["met"]
    assert summary["targets"]["slope"]["met"]


def test_process_tree_memory_of_this_process() -> None:
    assert os.getpid() in descendants(os.getpid())
    assert tree_rss_bytes(os.getpid()) > 0

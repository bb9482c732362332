"""The guardrails' `checkpoints` section: what `burst cost --stack S --guardrails` writes, that the
committed one is the model's τ* for the prod stack (so it cannot drift), the in-place splice and
its validation."""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from burst_platform.check.guardrails import load_guardrails, validate_guardrails
from burst_platform.cli import main
from burst_platform.cost.checkpoints import (
    checkpoint_section,
    render_section,
    splice_section,
)
from burst_platform.cost.model import (
    FREQUENCY_BUCKETS,
    optimal_interval_minutes,
    rate_from_bucket,
)
from burst_platform.cost.prices import load_prices
from burst_platform.errors import BurstError
from burst_platform.infra.config import parse_stack_config, read_stack_file
from tests.conftest import ROOT

GUARDRAILS = ROOT / "policies" / "data" / "guardrails.yaml"


@pytest.fixture(autouse=True)
def _keep_signal_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    hook = sys.unraisablehook
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    sys.unraisablehook = hook


def _prod_section() -> dict[str, object]:
    config = parse_stack_config(read_stack_file(ROOT / "Pulumi.prod.yaml"))
    return checkpoint_section("prod", config, load_prices())


def test_the_committed_section_is_the_models_for_prod() -> None:
    """Regenerating the section from Pulumi.prod.yaml and the pinned prices changes no byte."""
    text = GUARDRAILS.read_text(encoding="utf-8")
    assert splice_section(text, render_section(_prod_section())) == text, (
        "policies/data/guardrails.yaml is stale: run `burst cost --stack prod --guardrails`"
    )


def test_tau_is_the_model_at_the_worst_bucket_of_the_pools() -> None:
    """Independently of the generator: per team and region, τ* at the highest-rate bucket the
    price table gives any instance type of the stack's GPU families there; team-wide the least."""
    config = parse_stack_config(read_stack_file(ROOT / "Pulumi.prod.yaml"))
    table = load_prices()
    committed = yaml.safe_load(GUARDRAILS.read_text())["checkpoints"]
    assert committed["stack"] == "prod"
    assert committed["prices_as_of"] == table.as_of
    assert set(committed["teams"]) == {team.name for team in config.teams}
    for team in config.teams:
        entry = committed["teams"][team.name]
        assert entry["checkpoint_minutes"] == team.checkpoint_minutes
        assert entry["restart_minutes"] == team.restart_minutes
        taus = {}
        for region in config.regions:
            priced = table.in_region(region, config.gpu_families)
            rates = {e.instance_type: rate_from_bucket(e.interruption_frequency) for e in priced}
            worst = max(rates.values())
            tau = optimal_interval_minutes(worst, team.checkpoint_minutes)
            assert tau is not None
            got = entry["regions"][region]
            assert got["optimal_interval_minutes"] == pytest.approx(tau, abs=0.05)
            assert rate_from_bucket(got["frequency_bucket"]) == worst
            assert got["instance_types"] == [t for t, r in rates.items() if r == worst]
            taus[region] = tau
        assert entry["optimal_interval_minutes"] == pytest.approx(min(taus.values()), abs=0.05)
        assert entry["region"] == min(taus, key=lambda r: taus[r])


def test_the_command_writes_in_place(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Default FILE: ROOT/policies/data/guardrails.yaml; without the section it is appended, and
    every byte before it is kept; a second run changes nothing."""
    (tmp_path / "policies" / "data").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.prod.yaml", tmp_path / "Pulumi.prod.yaml")
    committed = GUARDRAILS.read_text(encoding="utf-8")
    before = committed[: committed.index("checkpoints:")]
    target = tmp_path / "policies" / "data" / "guardrails.yaml"
    target.write_text(before.rstrip("\n"), encoding="utf-8")  # no final newline either
    code = main(["cost", "--stack", "prod", "--root", str(tmp_path), "--guardrails"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "gpu-quant" in out
    assert f"wrote the checkpoints section of {target}" in err
    assert target.read_text(encoding="utf-8") == committed
    assert main(["cost", "--stack", "prod", "--root", str(tmp_path), "--guardrails"]) == 0
    assert target.read_text(encoding="utf-8") == committed
    load_guardrails(target)


def test_an_explicit_file_and_a_replaced_section(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An old section in the middle of the file is replaced; what follows it is kept."""
    other = tmp_path / "g.yaml"
    head = GUARDRAILS.read_text(encoding="utf-8").split("checkpoints:")[0]
    old = "checkpoints:\n  stack: old\n\n  teams: {}\n"
    tail = "# a trailing comment\nextra: 1\n"
    other.write_text(head + old + tail, encoding="utf-8")
    code = main(["cost", "--stack", "prod", "--root", str(ROOT), "--guardrails", str(other)])
    _, err = capsys.readouterr()
    assert code == 2  # `extra` is not a guardrails key: refused before anything is written
    assert "extra" in err
    assert other.read_text(encoding="utf-8") == head + old + tail
    other.write_text(head + old, encoding="utf-8")
    assert main(["cost", "--stack", "prod", "--root", str(ROOT), "--guardrails", str(other)]) == 0
    assert other.read_text(encoding="utf-8") == GUARDRAILS.read_text(encoding="utf-8")
    text = splice_section(head + old + tail, render_section(_prod_section()))
    assert text.startswith(head + "checkpoints:\n") and text.endswith(tail)


def test_guardrails_only_with_stack(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cost", "--rate-per-hour", "0.1", "--checkpoint-minutes", "5",
                 "--restart-minutes", "10", "--spot-price", "1", "--on-demand-price", "2",
                 "--guardrails"])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2
    assert "--guardrails: only with --stack" in err


def test_a_stack_without_priced_pools_is_refused(tmp_path: Path) -> None:
    config = parse_stack_config(read_stack_file(ROOT / "Pulumi.prod.yaml"))
    prices = tmp_path / "prices.yaml"
    document = yaml.safe_load((ROOT / "burst_platform" / "cost" / "prices.yaml").read_text())
    document["as_of"] = "2026-12-06"
    document["regions"] = {"ap-south-1": document["regions"]["eu-west-1"]}
    prices.write_text(yaml.safe_dump(document))
    with pytest.raises(BurstError, match="no GPU family of stack prod is priced"):
        checkpoint_section("prod", config, load_prices(prices))


def _guardrails() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load(GUARDRAILS.read_text())
    return data


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c.update(extra=1), "checkpoints: unknown key 'extra'"),
        (lambda c: c.pop("stack"), "checkpoints.stack: missing"),
        (lambda c: c.update(prices_as_of="yesterday"), "checkpoints.prices_as_of: must be"),
        (lambda c: c.update(teams=[]), "checkpoints.teams: must map team names"),
        (lambda c: c["teams"].update(quants=c["teams"]["quant"]),
         "checkpoints.teams.quants: not a team of the guardrails (did you mean 'quant'?)"),
        (lambda c: c["teams"]["ml"].update(optimal_interval_minute=1),
         "checkpoints.teams.ml: unknown key 'optimal_interval_minute' (did you mean"),
        (lambda c: c["teams"]["ml"].pop("optimal_interval_minutes"),
         "checkpoints.teams.ml.optimal_interval_minutes: missing"),
        (lambda c: c["teams"]["ml"].update(optimal_interval_minutes=0),
         "checkpoints.teams.ml.optimal_interval_minutes: must be minutes above 0"),
        (lambda c: c["teams"]["ml"].update(restart_minutes=-1),
         "checkpoints.teams.ml.restart_minutes: must be minutes >= 0"),
        (lambda c: c["teams"]["ml"].update(frequency_bucket="25%"),
         "checkpoints.teams.ml.frequency_bucket: unknown bucket '25%'"),
        (lambda c: c["teams"]["ml"].update(region="eu-central-1"),
         "checkpoints.teams.ml.region: must be one of its regions"),
        (lambda c: c["teams"]["ml"].update(regions={}),
         "checkpoints.teams.ml.regions: must map regions"),
        (lambda c: c["teams"]["ml"]["regions"]["eu-west-1"].update(tau=1),
         "checkpoints.teams.ml.regions.eu-west-1: unknown key 'tau'"),
        (lambda c: c["teams"]["ml"]["regions"]["eu-west-1"].update(optimal_interval_minutes="8h"),
         "checkpoints.teams.ml.regions.eu-west-1.optimal_interval_minutes: must be above 0"),
        (lambda c: c["teams"]["ml"]["regions"]["eu-west-1"].update(instance_types=[]),
         "checkpoints.teams.ml.regions.eu-west-1.instance_types: must be a non-empty list"),
    ],
)  # fmt: skip
def test_validation_names_every_bad_field(change: object, expected: str) -> None:
    data = _guardrails()
    assert validate_guardrails(data, "g.yaml") == []
    change(data["checkpoints"])  # type: ignore[operator]
    problems = validate_guardrails(data, "g.yaml")
    assert any(p.startswith("g.yaml: ") and expected in p for p in problems), problems


def test_the_section_is_optional() -> None:
    data = _guardrails()
    data.pop("checkpoints")
    assert validate_guardrails(data, "g.yaml") == []
    data["checkpoints"] = "soon"
    assert validate_guardrails(data, "g.yaml") == [
        "g.yaml: checkpoints: must be a mapping with stack, prices_as_of, teams"
    ]


def test_every_bucket_has_a_finite_tau() -> None:
    """The generator never writes a missing τ*: every bucket's rate is above 0."""
    for bucket in FREQUENCY_BUCKETS:
        assert optimal_interval_minutes(rate_from_bucket(bucket), 1.0) is not None

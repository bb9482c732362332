"""Waivers: live waivers waive, expired ones keep the deny and warn, invalid ones stop the check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from burst_platform.check.model import DENY, WAIVED, WARN, Finding, Waiver
from burst_platform.check.waivers import (
    EXPIRED_RULE,
    apply_waivers,
    load_waivers,
    matches,
    parse_waivers,
)
from burst_platform.errors import BurstError

TODAY = dt.date(2026, 6, 15)
ROLE = "urn:pulumi:prod::burst-platform::aws:iam/role:Role::legacy-etl"


def deny(rule: str = "iam.session_too_long", resource: str = ROLE) -> Finding:
    return Finding(rule=rule, severity=DENY, resource=resource, message="too long")


def waiver(expires: str, resource: str = ROLE, rule: str = "iam.session_too_long") -> Waiver:
    return Waiver(
        rule=rule,
        resource=resource,
        reason="ETL rework (TICKET-1)",
        owner="data@example.com",
        expires=expires,
    )


def test_live_waiver_waives_and_keeps_the_finding() -> None:
    [finding] = apply_waivers([deny()], [waiver("2026-06-15")], today=TODAY)  # expiry day included
    assert finding.severity == WAIVED
    assert finding.waiver is not None
    assert "data@example.com" in finding.message
    assert "2026-06-15" in finding.message
    assert "ETL rework" in finding.message
    assert finding.message.startswith("too long [deny,")


def test_expired_waiver_keeps_deny_and_adds_warning() -> None:
    findings = apply_waivers([deny()], [waiver("2026-06-14")], today=TODAY)
    assert [(f.rule, f.severity, f.resource) for f in findings] == [
        ("iam.session_too_long", DENY, ROLE),
        (EXPIRED_RULE, WARN, ROLE),
    ]
    assert "expired on 2026-06-14" in findings[1].message


def test_live_waiver_wins_over_expired_one() -> None:
    findings = apply_waivers([deny()], [waiver("2026-01-01"), waiver("2027-01-01")], today=TODAY)
    assert [f.severity for f in findings] == [WAIVED]


def test_glob_matches_urns() -> None:
    glob = "urn:pulumi:prod::burst-platform::aws:iam/role:Role::legacy-*"
    assert matches(waiver("2030-01-01", resource=glob), deny())
    assert not matches(
        waiver("2030-01-01", resource=glob), deny(resource=ROLE.replace("legacy", "new"))
    )
    assert not matches(waiver("2030-01-01", resource=glob, rule="iam.trust_open"), deny())
    assert matches(waiver("2030-01-01", resource="*"), deny(resource="k8s://a.yaml#Pod/ns/x"))


def test_waivers_apply_to_warnings_and_other_engines() -> None:
    finding = Finding(
        rule="CKV_K8S_16",
        severity=WARN,
        resource="k8s://a.yaml#Pod/ml/x",
        message="m",
        engine="checkov",
    )
    [result] = apply_waivers(
        [finding], [waiver("2030-01-01", resource="k8s://a.yaml#*", rule="CKV_K8S_16")], TODAY
    )
    assert result.severity == WAIVED


def test_unmatched_findings_untouched_and_the_unused_waiver_reported() -> None:
    finding, unused = apply_waivers([deny()], [waiver("2026-07-01", rule="other")], today=TODAY)
    assert finding.severity == DENY and finding.waiver is None
    assert (unused.rule, unused.severity, unused.resource) == ("waiver.unused", WARN, ROLE)
    assert "matches no finding" in unused.message


def test_expired_unused_waivers_are_not_reported_twice() -> None:
    findings = apply_waivers([], [waiver("2026-01-01")], today=TODAY)
    assert findings == []


def test_parse_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(
        "- rule: iam.session_too_long\n"
        "  resource: 'urn:pulumi:prod::burst-platform::aws:iam/role:Role::legacy-*'\n"
        "  reason: Legacy ETL\n"
        "  owner: data@example.com\n"
        "  expires: 2026-09-01\n"  # unquoted: YAML reads a date
        "- rule: network.internet_egress\n"
        "  resource: 'urn:pulumi:prod::burst-platform::aws:ec2/natGateway:NatGateway::*'\n"
        "  reason: NAT until endpoints land\n"
        "  owner: net@example.com\n"
        "  expires: '2026-07-01'\n"
    )
    waivers = load_waivers(path, today=TODAY)
    assert [w.expires for w in waivers] == ["2026-09-01", "2026-07-01"]


@pytest.mark.parametrize("text", ["[]\n", "", "# only comments\n", "waivers: []\n", "waivers:\n"])
def test_empty_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    assert load_waivers(path) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"rule": "r", "resource": "x", "reason": "y", "owner": "o"},
            "waivers[0].expires: missing",
        ),
        (
            {"rule": "r", "resource": "x", "reason": "y", "expires": "2027-01-01"},
            "waivers[0].owner: missing",
        ),
        (
            {"rule": "r", "resource": "x", "owner": "o", "expires": "2027-01-01"},
            "waivers[0].reason: missing",
        ),
        (
            {"rule": "r", "resource": "x", "reason": " ", "owner": "o", "expires": "2027-01-01"},
            "reason: must be a non-empty string",
        ),
        (
            {"rule": "r", "resource": "x", "reason": "y", "owner": "o", "expires": "2027-02-30"},
            "'2027-02-30' is not a date",
        ),
        (
            {"rule": "r", "resource": "x", "reason": "y", "owner": "o", "expires": "31/12/2027"},
            "is not a date (YYYY-MM-DD)",
        ),
        (
            {"rule": "r", "resource": "x", "reason": "y", "owner": "o", "expires": 20270101},
            "is not a date",
        ),
        (
            {"resource": "x", "reason": "y", "owner": "o", "expires": "2027-01-01"},
            "waivers[0].rule: missing",
        ),
        ("just a string", "waivers[0]: must be a mapping"),
    ],
)
def test_invalid_waivers(entry: object, message: str) -> None:
    with pytest.raises(BurstError) as error:
        parse_waivers([entry], "policies/waivers.yaml")
    assert any(
        line.startswith("policies/waivers.yaml: ") and message in line
        for line in error.value.problems
    )


def test_invalid_top_level() -> None:
    with pytest.raises(BurstError, match="must be a list of waivers"):
        parse_waivers({"rule": "x"}, "w.yaml")


def test_required_file_missing(tmp_path: Path) -> None:
    with pytest.raises(BurstError, match=r"nope\.yaml: file not found"):
        load_waivers(tmp_path / "nope.yaml")
    assert load_waivers(tmp_path / "nope.yaml", required=False) == []


def test_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("- rule: [\n")
    with pytest.raises(BurstError, match=r"w\.yaml: invalid YAML"):
        load_waivers(path)


def test_repository_waivers_file_is_valid() -> None:
    path = Path(__file__).resolve().parents[1] / "policies" / "waivers.yaml"
    assert isinstance(load_waivers(path), list)


def entry(**change: object) -> dict[str, object]:
    base: dict[str, object] = {
        "rule": "quotas.team_without_budget",
        "resource": ROLE,
        "reason": "later",
        "owner": "finops@example.com",
        "expires": "2026-07-01",
    }
    return {**base, **change}


@pytest.mark.parametrize(
    "pattern",
    [
        "*", "**", "?*", " * ", "urn:*", "*a*", "*:*", "urn:pulumi:*", "urn:pulumi:*::*::*::*",
        "urn:pulumi:prod::burst-platform::*::*", "urn:pulumi:prod::*::*::*a*",
        "urn:pulumi:pr*::burst-platform::aws:iam/role:Role::x", "k8s://*", "k8s://a.yaml#*",
    ],
)  # fmt: skip
def test_waivers_that_match_too_much_are_invalid(pattern: str) -> None:
    with pytest.raises(BurstError) as error:
        parse_waivers([entry(resource=pattern)], "policies/waivers.yaml", TODAY)
    assert any(".resource:" in line for line in error.value.problems), error.value.problems


@pytest.mark.parametrize(
    "pattern",
    [
        ROLE,
        "stack",
        "urn:pulumi:prod::burst-platform::aws:iam/role:Role::*",
        "urn:pulumi:prod::burst-platform::*::legacy-*",
        "k8s://manifests/pod.yaml#Pod/*",
    ],
)
def test_waivers_that_name_what_they_waive_are_valid(pattern: str) -> None:
    [parsed] = parse_waivers([entry(resource=pattern)], "policies/waivers.yaml", TODAY)
    assert parsed.resource == pattern


def test_unknown_keys_are_refused_with_a_suggestion() -> None:
    with pytest.raises(BurstError) as error:
        parse_waivers([{**entry(), "expiress": "2026-07-01"}], "w.yaml", TODAY)
    assert "w.yaml: waivers[0]: unknown key 'expiress' (did you mean 'expires'?)" in (
        error.value.problems
    )


@pytest.mark.parametrize("expires", ["2999-01-01", "2026-09-14"])
def test_expiry_is_bounded(expires: str) -> None:
    with pytest.raises(BurstError, match="more than 90 days ahead"):
        parse_waivers([entry(expires=expires)], "w.yaml", TODAY)
    assert parse_waivers([entry(expires=expires)], "w.yaml", TODAY, max_days=366 * 1000)


@pytest.mark.parametrize("text", ["expires: 2027-02-30", "expires: '2027-02-30'"])
def test_impossible_dates_are_input_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(f"- rule: r\n  resource: stack\n  reason: x\n  owner: y\n  {text}\n")
    with pytest.raises(BurstError) as error:
        load_waivers(path, today=TODAY)
    assert str(path) in error.value.problems[0]


def test_duplicate_keys_in_a_waiver_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("- rule: r\n  resource: stack\n  resource: urn:x\n  reason: x\n  owner: y\n")
    with pytest.raises(BurstError, match="duplicate key 'resource'"):
        load_waivers(path, today=TODAY)

"""`burst check` through the real OPA server: end-to-end runs, `--opa-url`, failing closed."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from burst_platform.check import engine
from burst_platform.check.cli import register, run
from burst_platform.check.guardrails import load_guardrails
from burst_platform.check.normalise import UNKNOWN_SENTINEL, normalise_preview
from burst_platform.errors import BurstError
from burst_platform.tools import find_opa

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "check"
CLEAN = FIXTURES / "clean-preview.json"
BROKEN = FIXTURES / "broken-preview.json"
BROKEN_DENIES = {
    "iam.platform_role_without_boundary",
    "iam.session_too_long",
    "iam.trust_open",
    "locality.region_not_allowed",
    "network.open_ingress",
}
TEST = "urn:pulumi:test::burst-platform::"

pytestmark = pytest.mark.opa


def burst_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `burst check ARGS` in-process; return (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="burst")
    register(parser.add_subparsers(dest="command"))
    code = run(parser.parse_args(["check", "--root", str(ROOT), *args]))
    out, err = capsys.readouterr()
    return code, out, err


def json_report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = burst_check(capsys, "--skip-checkov", "--format", "json", *args)
    return code, (json.loads(out) if out else {}), err


def opa_children() -> list[int]:
    """PIDs of live `opa` processes whose parent is this test process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            name = fields[0].split("(", 1)[1]
            state, ppid = fields[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue
        if name == "opa" and int(ppid) == os.getpid() and state != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(autouse=True)
def no_leftover_servers() -> Iterator[None]:
    yield
    assert opa_children() == [], "an OPA server outlived the check"


# ---------------------------------------------------------------------------------------------
# End to end
# ---------------------------------------------------------------------------------------------


def test_clean_preview_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, err = json_report(capsys, "--preview", str(CLEAN))
    assert code == 0, err
    assert report["summary"] == {"deny": 0, "warn": 0, "unknown": 0, "waived": 0, "resources": 4}
    assert "burst check passed" in err


def test_broken_preview_denies(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = json_report(capsys, "--preview", str(BROKEN))
    assert code == 1
    denies = {f["rule"] for f in report["findings"] if f["severity"] == "deny"}
    assert denies == BROKEN_DENIES
    unknown = [f for f in report["findings"] if f["severity"] == "unknown"]
    assert [(f["rule"], f["resource"]) for f in unknown] == [
        ("iam.session_too_long", TEST + "aws:iam/role:Role::unknown-session")
    ]
    assert all(f["engine"] == "opa" and f["remediation"] and f["title"] for f in report["findings"])
    assert report["summary"]["resources"] == 7


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = burst_check(capsys, "--skip-checkov", "--preview", str(BROKEN))
    assert code == 1
    assert "DENY  network.open_ingress" in out
    assert out.rstrip().splitlines()[-1].startswith("burst check FAILED: 5 deny")


def test_unknown_alone_does_not_fail(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = json.loads(CLEAN.read_text())
    role = next(s for s in doc["steps"] if s["urn"].endswith("::trainer"))
    role["newState"]["inputs"]["maxSessionDuration"] = UNKNOWN_SENTINEL
    preview = tmp_path / "preview.json"
    preview.write_text(json.dumps(doc))
    code, report, err = json_report(capsys, "--preview", str(preview))
    assert code == 0
    assert report["summary"]["unknown"] == 1
    assert "1 could not be decided" in err


def test_waivers_end_to_end(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        f"""
- rule: network.open_ingress
  resource: "{TEST}aws:ec2/securityGroup:SecurityGroup::open-*"
  reason: bastion, removed with the SSM rollout
  owner: net@example.com
  expires: 2026-07-01
- rule: iam.trust_open
  resource: "{TEST}aws:iam/role:Role::open-trust"
  reason: old vendor integration
  owner: iam@example.com
  expires: 2026-05-31
"""
    )
    code, report, _ = json_report(
        capsys, "--preview", str(BROKEN), "--waivers", str(waivers), "--today", "2026-06-01"
    )
    assert code == 1
    severities = {(f["rule"], f["severity"]) for f in report["findings"]}
    assert ("network.open_ingress", "waived") in severities
    assert ("network.open_ingress", "deny") not in severities
    assert ("iam.trust_open", "deny") in severities  # its waiver expired the day before
    expired = [f for f in report["findings"] if f["rule"] == "waiver.expired"]
    assert [(f["severity"], f["resource"]) for f in expired] == [
        ("warn", TEST + "aws:iam/role:Role::open-trust")
    ]
    waived = next(f for f in report["findings"] if f["severity"] == "waived")
    assert "net@example.com" in waived["message"] and "2026-07-01" in waived["message"]


def test_everything_waived_passes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, first, _ = json_report(capsys, "--preview", str(BROKEN))
    expires = dt.date.today() + dt.timedelta(days=30)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "\n".join(
            f"- {{rule: {f['rule']}, resource: '{f['resource']}', reason: test, owner: me,"
            f" expires: {expires}}}"
            for f in first["findings"]
            if f["severity"] in ("deny", "unknown")
        )
    )
    code, report, _ = json_report(capsys, "--preview", str(BROKEN), "--waivers", str(waivers))
    assert code == 0
    assert report["summary"]["deny"] == 0
    assert report["summary"]["waived"] == 6  # the unknown session finding too


def test_preview_and_manifests_combined(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = json_report(
        capsys, "--preview", str(CLEAN), "--manifests", str(FIXTURES / "manifests")
    )
    assert code == 1
    assert report["summary"]["resources"] == 7
    resources = {f["resource"] for f in report["findings"]}
    assert "k8s://tests/fixtures/check/manifests/karpenter.yaml#NodePool/gpu-spot" in resources
    assert "taints.spot_without_taint" in {f["rule"] for f in report["findings"]}


def test_manifests_only(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = json_report(capsys, "--manifests", str(FIXTURES / "manifests"))
    assert code == 1
    assert {f["rule"] for f in report["findings"]} >= {"taints.spot_without_taint"}


def test_sarif_and_junit_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sarif, junit = tmp_path / "out" / "check.sarif", tmp_path / "out" / "check.xml"
    manifests = str(FIXTURES / "manifests")
    common = ["--skip-checkov", "--preview", str(BROKEN), "--manifests", manifests]
    assert burst_check(capsys, *common, "--format", "sarif", "--out", str(sarif))[0] == 1
    assert burst_check(capsys, *common, "--format", "junit", "--out", str(junit))[0] == 1
    log = json.loads(sarif.read_text())
    run_ = log["runs"][0]
    rule_ids = {r["id"] for r in run_["tool"]["driver"]["rules"]}
    assert rule_ids >= BROKEN_DENIES
    assert "quotas.team_gpu_over_quota" in rule_ids  # rules come from METADATA, not only findings
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run_["results"]
    }
    assert uris == {
        "tests/fixtures/check/broken-preview.json",
        "tests/fixtures/check/manifests/karpenter.yaml",
        "tests/fixtures/check/manifests/jobs/train.yaml",  # its pod is not restricted
    }
    tree = ET.parse(junit).getroot()  # noqa: S314 - our own output
    cases = tree.findall("testsuite/testcase")
    assert {c.get("classname") for c in cases if c.find("failure") is not None} >= {
        f"opa.{rule}" for rule in BROKEN_DENIES
    }
    assert any(c.get("name") == "all resources" for c in cases)


def test_markdown_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = burst_check(
        capsys, "--skip-checkov", "--preview", str(BROKEN), "--format", "markdown"
    )
    assert code == 1
    assert out.startswith("### :x: burst check failed")
    assert "#### Deny (fails the check): 5" in out


def test_stack_plans_offline_then_checks(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, err = json_report(capsys, "--stack", "dev")
    assert code in (0, 1), err
    assert report["summary"]["resources"] > 50


def test_unknown_stack_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = json_report(capsys, "--stack", "no-such-stack")
    assert code == 2
    assert "Pulumi.no-such-stack.yaml" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# --opa-url: an existing server
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def opa_server() -> Iterator[str]:
    """An empty OPA server (the check uploads the pack into it)."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(find_opa(ROOT)),
            "run",
            "--server",
            "--addr",
            f"127.0.0.1:{port}",
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_opa_url_uploads_and_evaluates(capsys: pytest.CaptureFixture[str], opa_server: str) -> None:
    code, report, err = json_report(capsys, "--preview", str(BROKEN), "--opa-url", opa_server)
    assert code == 1, err
    assert {f["rule"] for f in report["findings"] if f["severity"] == "deny"} == BROKEN_DENIES
    # the same server again, and a clean plan: re-uploading is idempotent
    code, report, err = json_report(capsys, "--preview", str(CLEAN), "--opa-url", opa_server)
    assert code == 0, err


def test_opa_url_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = json_report(
        capsys, "--preview", str(CLEAN), "--opa-url", url, "--opa-timeout", "2"
    )
    assert code == 2
    assert out == {}
    assert f"OPA server at {url} is unreachable" in err


def test_opa_url_rejects_a_broken_module(
    capsys: pytest.CaptureFixture[str], opa_server: str, tmp_path: Path
) -> None:
    policies = copy_policies(tmp_path)
    (policies / "network" / "policy.rego").write_text(
        "package burst.network\n\nfindings contains x if {\n"
    )
    code, _, err = json_report(
        capsys, "--preview", str(CLEAN), "--opa-url", opa_server, "--policies", str(policies)
    )
    assert code == 2
    assert "network/policy.rego: OPA rejected the module" in err


@pytest.mark.parametrize(
    "url", ["ftp://host:1", "http://host:8181/v1", "localhost:8181", "http://host:99999"]
)
def test_bad_opa_urls(url: str) -> None:
    with pytest.raises(BurstError, match="--opa-url"):
        engine.parse_opa_url(url)


# ---------------------------------------------------------------------------------------------
# Failing closed
# ---------------------------------------------------------------------------------------------


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", target)
    return target


def test_policy_dir_missing_a_package(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    shutil.rmtree(policies / "iam")
    code, out, err = json_report(capsys, "--preview", str(BROKEN), "--policies", str(policies))
    assert code == 2
    assert out == {}
    assert "rule package(s) burst.iam did not report" in err


def test_main_not_collecting_a_package(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A package on disk that the report does not list fails the check, whatever the findings."""
    policies = copy_policies(tmp_path)
    (policies / "extra").mkdir()
    (policies / "extra" / "policy.rego").write_text(
        "package burst.extra\n\nfindings_disabled contains 1 if false\n\n"
        "# METADATA\n# title: Extra\n# custom:\n#   id: extra.rule\n#   severity: deny\n"
        "#   remediation: none\ndeny_something if false\n"
    )
    code, _, err = json_report(capsys, "--preview", str(CLEAN), "--policies", str(policies))
    assert code == 2
    assert "burst.extra did not report" in err


MINI_MAIN = """package burst.main

report := {REPORT} if {{
\tis_object(data.burst.guardrails)
}}
"""


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("input.nothing", "no result for data.burst.main.report (undefined)"),
        ('"a string"', "data.burst.main.report is not an object"),
        (
            '{"findings": "none", "packages": [], "resources": count(input.resources)}',
            "report.findings: missing or not a list",
        ),
        (
            '{"findings": [], "packages": [], "resources": 0}',
            "OPA saw 0 resources but 4 were sent",
        ),
        (
            '{"findings": [{"rule": "r", "severity": "fatal", "resource": "x", "message": "m"}],'
            ' "packages": [], "resources": count(input.resources)}',
            "severity: 'fatal' is not one of deny, warn, unknown",
        ),
    ],
)
def test_bad_reports_fail_closed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, report: str, message: str
) -> None:
    policies = tmp_path / "policies"
    (policies / "main").mkdir(parents=True)
    (policies / "main" / "main.rego").write_text(MINI_MAIN.format(REPORT=report))
    code, _, err = json_report(
        capsys,
        "--preview",
        str(CLEAN),
        "--policies",
        str(policies),
        "--guardrails",
        str(ROOT / "policies" / "data" / "guardrails.yaml"),
    )
    assert code == 2
    assert message in err, err
    assert "Traceback" not in err


def test_policy_compile_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "iam" / "policy.rego").write_text(
        "package burst.iam\n\nfindings contains x if { x := }\n"
    )
    code, _, err = json_report(capsys, "--preview", str(CLEAN), "--policies", str(policies))
    assert code == 2
    assert "OPA could not load the policies" in err
    assert "policy.rego" in err


def test_missing_report_package(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    shutil.rmtree(policies / "main")
    code, _, err = json_report(capsys, "--preview", str(CLEAN), "--policies", str(policies))
    assert code == 2
    assert "package burst.main (the report entry point) not found" in err


def test_missing_opa_binary(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BURST_OPA", str(tmp_path / "no-opa"))
    code, _, err = json_report(capsys, "--preview", str(CLEAN))
    assert code == 2
    assert "BURST_OPA=" in err


# ---------------------------------------------------------------------------------------------
# Report validation without a server
# ---------------------------------------------------------------------------------------------


def test_validate_report_accepts_a_good_result() -> None:
    response = {
        "result": {
            "findings": [
                {
                    "rule": "r",
                    "severity": "warn",
                    "resource": "x",
                    "message": "m",
                    "title": "t",
                    "remediation": "f",
                }
            ],
            "packages": ["burst.a", "burst.b"],
            "resources": 3,
            "undecided": [],
        }
    }
    evaluation = engine.validate_report(response, {"burst.a"}, 3)
    assert [(f.rule, f.severity, f.title) for f in evaluation.findings] == [("r", "warn", "t")]
    assert evaluation.packages == ["burst.a", "burst.b"]


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ({}, "(undefined)"),
        ({"result": []}, "is not an object"),
        ({"result": {"findings": [], "resources": 1}}, "packages: missing"),
        ({"result": {"findings": [], "packages": ["burst.a"]}}, "resources: missing"),
        ({"result": {"findings": [], "packages": [], "resources": 1}}, "burst.a did not report"),
        (
            {"result": {"findings": [{"rule": 1}], "packages": ["burst.a"], "resources": 1}},
            "rule: missing",
        ),
    ],
)
def test_validate_report_fails_closed(response: dict[str, Any], message: str) -> None:
    with pytest.raises(BurstError) as error:
        engine.validate_report(response, {"burst.a"}, 1)
    assert any(message in line for line in error.value.problems), error.value.problems


# ---------------------------------------------------------------------------------------------
# Speed
# ---------------------------------------------------------------------------------------------


def synthetic_preview(count: int) -> dict[str, Any]:
    """A preview of `count` resources built from the broken fixture's resource shapes."""
    base = json.loads(BROKEN.read_text())
    providers = [s for s in base["steps"] if s["newState"]["type"].startswith("pulumi:")]
    templates = [s for s in base["steps"] if s not in providers]
    steps = list(providers)
    index = 0
    while len(steps) < count:
        template = templates[index % len(templates)]
        urn = f"{template['urn']}-{index}"
        steps.append(dict(template, urn=urn, newState=dict(template["newState"], urn=urn)))
        index += 1
    return dict(base, steps=steps)


def test_large_plan_is_checked_in_one_request(tmp_path: Path) -> None:
    document = normalise_preview(synthetic_preview(16_000)).document
    guardrails = load_guardrails(ROOT / "policies" / "data" / "guardrails.yaml")
    pack = engine.load_policy_pack(ROOT / "policies")
    evaluation = engine.evaluate(document, pack, guardrails)  # its speed: make bench
    assert evaluation.resources == 16_000
    assert len(evaluation.findings) > 10_000


def test_the_servers_inventory_is_opa_inspects() -> None:
    """The rules the check reads from its server (`/v1/policies`) are those `opa inspect
    --annotations` finds (burst_platform.policy_pack): the same parser, the same METADATA."""
    from burst_platform.policy_pack import rule_inventory

    policies = ROOT / "policies"
    expected = [
        (r.id, r.package, r.title, r.description, r.severity, r.remediation)
        for r in rule_inventory(find_opa(), policies)
    ]
    pack = engine.load_policy_pack(policies)
    guardrails = load_guardrails(policies / "data" / "guardrails.yaml")
    with engine.LocalServer(find_opa(), pack, guardrails) as server:
        host, port = server.wait()
        inventory = engine.fetch_inventory(engine.ServerAddress(host, port, False), 30.0, None)
    actual = [
        (r.id, r.package, r.title, r.description, r.severity, r.remediation)
        for r in inventory.rules
    ]
    assert actual == expected
    # every rule set annotates its rules, and defines `findings` (main's rule guards the input)
    assert inventory.rule_sets == {r[1] for r in actual}
    assert inventory.packages == pack.packages


@pytest.mark.parametrize(
    ("policies", "problem"),
    [
        ([42], "result[0] is not an object"),
        ([{"id": "x.rego"}], "'x.rego' has no parsed package"),
        ([{"id": "x.rego", "ast": {"package": {"path": []}}}], "'x.rego' has no parsed package"),
    ],
)
def test_an_inventory_of_another_shape_fails_closed(policies: list[Any], problem: str) -> None:
    from burst_platform.check.inventory import inventory_of

    with pytest.raises(BurstError) as refused:
        inventory_of(policies)
    assert str(refused.value) == f"OPA /v1/policies: {problem}"


def test_a_findings_rule_without_annotations_is_still_a_rule_set() -> None:
    from burst_platform.check.inventory import inventory_of

    ast = {
        "package": {"path": [{"type": "var", "value": "data"}, {"type": "string", "value": "x"}]},
        "rules": [{"head": {"ref": [{"type": "var", "value": "findings"}]}}],
    }
    inventory = inventory_of(
        [{"id": "x.rego", "ast": ast}, {"id": "y.rego", "ast": ast}], {"x.rego"}
    )
    assert inventory.rule_sets == {"x"}
    assert inventory.rules == []

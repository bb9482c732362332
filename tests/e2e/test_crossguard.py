"""`make e2e`: the CrossGuard pack (`policies/crossguard`) inside the real `pulumi preview`.

A stack of the e2e program of its own (never deployed: every preview is a first deploy, against
the session's API server), previewed by the real CLI with `--policy-pack`. It proves that a deny
of the Rego pack fails the preview (mandatory) and a clean program passes, that an unknown value
is reported as an advisory finding (never silently passed), that a waiver turns a deny into a
pass as it does in `burst check`, that a broken OPA fails closed, and that the pack reports the
same (severity, rule, resource) findings as `burst check` on the same preview's JSON, and that
`pulumi up` stops at its preview on a deny.

The e2e stack has no AWS layer, so its clean program denies `interruption.missing_path` (every
spot NodePool) and `quotas.team_without_budget` (the stack): `AWS_LAYER_WAIVERS` accepts those.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from burst_platform.check.crossguard import SEVERITY_POLICIES
from tests.e2e.control_plane import ROOT, ControlPlane
from tests.e2e.test_e2e import STACK, Stack

PACK = ROOT / "policies" / "crossguard"
pytestmark = pytest.mark.e2e

SPOT_POOL = "urn:pulumi:e2e::burst-platform::burst:karpenter:GpuCapacity$kubernetes:karpenter.sh/v1:NodePool::gpu-ml-eu-west-1-spot"  # noqa: E501
NO_TAINT = {"kind": "NodePool", "name": "gpu-ml-spot", "path": "spec.template.spec.taints",
            "value": []}  # fmt: skip
UNKNOWN_TAINTS = {**NO_TAINT, "value": "e2e:unknown"}

_POLICY_SEVERITY = {policy: severity for severity, policy in SEVERITY_POLICIES.items()}
# A violation as the CLI prints it: "- [mandatory] [severity: high]  burst-deny  (type: name)",
# the policy's description, then our message "rule (title): message [resource: URN] Fix: ...".
_VIOLATION = re.compile(
    r"- \[(?P<level>mandatory|advisory)\] \[severity: \w+\]\s+(?P<policy>burst-[a-z]+)\s.*?\n"
    r".*?\n\s+(?P<message>\S.*)"
)
_RULE = re.compile(r"^(?P<rule>[a-z_]+\.[a-z_]+)\b.*?\[resource: (?P<resource>[^\]]+)\]")


def aws_layer_waivers(directory: Path) -> Path:
    """A waivers file accepting the two denies of the missing AWS layer, live for 30 days."""
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    common = {"owner": "platform@example.com", "expires": expires}
    waivers = [
        {"rule": "interruption.missing_path", "reason": "the e2e stack has no AWS layer",
         "resource": "urn:pulumi:e2e::burst-platform::*NodePool::gpu-*", **common},
        {"rule": "quotas.team_without_budget", "reason": "budgets live in the AWS layer",
         "resource": "stack", **common},
    ]  # fmt: skip
    path = directory / "waivers.yaml"
    path.write_text(yaml.safe_dump(waivers))
    return path


class PackRun:
    """One `pulumi preview --policy-pack`: exit code, output and the violations it printed."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.code = result.returncode
        self.output = result.stdout + result.stderr
        self.violations: list[dict[str, str]] = []
        for match in _VIOLATION.finditer(self.output):
            found = {**match.groupdict(), "severity": _POLICY_SEVERITY[match["policy"]]}
            rule = _RULE.match(match["message"])
            found.update(rule.groupdict() if rule else {"rule": "", "resource": ""})
            self.violations.append(found)

    def of(self, severity: str) -> set[tuple[str, str]]:
        """(rule, resource) of the violations of one severity."""
        return {(v["rule"], v["resource"]) for v in self.violations if v["severity"] == severity}

    def findings(self) -> set[tuple[str, str, str]]:
        """(severity, rule, resource) of every violation."""
        return {(v["severity"], v["rule"], v["resource"]) for v in self.violations}


class PackStack(Stack):
    """The e2e program's stack, previewed with the CrossGuard pack."""

    def __init__(self, directory: Path, cluster: ControlPlane) -> None:
        super().__init__(directory, cluster)
        self.waivers = aws_layer_waivers(directory)

    def pack_config(self, **settings: Any) -> Path:
        """A `--policy-pack-config` file giving every stack policy the same settings."""
        path = self.directory / "pack-config.json"
        path.write_text(json.dumps({name: settings for name in SEVERITY_POLICIES.values()}))
        return path

    def with_pack(
        self,
        *edits: dict[str, Any],
        waived: bool = True,
        env: dict[str, str] | None = None,
        command: tuple[str, ...] = ("preview",),
    ) -> PackRun:
        """`pulumi preview --policy-pack policies/crossguard` with `edits` as breakObjects."""
        if edits:
            self.config["e2e:breakObjects"] = list(edits)
        self.write_config()
        flags = ["--policy-pack", str(PACK)]
        if waived:
            flags += ["--policy-pack-config", str(self.pack_config(waivers=str(self.waivers)))]
        saved = self.env
        self.env = {**self.env, **(env or {})}
        try:
            return PackRun(self.pulumi(*command, *flags, "--stack", STACK, check=False))
        finally:
            self.env = saved
            self.config.pop("e2e:breakObjects", None)
            self.write_config()

    def burst_check(self, *edits: dict[str, Any]) -> set[tuple[str, str, str]]:
        """(severity, rule, resource) of `burst check` on the same preview's JSON, same waivers."""
        if edits:
            self.config["e2e:breakObjects"] = list(edits)
        self.write_config()
        try:
            result = self.pulumi("preview", "--json", "--show-sames", "--stack", STACK, check=False)
        finally:
            self.config.pop("e2e:breakObjects", None)
            self.write_config()
        preview = self.directory / "preview.json"
        preview.write_text(result.stdout)
        checked = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "burst_platform.cli", "check",
             "--preview", str(preview), "--waivers", str(self.waivers), "--skip-checkov",
             "--format", "json"],
            capture_output=True, text=True, env=self.env, cwd=ROOT, check=False,
        )  # fmt: skip
        assert checked.returncode in (0, 1), checked.stderr
        report = json.loads(checked.stdout)
        return {(f["severity"], f["rule"], f["resource"]) for f in report["findings"]}


@pytest.fixture(scope="module")
def stack(cluster: ControlPlane) -> Iterator[PackStack]:
    with tempfile.TemporaryDirectory(prefix="burst-e2e-crossguard-") as scratch:
        yield PackStack(Path(scratch), cluster)


def test_the_clean_program_passes_and_reports_its_waived_findings(stack: PackStack) -> None:
    run = stack.with_pack()
    assert run.code == 0, run.output
    assert not run.of("deny"), run.output
    assert ("interruption.missing_path", SPOT_POOL) in run.of("waived"), run.output
    assert ("quotas.team_without_budget", "stack") in run.of("waived"), run.output
    assert "burst-guardrails@v0.1.0" in run.output


def test_without_the_waivers_the_same_findings_deny_and_fail_the_preview(
    stack: PackStack,
) -> None:
    run = stack.with_pack(waived=False)  # the pack's own waivers.yaml: none
    assert run.code != 0, run.output
    denies = run.of("deny")
    assert ("interruption.missing_path", SPOT_POOL) in denies, run.output
    assert ("quotas.team_without_budget", "stack") in denies, run.output
    assert all(v["level"] == "mandatory" for v in run.violations if v["severity"] == "deny")
    assert "Fix: " in run.output  # the rule's remediation comes with each violation


def test_a_spot_nodepool_without_its_taint_fails_the_preview(stack: PackStack) -> None:
    run = stack.with_pack(NO_TAINT)
    assert run.code != 0, run.output
    assert ("taints.spot_without_taint", SPOT_POOL) in run.of("deny"), run.output
    assert "[mandatory]" in run.output


def test_an_unknown_value_is_reported_as_advisory(stack: PackStack) -> None:
    run = stack.with_pack(UNKNOWN_TAINTS)
    assert run.code == 0, run.output  # advisory: the preview goes on
    unknown = run.of("unknown")
    assert ("taints.spot_without_taint", SPOT_POOL) in unknown, run.output
    assert all(v["level"] == "advisory" for v in run.violations if v["severity"] == "unknown")


@pytest.mark.parametrize(
    "edits", [(), (NO_TAINT,), (UNKNOWN_TAINTS,)], ids=["clean", "no-taint", "unknown"]
)
def test_the_pack_reports_what_burst_check_reports(
    stack: PackStack, edits: tuple[dict[str, Any], ...]
) -> None:
    """Same (severity, rule, resource) findings as `burst check` on the preview's JSON."""
    run = stack.with_pack(*edits)
    assert run.findings() == stack.burst_check(*edits), run.output


def test_a_broken_opa_fails_closed(stack: PackStack, tmp_path: Path) -> None:
    broken = tmp_path / "opa"
    broken.write_text("#!/bin/sh\necho 'opa: broken' >&2\nexit 3\n")
    broken.chmod(0o755)
    run = stack.with_pack(env={"BURST_OPA": str(broken)})
    assert run.code != 0, run.output
    assert "burst check could not be made" in run.output, run.output
    assert any(v["policy"] == "burst-deny" and v["level"] == "mandatory" for v in run.violations)


def test_up_stops_at_its_preview_on_a_deny(stack: PackStack) -> None:
    """`pulumi up` previews first: a mandatory violation there stops it before any change (with
    `--skip-preview` stack policies would only judge after the update)."""
    run = stack.with_pack(NO_TAINT, command=("up", "--yes"))
    assert run.code != 0, run.output
    assert ("taints.spot_without_taint", SPOT_POOL) in run.of("deny"), run.output
    exported = json.loads(stack.pulumi("stack", "export", "--stack", STACK).stdout)
    assert not exported["deployment"].get("resources"), "up changed the stack"

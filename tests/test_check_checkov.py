"""checkov inside `burst check`: Kubernetes objects of the plan, secrets, output parsing."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pytest

from burst.check.checkov_runner import (
    kubernetes_findings,
    kubernetes_objects,
    render_objects,
    repository_findings,
)
from burst.check.cli import register, run
from burst.check.model import DENY, WARN, Location

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "check"
# A made-up AWS key pair in the shape checkov's secret detectors look for (written at run time
# into a temporary directory, never into the repository).
FAKE_KEY_ID = "AKIA" + "Z3MSJV4WWNKWW5FG"


def burst_check(
    capsys: pytest.CaptureFixture[str], root: Path, *args: str
) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    parser = argparse.ArgumentParser(prog="burst")
    register(parser.add_subparsers(dest="command"))
    code = run(
        parser.parse_args(
            [
                "check",
                "--root",
                str(root),
                "--policies",
                str(ROOT / "policies"),
                "--format",
                "json",
                *args,
            ]
        )
    )
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


@pytest.mark.checkov
@pytest.mark.opa
def test_checkov_on_a_tiny_manifest_and_a_secret(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "creds.yaml").write_text(
        f"service: etl\naws_access_key_id: {FAKE_KEY_ID}\n"
    )
    (tmp_path / ".venv-x").mkdir()  # excluded from the repository scan
    (tmp_path / ".venv-x" / "creds.yaml").write_text(f"aws_access_key_id: {FAKE_KEY_ID}\n")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "pod.yaml").write_text((FIXTURES / "checkov" / "pod.yaml").read_text())

    code, report, err = burst_check(capsys, tmp_path, "--manifests", str(manifests))
    assert code == 1, err
    checkov = [f for f in report["findings"] if f["engine"] == "checkov"]
    pod = "k8s://manifests/pod.yaml#Pod/ml/debug"
    privileged = [f for f in checkov if f["rule"] == "CKV_K8S_16"]
    assert [(f["severity"], f["resource"]) for f in privileged] == [(WARN, pod)]
    assert privileged[0]["title"] and privileged[0]["remediation"]
    secrets = [f for f in checkov if f["rule"] == "CKV_SECRET_2"]
    assert [(f["severity"], f["resource"]) for f in secrets] == [(DENY, "config/creds.yaml")]
    assert "line 2" in secrets[0]["message"]
    assert all(f["severity"] in (WARN, DENY) for f in checkov)


@pytest.mark.checkov
@pytest.mark.opa
def test_checkov_findings_can_be_waived(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "pod.yaml").write_text((FIXTURES / "checkov" / "pod.yaml").read_text())
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "- {rule: CKV_K8S_16, resource: 'k8s://manifests/pod.yaml#Pod/*', reason: debug pod,"
        f" owner: me, expires: {dt.date.today() + dt.timedelta(days=30)}}}\n"
    )
    code, report, _ = burst_check(
        capsys, tmp_path, "--manifests", str(manifests), "--waivers", str(waivers)
    )
    assert [f["severity"] for f in report["findings"] if f["rule"] == "CKV_K8S_16"] == ["waived"]
    # checkov's other Kubernetes checks warn; what still fails is the policy pack's own
    # restricted-pod rules, which this waiver does not cover.
    assert code == 1
    denies = {
        (f["engine"], f["rule"].split(".")[0])
        for f in report["findings"]
        if f["severity"] == "deny"
    }
    assert denies == {("opa", "workloads")}


def test_only_whole_kubernetes_objects_are_rendered(tmp_path: Path) -> None:
    resources = [
        {
            "urn": "a",
            "type": "kubernetes:core/v1:Pod",
            "inputs": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p/x"}},
        },
        {
            "urn": "b",
            "type": "kubernetes:helm.sh/v3:Release",
            "inputs": {"apiVersion": "v1", "kind": "X"},
        },
        {
            "urn": "c",
            "type": "kubernetes:core/v1:Pod",
            "inputs": "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        },
        {"urn": "d", "type": "aws:s3/bucket:Bucket", "inputs": {"apiVersion": "v1", "kind": "Pod"}},
        {
            "urn": "e",
            "type": "kubernetes:yaml/v2:ConfigGroup",
            "inputs": {"apiVersion": "v1", "kind": "Pod"},
        },
    ]
    objects = kubernetes_objects(resources)
    assert [urn for urn, _ in objects] == ["a"]
    files = render_objects(objects, tmp_path)
    assert files == {"00000-Pod-p_x.yaml": "a"}
    assert (tmp_path / "00000-Pod-p_x.yaml").read_text().startswith("apiVersion: v1\nkind: Pod\n")


def test_parsing_checkov_reports() -> None:
    single = {
        "check_type": "kubernetes",
        "results": {
            "failed_checks": [
                {
                    "check_id": "CKV_K8S_20",
                    "check_name": "No privilege escalation",
                    "file_path": "/00000-Pod-x.yaml",
                    "resource": "Pod.ml.x",
                    "file_line_range": [1, 9],
                    "guideline": None,
                },
                {
                    "check_id": "CKV_K8S_20",
                    "check_name": "No privilege escalation",
                    "file_path": "/00000-Pod-x.yaml",
                    "resource": "Pod.ml.x",
                    "file_line_range": [1, 9],
                },
                {
                    "check_id": "CKV_K8S_1",
                    "check_name": "?",
                    "file_path": "/unknown.yaml",
                    "resource": "Pod.x.y",
                },
            ]
        },
    }
    findings = kubernetes_findings(
        [single], {"00000-Pod-x.yaml": "urn:x"}, {}, Location("plan.json")
    )
    assert [(f.rule, f.severity, f.resource, f.location) for f in findings] == [
        ("CKV_K8S_20", WARN, "urn:x", Location("plan.json"))
    ]
    several = [
        {
            "check_type": "secrets",
            "results": {
                "failed_checks": [
                    {
                        "check_id": "CKV_SECRET_6",
                        "check_name": "Base64 High Entropy String",
                        "file_path": "/a/b.env",
                        "file_line_range": [4, 5],
                        "resource": "abc",
                    }
                ]
            },
        },
        {
            "check_type": "github_actions",
            "results": {
                "failed_checks": [
                    {
                        "check_id": "CKV2_GHA_1",
                        "check_name": "Top-level permissions",
                        "file_path": "/.github/workflows/ci.yml",
                        "file_line_range": [0, 1],
                        "resource": "on",
                    }
                ]
            },
        },
        {"passed": 0, "failed": 0},  # summary-only report: nothing scanned
    ]
    findings = repository_findings(several)
    assert [(f.rule, f.severity, f.resource, f.location) for f in findings] == [
        ("CKV_SECRET_6", DENY, "a/b.env", Location("a/b.env", 4)),
        ("CKV2_GHA_1", WARN, ".github/workflows/ci.yml", Location(".github/workflows/ci.yml", 1)),
    ]


def test_repository_scan_covers_what_git_would_commit(tmp_path: Path) -> None:
    import subprocess

    from burst.check.checkov_runner import repository_targets

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("/generated/\n")
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "big.json").write_text("{}")
    (tmp_path / ".venv-tools").mkdir()
    (tmp_path / ".venv-tools" / "x.py").write_text("")
    (tmp_path / "app.yaml").write_text("a: 1\n")
    assert repository_targets(tmp_path) == ["-f", ".gitignore", "app.yaml"]


def test_repository_scan_outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from burst.check.checkov_runner import repository_targets

    monkeypatch.setenv("GIT_DIR", str(tmp_path / "no-such-git-dir"))
    targets = repository_targets(tmp_path)
    assert targets[:2] == ["-d", "."]
    assert "--skip-path" in targets


@pytest.mark.checkov
@pytest.mark.opa
def test_the_repository_passes_its_own_check(capsys: pytest.CaptureFixture[str]) -> None:
    """`make check` (with checkov's repository scan) passes on this repository: no fixture or
    test may carry something a secret scanner reads as a leaked credential."""
    from burst.cli import main

    code = main(["check", "--stack", "dev", "--root", str(ROOT)])
    _, err = capsys.readouterr()
    assert code == 0, err

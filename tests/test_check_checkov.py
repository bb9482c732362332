"""checkov inside `burst check`: Kubernetes objects of the plan, secrets, output parsing."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pytest

from burst_platform.check.checkov_runner import (
    kubernetes_findings,
    kubernetes_objects,
    render_objects,
    repository_findings,
)
from burst_platform.check.cli import register, run
from burst_platform.check.model import DENY, WARN, Location

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

    from burst_platform.check.checkov_runner import repository_targets

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("/generated/\n")
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "big.json").write_text("{}")
    (tmp_path / ".venv-tools").mkdir()
    (tmp_path / ".venv-tools" / "x.py").write_text("")
    (tmp_path / "app.yaml").write_text("a: 1\n")
    assert repository_targets(tmp_path) == ["-f", ".gitignore", "app.yaml"]


def test_repository_scan_outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from burst_platform.check.checkov_runner import repository_targets

    monkeypatch.setenv("GIT_DIR", str(tmp_path / "no-such-git-dir"))
    targets = repository_targets(tmp_path)
    assert targets[:2] == ["-d", "."]
    assert "--skip-path" in targets


@pytest.mark.checkov
@pytest.mark.opa
def test_the_repository_passes_its_own_check(capsys: pytest.CaptureFixture[str]) -> None:
    """`make check` (with checkov's repository scan) passes on this repository: no fixture or
    test may carry something a secret scanner reads as a leaked credential."""
    from burst_platform.cli import main

    code = main(["check", "--stack", "dev", "--root", str(ROOT)])
    _, err = capsys.readouterr()
    assert code == 0, err


# ---------------------------------------------------------------------------------------------
# What checkov is given: kinds its Kubernetes checks judge, and the scans the report lists
# ---------------------------------------------------------------------------------------------

CHECKOV_PYTHON = ROOT / ".venv-checkov" / "bin" / "python"
DENIED_JOB = FIXTURES / "checkov" / "denied-job.yaml"
CHECKOV_BLOB = "https://github.com/bridgecrewio/checkov/blob/"


def _resource(urn: str, kind: str, api_version: str = "v1") -> dict:  # type: ignore[type-arg]
    return {
        "urn": urn,
        "type": f"kubernetes:{api_version if '/' in api_version else 'core/' + api_version}:{kind}",
        "inputs": {"apiVersion": api_version, "kind": kind, "metadata": {"name": urn}},
    }


def test_only_kinds_checkov_judges_are_scanned() -> None:
    from burst_platform.check.checkov_runner import select_kubernetes

    resources = [
        _resource("pool", "NodePool", "karpenter.sh/v1"),
        _resource("ns", "Namespace"),
        _resource("ns2", "Namespace"),
        _resource("policy", "NetworkPolicy", "networking.k8s.io/v1"),
        {"urn": "helm", "type": "kubernetes:helm.sh/v3:Release", "inputs": {"chart": "x"}},
    ]
    plan_only = select_kubernetes(resources)
    assert plan_only.checked == [] and plan_only.rendered == []
    assert plan_only.note() == (
        "no object of a kind checkov's Kubernetes checks judge: 4 objects of kinds no checkov "
        "check judges (Namespace 2, NetworkPolicy 1, NodePool 1); Helm releases (remote "
        "charts: their values are no manifests): 1"
    )
    with_job = select_kubernetes([*resources, _resource("job", "Job", "batch/v1")])
    assert [urn for urn, _ in with_job.checked] == ["job"]
    # The NetworkPolicy goes along: CKV2_K8S_6 judges a Pod by the policies that select it.
    assert [urn for urn, _ in with_job.rendered] == ["job", "policy"]
    assert with_job.note().startswith("left out 3 objects of kinds no checkov check judges")
    assert select_kubernetes([]).note() == "no Kubernetes objects in the inputs"


def test_a_kind_from_the_input_cannot_forge_report_lines() -> None:
    from burst_platform.check.checkov_runner import MAX_LISTED_KINDS, select_kubernetes

    kinds = ["Evil\nWARN  forged", *(f"Kind{n}" for n in range(MAX_LISTED_KINDS + 3))]
    note = select_kubernetes([_resource(k, k, "x.io/v1") for k in kinds]).note()
    assert "\n" not in note
    assert note.endswith("4 more kinds)")


@pytest.mark.checkov
def test_the_checked_kinds_are_those_of_the_installed_checkov() -> None:
    """CHECKED_KINDS and CONTEXT_KINDS match the registry of the checkov that runs: a checkov
    upgrade that judges new kinds (or drops some) fails here until the lists follow."""
    import subprocess

    from burst_platform.check.checkov_runner import CHECKED_KINDS, CONTEXT_KINDS

    script = """
import json
from checkov.kubernetes.checks.resource.registry import registry
from checkov.kubernetes.checks.graph_checks import __file__ as graph_init
from pathlib import Path

def walk(node, filtered, connected):
    if isinstance(node, dict):
        if node.get("cond_type") == "filter" and node.get("attribute") in ("kind", "resource_type"):
            filtered.update(node["value"])
        for key in ("resource_types", "connected_resource_types"):
            connected.update(node.get(key) or [])
        for value in node.values():
            walk(value, filtered, connected)
    elif isinstance(node, list):
        for value in node:
            walk(value, filtered, connected)

filtered, connected = set(), set()
for path in Path(graph_init).parent.glob("*.json"):
    walk(json.loads(path.read_text())["definition"], filtered, connected)
resource = {kind for kind, checks in registry.checks.items() if checks}
print(json.dumps({"resource": sorted(resource), "graph": sorted(filtered),
                  "connected": sorted(connected)}))
"""
    found = json.loads(
        subprocess.run(
            [str(CHECKOV_PYTHON), "-c", script], capture_output=True, text=True, check=True
        ).stdout
    )
    assert set(found["resource"]) | set(found["graph"]) == CHECKED_KINDS
    assert set(found["connected"]) - CHECKED_KINDS == CONTEXT_KINDS


def test_the_report_says_which_scans_ran() -> None:
    from burst_platform.check.formats import render
    from burst_platform.check.model import CheckReport, Scan

    report = CheckReport(
        findings=[],
        resources=3,
        scans=[
            Scan(
                "kubernetes", ("kubernetes",), ran=False, note="no Kubernetes objects in the inputs"
            ),
            Scan("repository", ("secrets", "github_actions"), ran=True, targets=7, seconds=1.25),
        ],
    )
    text = render(report, "text")
    assert "  kubernetes (kubernetes): not run; no Kubernetes objects in the inputs\n" in text
    assert "  repository (secrets, github_actions): 7 files in 1.2 s\n" in text
    document = json.loads(render(report, "json"))
    assert document["checkov"] == [
        {
            "scan": "kubernetes",
            "frameworks": ["kubernetes"],
            "ran": False,
            "targets": 0,
            "note": "no Kubernetes objects in the inputs",
            "seconds": None,
        },
        {
            "scan": "repository",
            "frameworks": ["secrets", "github_actions"],
            "ran": True,
            "targets": 7,
            "note": "",
            "seconds": 1.25,
        },
    ]
    assert "<sub>checkov: kubernetes \\(kubernetes\\): not run; " in render(report, "markdown")


# ---------------------------------------------------------------------------------------------
# Guideline links
# ---------------------------------------------------------------------------------------------


def _k8s_report(check: dict, version: str | None = "3.3.30") -> dict:  # type: ignore[type-arg]
    summary: dict[str, object] = {"passed": 0, "failed": 1}
    if version is not None:
        summary["checkov_version"] = version
    return {
        "check_type": "kubernetes",
        "results": {"failed_checks": [check]},
        "summary": summary,
    }


@pytest.mark.parametrize(
    ("extra", "version", "url"),
    [
        (  # checkov's own guideline (from its platform) wins
            {"guideline": "https://docs.example.test/bc-k8s-15", "check_class": "checkov.a.B"},
            "3.3.30",
            "https://docs.example.test/bc-k8s-15",
        ),
        (  # offline: the check's definition at the version that ran
            {"guideline": None, "check_class": "checkov.kubernetes.checks.resource.k8s.Priv"},
            "3.3.30",
            f"{CHECKOV_BLOB}3.3.30/checkov/kubernetes/checks/resource/k8s/Priv.py",
        ),
        (  # a graph check names a generic base class: the framework's policy index
            {"check_class": "checkov.common.graph.checks_infra.base_check"},
            "3.3.30",
            f"{CHECKOV_BLOB}3.3.30/docs/5.Policy%20Index/kubernetes.md",
        ),
        (  # not a URL, not a checkov class, or no version: no link
            {"guideline": "see the wiki", "check_class": "custom.Check"},
            "3.3.30",
            f"{CHECKOV_BLOB}3.3.30/docs/5.Policy%20Index/kubernetes.md",
        ),
        ({"check_class": "checkov.kubernetes.X"}, None, None),
        ({"check_class": "checkov.kubernetes.X"}, "3.3.30/../../evil", None),
    ],
)
def test_the_guideline_link_reaches_the_finding_and_the_reports(
    extra: dict,
    version: str | None,
    url: str | None,  # type: ignore[type-arg]
) -> None:
    from burst_platform.check.formats import render
    from burst_platform.check.model import CheckReport
    from burst_platform.docs import rule_doc_url

    check = {
        "check_id": "CKV_K8S_16",
        "check_name": "Container should not be privileged",
        "file_path": "/00000-Pod-x.yaml",
        "resource": "Pod.ml.x",
        **extra,
    }
    [finding] = kubernetes_findings(
        [_k8s_report(check, version)], {"00000-Pod-x.yaml": "u"}, {}, None
    )
    assert finding.help_uri == url
    assert rule_doc_url(finding.rule, finding.title, finding.engine, finding.help_uri) == url
    if url is not None:
        assert finding.remediation.startswith(f"See {url}; ")  # readable in the text report too
    report = CheckReport(findings=[finding], resources=1)
    sarif = json.loads(render(report, "sarif"))
    [rule] = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert rule.get("helpUri") == url
    if url is None:
        assert finding.remediation.startswith("Change the object so that the check passes")
        assert "[`CKV_K8S_16`](" not in render(report, "markdown")
    else:
        assert finding.remediation.startswith(f"See {url}; change the object")
        assert f"[`CKV_K8S_16`]({url})" in render(report, "markdown")


def test_a_secret_links_the_secrets_index() -> None:
    report = {
        "check_type": "secrets",
        "results": {
            "failed_checks": [
                {
                    "check_id": "CKV_SECRET_2",
                    "check_name": "AWS Access Key",
                    "file_path": "/a.py",
                    "file_line_range": [3, 4],
                    "check_class": "",
                }
            ]
        },
        "summary": {"failed": 1, "checkov_version": "3.3.30"},
    }
    [finding] = repository_findings([report])
    assert finding.remediation.startswith(
        f"See {CHECKOV_BLOB}3.3.30/docs/5.Policy%20Index/secrets.md; remove the secret"
    )


# ---------------------------------------------------------------------------------------------
# The real checkov on a denied fixture, and on a plan it has nothing to judge in
# ---------------------------------------------------------------------------------------------


@pytest.mark.checkov
@pytest.mark.opa
def test_real_checkov_denies_a_privileged_host_job_with_its_guideline_links(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from burst_platform.components.versions import CHECKOV_VERSION

    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "job.yaml").write_text(DENIED_JOB.read_text())
    sarif_path, markdown_path = tmp_path / "out.sarif", tmp_path / "out.md"
    code, report, err = burst_check(
        capsys, tmp_path, "--manifests", str(manifests),
        "--output", f"sarif={sarif_path}", "--output", f"markdown={markdown_path}",
    )  # fmt: skip
    assert code == 1, err
    job = "k8s://manifests/job.yaml#Job/ml/node-debug"
    by_rule = {f["rule"]: f for f in report["findings"] if f["engine"] == "checkov"}
    # hostNetwork, hostPID, hostIPC, privileged, allowPrivilegeEscalation, root, :latest
    expected = {
        "CKV_K8S_19": "SharedHostNetworkNamespace",
        "CKV_K8S_17": "ShareHostPID",
        "CKV_K8S_18": "ShareHostIPC",
        "CKV_K8S_16": "PrivilegedContainers",
        "CKV_K8S_20": "AllowPrivilegeEscalation",
        "CKV_K8S_23": "RootContainers",
        "CKV_K8S_14": "ImageTagFixed",
    }
    assert set(expected) <= set(by_rule), sorted(by_rule)
    site_packages = next((ROOT / ".venv-checkov" / "lib").glob("python*/site-packages"))
    sarif_rules = {
        r["id"]: r for r in json.loads(sarif_path.read_text())["runs"][0]["tool"]["driver"]["rules"]
    }
    markdown = markdown_path.read_text()
    for rule, check_class in expected.items():
        finding = by_rule[rule]
        assert (finding["severity"], finding["resource"]) == (WARN, job)
        path = f"checkov/kubernetes/checks/resource/k8s/{check_class}.py"
        url = f"{CHECKOV_BLOB}{CHECKOV_VERSION}/{path}"
        assert finding["remediation"].startswith(f"See {url}; "), finding["remediation"]
        assert (site_packages / path).is_file()  # the link names the check that ran
        assert sarif_rules[rule]["helpUri"] == url
        assert f"[`{rule}`]({url})" in markdown
    [kubernetes] = [s for s in report["checkov"] if s["scan"] == "kubernetes"]
    assert (kubernetes["ran"], kubernetes["targets"]) == (True, 1)
    assert kubernetes["note"] == "left out 1 object of kinds no checkov check judges (Namespace 1)"
    # The policy pack denies the same Job on its own rules.
    assert {"workloads.host_namespaces", "workloads.privileged_container"} <= {
        f["rule"] for f in report["findings"] if f["severity"] == DENY
    }


PLAN_LIKE_OBJECTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: team-a, namespace: team-a}
spec: {hard: {requests.nvidia.com/gpu: "8"}}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: LocalQueue
metadata: {name: team-a, namespace: team-a}
spec: {clusterQueue: team-a}
"""


@pytest.mark.checkov
@pytest.mark.opa
@pytest.mark.parametrize("with_objects", [False, True])
def test_real_checkov_is_not_run_on_a_plan_without_objects_it_judges(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, with_objects: bool
) -> None:
    extra = []
    if with_objects:  # the kinds the plan has besides ServiceAccounts: none is judged
        (tmp_path / "objects.yaml").write_text(PLAN_LIKE_OBJECTS)
        extra = ["--manifests", str(tmp_path / "objects.yaml")]
    code, report, err = burst_check(
        capsys, tmp_path, "--preview", str(FIXTURES / "clean-preview.json"), *extra
    )
    assert code in (0, 1), err
    [kubernetes, repository] = report["checkov"]
    assert (kubernetes["scan"], kubernetes["ran"], kubernetes["seconds"]) == (
        "kubernetes",
        False,
        None,
    )
    assert kubernetes["note"] == (
        "no object of a kind checkov's Kubernetes checks judge: 3 objects of kinds no checkov "
        "check judges (LocalQueue 1, Namespace 1, ResourceQuota 1)"
        if with_objects
        else "no Kubernetes objects in the inputs"
    )
    assert repository["ran"] is True
    assert not [f for f in report["findings"] if "_K8S_" in f["rule"]]


@pytest.mark.opa
def test_on_the_dev_plan_checkov_gets_only_the_kinds_it_judges(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dev stack's Kubernetes objects are Karpenter and Kueue resources, Namespaces, quotas,
    PriorityClasses and ServiceAccounts: only the ServiceAccounts reach checkov (a fake that
    lists what it was given)."""
    given = tmp_path / "given"
    fake = tmp_path / "checkov"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'case " $* " in *" kubernetes "*) ls > {given};; esac\n'
        'echo \'{"passed": 0, "failed": 0, "resource_count": 0}\'\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("BURST_CHECKOV", str(fake))
    code, report, err = burst_check(capsys, ROOT, "--stack", "dev")
    assert code == 0, err
    files = given.read_text().split()
    assert files and all("-ServiceAccount-" in name for name in files), files
    [kubernetes] = [s for s in report["checkov"] if s["scan"] == "kubernetes"]
    assert (kubernetes["ran"], kubernetes["targets"]) == (True, len(files))
    assert "NodePool" in kubernetes["note"] and "Helm releases" in kubernetes["note"]

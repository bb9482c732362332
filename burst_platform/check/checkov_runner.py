"""Run checkov (as a CLI, from its own virtualenv) and turn its failed checks into findings.

What checkov can judge here, and how it runs (two runs, in parallel):

* `--framework kubernetes` over the Kubernetes objects of the plan and of `--manifests` whose
  kind one of checkov's Kubernetes checks judges (CHECKED_KINDS: workloads such as Pods, Jobs,
  Deployments, CronJobs, and RBAC, ServiceAccounts, Services, Ingresses...), rendered one per
  YAML file into a temporary directory, with the NetworkPolicies a graph check connects them to.
  Other kinds (the Karpenter and Kueue custom resources, Namespaces, ResourceQuotas, LimitRanges,
  PriorityClasses) match no check, and Helm releases are no manifests: checkov's `helm`
  framework renders a local chart directory with the `helm` binary, while the program's
  releases name remote OCI charts, so their values alone say nothing it can check. When no
  object is of a checked kind, the run is skipped and the report says so.
* `--framework secrets github_actions` over the repository: the files git would commit, so
  the Pulumi program's Python (`components/`, `infra/`), the policies, fixtures and workflows
  (virtualenvs, `.tools`, `.git` and caches excluded). checkov's Python frameworks (`sast`,
  `cdk`) need a Prisma Cloud key and a downloaded engine, so the program gets the secrets scan.

Each scan, run or skipped, comes back as a `Scan` (what it was given, what it left out, its
seconds) that every report lists.

Severities (checkov's own severity is empty offline): secrets are `deny` (a leaked credential
must block the merge); Kubernetes hygiene and GitHub Actions checks are `warn`. Each finding's
`help_uri` (SARIF `helpUri`, the Markdown links) and the `See <url>;` its remediation starts
with are checkov's guideline when it names one (only from its platform, so never offline), else
the check's definition in checkov's repository at the version that ran (`check_class`), else
the framework's policy index there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from burst_platform.check import children
from burst_platform.check.model import CHECKOV, DENY, WARN, Finding, Location, Scan, safe_text
from burst_platform.errors import BurstError
from burst_platform.tools import find_checkov

SEVERITY_BY_FRAMEWORK = {"kubernetes": WARN, "secrets": DENY, "github_actions": WARN}
"""How checkov's failed checks count, per framework."""

KUBERNETES_FRAMEWORKS = ("kubernetes",)
REPOSITORY_FRAMEWORKS = ("secrets", "github_actions")

CHECKED_KINDS = frozenset(
    {
        "AdmissionConfiguration",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "CronJob",
        "DaemonSet",
        "Deployment",
        "DeploymentConfig",
        "Ingress",
        "Job",
        "Pod",
        "PodSecurityPolicy",
        "PodTemplate",
        "ReplicaSet",
        "ReplicationController",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    }
)
"""Kinds checkov's Kubernetes checks judge: the `supported_entities` of its resource checks and
the kinds its graph checks filter on (checkov 3.3.30; tests/test_check_checkov.py compares this
with the installed checkov's registry). checkov matches on `kind` alone, and so does this."""

CONTEXT_KINDS = frozenset({"NetworkPolicy"})
"""Kinds no check judges but a graph check connects the checked ones to (CKV2_K8S_6: a Pod
without a NetworkPolicy): rendered along with checked objects, never a reason to run."""

EXCLUDED_DIRS = (
    r"\.venv[^/]*",
    r"\.tools",
    r"\.git",
    r"node_modules",
    r"__pycache__",
    r"\.mypy_cache",
    r"\.ruff_cache",
    r"\.pytest_cache",
    r"\.hypothesis",
)
"""Directories (regular expressions for `--skip-path`) the repository scan leaves out."""

CHECKOV_REPOSITORY = "https://github.com/bridgecrewio/checkov"
POLICY_INDEX = {
    "kubernetes": "kubernetes.md",
    "secrets": "secrets.md",
    "github_actions": "github_actions.md",
}
"""checkov's policy index page (`docs/5.Policy Index/`) of each framework."""

MAX_LISTED_KINDS = 8
"""How many left-out kinds a scan's note names (the most frequent first)."""

_COMPONENT_TYPES = {
    "kubernetes:helm.sh/": "Helm releases (remote charts: their values are no manifests)",
    "kubernetes:yaml": "YAML config groups (components, not manifests)",
    "kubernetes:kustomize": "kustomize directories (components, not manifests)",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_URL = re.compile(r"https://[^\s;]+")
_VERSION = re.compile(r"[0-9]+(\.[0-9]+)*")
_CHECK_CLASS = re.compile(r"checkov(\.[A-Za-z_][A-Za-z0-9_]*)+")
_GENERIC_CHECK_CLASS = "checkov.common."


def _component(resource_type: str) -> str | None:
    for prefix, what in _COMPONENT_TYPES.items():
        if resource_type.startswith(prefix):
            return what
    return None


def kubernetes_objects(resources: Iterable[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(URN, object) of every resource whose inputs are a whole Kubernetes object."""
    objects = []
    for resource in resources:
        resource_type = resource.get("type", "")
        if not isinstance(resource_type, str) or not resource_type.startswith("kubernetes:"):
            continue
        if _component(resource_type) is not None:
            continue
        inputs = resource.get("inputs")
        if (
            isinstance(inputs, dict)
            and isinstance(inputs.get("apiVersion"), str)
            and isinstance(inputs.get("kind"), str)
            and isinstance(inputs.get("metadata", {}), dict)
        ):
            objects.append((str(resource["urn"]), inputs))
    return objects


@dataclass
class KubernetesSelection:
    """The Kubernetes objects the Kubernetes scan gets, and what it leaves out."""

    checked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    context: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    unchecked: Counter[str] = field(default_factory=Counter)
    """Kinds (and how many objects of each) no checkov check judges."""
    components: Counter[str] = field(default_factory=Counter)
    """Component resources that are not manifests (Helm releases...), by what they are."""

    @property
    def rendered(self) -> list[tuple[str, dict[str, Any]]]:
        """What is written for checkov: the checked objects and, with them, their context."""
        return [*self.checked, *self.context] if self.checked else []

    def note(self) -> str:
        """What was left out (and, when nothing is checked, why the scan does not run)."""
        parts = []
        left_out = Counter(self.unchecked)
        if not self.checked:  # context alone is not scanned either
            left_out.update(obj["kind"] for _, obj in self.context)
        unchecked = sum(left_out.values())
        if unchecked:
            counts = sorted(left_out.items(), key=lambda item: (-item[1], item[0]))
            kinds = [f"{safe_text(kind, 60)} {n}" for kind, n in counts[:MAX_LISTED_KINDS]]
            if len(counts) > MAX_LISTED_KINDS:
                kinds.append(f"{len(counts) - MAX_LISTED_KINDS} more kinds")
            objects = "1 object" if unchecked == 1 else f"{unchecked} objects"
            parts.append(f"{objects} of kinds no checkov check judges ({', '.join(kinds)})")
        parts += [f"{what}: {n}" for what, n in sorted(self.components.items())]
        if self.checked:
            return f"left out {'; '.join(parts)}" if parts else ""
        if not parts:
            return "no Kubernetes objects in the inputs"
        return f"no object of a kind checkov's Kubernetes checks judge: {'; '.join(parts)}"


def select_kubernetes(resources: Iterable[Mapping[str, Any]]) -> KubernetesSelection:
    """Split the Kubernetes resources by whether checkov's Kubernetes checks judge their kind."""
    selection = KubernetesSelection()
    for resource in resources:
        resource_type = resource.get("type")
        if isinstance(resource_type, str) and resource_type.startswith("kubernetes:"):
            what = _component(resource_type)
            if what is not None:
                selection.components[what] += 1
    for urn, obj in kubernetes_objects(resources):
        kind = obj["kind"]
        if kind in CHECKED_KINDS:
            selection.checked.append((urn, obj))
        elif kind in CONTEXT_KINDS:
            selection.context.append((urn, obj))
        else:
            selection.unchecked[kind] += 1
    return selection


def render_objects(
    objects: Sequence[tuple[str, dict[str, Any]]], directory: Path
) -> dict[str, str]:
    """Write one YAML file per object; returns file name -> URN."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    files = {}
    for index, (urn, obj) in enumerate(objects):
        name = str((obj.get("metadata") or {}).get("name") or "object")
        file_name = (
            f"{index:05d}-{_SAFE_NAME.sub('_', obj['kind'])}-{_SAFE_NAME.sub('_', name)[:60]}.yaml"
        )
        (directory / file_name).write_text(yaml.dump(obj, Dumper=dumper, sort_keys=False))
        files[file_name] = urn
    return files


@dataclass
class _Run:
    process: subprocess.Popen[bytes]
    out: Path
    err: Path
    what: str
    started: float


def _start(checkov: Path, args: list[str], cwd: Path, tmp: Path, what: str) -> _Run:
    out, err = tmp / f"{what}.json", tmp / f"{what}.err"
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", LOG_LEVEL="ERROR")
    with out.open("wb") as stdout, err.open("wb") as stderr:
        try:
            process = children.spawn(
                [str(checkov.absolute()), *args, "--skip-download", "-o", "json", "--quiet"],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=env,
            )
        except OSError as error:
            raise BurstError(f"cannot run checkov ({checkov}): {error.strerror}") from None
    return _Run(process, out, err, what, time.monotonic())


def _reports(run: _Run, timeout: float) -> tuple[list[Mapping[str, Any]], float]:
    """The reports of a finished checkov run and its seconds; anything but a documented
    success is BurstError.

    checkov `-o json` prints one report per framework (a list when several ran): `{"check_type",
    "results": {"failed_checks": [...], ...}, "summary": {"failed": n, ...}}`, or a bare summary
    `{"passed": 0, "failed": 0, ..., "resource_count": 0}` when nothing was scanned. It exits 1
    when a check failed and 0 when none did. Empty output, another exit code, another shape, or
    an exit code that does not match the failed count fail the check closed.
    """
    try:
        code = run.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        children.stop(run.process)
        raise BurstError(f"checkov ({run.what}) did not finish within {timeout:.0f}s") from None
    seconds = time.monotonic() - run.started
    children.stop(run.process)  # reaps it and any workers left in its process group
    stderr = run.err.read_text(errors="replace").strip()
    tail = stderr.splitlines()[-3:] if stderr else []
    if code not in (0, 1):  # 1 means "some checks failed", not an error
        raise BurstError([f"checkov ({run.what}) failed with exit code {code}", *tail])
    text = run.out.read_text(errors="replace").strip()
    if not text:
        raise BurstError([f"checkov ({run.what}) exited {code} without a report", *tail])
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise BurstError(f"checkov ({run.what}) printed output that is not JSON") from None
    reports = data if isinstance(data, list) else [data]  # a list when several frameworks ran
    failed = 0
    for index, report in enumerate(reports):
        problem = _report_problem(report)
        if problem is not None:
            raise BurstError(f"checkov ({run.what}) report {index}: {problem}")
        failed += _failed_count(report)
    if (code == 1) != (failed > 0):
        raise BurstError(f"checkov ({run.what}) exited {code} but reported {failed} failed checks")
    return [r for r in reports if "results" in r], seconds


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _report_problem(report: object) -> str | None:
    """Why a checkov report is not one of its documented shapes, or None."""
    if not isinstance(report, Mapping):
        return "not an object"
    if "results" not in report:  # nothing scanned: a bare summary
        if not all(_is_count(report.get(k)) for k in ("passed", "failed", "resource_count")):
            return "neither results nor a summary with passed, failed and resource_count"
        return None
    results, summary = report.get("results"), report.get("summary")
    if not isinstance(report.get("check_type"), str):
        return "check_type missing"
    if not isinstance(results, Mapping) or not isinstance(results.get("failed_checks"), list):
        return "results.failed_checks missing or not a list"
    if not isinstance(summary, Mapping) or not _is_count(summary.get("failed")):
        return "summary.failed missing"
    if summary["failed"] != len(results["failed_checks"]):
        return "summary.failed does not match results.failed_checks"
    return None


def _failed_count(report: Mapping[str, Any]) -> int:
    summary = report.get("summary") if "results" in report else report
    count: int = summary["failed"] if isinstance(summary, Mapping) else 0
    return count


@dataclass(frozen=True)
class _Failed:
    framework: str
    check: Mapping[str, Any]
    version: str | None
    """The checkov version of the report (its summary's `checkov_version`), when it says."""


def _failed_checks(reports: Iterable[Mapping[str, Any]]) -> Iterator[_Failed]:
    for report in reports:
        framework = str(report.get("check_type", ""))
        results = report.get("results")
        if not isinstance(results, Mapping):
            continue  # a summary only: nothing was scanned
        summary = report.get("summary")
        version = summary.get("checkov_version") if isinstance(summary, Mapping) else None
        if not isinstance(version, str) or not _VERSION.fullmatch(version):
            version = None
        for check in results.get("failed_checks") or []:
            if isinstance(check, Mapping):
                yield _Failed(framework, check, version)


def _line(check: Mapping[str, Any]) -> int:
    lines = check.get("file_line_range")
    if isinstance(lines, list) and lines and isinstance(lines[0], int):
        return max(1, lines[0])
    return 1


def guideline_url(failed: _Failed) -> str | None:
    """The page that documents a failed check: checkov's `guideline` when it is an https URL,
    else (with the version known) the check's source in checkov's repository at that version
    (its `check_class`, unless that is a generic base class), else that framework's policy
    index there; None when neither is known."""
    guideline = failed.check.get("guideline")
    if isinstance(guideline, str) and _URL.fullmatch(guideline):
        return guideline
    if failed.version is None:
        return None
    blob = f"{CHECKOV_REPOSITORY}/blob/{failed.version}"
    check_class = failed.check.get("check_class")
    if (
        isinstance(check_class, str)
        and _CHECK_CLASS.fullmatch(check_class)
        and not check_class.startswith(_GENERIC_CHECK_CLASS)
    ):
        return f"{blob}/{check_class.replace('.', '/')}.py"
    index = POLICY_INDEX.get(failed.framework)
    return f"{blob}/docs/{quote('5.Policy Index')}/{index}" if index else None


def _remediation(failed: _Failed) -> str:
    check = failed.check
    if failed.framework == "secrets":
        advice = (
            "remove the secret from the repository, rotate it, and load it from a secret store "
            "at run time (a waiver is only for a false positive)."
        )
    else:
        advice = (
            f"change the object so that the check passes ({check.get('check_name', '')}), or "
            f"waive {check.get('check_id', '')} for this resource in the waivers file with a "
            "reason and expiry."
        )
    url = guideline_url(failed)
    return f"See {url}; {advice}" if url else advice[:1].upper() + advice[1:]


def kubernetes_findings(
    reports: Iterable[Mapping[str, Any]],
    files: Mapping[str, str],
    locations: Mapping[str, Location],
    fallback: Location | None,
) -> list[Finding]:
    """Findings of the Kubernetes run, on the URN of the object each file was rendered from."""
    findings = []
    seen = set()
    for failed in _failed_checks(reports):
        check = failed.check
        file_name = Path(str(check.get("file_path", ""))).name
        urn = files.get(file_name)
        if urn is None:
            continue
        key = (check.get("check_id"), urn)
        if key in seen:
            continue
        seen.add(key)
        title = str(check.get("check_name") or check.get("check_id"))
        findings.append(
            Finding(
                rule=str(check.get("check_id")),
                severity=SEVERITY_BY_FRAMEWORK.get(failed.framework or "kubernetes", WARN),
                resource=urn,
                message=f"{title} ({check.get('resource', '')})",
                engine=CHECKOV,
                title=title,
                remediation=_remediation(failed),
                help_uri=guideline_url(failed),
                location=locations.get(urn, fallback),
            )
        )
    return findings


def repository_findings(reports: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """Findings of the repository run (secrets, GitHub Actions), on repository-relative files."""
    findings = []
    seen = set()
    for failed in _failed_checks(reports):
        check = failed.check
        path = str(check.get("file_path", "")).lstrip("/")
        line = _line(check)
        key = (check.get("check_id"), path, line)
        if key in seen:
            continue
        seen.add(key)
        title = str(check.get("check_name") or check.get("check_id"))
        detail = (
            f"line {line}"
            if failed.framework == "secrets"
            else f"{check.get('resource', '')}, line {line}"
        )
        findings.append(
            Finding(
                rule=str(check.get("check_id")),
                severity=SEVERITY_BY_FRAMEWORK.get(failed.framework, WARN),
                resource=path,
                message=f"{title} ({detail})",
                engine=CHECKOV,
                title=title,
                remediation=_remediation(failed),
                help_uri=guideline_url(failed),
                location=Location(path, line),
            )
        )
    return findings


_EXCLUDED = re.compile("|".join(f"(^|/){pattern}(/|$)" for pattern in EXCLUDED_DIRS))
MAX_LISTED_FILES = 5000


def repository_targets(root: Path) -> list[str]:
    """What the repository scan covers, as checkov arguments (run with `root` as working dir).

    In a git work tree: the files git would commit (tracked, or untracked and not ignored), so
    build output, virtualenvs and generated data stay out. Elsewhere (or for huge trees): the
    whole directory, minus EXCLUDED_DIRS. An empty list means there is nothing to scan.
    """
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
            cwd=root,
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout.decode(errors="surrogateescape")
    except (OSError, subprocess.SubprocessError):
        listing = None
    if listing is not None:
        files = sorted(
            {
                name
                for name in listing.split("\0")
                if name and not _EXCLUDED.search(name) and (root / name).is_file()
            }
        )
        if len(files) <= MAX_LISTED_FILES:
            return ["-f", *files] if files else []
    skip = [arg for pattern in EXCLUDED_DIRS for arg in ("--skip-path", f"(^|/){pattern}(/|$)")]
    return ["-d", ".", *skip]


@dataclass
class CheckovResult:
    """checkov's findings, and what each scan covered (or why it did not run)."""

    findings: list[Finding]
    scans: list[Scan]


def run_checkov(
    resources: Sequence[Mapping[str, Any]],
    root: Path,
    locations: Mapping[str, Location],
    fallback: Location | None = None,
    checkov: Path | None = None,
    timeout: float = 600.0,
) -> CheckovResult:
    """Run the checkov scans that have something to judge (in parallel); return their failed
    checks as findings, and a Scan for each, run or skipped."""
    binary = checkov or find_checkov(root)
    selection = select_kubernetes(resources)
    repository = repository_targets(root)
    with tempfile.TemporaryDirectory(prefix="burst-check-checkov-") as tmp_name:
        tmp = Path(tmp_name)
        manifests = tmp / "manifests"
        manifests.mkdir()
        files = render_objects(selection.rendered, manifests)
        runs = []
        try:
            if files:
                runs.append(
                    _start(
                        binary,
                        ["-d", ".", "--framework", *KUBERNETES_FRAMEWORKS],
                        manifests,
                        tmp,
                        "kubernetes",
                    )
                )
            if repository:
                runs.append(
                    _start(
                        binary,
                        [*repository, "--framework", *REPOSITORY_FRAMEWORKS],
                        root,
                        tmp,
                        "repository",
                    )
                )
            findings: list[Finding] = []
            seconds: dict[str, float] = {}
            for run in runs:
                reports, seconds[run.what] = _reports(run, timeout)
                if run.what == "kubernetes":
                    findings += kubernetes_findings(reports, files, locations, fallback)
                else:
                    findings += repository_findings(reports)
        finally:
            for run in runs:
                children.stop(run.process)
    listed = repository[1:] if repository[:1] == ["-f"] else []
    scans = [
        Scan(
            "kubernetes",
            KUBERNETES_FRAMEWORKS,
            ran="kubernetes" in seconds,
            targets=len(selection.checked),
            note=selection.note(),
            seconds=seconds.get("kubernetes"),
        ),
        Scan(
            "repository",
            REPOSITORY_FRAMEWORKS,
            ran="repository" in seconds,
            targets=len(listed),
            note=(
                ""
                if listed
                else "the whole directory (not a git work tree), less EXCLUDED_DIRS"
                if repository
                else "no files to scan"
            ),
            seconds=seconds.get("repository"),
        ),
    ]
    return CheckovResult(findings, scans)

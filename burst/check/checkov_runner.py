"""Run checkov (as a CLI, from its own virtualenv) and turn its failed checks into findings.

Two runs, in parallel:

* `--framework kubernetes` over the Kubernetes objects of the plan, rendered one per YAML file
  into a temporary directory (Helm releases and other component types are skipped: their inputs
  are not Kubernetes objects);
* `--framework secrets github_actions` over the repository (virtualenvs, `.tools`, `.git` and
  caches excluded).

Severities (checkov's own severity is empty offline): secrets are `deny` (a leaked credential
must block the merge); Kubernetes hygiene and GitHub Actions checks are `warn`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from burst.check import children
from burst.check.model import CHECKOV, DENY, WARN, Finding, Location
from burst.errors import BurstError

SEVERITY_BY_FRAMEWORK = {"kubernetes": WARN, "secrets": DENY, "github_actions": WARN}
"""How checkov's failed checks count, per framework."""

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

_SKIPPED_K8S_TYPES = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def find_checkov(root: Path | None = None) -> Path:
    """The checkov CLI: `$BURST_CHECKOV` if set, else `.venv-checkov/bin/checkov` in the repo."""
    candidates: list[Path] = []
    if os.environ.get("BURST_CHECKOV"):
        candidates = [Path(os.environ["BURST_CHECKOV"])]
    else:
        candidates += [
            base / ".venv-checkov" / "bin" / "checkov"
            for base in (root, Path(__file__).resolve().parents[2])
            if base is not None
        ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.absolute()
    raise BurstError(
        "checkov not found (.venv-checkov/bin/checkov): run `make setup`, or pass --skip-checkov"
    )


def kubernetes_objects(resources: Iterable[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(URN, object) of every resource whose inputs are a whole Kubernetes object."""
    objects = []
    for resource in resources:
        resource_type = resource.get("type", "")
        if not isinstance(resource_type, str) or not resource_type.startswith("kubernetes:"):
            continue
        if resource_type.startswith(_SKIPPED_K8S_TYPES):
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
    return _Run(process, out, err, what)


def _reports(run: _Run, timeout: float) -> list[Mapping[str, Any]]:
    """The reports of a finished checkov run; anything but a documented success is BurstError.

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
    return [r for r in reports if "results" in r]


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


def _failed_checks(reports: Iterable[Mapping[str, Any]]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for report in reports:
        framework = str(report.get("check_type", ""))
        results = report.get("results")
        if not isinstance(results, Mapping):
            continue  # a summary only: nothing was scanned
        for check in results.get("failed_checks") or []:
            if isinstance(check, Mapping):
                yield framework, check


def _line(check: Mapping[str, Any]) -> int:
    lines = check.get("file_line_range")
    if isinstance(lines, list) and lines and isinstance(lines[0], int):
        return max(1, lines[0])
    return 1


def _remediation(check: Mapping[str, Any], framework: str) -> str:
    guideline = check.get("guideline")
    check_id = check.get("check_id", "")
    waiver = f"or waive {check_id} for this resource in the waivers file with a reason and expiry."
    if isinstance(guideline, str) and guideline:
        return f"See {guideline}; {waiver}"
    if framework == "secrets":
        return (
            "Remove the secret from the repository, rotate it, and load it from a secret store "
            "at run time (a waiver is only for a false positive)."
        )
    return f"Change the object so that the check passes ({check.get('check_name', '')}), {waiver}"


def kubernetes_findings(
    reports: Iterable[Mapping[str, Any]],
    files: Mapping[str, str],
    locations: Mapping[str, Location],
    fallback: Location | None,
) -> list[Finding]:
    """Findings of the Kubernetes run, on the URN of the object each file was rendered from."""
    findings = []
    seen = set()
    for framework, check in _failed_checks(reports):
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
                severity=SEVERITY_BY_FRAMEWORK.get(framework or "kubernetes", WARN),
                resource=urn,
                message=f"{title} ({check.get('resource', '')})",
                engine=CHECKOV,
                title=title,
                remediation=_remediation(check, framework),
                location=locations.get(urn, fallback),
            )
        )
    return findings


def repository_findings(reports: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """Findings of the repository run (secrets, GitHub Actions), on repository-relative files."""
    findings = []
    seen = set()
    for framework, check in _failed_checks(reports):
        path = str(check.get("file_path", "")).lstrip("/")
        line = _line(check)
        key = (check.get("check_id"), path, line)
        if key in seen:
            continue
        seen.add(key)
        title = str(check.get("check_name") or check.get("check_id"))
        detail = (
            f"line {line}"
            if framework == "secrets"
            else f"{check.get('resource', '')}, line {line}"
        )
        findings.append(
            Finding(
                rule=str(check.get("check_id")),
                severity=SEVERITY_BY_FRAMEWORK.get(framework, WARN),
                resource=path,
                message=f"{title} ({detail})",
                engine=CHECKOV,
                title=title,
                remediation=_remediation(check, framework),
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


def run_checkov(
    resources: Sequence[Mapping[str, Any]],
    root: Path,
    locations: Mapping[str, Location],
    fallback: Location | None = None,
    checkov: Path | None = None,
    timeout: float = 600.0,
) -> list[Finding]:
    """Run both checkov scans (in parallel) and return their failed checks as findings."""
    binary = checkov or find_checkov(root)
    objects = kubernetes_objects(resources)
    with tempfile.TemporaryDirectory(prefix="burst-check-checkov-") as tmp_name:
        tmp = Path(tmp_name)
        manifests = tmp / "manifests"
        manifests.mkdir()
        files = render_objects(objects, manifests)
        runs = []
        try:
            if files:
                runs.append(
                    _start(
                        binary,
                        ["-d", ".", "--framework", "kubernetes"],
                        manifests,
                        tmp,
                        "kubernetes",
                    )
                )
            repository = repository_targets(root)
            if repository:
                runs.append(
                    _start(
                        binary,
                        [*repository, "--framework", "secrets", "github_actions"],
                        root,
                        tmp,
                        "repository",
                    )
                )
            findings: list[Finding] = []
            for run in runs:
                reports = _reports(run, timeout)
                if run.what == "kubernetes":
                    findings += kubernetes_findings(reports, files, locations, fallback)
                else:
                    findings += repository_findings(reports)
            return findings
        finally:
            for run in runs:
                children.stop(run.process)

"""Data model of a `burst check` run: findings, rule descriptions and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from burst_platform.errors import one_line

DENY = "deny"
WARN = "warn"
UNKNOWN = "unknown"
WAIVED = "waived"

POLICY_SEVERITIES = (DENY, WARN, UNKNOWN)
"""Severities a rule (Rego or checkov) can give a finding."""

SEVERITY_ORDER = (DENY, UNKNOWN, WARN, WAIVED)
"""Order in which reports list severities: what fails first, then what needs a look."""

FAIL_ON_LEVELS = (DENY, UNKNOWN, WARN)
"""`--fail-on` levels from the least to the most strict; each fails on itself and those before
it. An unknown is a possible violation (of a deny rule, as a rule) that only the deployment will
settle, so it ranks above a warn, which is settled and advisory."""


def failing_severities(fail_on: str) -> frozenset[str]:
    """The severities that fail the check (exit 1) under `--fail-on fail_on`."""
    if fail_on not in FAIL_ON_LEVELS:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON_LEVELS)}, not {fail_on!r}")
    return frozenset(FAIL_ON_LEVELS[: FAIL_ON_LEVELS.index(fail_on) + 1])


OPA = "opa"
CHECKOV = "checkov"


MAX_FIELD_CHARS = {"resource": 400, "message": 1000, "title": 200, "remediation": 1000}
"""How much of a finding's text a report shows; longer values are cut with a count."""


def safe_text(value: str, limit: int) -> str:
    """`value` with control characters written as escapes and cut to `limit` characters.

    Finding texts quote values from the checked documents (URNs, names, regions); a newline or an
    escape sequence there must not forge a report line or break an XML report.
    """
    text = one_line(value)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters)"
    return text


@dataclass(frozen=True)
class Location:
    """Where a finding points in the repository: a file (repository-relative if possible)."""

    path: str
    line: int = 1


@dataclass(frozen=True)
class Waiver:
    """An accepted finding: rule id and resource (URN or fnmatch glob), with owner and expiry."""

    rule: str
    resource: str
    reason: str
    owner: str
    expires: str
    """Last day (YYYY-MM-DD, inclusive) on which the waiver applies."""

    def describe(self) -> str:
        """One-line description used in finding messages."""
        return f"waived by {self.owner} until {self.expires}: {self.reason}"


@dataclass
class Finding:
    """One rule result on one resource."""

    rule: str
    severity: str
    resource: str
    message: str
    engine: str = OPA
    title: str = ""
    remediation: str = ""
    location: Location | None = None
    waiver: Waiver | None = None
    help_uri: str | None = None
    """The page that documents the rule, when the engine names one (checkov's guideline or
    the check's definition); policy-pack rules link their section of policies/README.md."""

    def make_safe(self) -> None:
        """Escape control characters in, and bound the length of, every text field."""
        for name, limit in MAX_FIELD_CHARS.items():
            setattr(self, name, safe_text(getattr(self, name), limit))

    def to_json(self) -> dict[str, Any]:
        """The finding as it appears in the JSON report."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "resource": self.resource,
            "message": self.message,
            "engine": self.engine,
            "remediation": self.remediation,
            "title": self.title,
        }


@dataclass(frozen=True)
class RuleInfo:
    """Description of a rule, for SARIF rule metadata and JUnit passed cases."""

    id: str
    title: str = ""
    description: str = ""
    remediation: str = ""
    severity: str = DENY
    package: str = ""
    engine: str = OPA
    help_uri: str | None = None
    """The rule's documentation page as its engine names it (checkov); see `docs.rule_doc_url`."""
    config_key: str = ""
    """The stack config key the rule is about (`custom.config_key`, e.g. `teams`): where a
    finding points when its resource has no program line."""


@dataclass(frozen=True)
class Scan:
    """One checkov scan of a check: what it was given, or why it did not run."""

    name: str
    """`kubernetes` (the plan's and manifests' objects) or `repository` (the repository's files)."""
    frameworks: tuple[str, ...]
    ran: bool
    targets: int = 0
    """Objects (kubernetes) or files (repository) given to checkov; 0 when it did not run."""
    note: str = ""
    """Why the scan did not run, or what it left out."""
    seconds: float | None = None

    def describe(self) -> str:
        """One line for the text and Markdown reports."""
        what = "objects" if self.name == "kubernetes" else "files"
        counted = f"{self.targets} {what}" if self.ran else "not run"
        head = f"{self.name} ({', '.join(self.frameworks)}): {counted}"
        if self.ran and self.seconds is not None:
            head += f" in {self.seconds:.1f} s"
        return f"{head}; {self.note}" if self.note else head

    def to_json(self) -> dict[str, Any]:
        """The scan as it appears in the JSON report."""
        return {
            "scan": self.name,
            "frameworks": list(self.frameworks),
            "ran": self.ran,
            "targets": self.targets,
            "note": self.note,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
        }


@dataclass
class CheckReport:
    """Everything a formatter needs: findings, evaluated rules and context."""

    findings: list[Finding]
    resources: int
    rules: list[RuleInfo] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    primary_location: Location | None = None
    """File a finding points to when its resource has no file of its own (preview, stack config)."""
    waivers: list[Waiver] = field(default_factory=list)
    """Every waiver read (live and expired), listed in the reports."""
    undecided: list[str] = field(default_factory=list)
    """Rules that need the whole stack but saw a preview that leaves resources out."""
    hidden: int = 0
    """Unchanged resources the preview leaves out (`changeSummary.same` minus `same` steps)."""
    fail_on: str = DENY
    """The `--fail-on` level: findings of this severity and the ones before it fail the check."""
    stack: str | None = None
    """Name of the checked stack, when the input names one."""
    source: str = ""
    """What was checked, in words (a preview file, an offline plan, manifests)."""
    commit: str | None = None
    """The commit the check ran on (`GITHUB_SHA` or `git rev-parse HEAD`), when known."""
    repository_url: str | None = None
    """The checked repository's web address (GitHub Actions: `GITHUB_SERVER_URL` and
    `GITHUB_REPOSITORY`), so the Markdown report links findings to their lines."""
    today: str = ""
    """The day (YYYY-MM-DD) the waivers were judged on; empty when unknown."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds the phases took: `total`, and `plan`, `opa_start`, `evaluation`, `checkov` when
    they ran."""
    scans: list[Scan] = field(default_factory=list)
    """The checkov scans, run or not (empty with `--skip-checkov`)."""

    def count(self, severity: str) -> int:
        """Number of findings with this severity."""
        return sum(1 for f in self.findings if f.severity == severity)

    def summary(self) -> dict[str, int]:
        """The summary block of the JSON report."""
        return {
            DENY: self.count(DENY),
            WARN: self.count(WARN),
            UNKNOWN: self.count(UNKNOWN),
            WAIVED: self.count(WAIVED),
            "resources": self.resources,
        }

    def fails(self, severity: str) -> bool:
        """Whether a finding of this severity fails the check under `fail_on`."""
        return severity in failing_severities(self.fail_on)

    @property
    def exit_code(self) -> int:
        """2 if a rule could not be judged, 1 if a finding fails (`fail_on`), else 0.

        With the default `fail_on` (deny), unknown and warn findings do not fail the check;
        waived findings never do.
        """
        if self.undecided:
            return 2
        return 1 if any(self.fails(f.severity) for f in self.findings) else 0

    def live_waivers(self) -> list[Waiver]:
        """The waivers in force on `today` (all of them when the day is unknown)."""
        return [w for w in self.waivers if not self.today or w.expires >= self.today]

    def undecided_problem(self) -> str:
        """The one-line reason for exit 2 when rules that need the whole stack were not judged."""
        hidden = (
            f"leaves {self.hidden} unchanged resources out"
            if self.hidden
            else ("does not show that it lists every resource (no changeSummary)")
        )
        return (
            f"the preview {hidden}, so {', '.join(self.undecided)} cannot be judged: rerun "
            "`pulumi preview --json --show-sames --show-replacement-steps`"
        )

    def sorted_findings(self) -> list[Finding]:
        """Findings ordered by severity, rule, resource and message."""
        rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
        return sorted(
            self.findings,
            key=lambda f: (rank.get(f.severity, len(rank)), f.rule, f.resource, f.message),
        )

    def location_of(self, finding: Finding) -> Location | None:
        """The file a finding points to: its own, else the report's primary input file."""
        return finding.location or self.primary_location

"""Report formats of `burst check`: text, JSON, SARIF 2.1.0, JUnit XML, Markdown and GitHub
workflow commands."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import groupby
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from burst_platform import REPOSITORY_URL, version
from burst_platform.check.model import (
    DENY,
    FAIL_ON_LEVELS,
    SEVERITY_ORDER,
    UNKNOWN,
    WAIVED,
    WARN,
    CheckReport,
    Finding,
    Location,
    RuleInfo,
)
from burst_platform.check.normalise import urn_name, urn_type
from burst_platform.docs import POLICY_DOCS_URL, rule_doc_url

FORMATS = ("text", "json", "sarif", "junit", "markdown", "github")
TOOL_NAME = "burst-check"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {DENY: "error", WARN: "warning", UNKNOWN: "warning", WAIVED: "note"}
SECURITY_SEVERITY = {DENY: "8.0", WARN: "5.0", UNKNOWN: "5.0"}
"""SARIF `security-severity` (CVSS-like, GitHub code scanning's high / medium) by severity."""
MARKDOWN_ROWS_PER_RULE = 50
GITHUB_COMMENT_LIMIT = 65_536
"""The most characters GitHub accepts in an issue or pull-request comment."""
MARKDOWN_MARKER = "<!-- burst-check:{stack} -->"
"""Hidden last line of the Markdown report: a workflow finds its earlier comment by it."""

_LABELS = {DENY: "DENY", UNKNOWN: "UNKNOWN", WARN: "WARN", WAIVED: "WAIVED"}
_COLOURS = {DENY: "\x1b[1;31m", UNKNOWN: "\x1b[1;35m", WARN: "\x1b[1;33m", WAIVED: "\x1b[2m"}
_RESET = "\x1b[0m"
GITHUB_COMMANDS = {DENY: "error", WARN: "warning", UNKNOWN: "warning", WAIVED: "notice"}


def render(report: CheckReport, fmt: str, colour: bool = False) -> str:
    """The report in format `fmt` (one of FORMATS), ending with a newline.

    `colour` marks the severity labels of the text format with ANSI colours (for a terminal).
    """
    if fmt == "text":
        return render_text(report, colour=colour)
    renderers: dict[str, Callable[[CheckReport], str]] = {
        "json": render_json,
        "sarif": render_sarif,
        "junit": render_junit,
        "markdown": render_markdown,
        "github": render_github,
    }
    return renderers[fmt](report)


def failing_levels_text(report: CheckReport) -> str:
    """The severities that fail this check, in words ("deny", "deny, unknown and warn")."""
    failing = [s for s in FAIL_ON_LEVELS if report.fails(s)]
    return failing[0] if len(failing) == 1 else f"{', '.join(failing[:-1])} and {failing[-1]}"


def summary_line(report: CheckReport) -> str:
    """One line with the verdict and the counts."""
    s = report.summary()
    verdict = {0: "passed", 1: "FAILED"}.get(report.exit_code, "INCOMPLETE")
    line = (
        f"burst check {verdict}: {s[DENY]} deny, {s[WARN]} warn, {s[UNKNOWN]} unknown, "
        f"{s[WAIVED]} waived; {s['resources']} resources checked"
    )
    if s[UNKNOWN]:
        line += f" ({s[UNKNOWN]} could not be decided at preview: review them)"
    if report.undecided:
        line += f"; {len(report.undecided)} rules not judged: the preview is incomplete"
    if report.fail_on != DENY:
        line += f"; --fail-on {report.fail_on}: {failing_levels_text(report)} fail"
    return line


def _groups(findings: Iterable[Finding]) -> Iterable[tuple[tuple[str, str], list[Finding]]]:
    """Findings (already sorted) grouped by (severity, rule)."""
    for key, group in groupby(findings, key=lambda f: (f.severity, f.rule)):
        yield key, list(group)


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def render_text(report: CheckReport, colour: bool = False) -> str:
    """Readable report grouped by rule (deny first, then unknown, warn, waived); with `colour`
    the severity labels carry ANSI colours."""
    lines: list[str] = []
    for (severity, rule), findings in _groups(report.sorted_findings()):
        first = findings[0]
        engine = "" if first.engine == "opa" else f" [{first.engine}]"
        label = _LABELS.get(severity, severity.upper())
        if colour and severity in _COLOURS:
            label = f"{_COLOURS[severity]}{label}{_RESET}"
        lines.append(f"{label}  {rule}{engine}  {first.title}  ({len(findings)})")
        for finding in findings:
            lines.append(f"  - {finding.resource}")
            lines.append(f"      {finding.message}")
        if first.remediation:
            lines.append(f"  fix: {first.remediation}")
        lines.append("")
    lines.extend(_rule_overview(report))
    lines.extend(_scan_overview(report))
    lines.extend(_waiver_overview(report))
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _waiver_overview(report: CheckReport) -> list[str]:
    """Every waiver read, so a reviewer sees what is accepted, by whom and until when."""
    if not report.waivers:
        return []
    lines = [f"Waivers ({len(report.waivers)}):"]
    for waiver in sorted(report.waivers, key=lambda w: (w.expires, w.rule, w.resource)):
        lines.append(
            f"  {waiver.rule}  {waiver.resource}  until {waiver.expires}  by {waiver.owner}: "
            f"{waiver.reason}"
        )
    lines.append("")
    return lines


def _scan_overview(report: CheckReport) -> list[str]:
    """What each checkov scan covered, or why it did not run."""
    if not report.scans:
        return []
    return ["checkov scans:", *(f"  {scan.describe()}" for scan in report.scans), ""]


def _rule_overview(report: CheckReport) -> list[str]:
    """One line per policy rule with its outcome, so a clean report still shows what was checked."""
    outcomes: dict[str, Counter[str]] = {}
    for finding in report.findings:
        outcomes.setdefault(finding.rule, Counter())[finding.severity] += 1
    rules = sorted(report.rules, key=lambda r: r.id)
    if not rules:
        return []
    width = max(len(rule.id) for rule in rules)
    lines = [f"Rules evaluated ({len(rules)} in {len(report.packages)} packages):"]
    for rule in rules:
        counts = outcomes.get(rule.id)
        if rule.id in report.undecided:
            outcome = "not judged"
        elif counts:
            outcome = ", ".join(f"{n} {severity}" for severity, n in sorted(counts.items()))
        else:
            outcome = "ok"
        lines.append(f"  {rule.id:<{width}}  {outcome:<10}  {rule.title}")
    lines.append("")
    return lines


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def report_json(report: CheckReport) -> dict[str, Any]:
    """The JSON report: `{"summary": {...}, "undecided": [...], "checkov": [...], "findings":
    [...]}`; `checkov` lists the checkov scans (empty with `--skip-checkov`)."""
    return {
        "summary": report.summary(),
        "undecided": report.undecided,
        "checkov": [scan.to_json() for scan in report.scans],
        "findings": [f.to_json() for f in report.sorted_findings()],
    }


def render_json(report: CheckReport) -> str:
    """The JSON report as text."""
    return json.dumps(report_json(report), indent=2) + "\n"


# ---------------------------------------------------------------------------------------------
# SARIF
# ---------------------------------------------------------------------------------------------


def all_rules(report: CheckReport) -> list[RuleInfo]:
    """Rules of the inventory, plus those that only appear in findings (checkov, waivers)."""
    rules = {r.id: r for r in report.rules}
    for finding in report.sorted_findings():
        if finding.rule not in rules:
            rules[finding.rule] = RuleInfo(
                id=finding.rule,
                title=finding.title or finding.rule,
                remediation=finding.remediation,
                severity=finding.severity if finding.severity != WAIVED else WARN,
                engine=finding.engine,
                help_uri=finding.help_uri,
            )
    return sorted(rules.values(), key=lambda r: r.id)


def fingerprint(finding: Finding) -> str:
    """Stable identity of a finding across runs: rule, resource and engine."""
    return hashlib.sha256(
        f"{finding.engine}\0{finding.rule}\0{finding.resource}".encode()
    ).hexdigest()[:32]


def rule_name(rule: RuleInfo) -> str:
    """A PascalCase name for a rule, from its title (SARIF `name`, distinct from its `id`)."""
    words = re.findall(r"[A-Za-z0-9]+", (rule.title or rule.id).replace("'", ""))
    name = "".join(word[:1].upper() + word[1:] for word in words)
    return name if name and name != rule.id else f"Rule{name}"


def rule_help_uri(rule: RuleInfo) -> str | None:
    """The rule's documentation: its section of `policies/README.md` (see `burst_platform.docs`)."""
    return rule_doc_url(rule.id, rule.title, rule.engine, rule.help_uri)


def _sarif_rule(rule: RuleInfo, name: str) -> dict[str, Any]:
    title = rule.title or rule.id
    remediation = rule.remediation or "No remediation text."
    tags = [t for t in (rule.engine, rule.package) if t]
    help_uri = rule_help_uri(rule)
    more = f"\n\n[Rule documentation]({help_uri})" if help_uri else ""
    entry: dict[str, Any] = {
        "id": rule.id,
        "name": name,
        "shortDescription": {"text": title},
        "fullDescription": {"text": rule.description or title},
        "help": {"text": remediation, "markdown": f"**{title}**\n\n{remediation}{more}"},
        "defaultConfiguration": {"level": SARIF_LEVELS.get(rule.severity, "warning")},
        "properties": {
            "tags": tags,
            "severity": rule.severity,
            "security-severity": SECURITY_SEVERITY.get(rule.severity, SECURITY_SEVERITY[WARN]),
        },
    }
    if help_uri:
        entry["helpUri"] = help_uri
    return entry


def _rule_names(rules: list[RuleInfo]) -> dict[str, str]:
    """A distinct `name` per rule id (a clash of titles falls back to the id's words)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for rule in rules:
        name = rule_name(rule)
        if name in taken:
            name = rule_name(RuleInfo(id=rule.id, title=rule.id.replace(".", " ")))
        while name in taken:
            name += "X"
        taken.add(name)
        names[rule.id] = name
    return names


def _artifact_location(where: Location) -> dict[str, Any]:
    """A repository-relative URI against %SRCROOT%, or a `file:` URI for a file outside it."""
    path = PurePosixPath(where.path)
    if path.is_absolute():
        return {"uri": "file://" + quote(where.path)}
    return {"uri": quote(where.path), "uriBaseId": "%SRCROOT%"}


def report_sarif(report: CheckReport) -> dict[str, Any]:
    """A SARIF 2.1.0 log for GitHub code scanning (one run, rules from the policy METADATA)."""
    rules = all_rules(report)
    index = {r.id: i for i, r in enumerate(rules)}
    names = _rule_names(rules)
    results = []
    for finding in report.sorted_findings():
        location: dict[str, Any] = {
            "logicalLocations": [
                {
                    "fullyQualifiedName": finding.resource,
                    "name": finding.resource,
                    "kind": "resource",
                }
            ]
        }
        where = report.location_of(finding)
        if where is not None:
            location["physicalLocation"] = {
                "artifactLocation": _artifact_location(where),
                "region": {"startLine": max(1, where.line)},
            }
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": SARIF_LEVELS.get(finding.severity, "warning"),
            "message": {"text": f"{finding.message} (resource: {finding.resource})"},
            "locations": [location],
            "partialFingerprints": {"burstFinding/v1": fingerprint(finding)},
            "properties": {"severity": finding.severity, "engine": finding.engine},
        }
        if finding.severity == WAIVED and finding.waiver is not None:
            result["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": f"{finding.waiver.reason} (owner {finding.waiver.owner}, "
                    f"expires {finding.waiver.expires})",
                }
            ]
        results.append(result)
    driver: dict[str, Any] = {"name": TOOL_NAME, "informationUri": REPOSITORY_URL}
    if re.fullmatch(r"\d+\.\d+\.\d+\S*", tool_version := version()):
        driver["semanticVersion"] = tool_version
    driver["rules"] = [_sarif_rule(r, names[r.id]) for r in rules]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "automationDetails": {"id": "burst-check/"},
                "results": results,
                "properties": {"summary": report.summary(), "packages": report.packages},
            }
        ],
    }


def render_sarif(report: CheckReport) -> str:
    """The SARIF log as text."""
    return json.dumps(report_sarif(report), indent=2) + "\n"


# ---------------------------------------------------------------------------------------------
# JUnit
# ---------------------------------------------------------------------------------------------


JUNIT_SUITE_TIMINGS = {"opa": "evaluation", "checkov": "checkov"}
"""Which timing of the report each engine's test suite took."""


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def report_junit(report: CheckReport) -> ET.Element:
    """JUnit XML: one test case per finding, and one passing case per rule without findings.

    A finding that fails the check (`fail_on`; a deny always) is a failure; the others (warn,
    unknown, waived) are skipped with the reason, never silent passes. Each case has the `file`
    and `line` of its finding. `time` is the whole check's on `testsuites`, the engine's run on
    each `testsuite`, and an equal share of that on each case: one evaluation judges them all.
    """
    suites = ET.Element("testsuites", name="burst check")
    findings = report.sorted_findings()
    engines = sorted({f.engine for f in findings} | {r.engine for r in report.rules} or {"opa"})
    totals = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
    suite_seconds = 0.0
    for engine in engines:
        suite = ET.SubElement(suites, "testsuite", name=engine)
        counts = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
        for finding in (f for f in findings if f.engine == engine):
            case = ET.SubElement(
                suite, "testcase", classname=f"{engine}.{finding.rule}", name=finding.resource
            )
            where = report.location_of(finding)
            if where is not None:
                case.set("file", where.path)
                case.set("line", str(max(1, where.line)))
            counts["tests"] += 1
            text = f"{finding.message}\n\nremediation: {finding.remediation}".strip()
            if report.fails(finding.severity):
                failure = ET.SubElement(
                    case, "failure", type=finding.severity, message=finding.message
                )
                failure.text = text
                counts["failures"] += 1
            else:
                ET.SubElement(case, "skipped", message=f"{finding.severity}: {finding.message}")
                counts["skipped"] += 1
        with_findings = {f.rule for f in findings}
        for rule in sorted((r for r in report.rules if r.engine == engine), key=lambda r: r.id):
            if rule.id in with_findings:
                continue
            case = ET.SubElement(
                suite, "testcase", classname=f"{engine}.{rule.id}", name="all resources"
            )
            counts["tests"] += 1
            if rule.id in report.undecided:
                ET.SubElement(case, "error", type="undecided", message=report.undecided_problem())
                counts["errors"] += 1
        seconds = report.timings.get(JUNIT_SUITE_TIMINGS.get(engine, ""), 0.0)
        suite_seconds += seconds
        share = seconds / counts["tests"] if counts["tests"] else 0.0
        for case in suite.iter("testcase"):
            case.set("time", _seconds(share))
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", _seconds(seconds))
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("time", _seconds(report.timings.get("total", suite_seconds)))
    return suites


def render_junit(report: CheckReport) -> str:
    """The JUnit XML document as text."""
    root = report_junit(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------


_MARKDOWN_SPECIAL = str.maketrans(
    {c: f"\\{c}" for c in "\\`*_{}[]()#+!|~"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
)


def _md(text: str) -> str:
    """Text shown as is in Markdown: no markup, links, HTML or table breaks from the values."""
    return " ".join(text.split()).translate(_MARKDOWN_SPECIAL)


def _code(text: str) -> str:
    """Inline code; a value with backticks gets a longer fence (CommonMark) and cannot end it."""
    flat = " ".join(text.split()).replace("|", "\\|")
    longest = max((len(r) for r in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {flat} {fence}" if longest else f"`{flat}`"


def _markdown_resource(report: CheckReport, finding: Finding) -> str:
    """A finding's resource as a reviewer reads it: a Pulumi resource by its name and type (the
    URN is in the other reports and the waivers), and where it is declared, linked to the line
    at the checked commit when the repository's address is known."""
    urn = finding.resource
    resource_type = urn_type(urn) if urn.startswith("urn:pulumi:") else ""
    shown = f"{_code(urn_name(urn))} ({_md(resource_type)})" if resource_type else _code(urn)
    location = finding.location
    if location is None or location.path.startswith("/"):
        return shown
    where = f"{location.path}:{location.line}"
    if report.repository_url and report.commit:
        target = f"{report.repository_url}/blob/{quote(report.commit)}/{quote(location.path)}"
        return f"{shown} at [{_md(where)}]({target}#L{location.line})"
    return f"{shown} at {_code(where)}"


def _size(text: str) -> int:
    """Length as GitHub counts it at worst (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def markdown_marker(report: CheckReport) -> str:
    """The hidden marker of the report's comment, `<!-- burst-check:STACK -->`."""
    stack = re.sub(r"[^A-Za-z0-9_.-]", "_", report.stack or "") or "default"
    stack = re.sub(r"-{2,}", lambda run: "_" * len(run.group()), stack)  # `--` ends a comment
    return MARKDOWN_MARKER.format(stack=stack)


def _markdown_head(report: CheckReport) -> list[str]:
    s = report.summary()
    failed = report.exit_code != 0
    icon = ":x:" if failed else ":white_check_mark:"
    verdict = {0: "passed", 1: "failed"}.get(report.exit_code, "could not be completed")
    lines = [f"### {icon} burst check {verdict}", ""]
    context = []
    if report.stack:
        context.append(f"Stack **{_md(report.stack)}**")
    if report.commit:
        commit = report.commit if re.fullmatch(r"[0-9a-f]{7,64}", report.commit) else ""
        if commit:
            context.append(f"commit {commit}")  # GitHub links a bare SHA to the commit
    if report.source:
        context.append(f"checked: {_md(report.source)}")
    if context:
        lines += [" · ".join(context), ""]
    if report.scans:
        scans = " · ".join(_md(scan.describe()) for scan in report.scans)
        lines += [f"<sub>checkov: {scans}</sub>", ""]
    lines += [
        "| deny | warn | unknown | waived | resources |",
        "|---:|---:|---:|---:|---:|",
        f"| {s[DENY]} | {s[WARN]} | {s[UNKNOWN]} | {s[WAIVED]} | {s['resources']} |",
        "",
    ]
    if report.undecided:
        lines += [f"> **The check is incomplete:** {_md(report.undecided_problem())}", ""]
    if s[UNKNOWN]:
        consequence = (
            f"with `--fail-on {report.fail_on}` they fail the check"
            if report.fails(UNKNOWN)
            else "they do not fail the check, but review them"
        )
        lines += [
            f"> **{s[UNKNOWN]} finding(s) could not be decided** because a value is unknown at "
            f"preview; {consequence}.",
            "",
        ]
    return lines


_HEADINGS = {
    DENY: ("Deny", ""),
    UNKNOWN: ("Unknown", "could not be decided"),
    WARN: ("Warn", ""),
    WAIVED: ("Waived", ""),
}
"""Each severity's heading in the Markdown report, and what it always says about it."""


def _heading(report: CheckReport, severity: str) -> str:
    name, qualifier = _HEADINGS[severity]
    fails = severity != WAIVED and report.fails(severity)
    said = [part for part in (qualifier, "fails the check" if fails else "") if part]
    return f"{name} ({'; '.join(said)})" if said else name


def _markdown_findings(report: CheckReport) -> list[tuple[str, int]]:
    """The findings section as (line, findings the line stands for)."""
    rules = {r.id: r for r in all_rules(report)}
    ordered = report.sorted_findings()
    lines: list[tuple[str, int]] = []
    for severity in SEVERITY_ORDER:
        group = [f for f in ordered if f.severity == severity]
        if not group:
            continue
        heading = _heading(report, severity)
        folded = severity == WAIVED or (severity == WARN and not report.fails(WARN))
        if folded:
            lines += [(f"<details><summary><b>{heading}: {len(group)}</b></summary>", 0), ("", 0)]
        else:
            lines += [(f"#### {heading}: {len(group)}", 0), ("", 0)]
        for (_, rule_id), findings in _groups(group):
            first = findings[0]
            rule = rules.get(rule_id)
            url = rule_help_uri(rule) if rule is not None else None
            name = f"[{_code(rule_id)}]({url})" if url else _code(rule_id)
            lines += [(f"**{name}** {_md(first.title)} ({len(findings)})", 0), ("", 0)]
            for finding in findings[:MARKDOWN_ROWS_PER_RULE]:
                lines.append(
                    (f"- {_markdown_resource(report, finding)}: {_md(finding.message)}", 1)
                )
            if len(findings) > MARKDOWN_ROWS_PER_RULE:
                more = len(findings) - MARKDOWN_ROWS_PER_RULE
                lines.append((f"- ... and {more} more", more))
            if first.remediation:
                lines += [("", 0), (f"*Fix:* {_md(first.remediation)}", 0)]
            lines.append(("", 0))
        if folded:
            lines += [("</details>", 0), ("", 0)]
    if not ordered:
        lines += [("No findings.", 0), ("", 0)]
    return lines


def _waiver_rows(report: CheckReport, live: bool) -> list[str]:
    in_force = report.live_waivers()
    chosen = in_force if live else [w for w in report.waivers if w not in in_force]
    if not chosen:
        return []
    title = "Waivers in force" if live else "Expired waivers (they waive nothing)"
    lines = [f"#### {title}: {len(chosen)}", "", "| rule | resource | owner | expires | reason |"]
    lines.append("|---|---|---|---|---|")
    for w in sorted(chosen, key=lambda w: (w.expires, w.rule, w.resource)):
        lines.append(
            f"| {_code(w.rule)} | {_code(w.resource)} | {_md(w.owner)} | {w.expires} | "
            f"{_md(w.reason)} |"
        )
    lines.append("")
    return lines


def _fit(lines: list[str], budget: int, what: str) -> list[str]:
    """`lines` cut to `budget` characters, with a last line saying how many were left out."""
    if _size("\n".join(lines)) <= budget:
        return lines
    note_room = 120
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + _size(line) + 1 > budget - note_room:
            break
        kept.append(line)
        used += _size(line) + 1
    rows = sum(1 for line in lines if line.startswith("| ") and not line.startswith("| rule "))
    shown = sum(1 for line in kept if line.startswith("| ") and not line.startswith("| rule "))
    return [*kept, "", f"… and {rows - shown} more {what}", ""]


def _truncated(body: list[tuple[str, int]], budget: int) -> list[str]:
    """The findings lines that fit in `budget` characters, closing an open `<details>`, and a
    last line counting the findings left out."""
    note = (
        "**… and {n} more findings** (the comment would exceed GitHub's limit of "
        f"{GITHUB_COMMENT_LIMIT} characters; the SARIF and JUnit reports list every finding)"
    )
    room = budget - _size(note.format(n=sum(n for _, n in body))) - _size("\n\n</details>\n\n\n")
    kept: list[str] = []
    used = 0
    open_details = False
    for index, (line, _) in enumerate(body):
        used += _size(line) + 1
        if used > room:
            dropped = sum(n for _, n in body[index:])
            break
        kept.append(line)
        if line.startswith("<details>"):
            open_details = True
        elif line == "</details>":
            open_details = False
    else:
        return kept
    if open_details:
        kept += ["", "</details>"]
    return [*kept, "", note.format(n=dropped), ""]


def render_markdown(report: CheckReport) -> str:
    """A pull-request comment: stack, commit and input, a summary table, findings grouped by
    severity and rule with links to the rule docs and the fix, the waivers, and the hidden
    marker (`markdown_marker`); never more than GitHub's comment limit (the findings that do not
    fit are counted instead)."""
    head = _markdown_head(report)
    waivers = _waiver_rows(report, live=True) + _waiver_rows(report, live=False)
    waivers = _fit(waivers, GITHUB_COMMENT_LIMIT // 4, "waivers")
    footer = [
        f"<sub>{TOOL_NAME} {_md(version())} · fails on {failing_levels_text(report)} · "
        f"[rule documentation]({POLICY_DOCS_URL})</sub>",
        "",
        markdown_marker(report),
    ]
    body = _markdown_findings(report)
    budget = GITHUB_COMMENT_LIMIT - _size("\n".join([*head, *waivers, *footer])) - 2
    text_lines = [line for line, _ in body]
    if _size("\n".join(text_lines)) > budget:
        text_lines = _truncated(body, budget)
    lines = [*head, *text_lines, *waivers, *footer]
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# GitHub workflow commands
# ---------------------------------------------------------------------------------------------


def _github_data(text: str) -> str:
    """Escape a workflow command's message (GitHub's toolkit escaping)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    """Escape a workflow command's property value (also `:` and `,`)."""
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: CheckReport) -> str:
    """One `::error|warning|notice file=,line=,title=::message` per finding, so GitHub shows the
    findings as annotations on the program lines that declare the resources (a finding without a
    line of its own on the stack file or the input; a file outside the repository is not named,
    GitHub could not place it), then a summary. A finding that fails the check (`fail_on`) is an
    error."""
    lines = []
    for finding in report.sorted_findings():
        where = report.location_of(finding)
        properties = []
        if where is not None and not PurePosixPath(where.path).is_absolute():
            properties += [f"file={_github_property(where.path)}", f"line={max(1, where.line)}"]
        properties.append(f"title={_github_property(f'{finding.rule}: {finding.title}')}")
        message = f"{finding.message} (resource: {finding.resource})"
        if finding.remediation:
            message += f"\nFix: {finding.remediation}"
        command = (
            "error"
            if report.fails(finding.severity)
            else GITHUB_COMMANDS.get(finding.severity, "warning")
        )
        lines.append(f"::{command} {','.join(properties)}::{_github_data(message)}")
    if report.undecided:
        lines.append(
            f"::error title=burst check incomplete::{_github_data(report.undecided_problem())}"
        )
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"

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
from typing import Any
from urllib.parse import quote

from burst.check.model import (
    DENY,
    SEVERITY_ORDER,
    UNKNOWN,
    WAIVED,
    WARN,
    CheckReport,
    Finding,
    RuleInfo,
)

FORMATS = ("text", "json", "sarif", "junit", "markdown", "github")
TOOL_NAME = "burst-check"
TOOL_URI = "https://github.com/burst-platform/burst-platform"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {DENY: "error", WARN: "warning", UNKNOWN: "warning", WAIVED: "note"}
MARKDOWN_ROWS_PER_RULE = 50

_LABELS = {DENY: "DENY", UNKNOWN: "UNKNOWN", WARN: "WARN", WAIVED: "WAIVED"}
GITHUB_COMMANDS = {DENY: "error", WARN: "warning", UNKNOWN: "warning", WAIVED: "notice"}


def render(report: CheckReport, fmt: str) -> str:
    """The report in format `fmt` (one of FORMATS), ending with a newline."""
    renderers: dict[str, Callable[[CheckReport], str]] = {
        "text": render_text,
        "json": render_json,
        "sarif": render_sarif,
        "junit": render_junit,
        "markdown": render_markdown,
        "github": render_github,
    }
    return renderers[fmt](report)


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
    return line


def _groups(findings: Iterable[Finding]) -> Iterable[tuple[tuple[str, str], list[Finding]]]:
    """Findings (already sorted) grouped by (severity, rule)."""
    for key, group in groupby(findings, key=lambda f: (f.severity, f.rule)):
        yield key, list(group)


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def render_text(report: CheckReport) -> str:
    """Readable report grouped by rule (deny first, then unknown, warn, waived)."""
    lines: list[str] = []
    for (severity, rule), findings in _groups(report.sorted_findings()):
        first = findings[0]
        engine = "" if first.engine == "opa" else f" [{first.engine}]"
        label = _LABELS.get(severity, severity.upper())
        lines.append(f"{label}  {rule}{engine}  {first.title}  ({len(findings)})")
        for finding in findings:
            lines.append(f"  - {finding.resource}")
            lines.append(f"      {finding.message}")
        if first.remediation:
            lines.append(f"  fix: {first.remediation}")
        lines.append("")
    lines.extend(_rule_overview(report))
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
    """The JSON report: `{"summary": {...}, "findings": [...]}`."""
    return {
        "summary": report.summary(),
        "undecided": report.undecided,
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
            )
    return sorted(rules.values(), key=lambda r: r.id)


def fingerprint(finding: Finding) -> str:
    """Stable identity of a finding across runs: rule, resource and engine."""
    return hashlib.sha256(
        f"{finding.engine}\0{finding.rule}\0{finding.resource}".encode()
    ).hexdigest()[:32]


def _sarif_rule(rule: RuleInfo) -> dict[str, Any]:
    title = rule.title or rule.id
    remediation = rule.remediation or "No remediation text."
    tags = [t for t in (rule.engine, rule.package) if t]
    return {
        "id": rule.id,
        "name": rule.id,
        "shortDescription": {"text": title},
        "fullDescription": {"text": rule.description or title},
        "help": {"text": remediation, "markdown": f"**{title}**\n\n{remediation}"},
        "defaultConfiguration": {"level": SARIF_LEVELS.get(rule.severity, "warning")},
        "properties": {"tags": tags, "severity": rule.severity},
    }


def report_sarif(report: CheckReport) -> dict[str, Any]:
    """A SARIF 2.1.0 log for GitHub code scanning (one run, rules from the policy METADATA)."""
    rules = all_rules(report)
    index = {r.id: i for i, r in enumerate(rules)}
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
                "artifactLocation": {"uri": quote(where.path), "uriBaseId": "%SRCROOT%"},
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
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "informationUri": TOOL_URI,
                        "semanticVersion": _version(),
                        "rules": [_sarif_rule(r) for r in rules],
                    }
                },
                "automationDetails": {"id": "burst-check/"},
                "results": results,
                "properties": {"summary": report.summary(), "packages": report.packages},
            }
        ],
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("burst-platform")
    except PackageNotFoundError:  # pragma: no cover - running from a plain checkout
        return "0.0.0"


def render_sarif(report: CheckReport) -> str:
    """The SARIF log as text."""
    return json.dumps(report_sarif(report), indent=2) + "\n"


# ---------------------------------------------------------------------------------------------
# JUnit
# ---------------------------------------------------------------------------------------------


def report_junit(report: CheckReport) -> ET.Element:
    """JUnit XML: one test case per finding (deny = failure, unknown and waived = skipped,
    warn = passed with output), and one passing case per rule without findings."""
    suites = ET.Element("testsuites", name="burst check")
    findings = report.sorted_findings()
    engines = sorted({f.engine for f in findings} | {r.engine for r in report.rules} or {"opa"})
    totals = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
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
            if finding.severity == DENY:
                failure = ET.SubElement(case, "failure", type=DENY, message=finding.message)
                failure.text = text
                counts["failures"] += 1
            elif finding.severity in (UNKNOWN, WAIVED):
                ET.SubElement(case, "skipped", message=f"{finding.severity}: {finding.message}")
                counts["skipped"] += 1
            else:
                out = ET.SubElement(case, "system-out")
                out.text = f"{finding.severity}: {text}"
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
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
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


def render_markdown(report: CheckReport) -> str:
    """A pull-request comment: a summary table, then findings grouped by severity and rule."""
    s = report.summary()
    icon = ":x:" if report.exit_code else ":white_check_mark:"
    lines = [
        f"### {icon} burst check {'failed' if report.exit_code else 'passed'}",
        "",
        "| deny | warn | unknown | waived | resources |",
        "|---:|---:|---:|---:|---:|",
        f"| {s[DENY]} | {s[WARN]} | {s[UNKNOWN]} | {s[WAIVED]} | {s['resources']} |",
        "",
    ]
    if s[UNKNOWN]:
        lines += [
            f"> **{s[UNKNOWN]} finding(s) could not be decided** because a value is unknown at "
            "preview; they do not fail the check, but review them.",
            "",
        ]
    headings = {
        DENY: "Deny (fails the check)",
        UNKNOWN: "Unknown (could not be decided)",
        WARN: "Warn",
        WAIVED: "Waived",
    }
    ordered = report.sorted_findings()
    for severity in SEVERITY_ORDER:
        group = [f for f in ordered if f.severity == severity]
        if not group:
            continue
        folded = severity in (WARN, WAIVED)
        if folded:
            lines += [f"<details><summary><b>{headings[severity]}: {len(group)}</b></summary>", ""]
        else:
            lines += [f"#### {headings[severity]}: {len(group)}", ""]
        for (_, rule), findings in _groups(group):
            first = findings[0]
            lines.append(f"**{_code(rule)}** {_md(first.title)} ({len(findings)})")
            lines.append("")
            for finding in findings[:MARKDOWN_ROWS_PER_RULE]:
                lines.append(f"- {_code(finding.resource)}: {_md(finding.message)}")
            if len(findings) > MARKDOWN_ROWS_PER_RULE:
                lines.append(f"- ... and {len(findings) - MARKDOWN_ROWS_PER_RULE} more")
            if first.remediation:
                lines += ["", f"*Fix:* {_md(first.remediation)}"]
            lines.append("")
        if folded:
            lines += ["</details>", ""]
    if not ordered:
        lines += ["No findings.", ""]
    if report.waivers:
        lines += ["#### Waivers in force", "", "| rule | resource | owner | expires | reason |"]
        lines.append("|---|---|---|---|---|")
        for w in sorted(report.waivers, key=lambda w: (w.expires, w.rule, w.resource)):
            lines.append(
                f"| {_code(w.rule)} | {_code(w.resource)} | {_md(w.owner)} | {w.expires} | "
                f"{_md(w.reason)} |"
            )
        lines.append("")
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
    findings as annotations on the program lines that declare the resources, then a summary."""
    lines = []
    for finding in report.sorted_findings():
        where = report.location_of(finding)
        properties = []
        if where is not None:
            properties += [f"file={_github_property(where.path)}", f"line={max(1, where.line)}"]
        properties.append(f"title={_github_property(f'{finding.rule}: {finding.title}')}")
        message = f"{finding.message} (resource: {finding.resource})"
        if finding.remediation:
            message += f"\nFix: {finding.remediation}"
        command = GITHUB_COMMANDS.get(finding.severity, "warning")
        lines.append(f"::{command} {','.join(properties)}::{_github_data(message)}")
    if report.undecided:
        lines.append(
            f"::error title=burst check incomplete::{_github_data(report.undecided_problem())}"
        )
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"

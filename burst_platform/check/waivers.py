"""Waivers: accepted findings with an owner, a reason and an expiry date.

A live waiver (expiry date today or later) turns matching findings into `waived`: they stay in
every report, with the waiver in the message. An expired waiver changes nothing about the finding
(a deny still fails the check) and adds a `waiver.expired` warning on the resource, so the owner
renews or drops it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path

from burst_platform.check.model import WAIVED, WARN, Finding, RuleInfo, Waiver
from burst_platform.documents import read_yaml, unknown_keys
from burst_platform.errors import BurstError

EXPIRED_RULE = "waiver.expired"
"""Rule id of the warning added for a finding whose matching waiver has expired."""

EXPIRED_RULE_INFO = RuleInfo(
    id=EXPIRED_RULE,
    title="Waiver expired",
    description="A waiver matches this finding but its expiry date has passed.",
    remediation=(
        "Fix the finding, or renew the waiver in the waivers file with a new expiry date "
        "(and a reason and owner that still hold)."
    ),
    severity=WARN,
    package="burst.check",
)

UNUSED_RULE_INFO = RuleInfo(
    id="waiver.unused",
    title="Waiver matches nothing",
    description="A live waiver matches no finding: the resource or rule changed, or it was fixed.",
    remediation="Remove the waiver from the waivers file, or correct its rule or resource.",
    severity=WARN,
    package="burst.check",
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIELDS = ("rule", "resource", "reason", "owner", "expires")
_WILDCARDS = frozenset("*?[]!")
_STACK_LEVEL = frozenset({"stack", "input"})
"""Resources of findings about the whole input rather than one resource."""


def _expiry(value: object) -> str | None:
    """The expiry as YYYY-MM-DD, or None if it is not a valid date."""
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):  # YAML reads an unquoted 2027-03-31 as a date
        return value.isoformat()
    if isinstance(value, str) and _DATE.match(value):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    return None


def _names(part: str) -> bool:
    """True if a URN part names something: no wildcard, or a prefix of 3+ characters then `*`."""
    if not _WILDCARDS & set(part):
        return bool(part)
    return part.endswith("*") and len(part) > 3 and not _WILDCARDS & set(part[:-1])


def pattern_problem(resource: str) -> str | None:
    """Why a waiver's resource pattern is too broad, or None.

    An exact URN (no wildcard) is fine. A glob must be a Pulumi URN that names its stack
    (`urn:pulumi:<stack>::...`, no wildcard there) and names a type or a resource name (no
    wildcard, or a prefix of at least three characters followed by `*`), or a manifest URN
    (`k8s://<file>#...`) that names its file and a kind or object.
    """
    if resource in _STACK_LEVEL or not _WILDCARDS & set(resource):
        return None
    if resource.startswith("urn:pulumi:"):
        parts = resource.removeprefix("urn:pulumi:").split("::", 3)
        if len(parts) != 4:
            return "a URN glob needs all four parts: urn:pulumi:<stack>::<project>::<type>::<name>"
        stack, _, resource_type, name = parts
        if not _names(stack):
            return "must name the stack: no wildcard in urn:pulumi:<stack>"
        if not (_names(resource_type.rsplit("$", 1)[-1]) or _names(name)):
            return "must name a resource type or a resource name, not only wildcards"
        return None
    if resource.startswith("k8s://"):
        file, _, obj = resource.removeprefix("k8s://").partition("#")
        if not _names(file) or not any(_names(p) for p in obj.split("/")):
            return "a manifest glob must name its file and a kind or object name"
        return None
    return "must be a URN (urn:pulumi:<stack>::...), a manifest URN (k8s://...) or `stack`"


def parse_waivers(
    data: object, source: str, today: dt.date | None = None, max_days: int = 90
) -> list[Waiver]:
    """Validate a waivers document (a list, or a mapping with a `waivers` list).

    Raises BurstError with one line per problem: an unknown or missing key, an empty field, a
    resource pattern that would waive everything, a date that is not a date, or an expiry more
    than `max_days` after `today`.
    """
    if data is None:
        return []
    if isinstance(data, dict) and set(data) == {"waivers"}:
        data = data["waivers"] if data["waivers"] is not None else []
    if not isinstance(data, list):
        raise BurstError(
            f"{source}: must be a list of waivers (rule, resource, reason, owner, expires)"
        )
    day = today or dt.date.today()
    latest = (day + dt.timedelta(days=max_days)).isoformat()
    problems: list[str] = []
    waivers: list[Waiver] = []
    for index, entry in enumerate(data):
        where = f"{source}: waivers[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping with {', '.join(_FIELDS)}")
            continue
        unknown = unknown_keys(entry, _FIELDS, where)
        problems.extend(unknown)
        ok = not unknown
        for key in ("rule", "resource", "reason", "owner"):
            value = entry.get(key)
            if key not in entry or value is None:
                problems.append(f"{where}.{key}: missing")
                ok = False
            elif not isinstance(value, str) or not value.strip():
                problems.append(f"{where}.{key}: must be a non-empty string")
                ok = False
        resource = entry.get("resource")
        if isinstance(resource, str) and resource.strip():
            problem = pattern_problem(resource.strip())
            if problem is not None:
                problems.append(f"{where}.resource: {resource!r} {problem}")
                ok = False
        expires = _expiry(entry.get("expires"))
        if entry.get("expires") is None:
            problems.append(f"{where}.expires: missing (every waiver needs an expiry date)")
            ok = False
        elif expires is None:
            problems.append(f"{where}.expires: {entry['expires']!r} is not a date (YYYY-MM-DD)")
            ok = False
        elif expires > latest:
            problems.append(
                f"{where}.expires: {expires} is more than {max_days} days ahead (latest "
                f"{latest}; guardrails waivers.max_days)"
            )
            ok = False
        if ok and expires is not None:
            waivers.append(
                Waiver(
                    rule=entry["rule"].strip(),
                    resource=entry["resource"].strip(),
                    reason=entry["reason"].strip(),
                    owner=entry["owner"].strip(),
                    expires=expires,
                )
            )
    if problems:
        raise BurstError(problems)
    return waivers


def load_waivers(
    path: Path, required: bool = True, today: dt.date | None = None, max_days: int = 90
) -> list[Waiver]:
    """Read and validate a waivers file. A missing file is an error unless not `required`."""
    if not required and not path.exists():
        return []
    return parse_waivers(read_yaml(path), str(path), today, max_days)


def matches(waiver: Waiver, finding: Finding) -> bool:
    """True if the waiver names the finding's rule and its resource (exact URN or glob)."""
    return waiver.rule == finding.rule and (
        waiver.resource == finding.resource or fnmatchcase(finding.resource, waiver.resource)
    )


def apply_waivers(
    findings: Iterable[Finding], waivers: Sequence[Waiver], today: dt.date | None = None
) -> list[Finding]:
    """Apply waivers to findings and return the new list.

    A finding matched by a live waiver (`expires >= today`) becomes `waived`; if only expired
    waivers match, it is kept as it is and a `waiver.expired` warning is added for the resource.
    """
    day = (today or dt.date.today()).isoformat()
    result: list[Finding] = []
    expired_notes: dict[tuple[str, str, Waiver], Finding] = {}
    for finding in findings:
        matching = [w for w in waivers if matches(w, finding)] if waivers else []
        live = [w for w in matching if w.expires >= day]
        if live:
            waiver = max(live, key=lambda w: w.expires)
            finding.message = f"{finding.message} [{finding.severity}, {waiver.describe()}]"
            finding.severity = WAIVED
            finding.waiver = waiver
        else:
            for waiver in matching:
                key = (finding.rule, finding.resource, waiver)
                expired_notes.setdefault(
                    key,
                    Finding(
                        rule=EXPIRED_RULE,
                        severity=WARN,
                        resource=finding.resource,
                        message=(
                            f"waiver for {finding.rule} expired on {waiver.expires} "
                            f"(owner {waiver.owner}: {waiver.reason}); the finding applies again"
                        ),
                        engine=finding.engine,
                        title=EXPIRED_RULE_INFO.title,
                        remediation=EXPIRED_RULE_INFO.remediation,
                        location=finding.location,
                    ),
                )
        result.append(finding)
    result.extend(expired_notes.values())
    used = {f.waiver for f in result if f.waiver is not None} | {w for _, _, w in expired_notes}
    for waiver in waivers:
        if waiver not in used and waiver.expires >= day:
            result.append(
                Finding(
                    rule=UNUSED_RULE_INFO.id,
                    severity=WARN,
                    resource=waiver.resource,
                    message=f"waiver for {waiver.rule} (owner {waiver.owner}, expires "
                    f"{waiver.expires}) matches no finding",
                    engine="burst",
                    title=UNUSED_RULE_INFO.title,
                    remediation=UNUSED_RULE_INFO.remediation,
                )
            )
    return result

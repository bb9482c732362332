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

from burst.check.guardrails import read_yaml
from burst.check.model import WAIVED, WARN, Finding, RuleInfo, Waiver
from burst.errors import BurstError

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

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIELDS = ("rule", "resource", "reason", "owner", "expires")


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


def parse_waivers(data: object, source: str) -> list[Waiver]:
    """Validate a waivers document (a list, or a mapping with a `waivers` list).

    Raises BurstError with one line per problem: a missing or empty field, or a bad date.
    """
    if data is None:
        return []
    if isinstance(data, dict) and set(data) == {"waivers"}:
        data = data["waivers"] if data["waivers"] is not None else []
    if not isinstance(data, list):
        raise BurstError(
            f"{source}: must be a list of waivers (rule, resource, reason, owner, expires)"
        )
    problems: list[str] = []
    waivers: list[Waiver] = []
    for index, entry in enumerate(data):
        where = f"{source}: waivers[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping with {', '.join(_FIELDS)}")
            continue
        ok = True
        for key in ("rule", "resource", "reason", "owner"):
            value = entry.get(key)
            if key not in entry or value is None:
                problems.append(f"{where}.{key}: missing")
                ok = False
            elif not isinstance(value, str) or not value.strip():
                problems.append(f"{where}.{key}: must be a non-empty string")
                ok = False
        resource = entry.get("resource")
        if isinstance(resource, str) and resource.strip() and not resource.strip("*?[]! "):
            problems.append(
                f"{where}.resource: {resource!r} waives every resource: name the URN or a"
                " narrower glob"
            )
            ok = False
        expires = _expiry(entry.get("expires"))
        if entry.get("expires") is None:
            problems.append(f"{where}.expires: missing (every waiver needs an expiry date)")
            ok = False
        elif expires is None:
            problems.append(f"{where}.expires: {entry['expires']!r} is not a date (YYYY-MM-DD)")
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


def load_waivers(path: Path, required: bool = True) -> list[Waiver]:
    """Read and validate a waivers file. A missing file is an error unless not `required`."""
    if not required and not path.exists():
        return []
    return parse_waivers(read_yaml(path), str(path))


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
    return result

"""The rule inventory of a policy pack, as OPA compiled it (`GET /v1/policies`).

A rule is an annotated Rego rule whose `# METADATA` has `custom.id`; its title, description,
`custom.severity` and `custom.remediation` feed SARIF rule descriptions and JUnit passed cases.
A rule set is a package that defines `findings` or annotates rules: the report must list it, or
the check fails closed. OPA parses the annotations and the rule heads (the same parser as `opa
inspect --annotations`), so nothing here reads Rego text.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from burst_platform.check.model import DENY, OPA, RuleInfo
from burst_platform.errors import BurstError

FINDINGS_RULE = "findings"
"""The rule every rule set defines (`findings contains f if { ... }`)."""


@dataclass(frozen=True)
class Inventory:
    """What the compiled pack declares: its rules and the packages that must report."""

    rules: list[RuleInfo]
    """Annotated rules, one per id, sorted by id."""
    rule_sets: frozenset[str]
    """Packages that define `findings` or annotate rules."""
    packages: frozenset[str]
    """Every package of the inventoried modules."""


def _ref_text(terms: object) -> str:
    """`a.b.c` of an AST ref (`[{type: var, value: data}, {type: string, value: a}, ...]`)."""
    if not isinstance(terms, list):
        return ""
    parts = [str(t.get("value")) for t in terms if isinstance(t, Mapping)]
    return ".".join(parts[1:] if parts[:1] == ["data"] else parts)


def _head_name(rule: object) -> str:
    """The first term of a rule's head (`findings` for `findings contains f if ...`)."""
    head = rule.get("head") if isinstance(rule, Mapping) else None
    if not isinstance(head, Mapping):
        return ""
    ref = head.get("ref")
    if isinstance(ref, list) and ref and isinstance(ref[0], Mapping):
        return str(ref[0].get("value", ""))
    return str(head.get("name", ""))


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def inventory_of(policies: Iterable[object], ids: Collection[str] | None = None) -> Inventory:
    """The inventory of OPA's `/v1/policies` result (only the policies in `ids`, if given).

    Raises BurstError when the result is not the documented shape (a module without an AST or
    a package): fail closed, as for the report itself.
    """
    rules: dict[str, RuleInfo] = {}
    rule_sets: set[str] = set()
    packages: set[str] = set()
    for index, policy in enumerate(policies):
        if not isinstance(policy, Mapping):
            raise BurstError(f"OPA /v1/policies: result[{index}] is not an object")
        if ids is not None and policy.get("id") not in ids:
            continue
        ast = policy.get("ast")
        package = _ref_text(ast.get("package", {}).get("path")) if isinstance(ast, Mapping) else ""
        if not isinstance(ast, Mapping) or not package:
            raise BurstError(f"OPA /v1/policies: {policy.get('id')!r} has no parsed package")
        packages.add(package)
        if any(_head_name(rule) == FINDINGS_RULE for rule in ast.get("rules") or []):
            rule_sets.add(package)
        for annotation in ast.get("annotations") or []:
            rule = _rule_info(annotation, package)
            if rule is not None:
                rule_sets.add(package)
                rules.setdefault(rule.id, rule)
    return Inventory(
        sorted(rules.values(), key=lambda r: r.id), frozenset(rule_sets), frozenset(packages)
    )


def _rule_info(annotation: Any, package: str) -> RuleInfo | None:
    """The rule an annotation declares (`custom.id`), or None for other annotations."""
    if not isinstance(annotation, Mapping):
        return None
    custom = annotation.get("custom")
    if not isinstance(custom, Mapping) or not isinstance(custom.get("id"), str):
        return None
    return RuleInfo(
        id=custom["id"],
        title=_text(annotation.get("title")),
        description=_text(annotation.get("description")),
        remediation=_text(custom.get("remediation")),
        severity=_text(custom.get("severity")) or DENY,
        package=package,
        engine=OPA,
        config_key=_text(custom.get("config_key")),
    )

"""The rule inventory of a policy pack, read from the `# METADATA` annotations of its modules.

A rule is an annotated Rego rule whose METADATA has `custom.id`; its title, description,
`custom.severity` and `custom.remediation` feed SARIF rule descriptions and JUnit passed cases,
and its package is one the report must list (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from burst_platform.check.engine import PolicyModule
from burst_platform.check.model import DENY, OPA, RuleInfo
from burst_platform.documents import parse_yaml
from burst_platform.errors import BurstError

_COMMENT = re.compile(r"^\s*#\s?(.*)$")


def metadata_blocks(text: str) -> Iterator[dict[str, object]]:
    """Every `# METADATA` annotation block of a Rego module, parsed as YAML."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "# METADATA":
            index += 1
            body = []
            while index < len(lines) and (match := _COMMENT.match(lines[index])):
                body.append(match.group(1))
                index += 1
            try:
                block = parse_yaml("\n".join(body), "METADATA")
            except BurstError:
                continue  # OPA itself rejects the module; its error is the one to show
            if isinstance(block, dict):
                yield block
        else:
            index += 1


def rules_of(modules: Iterable[PolicyModule]) -> list[RuleInfo]:
    """Rules (annotations with `custom.id`) of the modules, one per id, sorted by id."""
    rules: dict[str, RuleInfo] = {}
    for module in modules:
        for block in metadata_blocks(module.text):
            custom = block.get("custom")
            if not isinstance(custom, dict) or not isinstance(custom.get("id"), str):
                continue
            rule_id = custom["id"]
            rules.setdefault(
                rule_id,
                RuleInfo(
                    id=rule_id,
                    title=_text(block.get("title")),
                    description=_text(block.get("description")),
                    remediation=_text(custom.get("remediation")),
                    severity=_text(custom.get("severity")) or DENY,
                    package=module.package,
                    engine=OPA,
                ),
            )
    return sorted(rules.values(), key=lambda r: r.id)


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""

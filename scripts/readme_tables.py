"""Rewrite README.md's generated tables: the stack configuration (from the models of
`infra/config.py`) and where each guardrail applies (from the rules' METADATA)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from burst_platform.infra.config import config_table
from burst_platform.policy_pack import POLICY_DIR, enforcement_table, rule_inventory
from burst_platform.tools import find_opa

END = "<!-- end {name} -->\n"


def _marker(name: str, source: str) -> str:
    return f"<!-- {name}: generated from {source} by `make readme-tables` -->\n"


def _enforcement() -> str:
    return enforcement_table(rule_inventory(find_opa(), POLICY_DIR))


TABLES: dict[str, tuple[str, Callable[[], str]]] = {
    "config-table": ("infra/config.py", config_table),
    "enforcement-table": ("the rules' METADATA", _enforcement),
}
"""Each generated table: its marker name, what it is generated from, and how."""


def with_tables(readme: str, names: tuple[str, ...] = tuple(TABLES)) -> str:
    """`readme` with the text between each table's markers replaced by the generated table."""
    for name in names:
        source, render = TABLES[name]
        begin, end = _marker(name, source), END.format(name=name)
        head, found, rest = readme.partition(begin)
        _, found_end, tail = rest.partition(end)
        if not (found and found_end):
            raise SystemExit(f"README.md: {name} markers not found")
        readme = f"{head}{begin}{render()}{end}{tail}"
    return readme


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(with_tables(path.read_text()))

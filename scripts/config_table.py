"""Rewrite the stack configuration table of README.md from the models of `infra/config.py`."""

from __future__ import annotations

import sys
from pathlib import Path

from burst_platform.infra.config import config_table

BEGIN = "<!-- config-table: generated from infra/config.py by `make config-docs` -->\n"
END = "<!-- end config-table -->\n"


def with_table(readme: str) -> str:
    """`readme` with the text between the markers replaced by the generated table."""
    head, found, rest = readme.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise SystemExit("README.md: config-table markers not found")
    return f"{head}{BEGIN}{config_table()}{END}{tail}"


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(with_table(path.read_text()))

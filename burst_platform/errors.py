"""Errors the `burst` command reports as clear one-line messages with exit code 2."""

from __future__ import annotations

from collections.abc import Iterable

_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}
_CONTROL.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})


def one_line(text: str) -> str:
    """`text` with control characters written as escapes, so it cannot break or forge a line.

    Messages quote values from the checked documents (keys, URNs, names); a newline or an escape
    sequence there must not split an error line or a report line.
    """
    return text.translate(_CONTROL)


class BurstError(Exception):
    """Input or environment problem that stops a command; each line names the field or file.

    The CLI prints every line to stderr and exits 2, never with a traceback.
    """

    def __init__(self, problems: str | Iterable[str]) -> None:
        lines = [problems] if isinstance(problems, str) else list(problems)
        self.problems = [one_line(line) for line in lines]
        super().__init__("\n".join(self.problems))

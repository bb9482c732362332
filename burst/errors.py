"""Errors the `burst` command reports as clear one-line messages with exit code 2."""

from __future__ import annotations

from collections.abc import Iterable


class BurstError(Exception):
    """Input or environment problem that stops a command; each line names the field or file.

    The CLI prints every line to stderr and exits 2, never with a traceback.
    """

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

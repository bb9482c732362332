"""Progress of the slow phases of `burst check` (planning, OPA start, evaluation, checkov).

On a terminal the phases share one line that is rewritten in place and cleared at the end; in a
log (stderr is not a TTY) each phase start and end is a plain line:

    burst check: planning stack prod…
    burst check: planning stack prod… done in 3.2 s
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_CLEAR_LINE = "\r\x1b[K"


class Phase:
    """One running phase; `done()` reports its end and returns the seconds it took."""

    def __init__(self, progress: Progress, text: str, started: float) -> None:
        self.progress = progress
        self.text = text
        self.started = started
        self.elapsed = 0.0

    def done(self) -> float:
        """Report the phase as finished; the seconds since it started (also kept in `elapsed`)."""
        self.elapsed = time.monotonic() - self.started
        self.progress.show(f"{self.text}… done in {self.elapsed:.1f} s")
        return self.elapsed


class Progress:
    """Where the phases are reported: `stream` (stderr), or nowhere when not `enabled`."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        enabled: bool = True,
        tty: bool | None = None,
        prefix: str = "burst check",
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = _isatty(self.stream) if tty is None else tty
        self.prefix = prefix
        self._lock = threading.Lock()
        self._line_shown = False

    def start(self, text: str, since: float | None = None) -> Phase:
        """Report the start of a phase (begun at monotonic time `since`, default now)."""
        self.show(f"{text}…")
        return Phase(self, text, time.monotonic() if since is None else since)

    @contextmanager
    def phase(self, text: str, since: float | None = None) -> Iterator[Phase]:
        """A phase around a block: its start now, its end when the block returns (not when it
        raises: the error is the news then)."""
        phase = self.start(text, since)
        yield phase
        phase.done()

    def show(self, text: str) -> None:
        """Show one progress message (thread-safe: checkov reports from its worker)."""
        if not self.enabled:
            return
        line = f"{self.prefix}: {text}"
        with self._lock:
            try:
                if self.tty:
                    self.stream.write(_CLEAR_LINE + line)
                    self._line_shown = True
                else:
                    self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # a closed stderr must not fail the check
                self.enabled = False

    def close(self) -> None:
        """Clear the terminal line, so that what follows starts on a clean one."""
        with self._lock:
            if self._line_shown:
                self._line_shown = False
                try:
                    self.stream.write(_CLEAR_LINE)
                    self.stream.flush()
                except (OSError, ValueError):
                    self.enabled = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


SILENT = Progress(enabled=False)
"""A Progress that reports nothing (`--quiet`, library callers)."""

"""The processes a check starts (OPA, checkov), each in its own process group, stopped together.

A check must leave nothing behind: not on success, not on an error, not on Ctrl-C or SIGTERM.
Every child is started in a new session (so its own children, e.g. checkov's workers, are in its
process group) and registered here; `stop` kills and reaps the whole group. `handle_signals`
makes SIGINT, SIGTERM and SIGHUP kill every registered child, refuse to start new ones, and unwind
the main thread, so that every `finally` (temporary directories included) runs.

Python swallows an exception raised where it cannot propagate (a weakref callback, a `__del__`):
a signal that lands there does not unwind. So the signal's exit code is also kept
(`stopping_code`), and the command reads it once its handler returns, whatever the handler
returned or raised after its children were killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

_live: set[subprocess.Popen[bytes]] = set()
_lock = threading.RLock()  # re-entrant: a signal handler may interrupt a holder
_stopping = threading.Event()
_stopping_code = [0]


class Terminated(SystemExit):
    """Raised in the main thread when a termination signal arrives (exit code 128 + signal)."""


def spawn(
    command: Sequence[str], preexec_fn: Callable[[], None] | None = None, **kwargs: Any
) -> subprocess.Popen[bytes]:
    """Start `command` in a new session and register it (Popen keyword arguments pass through).

    After a termination signal nothing new starts: the call raises Terminated instead.
    """
    with _lock:
        if _stopping.is_set():
            raise Terminated(_stopping_code[0])
        process = subprocess.Popen(  # noqa: S603 - callers pass fixed argument lists, no shell
            list(command), start_new_session=True, preexec_fn=preexec_fn, **kwargs
        )
        _live.add(process)
    return process


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """`preexec_fn` that asks Linux to stop the child when its parent dies (by any signal, even
    SIGKILL), so no server outlives the process that started it. Does nothing elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # also when the leader is gone: its group may live


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill the process and its whole process group, reap it, and forget it.

    Only once per process: a second call (a `finally` after an earlier stop) does nothing, so a
    process group ID that the system may reuse later is never signalled again.
    """
    with _lock:
        if process not in _live:
            return
        _live.discard(process)
    _kill(process)
    process.wait()


def kill_all() -> None:
    """Kill every registered child without waiting (safe in a signal handler, which may have
    interrupted a `wait` on the same process); the code that started them reaps them."""
    with _lock:
        processes = list(_live)
    for process in processes:
        _kill(process)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _stopping_code[0] = 128 + signum
    _stopping.set()
    kill_all()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(128 + signum)


def stopping_code() -> int | None:
    """The exit code of the termination signal received (128 + signal), or None if none was."""
    return _stopping_code[0] if _stopping.is_set() else None


def _quiet_when_stopping(unraisable: Any) -> None:
    """An interrupt that Python swallowed is not printed: the command exits with its code."""
    if _stopping.is_set() and isinstance(unraisable.exc_value, KeyboardInterrupt | Terminated):
        return
    sys.__unraisablehook__(unraisable)


def handle_signals() -> None:
    """Install the handlers (main thread only): stop the children, then unwind."""
    if threading.current_thread() is not threading.main_thread():
        return
    sys.unraisablehook = _quiet_when_stopping
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)

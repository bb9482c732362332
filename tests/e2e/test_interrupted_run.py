"""An interrupted `make e2e` leaves nothing behind: no server, no CLI plugin, no scratch file.

The e2e tests themselves run in a child pytest with a scratch TMPDIR; once its control plane is
up and the real CLI is at work, the child gets SIGINT (Ctrl-C) or SIGTERM (CI cancelling a job).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.control_plane import ROOT

pytestmark = pytest.mark.e2e


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of the live processes whose command line or environment holds `text`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            blob = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text.encode() in blob and state != "Z":
            found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_stops_everything_and_removes_its_files(
    tmp_path: Path, signum: int
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/e2e/test_e2e.py", "-k", "up_from_empty"],
        cwd=ROOT, env={**os.environ, "BURST_E2E": "1", "TMPDIR": str(scratch)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _processes_mentioning(f"{scratch}/burst-e2e-stack-"):
            assert time.monotonic() < deadline, "the real CLI never started"
            assert child.poll() is None, "the e2e run ended before it was interrupted"
            time.sleep(0.2)
        child.send_signal(signum)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    deadline = time.monotonic() + 10  # a killed group's members are reaped by init
    while _processes_mentioning(str(scratch)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(str(scratch)) == []
    assert list(scratch.iterdir()) == []

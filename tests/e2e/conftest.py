"""The control plane every e2e module shares: started once, with the pinned CRDs installed.

SIGTERM ends the session like Ctrl-C does, so every fixture's teardown runs: the servers are
stopped and the scratch directories removed. The servers also die with this process if it is
killed outright (`die_with_parent`).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import FrameType

import pytest

from tests.e2e.control_plane import ROOT, ControlPlane


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def pytest_sessionstart(session: pytest.Session) -> None:
    """Turn SIGTERM into an interrupt, which pytest answers with every teardown."""
    signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def cluster() -> Iterator[ControlPlane]:
    """etcd, kube-apiserver and kube-controller-manager on loopback, stopped at the end."""
    plane = ControlPlane()
    try:
        plane.start()
        plane.kubectl("apply", "--server-side", "-f", str(ROOT / ".tools" / "crds"))
        yield plane
    finally:
        plane.stop()

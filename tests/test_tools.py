"""Where OPA and checkov are found: the variable, the checkout, PATH; a one-line error else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from burst_platform import checkout_root
from burst_platform.errors import BurstError
from burst_platform.tools import CHECKOV, OPA, find_tool

ROOT = Path(__file__).resolve().parent.parent


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_variable_wins_and_must_name_an_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = executable(tmp_path / "bin" / "my-opa")
    monkeypatch.setenv("BURST_OPA", str(fake))
    assert find_tool(OPA, ROOT) == fake
    monkeypatch.setenv("BURST_OPA", str(tmp_path / "absent"))
    with pytest.raises(BurstError, match=r"^BURST_OPA=.*absent: not an executable file$"):
        find_tool(OPA, ROOT)


def test_the_root_checkout_comes_before_this_package_and_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BURST_CHECKOV", raising=False)
    pinned = executable(tmp_path / ".venv-checkov" / "bin" / "checkov")
    assert find_tool(CHECKOV, tmp_path) == pinned


def test_path_is_the_last_resort(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BURST_OPA", raising=False)
    monkeypatch.setattr("burst_platform.tools.checkout_root", lambda: None)
    on_path = executable(tmp_path / "bin" / "opa")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_tool(OPA, tmp_path / "no-checkout") == on_path
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BurstError) as missing:
        find_tool(OPA, tmp_path / "no-checkout")
    assert str(missing.value) == (
        "opa not found (.tools/bin/opa or PATH): run `make setup` in a checkout, "
        "or put OPA v1 on PATH or in BURST_OPA"
    )
    assert os.linesep not in str(missing.value)


def test_this_checkout_is_recognised() -> None:
    assert checkout_root() == ROOT

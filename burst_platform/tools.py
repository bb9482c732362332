"""Where the external tools the check runs are found: OPA and checkov.

One lookup for both, in this order: the environment variable (`BURST_OPA`, `BURST_CHECKOV`),
the copy `make setup` put in the checkout given by `--root`, the copy in the checkout this
package runs from (an editable install), then `PATH`. An installed wheel has no checkout, so
there it is the variable or `PATH`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from burst_platform import checkout_root
from burst_platform.errors import BurstError


@dataclass(frozen=True)
class Tool:
    """An external command and where `make setup` installs it in a checkout."""

    command: str
    """Name on PATH."""
    variable: str
    """Environment variable that names the binary explicitly."""
    in_checkout: str
    """Path of the pinned copy, relative to a checkout's root."""
    missing_hint: str
    """What to do when it is nowhere, ending the one-line error."""


OPA = Tool(
    command="opa",
    variable="BURST_OPA",
    in_checkout=".tools/bin/opa",
    missing_hint="run `make setup` in a checkout, or put OPA v1 on PATH or in BURST_OPA",
)

CHECKOV = Tool(
    command="checkov",
    variable="BURST_CHECKOV",
    in_checkout=".venv-checkov/bin/checkov",
    missing_hint=(
        "run `make setup`, put checkov on PATH or in BURST_CHECKOV, or pass --skip-checkov"
    ),
)


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_tool(tool: Tool, root: Path | None = None) -> Path:
    """The binary of `tool` (see the module docstring for the order); BurstError if none."""
    explicit = os.environ.get(tool.variable)
    if explicit:
        path = Path(explicit)
        if _executable(path):
            return path.absolute()
        raise BurstError(f"{tool.variable}={explicit}: not an executable file")
    bases = [base for base in (root, checkout_root()) if base is not None]
    candidates = [base / tool.in_checkout for base in bases]
    on_path = shutil.which(tool.command)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if _executable(candidate):
            return candidate.absolute()
    raise BurstError(f"{tool.command} not found ({tool.in_checkout} or PATH): {tool.missing_hint}")


def find_opa(root: Path | None = None) -> Path:
    """The OPA binary the check and the pack's tooling run."""
    return find_tool(OPA, root)


def find_checkov(root: Path | None = None) -> Path:
    """The checkov CLI (it lives in its own virtualenv: its pins conflict with pulumi's)."""
    return find_tool(CHECKOV, root)

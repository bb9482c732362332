"""The built wheel, installed into a fresh virtualenv, works from any directory.

This is what `pipx install .` does: build the wheel, install it and its declared dependencies
into an empty environment, put `burst` on PATH. Nothing of the checkout is importable there, so
a module left out of the wheel, an undeclared dependency, a path computed from the repository
layout or a generic top-level import name shows up here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from burst_platform.tools import find_opa

ROOT = Path(__file__).resolve().parent.parent
DENIED = ROOT / "tests" / "corpus" / "delete-queue-show-sames.json"
EXPECTED = yaml.safe_load((ROOT / "tests" / "corpus" / "expected.yaml").read_text())[
    "delete-queue-show-sames"
]

pytestmark = pytest.mark.opa


class Installed:
    """A fresh virtualenv holding only the wheel and its dependencies."""

    def __init__(self, wheel: Path, venv: Path, workdir: Path) -> None:
        self.wheel = wheel
        self.venv = venv
        self.workdir = workdir
        self.env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(workdir),
            "BURST_OPA": str(find_opa()),
            "NO_COLOR": "1",
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command of the venv from the scratch directory (never the checkout)."""
        return subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("install")
    dist = base / "dist"
    pip_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True, env=pip_env, timeout=300,
    )  # fmt: skip
    (wheel,) = dist.glob("burst_platform-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True, env=pip_env, timeout=600,
    )  # fmt: skip
    workdir = base / "elsewhere"
    workdir.mkdir()
    return Installed(wheel, venv, workdir)


def test_the_wheel_has_one_namespaced_import_package(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
    top_level = {
        name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")
    }
    assert top_level == {"burst_platform"}
    for shipped in (
        "burst_platform/components/karpenter.py",
        "burst_platform/infra/program.py",
        "burst_platform/policies/main/policy.rego",
        "burst_platform/policies/data/guardrails.yaml",
        "burst_platform/policies/README.md",
        "burst_platform/cost/prices.yaml",
    ):
        assert shipped in names


def test_the_components_import_under_the_project_name_only(installed: Installed) -> None:
    probe = installed.run(
        "python", "-c",
        "import importlib.util as u, burst_platform.components.karpenter, "
        "burst_platform.infra.config; "
        "print([m for m in ('components', 'infra', 'burst') if u.find_spec(m)])",
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"


def test_version_and_policies_path_from_anywhere(installed: Installed) -> None:
    version = installed.run("burst", "--version")
    assert version.returncode == 0, version.stderr
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert version.stdout.strip() == f"burst {pyproject['project']['version']}"
    path = installed.run("burst", "policies", "path")
    assert path.returncode == 0, path.stderr
    pack = Path(path.stdout.strip())
    assert pack.is_relative_to(installed.venv)
    assert (pack / "main" / "policy.rego").is_file()
    assert (pack / "data" / "guardrails.yaml").is_file()


def test_check_a_preview_outside_the_checkout(installed: Installed) -> None:
    preview = installed.workdir / "preview.json"
    preview.write_text(DENIED.read_text())
    checked = installed.run(
        "burst", "check", "--preview", "preview.json", "--skip-checkov", "--format", "json"
    )
    assert checked.returncode == EXPECTED["exit"], checked.stderr
    report = json.loads(checked.stdout)
    denies = {f["rule"] for f in report["findings"] if f["severity"] == "deny"}
    assert denies == set(EXPECTED["deny"])


def test_a_bundle_from_the_installed_pack(installed: Installed) -> None:
    built = installed.run("burst", "policies", "bundle", "--out", "pack.tar.gz")
    assert built.returncode == 0, built.stderr
    with tarfile.open(installed.workdir / "pack.tar.gz") as bundle:
        manifest = json.load(bundle.extractfile("/.manifest"))  # type: ignore[arg-type]
    assert manifest["roots"] == ["burst"]
    assert manifest["revision"]


def test_burst_cost_runs_from_the_installed_package(installed: Installed) -> None:
    costed = installed.run(
        "burst", "cost", "--frequency-bucket", "5-10%", "--checkpoint-minutes", "5",
        "--restart-minutes", "10", "--spot-price", "1.2", "--on-demand-price", "3.9",
        "--format", "json",
    )  # fmt: skip
    assert costed.returncode == 0, costed.stderr
    assert json.loads(costed.stdout)["optimal_interval_minutes"] > 0

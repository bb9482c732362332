"""burst-platform: Pulumi components, the program, the policy pack and the `burst` command.

One import package for the whole distribution. In a checkout, `components/`, `infra/` and
`policies/` live at the top of the repository and `burst_platform/` links to them, so they are
imported as `burst_platform.components`, `burst_platform.infra`, and the wheel installs them
inside this package (the pack as package data).
"""

from __future__ import annotations

from pathlib import Path

DISTRIBUTION = "burst-platform"
"""The name the package is installed under (pyproject.toml `project.name`)."""

REPOSITORY_URL = "https://github.com/burst-platform/burst-platform"
"""The project's repository: SARIF's `informationUri` and the base of every rule's docs link."""


PACKAGE_DIR = Path(__file__).resolve().parent
"""This package's directory (in a checkout, `burst_platform/` of the repository)."""

POLICY_DIR = (PACKAGE_DIR / "policies").resolve()
"""The Rego policy pack, its guardrails data, waivers and rule docs (`burst policies path`)."""


def checkout_root() -> Path | None:
    """The source checkout this package runs from (an editable install), None for a wheel."""
    root = PACKAGE_DIR.parent
    return (
        root if (root / "pyproject.toml").is_file() and (root / "Pulumi.yaml").is_file() else None
    )


def version() -> str:
    """The installed distribution's version, else (a plain checkout) pyproject.toml's."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        return _checkout_version(PACKAGE_DIR.parent / "pyproject.toml")


def _checkout_version(pyproject: Path) -> str:
    """`project.version` of a pyproject.toml, or "unknown" when it cannot be read."""
    import tomllib

    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "unknown"
    value = project.get("version") if isinstance(project, dict) else None
    return value if isinstance(value, str) and value else "unknown"

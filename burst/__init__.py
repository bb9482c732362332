"""The `burst` command: offline plans and policy checks for the burst platform."""

from __future__ import annotations

from pathlib import Path

DISTRIBUTION = "burst-platform"
"""The name the package is installed under (pyproject.toml `project.name`)."""

REPOSITORY_URL = "https://github.com/burst-platform/burst-platform"
"""The project's repository: SARIF's `informationUri` and the base of every rule's docs link."""


def version() -> str:
    """The installed distribution's version, else (a plain checkout) pyproject.toml's."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        return _checkout_version(Path(__file__).resolve().parent.parent / "pyproject.toml")


def _checkout_version(pyproject: Path) -> str:
    """`project.version` of a pyproject.toml, or "unknown" when it cannot be read."""
    import tomllib

    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "unknown"
    value = project.get("version") if isinstance(project, dict) else None
    return value if isinstance(value, str) and value else "unknown"

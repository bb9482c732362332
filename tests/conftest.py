"""Shared fixtures: run components under the deterministic mock runtime."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from burst.mock_runtime import Registration, run_program

ROOT = Path(__file__).resolve().parent.parent

Run = Callable[[Callable[[], None]], list[Registration]]


@pytest.fixture
def run() -> Run:
    """Run a zero-argument program under the mocks and return its registrations."""

    def _run(program: Callable[[], None]) -> list[Registration]:
        return run_program(program, project="burst-platform", stack="test")

    return _run


def of_type(registrations: list[Registration], resource_type: str) -> list[Registration]:
    """Registrations of one resource type."""
    return [r for r in registrations if r.type == resource_type]


def assert_children_of(registrations: list[Registration], component_type: str, prefix: str) -> None:
    """Every AWS child belongs to the one component, uses the test provider and is named for it."""
    (component,) = of_type(registrations, component_type)
    (provider,) = of_type(registrations, "pulumi:providers:aws")
    for child in [r for r in registrations if r.type.startswith("aws:")]:
        assert child.parent == component.urn, child.name
        assert child.provider.startswith(provider.urn), child.name
        assert child.name.startswith(prefix), child.name
        assert "region" not in child.inputs, child.name

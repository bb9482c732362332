"""Shared fixtures: run components under the deterministic mock runtime."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from burst_platform.mock_runtime import Registration, run_program
from burst_platform.tools import find_opa

ROOT = Path(__file__).resolve().parent.parent

# The end-to-end tests need the real engine (`make engine`) and run only under `make e2e`.
collect_ignore_glob = [] if os.environ.get("BURST_E2E") == "1" else ["e2e/*"]

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


def opa_eval(query: str, documents: Mapping[str, Any] | None = None) -> Any:
    """Evaluate `query` with the policy pack and guardrails loaded, `documents` as `input`.

    The pack's many-inputs tests give a mapping name -> document and a query with `with input
    as` per entry, so thousands of documents cost one OPA process. Fails the test on any OPA
    error and returns the value of the query.
    """
    from burst_platform import policy_pack

    with tempfile.TemporaryDirectory(prefix="burst-test-eval-") as tmp:
        command = [
            str(find_opa()),
            "eval",
            *policy_pack.opa_eval_args(ROOT / "policies"),
            "--format",
            "json",
        ]
        if documents is not None:
            combined = Path(tmp) / "input.json"
            combined.write_text(json.dumps(documents))
            command += ["--input", str(combined)]
        result = subprocess.run(
            [*command, query], cwd=ROOT, capture_output=True, text=True, check=False
        )
    assert result.returncode == 0, result.stdout + result.stderr
    output = json.loads(result.stdout)
    assert "errors" not in output, output
    return output["result"][0]["expressions"][0]["value"]

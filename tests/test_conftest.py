"""The pack run the way the ecosystem runs Rego: the pinned conftest and `opa eval`.

A raw `pulumi preview --json` must fail (main.input_not_normalised), never pass on zero
resources; the normalised input must give the same denies as `burst check`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from burst_platform.check.normalise import load_preview
from tests.conftest import opa_eval

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parent.parent
CONFTEST = ROOT / ".tools" / "bin" / "conftest"
GUARDRAILS = "burst.guardrails:policies/data/guardrails.yaml"
BROKEN = ROOT / "tests" / "fixtures" / "check" / "broken-preview.json"
CLEAN = ROOT / "tests" / "fixtures" / "check" / "clean-preview.json"


def conftest(*args: str) -> subprocess.CompletedProcess[str]:
    if not CONFTEST.is_file():
        pytest.fail(f"conftest is not installed at {CONFTEST}: run `make setup`")
    command = [str(CONFTEST), "test", "-p", "policies", "--output", "json", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def failures(result: subprocess.CompletedProcess[str]) -> set[str]:
    return {
        f["metadata"]["rule"] for r in json.loads(result.stdout) for f in r.get("failures") or []
    }


def normalised(preview: Path, tmp_path: Path) -> Path:
    out = tmp_path / f"{preview.stem}-input.json"
    out.write_text(json.dumps(load_preview(preview).document))
    return out


def test_conftest_fails_a_raw_preview() -> None:
    result = conftest("-d", GUARDRAILS, str(BROKEN))
    assert result.returncode == 1, result.stdout + result.stderr
    assert failures(result) == {"main.input_not_normalised"}


def test_conftest_fails_without_guardrails(tmp_path: Path) -> None:
    result = conftest(str(normalised(CLEAN, tmp_path)))
    assert result.returncode == 1
    assert "main.guardrails_missing" in failures(result)


def test_conftest_denies_like_burst_check(tmp_path: Path) -> None:
    document = normalised(BROKEN, tmp_path)
    report = opa_eval(
        "data.burst.main.report with input as input.doc",
        {"doc": json.loads(document.read_text())},
    )
    denied = {f["rule"] for f in report["findings"] if f["severity"] == "deny"}
    result = conftest("-d", GUARDRAILS, str(document))
    assert result.returncode == 1
    assert denied and failures(result) == denied
    clean = conftest("-d", GUARDRAILS, str(normalised(CLEAN, tmp_path)))
    assert clean.returncode == 0, clean.stdout


def test_opa_eval_on_a_raw_preview_denies() -> None:
    raw = json.loads(BROKEN.read_text())
    denies = opa_eval("data.burst.main.deny with input as input.doc", {"doc": raw})
    assert [d["rule"] for d in denies] == ["main.input_not_normalised"]

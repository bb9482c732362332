"""The corpus of real-shape preview documents (tests/corpus/, written by scripts/make_corpus.py).

Every document gets the verdicts of tests/corpus/expected.yaml from the whole `burst check`
(the real OPA, no checkov): the exit code, exactly the expected denies (no other deny), at least
the expected unknowns, exactly the expected undecided rules. The corpus must also be what the
script writes today, so it follows the program.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from burst.cli import main

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "expected.yaml").read_text())


def test_every_document_has_expectations() -> None:
    assert {p.stem for p in CORPUS.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_verdicts(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    expected = EXPECTED[name]
    preview = CORPUS / f"{name}.json"
    code = main(["check", "--preview", str(preview), "--skip-checkov", "--format", "json",
                 "--root", str(ROOT)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == expected["exit"], err
    if "error" in expected:
        assert expected["error"] in err
    if "deny" not in expected:
        return
    report = json.loads(out)
    by_severity: dict[str, set[str]] = {}
    for finding in report["findings"]:
        by_severity.setdefault(finding["severity"], set()).add(finding["rule"])
    assert by_severity.get("deny", set()) == set(expected["deny"])
    assert set(expected["unknown"]) <= by_severity.get("unknown", set())
    assert report["undecided"] == sorted(expected["undecided"])


def test_corpus_is_what_the_script_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_corpus", ROOT / "scripts" / "make_corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, text in module.build().items():
        assert (CORPUS / name).read_text() == text, f"run scripts/make_corpus.py ({name})"


@pytest.mark.parametrize("fmt", ["github", "sarif", "junit"])
def test_findings_point_at_the_declaring_program_line(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deny on a real-shape preview is anchored where the program declares the resource."""
    preview = CORPUS / "delete-queue-show-sames.json"
    code = main(["check", "--preview", str(preview), "--skip-checkov", "--format", fmt,
                 "--root", str(ROOT)])  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 1
    if fmt == "github":
        anchors = [line.split("::")[1] for line in out.splitlines() if line.startswith("::error")]
    elif fmt == "sarif":
        results = json.loads(out)["runs"][0]["results"]
        anchors = [
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results
        ]
    else:
        cases = [line for line in out.splitlines() if "<testcase" in line]
        anchors = [line for line in cases if "interruption.missing_path" in line]
    assert anchors
    for anchor in anchors:
        assert "components/" in anchor, anchor  # the NodePools' and the event targets' lines
        assert "Pulumi." not in anchor

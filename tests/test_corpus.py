"""The corpus of real-shape preview documents: `tests/corpus/` (written from the program by
scripts/make_corpus.py) and `tests/corpus/engine/` (the real Pulumi CLI's own output, saved by
`make e2e`).

Every document gets the verdicts of its directory's expected.yaml from the whole `burst check`
(the real OPA, no checkov): the exit code, exactly the expected denies (no other deny), at least
the expected unknowns, exactly the expected undecided rules. The script's part must also be what
the script writes today, so it follows the program.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from burst_platform.cli import main

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
ENGINE_CORPUS = CORPUS / "engine"


def expectations(directory: Path) -> dict[str, dict[str, Any]]:
    """The expected verdicts of the documents in `directory`, by document name."""
    expected: dict[str, dict[str, Any]] = yaml.safe_load((directory / "expected.yaml").read_text())
    return expected


DOCUMENTS = {
    directory / f"{name}.json": verdicts
    for directory in (CORPUS, ENGINE_CORPUS)
    for name, verdicts in expectations(directory).items()
}


def verdict_problems(preview: Path, expected: dict[str, Any]) -> list[str]:
    """What `burst check --preview` on `preview` gives that `expected` does not say ([] = all
    as expected)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", "--preview", str(preview), "--skip-checkov", "--format", "json",
                     "--root", str(ROOT)])  # fmt: skip
    problems = []
    if code != expected["exit"]:
        problems.append(f"exit {code}, expected {expected['exit']}: {err.getvalue()}")
    if "error" in expected and expected["error"] not in err.getvalue():
        problems.append(f"stderr lacks {expected['error']!r}: {err.getvalue()}")
    if "deny" not in expected or problems:
        return problems
    report = json.loads(out.getvalue())
    by_severity: dict[str, set[str]] = {}
    for finding in report["findings"]:
        by_severity.setdefault(finding["severity"], set()).add(finding["rule"])
    denies, unknowns = by_severity.get("deny", set()), by_severity.get("unknown", set())
    if denies != set(expected["deny"]):
        problems.append(f"denies {sorted(denies)}, expected {expected['deny']}")
    if not set(expected["unknown"]) <= unknowns:
        problems.append(f"unknowns {sorted(unknowns)} lack some of {expected['unknown']}")
    if report["undecided"] != sorted(expected["undecided"]):
        problems.append(f"undecided {report['undecided']}, expected {expected['undecided']}")
    return problems


@pytest.mark.parametrize("directory", [CORPUS, ENGINE_CORPUS], ids=["script", "engine"])
def test_every_document_has_expectations(directory: Path) -> None:
    assert {p.stem for p in directory.glob("*.json")} == set(expectations(directory))


@pytest.mark.parametrize(
    "preview", sorted(DOCUMENTS), ids=lambda p: str(p.relative_to(CORPUS).with_suffix(""))
)
def test_corpus_verdicts(preview: Path) -> None:
    assert verdict_problems(preview, DOCUMENTS[preview]) == []


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

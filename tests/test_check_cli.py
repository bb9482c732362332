"""`burst check` on bad input: exit code 2, one line per problem naming the file, no traceback."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from burst_platform.check.cli import register, run

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "check"
CLEAN = FIXTURES / "clean-preview.json"
GUARDRAILS = ROOT / "policies" / "data" / "guardrails.yaml"


def burst_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="burst")
    register(parser.add_subparsers(dest="command"))
    code = run(parser.parse_args(["check", "--root", str(ROOT), "--skip-checkov", *args]))
    out, err = capsys.readouterr()
    return code, out, err


def assert_input_error(code: int, out: str, err: str, *expected: str) -> None:
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("burst check: ") for line in lines)
    for text in expected:
        assert any(text in line for line in lines), (text, lines)


def write_guardrails(tmp_path: Path, change: dict[str, object]) -> Path:
    data = yaml.safe_load(GUARDRAILS.read_text())
    for dotted, value in change.items():
        *parents, key = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        if value is None:
            del node[key]
        else:
            node[key] = value
    path = tmp_path / "guardrails.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_no_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert_input_error(*burst_check(capsys), "nothing to check")


def test_preview_and_stack_together(capsys: pytest.CaptureFixture[str]) -> None:
    result = burst_check(capsys, "--preview", str(CLEAN), "--stack", "dev")
    assert_input_error(*result, "--preview and --stack are alternatives")


def test_missing_preview(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert_input_error(
        *burst_check(capsys, "--preview", str(missing)), f"{missing}: file not found"
    )


def test_invalid_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": [')
    assert_input_error(
        *burst_check(capsys, "--preview", str(bad)), "bad.json: invalid JSON at line 1"
    )


def test_preview_without_steps(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"config": {}, "changeSummary": {}}))
    assert_input_error(*burst_check(capsys, "--preview", str(bad)), "plan.json: steps: missing")


def test_step_without_type(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = json.loads(CLEAN.read_text())
    del doc["steps"][2]["newState"]["type"]
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps(doc))
    assert_input_error(
        *burst_check(capsys, "--preview", str(bad)), "plan.json: steps[2].newState.type: missing"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"allowed_regions": None}, "allowed_regions: missing"),
        ({"allowed_regions": "eu-west-1"}, "allowed_regions: must be a non-empty list"),
        ({"teams.ml.gpu_quota": "lots"}, "teams.ml.gpu_quota: must be an integer >= 0"),
        ({"teams.ml.monthly_budget_usd": None}, "teams.ml.monthly_budget_usd: missing"),
        (
            {"iam.max_session_seconds": 100},
            "iam.max_session_seconds: must be an integer from 900 to 43200",
        ),
        ({"iam": None}, "iam: missing"),
        ({"spot.taint_key": ""}, "spot.taint_key: must be a non-empty string"),
        ({"spot.min_instance_types": True}, "spot.min_instance_types: must be an integer >= 1"),
        ({"data_classifications": ["a"]}, "data_classifications: must be a mapping"),
        (
            {"data_classifications.restricted": "eu-west-1"},
            "data_classifications.restricted: must be a list",
        ),
        ({"teams.quant": 5}, "teams.quant: must be a mapping"),
    ],
)
def test_bad_guardrails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = write_guardrails(tmp_path, change)
    result = burst_check(capsys, "--preview", str(CLEAN), "--guardrails", str(path))
    assert_input_error(*result, f"{path}: {message}")


def test_guardrails_problems_are_all_listed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_guardrails(tmp_path, {"allowed_regions": None, "spot.taint_key": 3})
    code, out, err = burst_check(capsys, "--preview", str(CLEAN), "--guardrails", str(path))
    assert_input_error(code, out, err, "allowed_regions: missing", "spot.taint_key")
    assert len(err.strip().splitlines()) == 2


def test_guardrails_not_a_mapping(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("- a\n")
    assert_input_error(
        *burst_check(capsys, "--preview", str(CLEAN), "--guardrails", str(path)),
        "g.yaml: must be a mapping",
    )


def test_missing_guardrails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    assert_input_error(
        *burst_check(capsys, "--preview", str(CLEAN), "--guardrails", str(path)),
        "g.yaml: file not found",
    )


def test_invalid_waiver(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("- {rule: iam.trust_open, resource: '*', reason: r, owner: o}\n")
    result = burst_check(capsys, "--preview", str(CLEAN), "--waivers", str(path))
    assert_input_error(*result, f"{path}: waivers[0].expires: missing")


def test_waiver_bad_date(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("- {rule: x, resource: '*', reason: r, owner: o, expires: next-week}\n")
    result = burst_check(capsys, "--preview", str(CLEAN), "--waivers", str(path))
    assert_input_error(*result, "waivers[0].expires: 'next-week' is not a date")


def test_explicit_waivers_file_must_exist(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "w.yaml"
    assert_input_error(
        *burst_check(capsys, "--preview", str(CLEAN), "--waivers", str(path)),
        "w.yaml: file not found",
    )


def test_bad_manifest(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    result = burst_check(capsys, "--manifests", str(tmp_path))
    assert_input_error(*result, "pod.yaml: invalid YAML at line")


def test_missing_policy_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = burst_check(
        capsys,
        "--preview",
        str(CLEAN),
        "--policies",
        str(tmp_path / "p"),
        "--guardrails",
        str(GUARDRAILS),
    )
    assert_input_error(*result, "policy directory not found")


def test_unwritable_out(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = burst_check(
        capsys, "--preview", str(CLEAN), "--out", str(blocker / "report.txt")
    )
    assert code == 2
    assert "cannot write the report" in err


def test_missing_checkov_is_an_error_not_a_skip(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parser = argparse.ArgumentParser(prog="burst")
    register(parser.add_subparsers(dest="command"))
    monkeypatch.setenv("BURST_CHECKOV", str(tmp_path / "no-checkov"))
    code = run(parser.parse_args(["check", "--root", str(ROOT), "--preview", str(CLEAN)]))
    out, err = capsys.readouterr()
    assert_input_error(code, out, err, "BURST_CHECKOV=", "not an executable file")

    monkeypatch.delenv("BURST_CHECKOV")
    monkeypatch.setattr("burst_platform.tools.checkout_root", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    code = run(parser.parse_args(["check", "--root", str(tmp_path), "--preview", str(CLEAN)]))
    out, err = capsys.readouterr()
    assert_input_error(code, out, err, "checkov not found", "make setup", "--skip-checkov")


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="burst")
    register(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["check", "--help"])
    out = capsys.readouterr().out
    for option in (
        "--preview", "--stack", "--manifests", "--guardrails", "--waivers", "--policies",
        "--opa-url", "--skip-checkov", "--format", "--out",
    ):  # fmt: skip
        assert option in out


@pytest.mark.parametrize(
    "args",
    [
        ["--preview", "tests/fixtures/check/does-not-exist.json"],
        ["--manifests", "tests/fixtures/check/nowhere"],
        ["--preview", "tests/fixtures/check/manifests/karpenter.yaml"],
    ],
)
def test_process_exit_code_and_stderr(args: list[str]) -> None:
    """Through the real `burst` entry point: exit 2, one line naming the file, no traceback."""
    process = subprocess.run(
        [sys.executable, "-m", "burst_platform.cli", "check", "--skip-checkov", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1
    assert args[1] in lines[0]


def test_check_path_does_not_import_pulumi() -> None:
    code = (
        "import sys\n"
        "from burst_platform.check.cli import run, register\n"
        "from burst_platform.check import pipeline, engine, checkov_runner, formats\n"
        "assert 'pulumi' not in sys.modules, sorted(m for m in sys.modules if 'pulumi' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_empty_preview_is_not_a_pass(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "plan.json"
    empty.write_text(json.dumps({"steps": []}))
    assert_input_error(*burst_check(capsys, "--preview", str(empty)), "hold no resources")


def test_manifest_dir_without_objects(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "notes.yaml").write_text("# nothing here\n")
    assert_input_error(
        *burst_check(capsys, "--manifests", str(tmp_path)), "no Kubernetes objects to check"
    )


def test_closed_pipe_never_reports_success(tmp_path: Path) -> None:
    """A deny whose report goes to a reader that quits early must not turn into exit 0."""
    preview = ROOT / "tests" / "fixtures" / "check" / "broken-preview.json"
    command = (
        f"set -o pipefail; {sys.executable} -m burst_platform.cli check --skip-checkov"
        f" --preview {preview} --format json | head -c 10"
    )
    result = subprocess.run(
        ["/bin/bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr

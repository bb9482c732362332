"""`burst check` in a pull request: several reports in one run, anchors, exit levels, progress,
colours, the version; all through the real CLI and OPA on real-shape documents."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import burst_platform
from burst_platform.check.pipeline import current_commit
from burst_platform.cli import main
from burst_platform.docs import POLICY_DOCS_URL, heading_anchor

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
DENIED = CORPUS / "delete-queue-show-sames.json"
UNKNOWNS = CORPUS / "nodepool-spec-unknown.json"
CLEAN = ROOT / "tests" / "fixtures" / "check" / "clean-preview.json"
BROKEN = ROOT / "tests" / "fixtures" / "check" / "broken-preview.json"
TODAY = "2026-06-01"
PROGRAM_DIRS = ("components/", "infra/")

needs_opa = pytest.mark.opa


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", "--root", str(ROOT), "--skip-checkov", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def declares_a_resource(path: str, line: int) -> bool:
    """The program line calls a constructor (`aws.cloudwatch.EventTarget(`, ...)."""
    lines = (ROOT / path).read_text().splitlines()
    return 1 <= line <= len(lines) and re.search(r"[A-Za-z_][\w.]*\(", lines[line - 1]) is not None


def readme_anchors() -> set[str]:
    """Every heading fragment of policies/README.md."""
    text = (ROOT / "policies" / "README.md").read_text()
    return {heading_anchor(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.MULTILINE)}


# ---------------------------------------------------------------------------------------------
# One run, every report
# ---------------------------------------------------------------------------------------------


@needs_opa
def test_one_run_writes_github_sarif_junit_and_markdown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sarif, junit, comment = tmp_path / "out.sarif", tmp_path / "junit.xml", tmp_path / "c.md"
    code, out, _ = check(
        capsys, "--preview", str(DENIED), "--format", "github",
        "--output", f"sarif={sarif}", "--output", f"junit={junit}",
        "--output", f"markdown={comment}",
    )  # fmt: skip
    assert code == 1

    # GitHub workflow commands: every deny on the program line that declares its resource.
    errors = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(errors) == 14  # 10 dependencies on the deleted queue (1 the dashboard), 4 pools
    github_anchors = set()
    for line in errors:
        match = re.match(r"::error file=([^,]+),line=(\d+),title=", line)
        assert match, line
        path, number = match.group(1), int(match.group(2))
        assert path.startswith(PROGRAM_DIRS), line
        assert declares_a_resource(path, number), line
        github_anchors.add((path, number))
    assert out.splitlines()[-1].startswith("burst check FAILED: 14 deny")

    # SARIF: the same anchors, and what GitHub code scanning reads of every rule.
    log = json.loads(sarif.read_text())
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["informationUri"] == burst_platform.REPOSITORY_URL
    assert driver["informationUri"].startswith("https://github.com/")
    rules = {r["id"]: r for r in driver["rules"]}
    anchors = readme_anchors()
    for rule in rules.values():
        assert rule["name"] != rule["id"]
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", rule["name"]), rule["name"]
        assert rule["helpUri"].startswith(f"{POLICY_DOCS_URL}#"), rule
        assert rule["helpUri"].split("#", 1)[1] in anchors, rule["helpUri"]
        assert rule["properties"]["security-severity"] in ("8.0", "5.0")
        for key in ("shortDescription", "fullDescription", "help"):
            assert rule[key]["text"].strip(), (rule["id"], key)
    assert len({r["name"] for r in rules.values()}) == len(rules)
    missing_path = rules["interruption.missing_path"]
    assert missing_path["helpUri"] == (
        f"{POLICY_DOCS_URL}#interruptionmissing_path-spot-nodepool-without-interruption-path"
    )
    assert missing_path["name"] == "SpotNodePoolWithoutInterruptionPath"
    assert missing_path["properties"]["security-severity"] == "8.0"
    assert rules["iam.missing_permissions_boundary"]["properties"]["security-severity"] == "5.0"
    sarif_anchors = set()
    for result in run["results"]:
        assert result["ruleId"] in rules
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"].strip()
        assert result["partialFingerprints"]["burstFinding/v1"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not uri.startswith("/") and "://" not in uri
        assert uri.startswith(PROGRAM_DIRS), uri
        assert physical["region"]["startLine"] >= 1
        sarif_anchors.add((uri, physical["region"]["startLine"]))
    assert sarif_anchors == github_anchors

    # JUnit: times, and every failing case on its program line.
    suites = ET.parse(junit).getroot()  # noqa: S314 - our own output
    assert float(suites.get("time", "-1")) > 0
    (opa,) = suites.findall("testsuite")
    assert float(opa.get("time", "-1")) > 0
    cases = opa.findall("testcase")
    assert all(float(c.get("time", "-1")) >= 0 for c in cases)
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == 14 == int(suites.get("failures", "0"))
    for case in failed:
        assert (case.get("file", ""), int(case.get("line", "0"))) in github_anchors

    # Markdown: the sticky-comment marker, the context, links to the same rule docs.
    text = comment.read_text()
    assert text.rstrip().endswith("<!-- burst-check:dev -->")
    assert "Stack **dev**" in text
    assert "checked: preview tests/corpus/delete-queue-show-sames.json" in text
    assert f"]({missing_path['helpUri']})" in text
    assert f"]({rules['guards.dangling_dependency']['helpUri']})" in text
    assert "*Fix:* Create the interruption queue" in text
    assert "#### Deny (fails the check): 14" in text


def test_format_and_out_are_short_for_one_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    one, other = tmp_path / "one.sarif", tmp_path / "other.sarif"
    first = check(capsys, "--preview", str(BROKEN), "--format", "sarif", "--out", str(one))
    second = check(capsys, "--preview", str(BROKEN), "--output", f"sarif={other}")
    assert first[0] == second[0] == 1
    assert first[1] == second[1]  # the text report on stdout, both times
    assert first[1].rstrip().splitlines()[-1].startswith("burst check FAILED")
    assert one.read_text() == other.read_text()
    assert json.loads(one.read_text())["runs"][0]["results"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["xml=report.xml"], "--output 'xml=report.xml': unknown format 'xml' (known: text,"),
        (["sarif"], "--output 'sarif': expected FORMAT=PATH"),
        (["sarif="], "--output 'sarif=': the path is empty"),
        (["sarif=  "], "--output 'sarif=  ': the path is empty"),
        (["sarif=r.out", "junit=r.out"], "--output 'junit=r.out': r.out is also the file of"),
        (["sarif=."], "--output 'sarif=.': . is a directory"),
    ],
)
def test_bad_output_values_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    values: list[str],
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [item for value in values for item in ("--output", value)]
    code, out, err = check(capsys, "--preview", str(CLEAN), *args)
    assert code == 2
    assert out == ""
    assert err.splitlines() == [err.strip()]
    assert err.startswith(f"burst check: {expected}"), err
    assert list(tmp_path.iterdir()) == []


def test_out_and_output_on_the_same_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    code, out, err = check(
        capsys, "--preview", str(CLEAN), "--output", f"sarif={report}", "--format", "json",
        "--out", str(tmp_path / "." / "report.json"),
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err.startswith("burst check: --out: ") and "also the file of --output" in err
    assert len(err.splitlines()) == 1


def test_a_bad_fail_on_is_one_line_naming_the_option() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "burst_platform.cli", "check", "--preview", str(CLEAN),
         "--fail-on", "all"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert process.returncode == 2
    assert process.stdout == ""
    (line,) = process.stderr.splitlines()
    assert line.startswith("burst check: argument --fail-on: invalid choice: 'all'")


# ---------------------------------------------------------------------------------------------
# --fail-on
# ---------------------------------------------------------------------------------------------


def unused_waiver(tmp_path: Path) -> Path:
    """A live waiver that matches nothing: the check adds a `waiver.unused` warn, nothing else."""
    path = tmp_path / "waivers.yaml"
    path.write_text(
        "- rule: iam.trust_open\n"
        "  resource: 'urn:pulumi:test::burst-platform::aws:iam/role:Role::nobody'\n"
        "  reason: the role is going away (TICKET-9)\n"
        "  owner: iam@example.com\n"
        "  expires: 2026-07-01\n"
    )
    return path


@needs_opa
@pytest.mark.parametrize(("level", "code"), [("deny", 0), ("unknown", 0), ("warn", 1)])
def test_fail_on_a_warn(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, level: str, code: int
) -> None:
    waivers = unused_waiver(tmp_path)
    result = check(
        capsys, "--preview", str(CLEAN), "--waivers", str(waivers), "--today", TODAY,
        "--fail-on", level, "--format", "json",
    )  # fmt: skip
    summary = json.loads(result[1])["summary"]
    assert (summary["deny"], summary["unknown"], summary["warn"]) == (0, 0, 1)
    assert result[0] == code, result[2]


@needs_opa
@pytest.mark.parametrize(("level", "code"), [("deny", 0), ("unknown", 1), ("warn", 1)])
def test_fail_on_an_unknown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, level: str, code: int
) -> None:
    junit = tmp_path / "junit.xml"
    result = check(
        capsys, "--preview", str(UNKNOWNS), "--fail-on", level, "--output", f"junit={junit}"
    )
    assert result[0] == code, result[2]
    last = result[1].rstrip().splitlines()[-1]
    assert last.startswith(("burst check FAILED" if code else "burst check passed") + ": 0 deny")
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")  # noqa: S314
    unknown = [c for c in cases if c.get("name") != "all resources"]  # the document's 9 findings
    assert len(unknown) == 9
    failures = [c for c in unknown if c.find("failure") is not None]
    skipped = [c for c in unknown if c.find("skipped") is not None]
    assert (len(failures), len(skipped)) == ((9, 0) if code else (0, 9))
    if code:
        assert {c.find("failure").get("type") for c in failures} == {"unknown"}  # type: ignore[union-attr]


def test_fail_on_is_documented_with_its_order(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--fail-on LEVEL" in help_text
    assert "deny (only denies fail, the default), unknown (denies and unknowns" in help_text
    assert "warn (denies, unknowns and warns)" in help_text
    for option in ("--output FORMAT=PATH", "--quiet", "--format"):
        assert option in help_text


# ---------------------------------------------------------------------------------------------
# Markdown context: commit and waivers
# ---------------------------------------------------------------------------------------------


@needs_opa
def test_markdown_names_the_commit_and_the_waivers_in_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "- rule: iam.long_lived_credentials\n"
        "  resource: 'urn:pulumi:test::burst-platform::aws:iam/user:User::legacy-ci'\n"
        "  reason: CI user retires with the runner move (TICKET-7)\n"
        "  owner: ci@example.com\n"
        "  expires: 2026-06-30\n"
        "- rule: iam.trust_open\n"
        "  resource: 'urn:pulumi:test::burst-platform::aws:iam/role:Role::old-*'\n"
        "  reason: gone\n"
        "  owner: old@example.com\n"
        "  expires: 2026-05-01\n"
    )
    code, out, _ = check(
        capsys, "--preview", str(CLEAN), "--waivers", str(waivers), "--today", TODAY,
        "--format", "markdown",
    )  # fmt: skip
    assert code == 0
    assert "commit 0123456789abcdef0123456789abcdef01234567" in out
    in_force = out.split("#### Waivers in force: 1", 1)[1].split("####", 1)[0]
    assert "ci@example.com | 2026-06-30 |" in in_force
    assert "old@example.com" not in in_force
    assert "#### Expired waivers (they waive nothing): 1" in out
    assert out.rstrip().endswith("<!-- burst-check:test -->")


def test_commit_from_git_or_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert current_commit(ROOT) == head
    assert current_commit(tmp_path) is None


# ---------------------------------------------------------------------------------------------
# Progress, --quiet, colours, --version
# ---------------------------------------------------------------------------------------------


@needs_opa
def test_progress_lines_on_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(capsys, "--preview", str(CLEAN), "--format", "json")
    assert code == 0
    lines = err.splitlines()
    assert lines[:2] == ["burst check: starting OPA…", lines[1]]
    assert re.fullmatch(r"burst check: starting OPA… done in \d+\.\d s", lines[1])
    assert "burst check: evaluating 4 resources with OPA…" in lines
    assert any(re.fullmatch(r"burst check: evaluating 4 resources with OPA… done in \d+\.\d s", x)
               for x in lines)  # fmt: skip
    assert lines[-1].startswith("burst check passed")  # the summary: stdout is JSON
    assert "\r" not in err and "\x1b" not in err
    json.loads(out)


@needs_opa
def test_planning_a_stack_reports_its_progress(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, "--stack", "dev", "--format", "json")
    assert code in (0, 1), err
    lines = err.splitlines()
    assert lines[0] == "burst check: planning stack dev…"
    assert re.fullmatch(r"burst check: planning stack dev… done in \d+\.\d s", lines[1])


@needs_opa
def test_quiet_prints_no_progress_and_no_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(capsys, "--preview", str(BROKEN), "--format", "json", "--quiet")
    assert code == 1
    assert err == ""
    assert json.loads(out)["summary"]["deny"] == 5


def test_quiet_still_prints_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = check(capsys, "--preview", str(tmp_path / "nope.json"), "--quiet")
    assert (code, out) == (2, "")
    assert err == f"burst check: {tmp_path / 'nope.json'}: file not found\n"


def run_on_a_terminal(args: list[str], env: dict[str, str], stream: str) -> tuple[int, str, str]:
    """Run `burst` with `stream` (stdout or stderr) on a pseudo-terminal; (code, tty, other)."""
    controller, terminal = pty.openpty()
    other = subprocess.PIPE
    streams: dict[str, Any] = {"stdout": other, "stderr": other, stream: terminal}
    process = subprocess.Popen(
        [sys.executable, "-m", "burst_platform.cli", *args], cwd=ROOT, env=env, text=True, **streams
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    rest = (process.stderr if stream == "stdout" else process.stdout).read()  # type: ignore[union-attr]
    code = process.wait(timeout=120)
    return code, b"".join(chunks).decode(), rest


CHECK_BROKEN = ["check", "--root", str(ROOT), "--skip-checkov", "--preview", str(BROKEN)]


@needs_opa
def test_progress_on_a_terminal_is_one_updating_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    code, tty, out = run_on_a_terminal([*CHECK_BROKEN, "--format", "json"], env, "stderr")
    assert code == 1
    assert "\r\x1b[Kburst check: starting OPA…" in tty
    assert "\r\x1b[Kburst check: evaluating 7 resources with OPA… done in" in tty
    before_summary, summary = tty.rsplit("\r\x1b[K", 1)
    assert "\n" not in before_summary  # one line, rewritten
    assert summary.startswith("burst check FAILED: 5 deny")  # after the line is cleared
    assert json.loads(out)["summary"]["deny"] == 5


@needs_opa
@pytest.mark.parametrize("no_color", [None, "1"])
def test_colours_only_on_a_terminal_without_no_color(no_color: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    code, tty, _ = run_on_a_terminal(CHECK_BROKEN, env, "stdout")
    assert code == 1
    if no_color is None:
        assert "\x1b[1;31mDENY\x1b[0m  " in tty
        assert "\x1b[1;35mUNKNOWN\x1b[0m  " in tty
    else:
        assert "\x1b[" not in tty
        assert "DENY  " in tty
    piped = subprocess.run(
        [sys.executable, "-m", "burst_platform.cli", *CHECK_BROKEN],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert piped.returncode == 1
    assert "DENY  " in piped.stdout and "\x1b" not in piped.stdout


def test_version_is_the_distribution_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    expected = pyproject["project"]["version"]
    process = subprocess.run(
        [sys.executable, "-m", "burst_platform.cli", "--version"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert process.stdout == f"burst {expected}\n"


def test_version_from_a_checkout_without_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert burst_platform.version() == pyproject["project"]["version"]


def test_checkout_version_of_a_broken_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nversion = 1")
    assert burst_platform._checkout_version(tmp_path / "pyproject.toml") == "unknown"
    assert burst_platform._checkout_version(tmp_path / "missing.toml") == "unknown"


@needs_opa
def test_a_finding_without_a_program_line_points_at_the_stack_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The preview file is not in the repository; the stack's Pulumi.<stack>.yaml is."""
    preview = tmp_path / "prod-preview.json"
    preview.write_text(
        BROKEN.read_text()
        .replace("urn:pulumi:test::", "urn:pulumi:prod::")
        .replace("burst-platform-test", "burst-platform-prod")
    )
    sarif = tmp_path / "out.sarif"
    code, out, _ = check(capsys, "--preview", str(preview), "--format", "github",
                         "--output", f"sarif={sarif}")  # fmt: skip
    assert code == 1
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"Pulumi.prod.yaml"}
    assert all(
        line.startswith(("::error file=Pulumi.prod.yaml,line=", "::warning file=Pulumi.prod.yaml"))
        for line in out.splitlines()[:-1]
    )  # line 1, or the line of the config key the rule names (the next test)
    same_stack_elsewhere = check(capsys, "--preview", str(BROKEN), "--format", "github")[1]
    assert "file=tests/fixtures/check/broken-preview.json,line=1," in same_stack_elsewhere


# ---------------------------------------------------------------------------------------------
# SARIF: the 2.1.0 schema and GitHub's ingestion rules, judged by Microsoft's SARIF Multitool
# ---------------------------------------------------------------------------------------------

MULTITOOL = ROOT / ".tools" / "bin" / "sarif-multitool"


def multitool_problems(sarif: Path, tmp_path: Path) -> list[str]:
    """`Sarif.Multitool validate` with the SARIF and GitHub (Gh) rule kinds: its errors and
    warnings as `RULE: message` lines (the schema's JSON* rules run first, always)."""
    assert MULTITOOL.exists(), "the SARIF Multitool is missing: run `make setup`"
    log = tmp_path / f"{sarif.stem}.validation.sarif"
    log.unlink(missing_ok=True)
    completed = subprocess.run(
        [str(MULTITOOL), "validate", "--rule-kind", "Sarif;Gh", "-o", str(log), str(sarif)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1"},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads(log.read_text())["runs"][0].get("results", [])
    problems = []
    for result in results:
        if result.get("level", "warning") in ("error", "warning"):
            message = result["message"]
            text = message.get("text") or " ".join(map(str, message.get("arguments", [])))
            problems.append(f"{result['ruleId']}: {text}")
    return problems


@needs_opa
@pytest.mark.parametrize("document", [DENIED, UNKNOWNS, CLEAN], ids=lambda p: p.stem)
def test_sarif_passes_the_schema_and_githubs_ingestion_rules(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: Path
) -> None:
    sarif = tmp_path / "out.sarif"
    check(capsys, "--preview", str(document), "--output", f"sarif={sarif}", "--fail-on", "warn")
    assert multitool_problems(sarif, tmp_path) == []


@pytest.mark.checkov
def test_sarif_with_checkov_findings_passes_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    job = ROOT / "tests" / "fixtures" / "check" / "checkov" / "denied-job.yaml"
    (manifests / "job.yaml").write_text(job.read_text())
    sarif = tmp_path / "out.sarif"
    code = main(
        ["check", "--root", str(tmp_path), "--manifests", str(manifests),
         "--output", f"sarif={sarif}"]
    )  # fmt: skip
    capsys.readouterr()
    assert code == 1
    log = json.loads(sarif.read_text())
    assert any(r["ruleId"].startswith("CKV_") for r in log["runs"][0]["results"])
    assert multitool_problems(sarif, tmp_path) == []


@needs_opa
def test_the_multitool_catches_what_github_refuses(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The validator is not a rubber stamp: a result without a location and one without a
    message, which GitHub's upload refuses, are reported."""
    sarif = tmp_path / "out.sarif"
    check(capsys, "--preview", str(DENIED), "--output", f"sarif={sarif}")
    found = {}
    for name, damage in (
        ("no-location", lambda result: result.update(locations=[])),
        ("no-message", lambda result: result.pop("message")),
    ):
        log = json.loads(sarif.read_text())
        damage(log["runs"][0]["results"][0])
        broken = tmp_path / f"{name}.sarif"
        broken.write_text(json.dumps(log))
        found[name] = {problem.split(":")[0] for problem in multitool_problems(broken, tmp_path)}
    assert "GH1015" in found["no-location"]  # GitHub: a result needs a location
    assert "JSON1002" in found["no-message"]  # the schema: a result needs a message


@needs_opa
def test_positions_through_the_package_links_point_at_the_real_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The real engine records `burst_platform/components/...` (the import path, a link); the
    annotations name `components/...`, the file a pull request's diff shows."""
    linked = tmp_path / "linked.json"
    text = DENIED.read_text()
    assert '"project:///components/' in text
    linked.write_text(
        text.replace('"project:///components/', '"project:///burst_platform/components/')
    )
    _, direct, _ = check(capsys, "--preview", str(DENIED), "--format", "github")
    _, through_links, _ = check(capsys, "--preview", str(linked), "--format", "github")
    assert "file=burst_platform/" not in through_links
    assert through_links.replace(str(linked.name), "") == direct.replace(str(DENIED.name), "")


@needs_opa
def test_a_finding_without_a_program_line_points_at_its_config_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No usable position (a component from a wheel, the SDK's heuristic missing): a rule that
    names its stack config key (`custom.config_key`) points at that key in Pulumi.<stack>.yaml,
    any other at the stack file's first line."""
    document = json.loads((CORPUS / "unchanged-show-sames.json").read_text())
    for step in document["steps"]:
        state = step.get("newState") or {}
        state.pop("sourcePosition", None)
        if state.get("type") == "aws:s3/bucket:Bucket" and state["urn"].endswith("-checkpoints"):
            del state["inputs"]["tags"]["data-classification"]
    preview = tmp_path / "preview.json"
    preview.write_text(json.dumps(document))
    code, out, _ = check(capsys, "--preview", str(preview), "--format", "github")
    assert code == 1
    stack_lines = (ROOT / "Pulumi.dev.yaml").read_text().splitlines()
    (data_classes,) = [
        n for n, line in enumerate(stack_lines, 1) if "burst-platform:dataClasses:" in line
    ]
    anchors = {
        (match.group(3), match.group(1), int(match.group(2)))
        for match in re.finditer(r"^::error file=([^,]+),line=(\d+),title=([a-z_.]+)", out, re.M)
    }
    assert ("locality.storage_unclassified", "Pulumi.dev.yaml", data_classes) in anchors
    others = {
        (path, line) for rule, path, line in anchors if rule != "locality.storage_unclassified"
    }
    assert others <= {("Pulumi.dev.yaml", 1)}

"""The exit-code promise under hostile input: 0 only when clean, 1 only for denies, 2 for any
problem with the inputs or engines, one line naming the file, never a traceback or a hang."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from burst_platform import policy_pack
from burst_platform.check.normalise import UNKNOWN_SENTINEL
from burst_platform.cli import main
from burst_platform.tools import find_opa

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ROOT / "tests" / "fixtures" / "check" / "broken-preview.json"
CLEAN = ROOT / "tests" / "fixtures" / "check" / "clean-preview.json"
GUARDRAILS = ROOT / "policies" / "data" / "guardrails.yaml"


def burst(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return burst(capsys, "check", "--root", str(ROOT), "--skip-checkov", *args)


def input_error(result: tuple[int, str, str], *expected: str) -> None:
    code, out, err = result
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("burst ") for line in lines), lines
    for text in expected:
        assert any(text in line for line in lines), (text, lines)


def preview_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "preview.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def broken() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(BROKEN.read_text())
    return document


# ---------------------------------------------------------------------------------------------
# One top-level contract
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "command"),
    [
        ("burst_platform.check.cli.run_check", ["check", "--preview", str(CLEAN)]),
        ("burst_platform.plan.plan_registrations", ["plan", "--stack", "dev"]),
        ("burst_platform.check.pipeline.load_plan", ["normalise", "--preview", str(CLEAN)]),
    ],
)
def test_an_internal_failure_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    command: list[str],
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(target, explode)
    code, _, err = burst(capsys, *command)
    assert code == 2
    assert err.strip().splitlines() == [
        f"burst {command[0]}: internal error: RuntimeError: boom second line (rerun with --debug "
        "for the traceback)"
    ]


# ---------------------------------------------------------------------------------------------
# Strict reading
# ---------------------------------------------------------------------------------------------


def test_duplicate_json_keys_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = BROKEN.read_text().replace('"steps": [', '"steps": [], "steps": [', 1)
    input_error(
        check(capsys, "--preview", str(preview_file(tmp_path, text))), "duplicate key 'steps'"
    )


def test_deep_json_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = '{"steps": [' + "[" * 1000 + "]" * 1000 + "]}"
    input_error(check(capsys, "--preview", str(preview_file(tmp_path, text))), "levels deep")


def test_non_utf8_preview(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = preview_file(tmp_path, b'{"steps": ["\xff"]}')
    input_error(check(capsys, "--preview", str(path)), f"{path}: not UTF-8")


def test_non_utf8_stack_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.bad.yaml").write_bytes(
        b"config:\n  burst-platform:environment: \xe9t\xe9\n"
    )
    input_error(burst(capsys, "plan", "--stack", "bad", "--root", str(tmp_path)), "not UTF-8")


def test_a_clean_copy_of_a_resource_cannot_hide_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = broken()
    group = next(s for s in document["steps"] if s["newState"]["type"].endswith("SecurityGroup"))
    clean = json.loads(json.dumps(group))
    clean["newState"]["inputs"]["ingress"] = []
    document["steps"].insert(0, clean)
    path = preview_file(tmp_path, json.dumps(document))
    input_error(check(capsys, "--preview", str(path)), "already appears in an earlier step")


@pytest.mark.parametrize("inputs", ["a string", 7, [1]])
def test_inputs_that_are_not_objects(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, inputs: object
) -> None:
    document = broken()
    document["steps"][1]["newState"]["inputs"] = inputs
    path = preview_file(tmp_path, json.dumps(document))
    input_error(check(capsys, "--preview", str(path)), "inputs: must be an object")


def test_a_refused_field_named_with_control_characters_stays_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = broken()
    document["steps"][1]["newState"]["propertyDependencies"] = {"a\nburst: forged\x1b[2J": 1}
    path = preview_file(tmp_path, json.dumps(document))
    input_error(
        check(capsys, "--preview", str(path)),
        "propertyDependencies.a\\nburst: forged\\x1b[2J: must be a list of URNs",
    )


@pytest.mark.parametrize("placeholder", [UNKNOWN_SENTINEL, "[secret]"])
def test_wholly_unknown_inputs_are_never_silent(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, placeholder: str
) -> None:
    document = broken()
    key = next(s for s in document["steps"] if s["newState"]["type"] == "aws:iam/role:Role")
    key["newState"]["inputs"] = placeholder
    path = preview_file(tmp_path, json.dumps(document))
    code, out, _ = check(capsys, "--preview", str(path), "--format", "json")
    report = json.loads(out)
    on_role = {f["rule"]: f["severity"] for f in report["findings"] if f["resource"] == key["urn"]}
    assert on_role and set(on_role.values()) == {"unknown"}, on_role
    assert code == 1  # the other denies of the fixture still deny


# ---------------------------------------------------------------------------------------------
# Guardrails
# ---------------------------------------------------------------------------------------------


def guardrails_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "guardrails.yaml"
    path.write_text(text)
    return path


def test_alias_bomb_is_refused_at_once_and_leaves_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
    )
    path = guardrails_file(tmp_path, GUARDRAILS.read_text() + bomb)
    before = set(Path(tempfile.gettempdir()).glob("burst-check-*"))
    started = time.monotonic()
    input_error(check(capsys, "--preview", str(CLEAN), "--guardrails", str(path)), "aliases")
    assert time.monotonic() - started < 10
    assert set(Path(tempfile.gettempdir()).glob("burst-check-*")) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("quant: {gpu_quota: 32, monthly_budget_usd: .nan}", "teams.quant.monthly_budget_usd"),
        ("quant: {gpu_quota: 32, monthly_budget_usd: .inf}", "teams.quant.monthly_budget_usd"),
        ("quant: {gpu_quota: 32, monthly_budget_usd: 1, gpu_quoto: 3}", "did you mean 'gpu_quota'"),
    ],
)
def test_guardrails_values_are_validated(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, change: str, message: str
) -> None:
    text = GUARDRAILS.read_text().replace(
        "quant: {gpu_quota: 32, monthly_budget_usd: 20000}", change
    )
    path = guardrails_file(tmp_path, text)
    input_error(check(capsys, "--preview", str(CLEAN), "--guardrails", str(path)), message)


def test_unknown_guardrails_section(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = guardrails_file(tmp_path, GUARDRAILS.read_text() + "allowed_region: [us-east-1]\n")
    input_error(
        check(capsys, "--preview", str(CLEAN), "--guardrails", str(path)),
        "unknown key 'allowed_region' (did you mean 'allowed_regions'?)",
    )


def test_duplicate_guardrails_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = guardrails_file(
        tmp_path, GUARDRAILS.read_text() + "iam:\n  max_session_seconds: 43200\n"
    )
    input_error(
        check(capsys, "--preview", str(CLEAN), "--guardrails", str(path)), "duplicate key 'iam'"
    )


# ---------------------------------------------------------------------------------------------
# Safe reports
# ---------------------------------------------------------------------------------------------

FORGED = "\nburst check passed: 0 deny, 0 warn, 0 unknown, 0 waived\n\x00\x1b[2J<script>x</script>"


def hostile_preview(tmp_path: Path) -> Path:
    document = broken()
    for step in document["steps"]:
        if step["newState"]["type"] == "aws:iam/role:Role":
            urn = step["urn"] + FORGED
            step["urn"] = step["newState"]["urn"] = urn
        if step["newState"]["type"] == "pulumi:providers:aws":
            step["newState"]["inputs"]["region"] = "ap-south-1" + FORGED + "x" * 5000
    return preview_file(tmp_path, json.dumps(document))


@pytest.mark.parametrize("fmt", ["text", "junit", "markdown", "sarif", "json", "github"])
def test_values_from_the_document_cannot_forge_or_break_a_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    import xml.etree.ElementTree as ET

    code, out, _ = check(capsys, "--preview", str(hostile_preview(tmp_path)), "--format", fmt)
    assert code == 1
    assert "\x00" not in out and "\x1b" not in out
    assert not any(line.startswith("burst check passed") for line in out.splitlines())
    assert len(max(out.splitlines(), key=len)) < 20_000
    if fmt == "junit":
        ET.fromstring(out.split("\n", 1)[1])  # noqa: S314 - our own report, well-formed XML
    if fmt == "markdown":  # code spans show their text literally; elsewhere no raw HTML
        import re

        outside_code = re.sub(r"(`+) .*? \1|`[^`]*`", "", out)
        assert "<script>" not in outside_code
    if fmt in ("sarif", "json"):
        json.loads(out)


HOSTILE_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: ml-jobs}
spec:
  hostPID: true
  hostNetwork: true
  containers:
    - name: shell
      image: busybox
      securityContext: {privileged: true}
      env:
        - {name: AWS_ACCESS_KEY_ID, value: KEY_ID}
        - {name: AWS_SECRET_ACCESS_KEY, value: not-a-real-secret}
      volumeMounts: [{name: root, mountPath: /host}]
  volumes: [{name: root, hostPath: {path: /}}]
"""


def test_a_hostile_pod_is_denied(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key_id = "AKIA" + "Z3MSJV4WWNKWW5FG"  # built here: a literal is a leaked key to scanners
    (tmp_path / "pod.yaml").write_text(HOSTILE_POD.replace("KEY_ID", key_id))
    code, out, _ = check(capsys, "--manifests", str(tmp_path / "pod.yaml"), "--format", "json")
    assert code == 1
    denied = {f["rule"] for f in json.loads(out)["findings"] if f["severity"] == "deny"}
    inventory = policy_pack.rule_inventory(find_opa(), ROOT / "policies")
    workload_rules = {r.id for r in inventory if r.package == "burst.workloads"}
    assert len(workload_rules) == 7
    assert denied >= workload_rules  # every restricted-pod rule and the credentials rule

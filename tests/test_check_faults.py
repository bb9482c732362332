"""Injected faults: a broken checkov fails the check closed, and a signal leaves nothing behind."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parents[1]
CLEAN = ROOT / "tests" / "fixtures" / "check" / "clean-preview.json"
MANIFESTS = ROOT / "tests" / "fixtures" / "check" / "manifests"
SUMMARY = '{"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}'
REPORT = (
    '{"check_type": "kubernetes", "results": {"passed_checks": [], "failed_checks": [],'
    ' "skipped_checks": [], "parsing_errors": []}, "summary": {"passed": 1, "failed": 0,'
    ' "skipped": 0, "parsing_errors": 0, "resource_count": 1}}'
)
MISCOUNTED = REPORT.replace('"failed": 0', '"failed": 3')


def fake_checkov(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "checkov"
    script.write_text(f"#!/usr/bin/env bash\n{body}\n")
    script.chmod(0o755)
    return script


def burst_check(checkov: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BURST_CHECKOV=str(checkov), TMPDIR=str(tmp_path))
    command = [sys.executable, "-m", "burst_platform.cli", "check", "--root", str(ROOT), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("exit 1", "checkov (kubernetes) exited 1 without a report"),
        ("exit 0", "checkov (kubernetes) exited 0 without a report"),
        ("echo 'checkov: crashed' >&2; exit 2", "failed with exit code 2"),
        ("echo not json; exit 0", "printed output that is not JSON"),
        ("echo '{\"unexpected\": true}'; exit 0", "neither results nor a summary"),
        ("echo '[1, 2]'; exit 0", "report 0: not an object"),
        (f"echo '{SUMMARY}'; exit 1", "exited 1 but reported 0 failed checks"),
        (f"echo '{MISCOUNTED}'; exit 1", "does not match"),
    ],
)
def test_a_broken_checkov_fails_closed(tmp_path: Path, body: str, message: str) -> None:
    result = burst_check(fake_checkov(tmp_path, body), tmp_path, "--manifests", str(MANIFESTS))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert any(message in line for line in result.stderr.splitlines()), result.stderr


def test_a_broken_checkov_fails_closed_when_only_the_repository_is_scanned(
    tmp_path: Path,
) -> None:
    checkov = fake_checkov(tmp_path, "echo 'checkov: crashed' >&2; exit 2")
    result = burst_check(checkov, tmp_path, "--preview", str(CLEAN))  # no Kubernetes objects
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "checkov (repository) failed with exit code 2" in result.stderr


@pytest.mark.parametrize("output", [SUMMARY, REPORT])
def test_a_documented_success_passes(tmp_path: Path, output: str) -> None:
    checkov = fake_checkov(tmp_path, f"echo '{output}'; exit 0")
    result = burst_check(checkov, tmp_path, "--preview", str(CLEAN))
    assert result.returncode == 0, result.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_checkov_and_removes_temporary_files(
    tmp_path: Path, signum: int, code: int
) -> None:
    pids = tmp_path / "pids"
    checkov = fake_checkov(tmp_path, f"sleep 300 & echo $$ $! > {pids}; wait")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, BURST_CHECKOV=str(checkov), TMPDIR=str(scratch))
    command = [sys.executable, "-m", "burst_platform.cli", "check", "--root", str(ROOT),
               "--manifests", str(MANIFESTS)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids.exists(), "the fake checkov never started"
    process.send_signal(signum)
    returncode = process.wait(timeout=30)
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()
    assert returncode == code
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid), f"process {pid} outlived the check"
    assert list(scratch.iterdir()) == []


SWALLOWED = """
import argparse, os, signal, sys
from burst_platform import cli

class Dropped:
    def __del__(self):  # Python cannot raise out of here: it swallows the handler's exception
        os.kill(os.getpid(), {signum})
        for _ in range(10_000):
            pass

def handler(args):
    Dropped()
    return {returned}

def parser():
    parser = argparse.ArgumentParser()
    parser.set_defaults(handler=handler, command="check", debug=False)
    return parser

cli.build_parser = parser
sys.exit(cli.main([]))
"""


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("returned", ["0", "1", "int('not a code')"])
def test_a_signal_that_python_swallows_still_ends_the_command_with_its_code(
    signum: int, code: int, returned: str
) -> None:
    script = SWALLOWED.format(signum=int(signum), returned=returned)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == code, result.stderr
    assert result.stderr == ""


class _Opa(http.server.BaseHTTPRequestHandler):
    """A fake OPA: healthy, accepts uploads, and answers the report query as `mode` says."""

    mode = "drip"

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, body: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(b"{}")

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.startswith("/v1/data"):
            self.send_response(204)
            self.end_headers()
        else:
            self._answer(b"{}")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"result": {"findings": [')
        try:
            while True:  # never ends: a drip (each byte within the socket timeout) or a flood
                self.wfile.write(b" " if self.mode == "drip" else b" " * 65536)
                self.wfile.flush()
                time.sleep(0.05 if self.mode == "drip" else 0)
        except OSError:
            pass


@pytest.fixture
def streaming_opa() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Opa)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_opa_timeout_is_a_total_deadline(tmp_path: Path, streaming_opa: str) -> None:
    started = time.monotonic()
    result = burst_check(
        fake_checkov(tmp_path, "exit 0"), tmp_path, "--preview", str(CLEAN), "--skip-checkov",
        "--opa-url", streaming_opa, "--opa-timeout", "2",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert "did not answer in time" in result.stderr
    assert elapsed < 15, f"took {elapsed:.1f}s with --opa-timeout 2"


def test_a_response_beyond_the_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch, streaming_opa: str
) -> None:
    import requests

    from burst_platform.check import engine

    monkeypatch.setattr(engine, "MAX_RESPONSE_BYTES", 10_000_000)
    monkeypatch.setattr(_Opa, "mode", "flood")
    with pytest.raises(engine.ResponseTooLarge):
        engine.request_bounded(requests.Session(), f"{streaming_opa}/v1/data/x", b"{}", 30.0)

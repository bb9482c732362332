"""`burst preflight`: offline preconditions fail the run, account preconditions print commands."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from burst_platform.cli import main
from burst_platform.components.team_queues import TeamQuota
from burst_platform.infra.config import parse_stack_config, read_stack_file
from tests.conftest import ROOT

GPU_PER_VCPU_LIMIT = 32  # GpuCapacityArgs.max_cpu_per_gpu, as the program leaves it


def project(tmp_path: Path, stack_text: str | None = None) -> Path:
    tmp_path.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    text = stack_text if stack_text is not None else (ROOT / "Pulumi.prod.yaml").read_text()
    (tmp_path / "Pulumi.prod.yaml").write_text(text)
    return tmp_path


def tools_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *tools: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


def preflight(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, list[str], str]:
    code = main(["preflight", "--stack", "prod", "--root", str(root)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out.splitlines(), err


def test_a_ready_stack_passes_and_lists_the_account_checks(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = project(tmp_path / "p")
    tools_on_path(monkeypatch, tmp_path, "pulumi", "aws")
    code, lines, _ = preflight(capsys, root)
    assert code == 0, lines
    assert not [line for line in lines if line.startswith("FAIL")]
    checks = [line for line in lines if line.startswith("check")]
    assert any("AWSServiceRoleForEC2Spot" in line for line in checks)
    assert any("aws-k8s-1.34-nvidia/x86_64/1.64.0/image_id" in line for line in checks)
    config = parse_stack_config(read_stack_file(root / "Pulumi.prod.yaml"))
    spot_vcpus = config.spot_gpu_limit() * GPU_PER_VCPU_LIMIT
    for region in config.regions:
        assert any(
            line.startswith(f"check {region}: quota L-3819A6DF")
            and f"at least {spot_vcpus} vCPUs" in line
            for line in lines
        ), lines
        cpu_pool_vcpus = config.spot_gpu_limit() * TeamQuota.cpu_per_gpu  # the CPU pools
        assert any(
            line.startswith(f"check {region}: quota L-34B43A08")
            and f"at least {cpu_pool_vcpus} vCPUs" in line
            for line in lines
        ), lines


def test_a_missing_tool_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = project(tmp_path / "p")
    tools_on_path(monkeypatch, tmp_path, "pulumi")
    code, lines, _ = preflight(capsys, root)
    assert code == 1
    assert (
        "FAIL  aws not on PATH: the Kubernetes provider authenticates with `aws eks get-token`"
        in lines
    )


def test_an_unreachable_api_endpoint_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (ROOT / "Pulumi.prod.yaml").read_text()
    start = text.index("    onPrem:")
    end = text.index("  burst-platform:", start)
    assert "apiAccessCidrs" not in text
    root = project(tmp_path / "p", text[:start] + text[end:])
    tools_on_path(monkeypatch, tmp_path, "pulumi", "aws")
    code, lines, _ = preflight(capsys, root)
    assert code == 1
    assert any(
        line.startswith("FAIL  eu-west-1: nothing reaches the private API endpoint")
        for line in lines
    ), lines


def test_a_broken_stack_is_exit_2_naming_the_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = (
        (ROOT / "Pulumi.prod.yaml")
        .read_text()
        .replace("amiAlias: bottlerocket@v1.64.0", "amiAlias: al2023@v20251001")
    )
    root = project(tmp_path / "p", text)
    code, lines, err = preflight(capsys, root)
    assert code == 2 and lines == []
    assert [line for line in err.splitlines() if "gpu.amiAlias" in line], err
    assert os.path.exists(root / "Pulumi.prod.yaml")


def test_attach_mode_asks_for_the_clusters_endpoints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace("    mode: create", "    mode: attach")
    assert "mode: attach" in text
    root = project(tmp_path / "p", text)
    tools_on_path(monkeypatch, tmp_path, "pulumi", "aws")
    code, lines, _ = preflight(capsys, root)
    assert code == 0, lines
    endpoint_checks = [line for line in lines if "describe-vpc-endpoints" in line]
    assert len(endpoint_checks) == 2 and all("ssmmessages" in line for line in endpoint_checks)

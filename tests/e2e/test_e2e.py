"""`make e2e`: the burst layer's Kubernetes objects through the real Pulumi engine, into a real
API server with the pinned Karpenter and Kueue CRDs (and their validation rules) installed.

One stack lives through the module, in order: `up` from empty, a preview that must show no
change, an update of a team's GPU quota and of the GPU instance families (the preview shows
exactly those updates, the API server then holds them), and `destroy` back to empty.
"""

from __future__ import annotations

import copy
import json
import runpy
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from burst.mock_runtime import run_program
from burst.plan import preview_document
from tests.e2e.control_plane import ROOT, TOOLS, ControlPlane, environment

PROGRAM = Path(__file__).parent / "program"
STACK = "e2e"
VOLUME_KEY_ID = "0f0e0d0c-e2e0-4e2e-8e2e-000000000001"
pytestmark = pytest.mark.e2e


class Stack:
    """A stack of the e2e program in a scratch project, driven with the real CLI."""

    def __init__(self, directory: Path, cluster: ControlPlane) -> None:
        self.directory = directory
        self.env = environment(directory / "pulumi-home")
        shutil.copytree(PROGRAM, directory / "project")
        self.project = directory / "project"
        raw = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
        self.config: dict[str, Any] = {
            **raw,
            "e2e:kubeconfig": cluster.kubeconfig(),
            "e2e:instanceProfileName": "burst-karpenter-node-burst-dev-eu-west-1",
            "e2e:volumeKmsKeyArn": f"arn:aws:kms:eu-west-1:111122223333:key/{VOLUME_KEY_ID}",
        }
        self.write_config()
        (directory / "state").mkdir()
        self.pulumi("login", f"file://{directory / 'state'}")
        self.pulumi("stack", "init", STACK)

    def write_config(self) -> None:
        """Write the stack file from `self.config`."""
        (self.project / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": self.config}))

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real CLI in the project; a failure shows its output."""
        result = subprocess.run(
            [str(TOOLS / "pulumi"), *args, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def preview(self, *flags: str) -> dict[str, Any]:
        """`pulumi preview --json` as the CLI prints it."""
        result = self.pulumi("preview", "--json", *flags, "--stack", STACK, check=False)
        document: dict[str, Any] = json.loads(result.stdout)
        return document


@pytest.fixture(scope="module")
def cluster() -> Iterator[ControlPlane]:
    plane = ControlPlane().start()
    try:
        plane.kubectl("apply", "--server-side", "-f", str(ROOT / ".tools" / "crds"))
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="module")
def stack(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    return Stack(tmp_path_factory.mktemp("stack"), cluster)


def objects(cluster: ControlPlane, kind: str) -> dict[str, dict[str, Any]]:
    """The API server's objects of `kind` (all namespaces), by name."""
    listed = json.loads(cluster.kubectl("get", kind, "-A", "-o", "json").stdout)["items"]
    return {item["metadata"]["name"]: item for item in listed}


def changed(document: dict[str, Any]) -> dict[str, str]:
    """URN -> op of every step that is not `same`."""
    return {s["urn"]: s["op"] for s in document["steps"] if s["op"] != "same"}


FIRST_PREVIEW: dict[str, Any] = {}


def test_up_from_empty_then_no_changes(stack: Stack, cluster: ControlPlane) -> None:
    first = stack.preview()
    FIRST_PREVIEW.update(first)
    assert not [d for d in first.get("diagnostics", []) if d.get("severity") == "error"], first
    creates = {urn for urn, op in changed(first).items() if op == "create"}
    assert any("NodePool" in urn for urn in creates) and any(
        "ClusterQueue" in urn for urn in creates
    )
    stack.pulumi("up", "--yes", "--skip-preview", "--stack", STACK)
    pools = objects(cluster, "nodepools.karpenter.sh")
    teams = [team["name"] for team in stack.config["burst-platform:teams"]]
    assert set(pools) == {f"gpu-{t}-{tier}" for t in teams for tier in ("spot", "on-demand", "cpu")}
    assert set(objects(cluster, "clusterqueues.kueue.x-k8s.io")) == {f"team-{t}" for t in teams}
    stack.pulumi("preview", "--expect-no-changes", "--stack", STACK)


def _provider_ref(reference: str) -> str:
    """A provider reference without its ID (the engine's is a UUID, the mocks' a digest)."""
    return reference.rsplit("::", 1)[0] if reference.count("::") > 3 else reference


def _comparable(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": state["type"],
        "parent": state.get("parent", ""),
        "provider": _provider_ref(state.get("provider", "")),
        "dependencies": sorted(state.get("dependencies", [])),
        "propertyDependencies": {
            k: sorted(v) for k, v in state.get("propertyDependencies", {}).items() if v
        },
    }


def test_burst_plan_gives_the_engines_first_deploy_preview(stack: Stack) -> None:
    """`burst plan`'s document (the mock runtime) against the engine's own first-deploy preview
    of the same program and config: same URNs, types, parents, providers and dependencies, and
    for Kubernetes objects the same inputs. A difference is a bug in `burst plan` or in what we
    believe the engine records."""
    assert FIRST_PREVIEW, "runs after test_up_from_empty_then_no_changes"
    config = {k: v for k, v in stack.config.items()}
    registrations = run_program(
        lambda: runpy.run_path(str(PROGRAM / "__main__.py")),
        project="burst-platform",
        stack=STACK,
        config=config,
        first_deploy=True,
    )
    planned = {s["urn"]: s["newState"] for s in preview_document(registrations, {})["steps"]}
    engine = {s["urn"]: s["newState"] for s in FIRST_PREVIEW["steps"]}
    assert sorted(planned) == sorted(engine)
    for urn, state in engine.items():
        assert _comparable(planned[urn]) == _comparable(state), urn
        if state["type"].startswith("kubernetes:") and state.get("custom"):
            assert planned[urn]["inputs"] == state["inputs"], urn


def test_a_quota_and_family_change_updates_exactly_those_objects(
    stack: Stack, cluster: ControlPlane
) -> None:
    teams = copy.deepcopy(stack.config["burst-platform:teams"])
    teams[0]["gpuQuota"] += 2
    stack.config["burst-platform:teams"] = teams
    gpu = dict(stack.config["burst-platform:gpu"])
    gpu["instanceFamilies"] = [*gpu["instanceFamilies"], "g4dn"]
    stack.config["burst-platform:gpu"] = gpu
    stack.write_config()
    updates = changed(stack.preview())
    assert set(updates.values()) == {"update"}, updates
    team = teams[0]["name"]
    kinds = {urn.split("::")[-2].rsplit("$", 1)[-1] for urn in updates}
    assert kinds <= {
        "kubernetes:karpenter.sh/v1:NodePool",
        "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue",
        "kubernetes:core/v1:ResourceQuota",
    }, updates
    pools = [urn for urn in updates if "NodePool" in urn]
    # every GPU pool (families), and the team's CPU pool (its limit follows the quota)
    assert len(pools) == 2 * len(teams) + 1 and sum(f"-{team}-" in urn for urn in pools) == 3
    assert sum("ClusterQueue" in urn for urn in updates) == 1
    stack.pulumi("up", "--yes", "--skip-preview", "--stack", STACK)
    queue = objects(cluster, "clusterqueues.kueue.x-k8s.io")[f"team-{team}"]
    gpus = [
        r["nominalQuota"]
        for flavor in queue["spec"]["resourceGroups"][0]["flavors"]
        for r in flavor["resources"]
        if r["name"] == "nvidia.com/gpu"
    ]
    assert sum(int(g) for g in gpus) == teams[0]["gpuQuota"]
    spot = objects(cluster, "nodepools.karpenter.sh")[f"gpu-{team}-spot"]
    families = next(
        r["values"]
        for r in spot["spec"]["template"]["spec"]["requirements"]
        if r["key"] == "karpenter.k8s.aws/instance-family"
    )
    assert "g4dn" in families
    stack.pulumi("preview", "--expect-no-changes", "--stack", STACK)


def test_destroy_leaves_nothing(stack: Stack, cluster: ControlPlane) -> None:
    stack.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK)
    for kind in ("nodepools.karpenter.sh", "ec2nodeclasses.karpenter.k8s.aws",
                 "clusterqueues.kueue.x-k8s.io", "resourceflavors.kueue.x-k8s.io",
                 "localqueues.kueue.x-k8s.io"):  # fmt: skip
        assert objects(cluster, kind) == {}, kind
    namespaces = set(objects(cluster, "namespaces"))
    assert not {team["name"] for team in stack.config["burst-platform:teams"]} & namespaces

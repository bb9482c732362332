"""`make e2e`: the burst layer's Kubernetes objects through the real Pulumi engine, into a real
API server with the pinned Karpenter and Kueue CRDs (and their validation rules) installed.

One stack lives through the module, in order: `up` from empty, a preview that must show no
change, an update of a team's GPU quota and of the GPU instance families (the preview shows
exactly those updates, the API server then holds them), a replacement, objects the API server
refuses (the preview fails on its dry run), a team removed, and `destroy` back to empty.

The engine's own `pulumi preview --json` documents along the way are saved into
`tests/corpus/engine/` and must get the verdicts of its expected.yaml from `burst check` (the
same expectations `make test` holds the saved copies to).
"""

from __future__ import annotations

import copy
import json
import re
import runpy
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from burst_platform.check.normalise import UNKNOWN_SENTINEL as UNKNOWN
from burst_platform.mock_runtime import run_program
from burst_platform.plan import preview_document
from tests.e2e.control_plane import ROOT, TOOLS, ControlPlane, environment, run_group
from tests.test_corpus import ENGINE_CORPUS, expectations, verdict_problems

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
        self.encryption_salt: str | None = None
        self.config: dict[str, Any] = {
            **raw,
            "e2e:instanceProfileName": "burst-karpenter-node-burst-dev-eu-west-1",
            "e2e:volumeKmsKeyArn": f"arn:aws:kms:eu-west-1:111122223333:key/{VOLUME_KEY_ID}",
        }
        self.write_config()
        (directory / "state").mkdir()
        self.pulumi("login", f"file://{directory / 'state'}")
        self.pulumi("stack", "init", STACK)
        # A secret, as a user keeps it: the preview document then shows "[secret]", not a token.
        self.pulumi("config", "set", "--secret", "--stack", STACK, "e2e:kubeconfig",
                    cluster.kubeconfig())  # fmt: skip
        written = yaml.safe_load((self.project / f"Pulumi.{STACK}.yaml").read_text())
        self.config = {**written["config"], **self.config}
        self.encryption_salt = written.get("encryptionsalt")
        self.write_config()

    def write_config(self) -> None:
        """Write the stack file from `self.config`."""
        stack_file: dict[str, Any] = {"config": self.config}
        if self.encryption_salt:
            stack_file["encryptionsalt"] = self.encryption_salt
        (self.project / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(stack_file))

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real CLI in the project; a failure shows its output."""
        result = run_group(
            [str(TOOLS / "pulumi"), *args, "--non-interactive"], cwd=self.project, env=self.env
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def preview(self, *flags: str, keep: str = "") -> dict[str, Any]:
        """`pulumi preview --json` as the CLI prints it; `keep` names it in the engine corpus."""
        result = self.pulumi("preview", "--json", *flags, "--stack", STACK, check=False)
        document: dict[str, Any] = json.loads(result.stdout)
        if keep:
            keep_in_corpus(keep, result.stdout, self.directory)
        return document


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"')


def stable(text: str, scratch: Path) -> str:
    """The CLI's document with what differs from run to run made constant (the scratch and
    repository paths, UUIDs, timestamps, the preview's duration), written one step per line.
    Nothing else is changed."""
    text = text.replace(str(scratch), "/scratch").replace(str(ROOT), "/repo")
    uuids: dict[str, str] = {}

    def numbered(match: re.Match[str]) -> str:
        if match.group(0) == UNKNOWN:  # Pulumi's unknown sentinel stays what it is
            return match.group(0)
        return uuids.setdefault(match.group(0), f"00000000-0000-4000-8000-{len(uuids) + 1:012d}")

    text = _TIMESTAMP.sub('"2026-01-01T00:00:00Z"', _UUID.sub(numbered, text))
    document = json.loads(text)
    if "duration" in document:
        document["duration"] = 0
    lines = [
        f"{json.dumps(key)}:[\n" + ",\n".join(json.dumps(step, separators=(",", ":"))
                                    for step in value) + "\n]"
        if key == "steps" else f"{json.dumps(key)}:{json.dumps(value, separators=(',', ':'))}"
        for key, value in document.items()
    ]  # fmt: skip
    return "{\n" + ",\n".join(lines) + "\n}\n"


def keep_in_corpus(name: str, text: str, scratch: Path) -> None:
    """Save the engine's document as tests/corpus/engine/<name>.json and check that `burst
    check` gives it the verdicts of the corpus's expected.yaml."""
    path = ENGINE_CORPUS / f"{name}.json"
    path.write_text(stable(text, scratch))
    expected = expectations(ENGINE_CORPUS)
    if __import__("os").environ.get("BOOTSTRAP"):
        return
    assert name in expected, f"tests/corpus/engine/expected.yaml has no verdicts for {name}"
    assert verdict_problems(path, expected[name]) == [], name


@pytest.fixture(scope="module")
def stack(cluster: ControlPlane) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="burst-e2e-stack-") as scratch:
        yield Stack(Path(scratch), cluster)


def objects(cluster: ControlPlane, kind: str) -> dict[str, dict[str, Any]]:
    """The API server's objects of `kind` (all namespaces), by name."""
    listed = json.loads(cluster.kubectl("get", kind, "-A", "-o", "json").stdout)["items"]
    return {item["metadata"]["name"]: item for item in listed}


def changed(document: dict[str, Any]) -> dict[str, str]:
    """URN -> op of every step that is not `same`."""
    return {s["urn"]: s["op"] for s in document["steps"] if s["op"] != "same"}


FIRST_PREVIEW: dict[str, Any] = {}


def test_up_from_empty_then_no_changes(stack: Stack, cluster: ControlPlane) -> None:
    first = stack.preview(keep="first-deploy")
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
    stack.preview("--show-sames", keep="unchanged-show-sames")
    stack.preview(keep="unchanged-without-sames")


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
    updates = changed(stack.preview(keep="update-without-sames"))
    assert changed(stack.preview("--show-sames", keep="update-show-sames")) == updates
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


def test_a_replacement_is_previewed_as_the_cli_shows_it(stack: Stack) -> None:
    pool = next(
        s["urn"] for s in stack.preview("--show-sames")["steps"] if s["urn"].endswith("-spot")
        and "NodePool" in s["urn"]
    )  # fmt: skip
    steps = changed(stack.preview("--show-sames", "--show-replacement-steps", "--replace", pool,
                                  keep="replace-with-steps"))  # fmt: skip
    assert steps == {pool: "create-replacement"} or set(steps.values()) <= {
        "create-replacement", "delete-replaced", "replace"
    }, steps  # fmt: skip
    assert changed(stack.preview("--show-sames", "--replace", pool, keep="replace-logical")) == {
        pool: "replace"
    }


BROKEN = {
    "nodepool-budget-without-duration": (
        {"kind": "NodePool", "name": "gpu-quant-spot", "path": "spec.disruption.budgets", "value": [
            {"nodes": "10%", "schedule": "@daily"}]},
        "'schedule' must be set with 'duration'",
    ),
    "nodepool-fewer-values-than-min-values": (
        {"kind": "NodePool", "name": "gpu-quant-spot", "path": "spec.template.spec.requirements",
         "value": [
            {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5"],
             "minValues": 2}]},
        "requirements with 'minValues' must have at least that many values specified in the "
        "'values' field",
    ),
    "clusterqueue-quota-not-a-quantity": (
        {"kind": "ClusterQueue", "name": "team-quant", "path": "spec.resourceGroups", "value": [
            {"coveredResources": ["nvidia.com/gpu"], "flavors": [
                {"name": "gpu-spot", "resources": [
                    {"name": "nvidia.com/gpu", "nominalQuota": "lots"}]}]}]},
        "nominalQuota in body should match",
    ),
}  # fmt: skip
"""Objects the components never emit, set by `e2e:breakObjects`, and the CRD's refusal."""


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_api_server_refuses_invalid_objects_at_preview(stack: Stack, case: str) -> None:
    edit, message = BROKEN[case]
    stack.config["e2e:breakObjects"] = [edit]
    stack.write_config()
    try:
        name = "failed-preview" if case == min(BROKEN) else ""
        document = stack.preview("--show-sames", keep=name)
    finally:
        del stack.config["e2e:breakObjects"]
        stack.write_config()
    errors = [d for d in document.get("diagnostics", []) if d.get("severity") == "error"]
    assert any(message in d.get("message", "") for d in errors), errors
    stack.pulumi("preview", "--expect-no-changes", "--stack", STACK)


def test_a_removed_team_is_previewed_as_deletes(stack: Stack) -> None:
    original = copy.deepcopy(stack.config)
    team = stack.config["burst-platform:teams"].pop()["name"]
    for data_class in stack.config["burst-platform:dataClasses"].values():
        data_class["datasets"] = [d for d in data_class["datasets"] if d["team"] != team]
    stack.write_config()
    try:
        steps = changed(stack.preview("--show-sames", keep="team-removed-show-sames"))
        without = changed(stack.preview(keep="team-removed-without-sames"))
    finally:
        stack.config = original
        stack.write_config()
    deleted = {urn for urn, op in steps.items() if op == "delete"}
    assert deleted and all(f"-{team}" in urn.rsplit("::", 1)[-1] for urn in deleted), steps
    assert without == steps


def test_destroy_leaves_nothing(stack: Stack, cluster: ControlPlane) -> None:
    stack.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK)
    for kind in ("nodepools.karpenter.sh", "ec2nodeclasses.karpenter.k8s.aws",
                 "clusterqueues.kueue.x-k8s.io", "resourceflavors.kueue.x-k8s.io",
                 "localqueues.kueue.x-k8s.io"):  # fmt: skip
        assert objects(cluster, kind) == {}, kind
    namespaces = set(objects(cluster, "namespaces"))
    assert not {team["name"] for team in stack.config["burst-platform:teams"]} & namespaces

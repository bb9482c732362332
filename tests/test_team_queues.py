"""TeamQueues: Kueue flavors, per-team ClusterQueues and namespaces, priorities and backstops."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from burst_platform.components.conventions import ComponentArgsError
from burst_platform.components.gpu_capacity import GpuCapacity, GpuCapacityArgs
from burst_platform.components.team_queues import (
    TeamQueues,
    TeamQueuesArgs,
    TeamQuota,
    cluster_queue_spec,
    kueue_configuration,
    kueue_values,
    resource_flavor_specs,
    resource_quota_hard,
)
from burst_platform.components.versions import KUEUE_VERSION
from burst_platform.mock_runtime import RecordingMonitor, Registration, run_program
from tests.k8s_validation import validate_object

TEAMS = (
    TeamQuota(name="ml", gpu_quota=16, on_demand_gpus=4, gpu_borrowing_limit=8),
    TeamQuota(name="quant", gpu_quota=8, namespace="quant-research"),
)
BASE: dict[str, Any] = {
    "teams": TEAMS,
    "environment": "dev",
}
KUEUE_KINDS = {"ResourceFlavor", "WorkloadPriorityClass", "ClusterQueue", "LocalQueue"}


RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.34",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/audit-version": "v1.34",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "v1.34",
}
"""Pod Security Standards labels of every team namespace (written out: the test is a spec)."""


def make_args(**overrides: Any) -> TeamQueuesArgs:
    return TeamQueuesArgs(**{**BASE, **overrides})


class Deployment:
    """Registrations, declared dependencies (by child name) and outputs of one run."""

    def __init__(self, args: TeamQueuesArgs, monkeypatch: pytest.MonkeyPatch) -> None:
        self.dependencies: dict[str, list[str]] = {}
        self.outputs: dict[str, Any] = {}
        register = RecordingMonitor.RegisterResource

        def recording(monitor: RecordingMonitor, request: Any) -> Any:
            response = register(monitor, request)
            self.dependencies[request.name] = [urn.split("::")[-1] for urn in request.dependencies]
            return response

        monkeypatch.setattr(RecordingMonitor, "RegisterResource", recording)

        def program() -> None:
            provider = k8s.Provider("k8s", kubeconfig="{}")
            queues = TeamQueues("queues", args, opts=pulumi.ResourceOptions(providers=[provider]))
            pulumi.Output.all(
                queues.namespaces,
                queues.cluster_queues,
                queues.local_queue_name,
                queues.priority_classes,
            ).apply(
                lambda values: self.outputs.update(
                    zip(
                        ("namespaces", "cluster_queues", "local_queue", "priorities"),
                        values,
                        strict=True,
                    )
                )
            )

        self.registrations = run_program(program, project="burst-platform", stack="test")

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [r.inputs for r in self.registrations if r.inputs.get("kind") == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        (obj,) = [o for o in self.kind(kind) if o["metadata"]["name"] == name]
        return obj

    def children(self) -> list[Registration]:
        component = next(r for r in self.registrations if r.type == "burst:kueue:TeamQueues")
        return [r for r in self.registrations if r.parent == component.urn]


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Deployment:
    return Deployment(make_args(), monkeypatch)


def test_children_are_parented_and_use_the_program_provider(deployed: Deployment) -> None:
    children = deployed.children()
    assert len(children) == 2 + 2 + 3 + 3 + 2 * 5
    assert all("pulumi:providers:kubernetes::k8s" in r.provider for r in children)
    assert all(r.name.startswith("queues-") for r in children)


def test_outputs(deployed: Deployment) -> None:
    assert deployed.outputs == {
        "namespaces": {"ml": "ml", "quant": "quant-research"},
        "cluster_queues": {"ml": "team-ml", "quant": "team-quant"},
        "local_queue": "default",
        "priorities": {
            "critical": "burst-critical",
            "normal": "burst-normal",
            "background": "burst-background",
        },
    }


def test_kueue_is_installed_pinned_and_every_kueue_object_waits_for_it(
    deployed: Deployment,
) -> None:
    (release,) = [r for r in deployed.registrations if r.type == "kubernetes:helm.sh/v3:Release"]
    assert release.inputs["chart"] == "oci://registry.k8s.io/kueue/charts/kueue"
    assert release.inputs["version"] == KUEUE_VERSION
    assert release.inputs["namespace"] == "kueue-system"
    assert release.inputs["name"] == "kueue"
    assert not release.inputs.get("createNamespace")
    (namespace,) = [
        r
        for r in deployed.registrations
        if r.type == "kubernetes:core/v1:Namespace"
        and r.inputs["metadata"]["name"] == "kueue-system"
    ]
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert namespace.name in deployed.dependencies[release.name]
    image = release.inputs["values"]["controllerManager"]["manager"]["image"]
    assert image == {"tag": f"v{KUEUE_VERSION}", "pullPolicy": "IfNotPresent"}
    kueue_children = [
        r for r in deployed.children() if r.inputs.get("apiVersion") == "kueue.x-k8s.io/v1beta2"
    ]
    assert {r.inputs["kind"] for r in kueue_children} == KUEUE_KINDS
    for child in kueue_children:
        assert "queues-kueue" in deployed.dependencies[child.name], child.name


def test_image_registry_points_the_controller_at_the_mirror(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mirror = "111122223333.dkr.ecr.us-east-1.amazonaws.com/registry-k8s-io"
    deployment = Deployment(make_args(image_registry=mirror), monkeypatch)
    (release,) = [r for r in deployment.registrations if r.type == "kubernetes:helm.sh/v3:Release"]
    image = release.inputs["values"]["controllerManager"]["manager"]["image"]
    assert image["repository"] == f"{mirror}/kueue/kueue"
    assert image["tag"] == f"v{KUEUE_VERSION}"


def test_without_install_there_is_no_release_and_no_dependency_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment = Deployment(make_args(install_kueue=False), monkeypatch)
    assert not [r for r in deployment.registrations if "helm" in r.type]
    assert deployment.kind("ClusterQueue")
    assert all("queues-kueue" not in deps for deps in deployment.dependencies.values())


def test_flavors_map_quota_onto_the_node_pools(deployed: Deployment) -> None:
    spot = deployed.named("ResourceFlavor", "gpu-spot")
    on_demand = deployed.named("ResourceFlavor", "gpu-on-demand")
    assert "namespace" not in spot["metadata"]
    # Shared by the teams (Kueue lends quota only within a flavor): no pool name, so each team's
    # pods land on its own pools through their own burst.io/team selector.
    assert spot["spec"]["nodeLabels"] == {"karpenter.sh/capacity-type": "spot"}
    assert on_demand["spec"]["nodeLabels"] == {"karpenter.sh/capacity-type": "on-demand"}
    gpu_taint = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
    gpu_toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert spot["spec"]["nodeTaints"] == [
        {"key": "spot", "value": "true", "effect": "NoSchedule"},
        gpu_taint,
    ]
    assert spot["spec"]["tolerations"] == [gpu_toleration]
    assert on_demand["spec"]["nodeTaints"] == [gpu_taint]
    assert on_demand["spec"]["tolerations"] == [gpu_toleration]


def test_without_opt_in_kueue_injects_the_spot_toleration() -> None:
    spot = resource_flavor_specs(make_args(spot_opt_in=False))["gpu-spot"]
    assert spot["tolerations"] == [
        {"key": "spot", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    ]


def test_spot_opt_in_leaves_the_spot_toleration_to_the_workload() -> None:
    specs = resource_flavor_specs(make_args(spot_opt_in=True, spot_taint_key="burst.io/spot"))
    spot = specs["gpu-spot"]
    assert {"key": "burst.io/spot", "value": "true", "effect": "NoSchedule"} in spot["nodeTaints"]
    assert [t["key"] for t in spot["tolerations"]] == ["nvidia.com/gpu"]


def test_every_spot_flavor_carries_the_spot_taint_or_toleration() -> None:
    for opt_in in (False, True):
        spot = resource_flavor_specs(make_args(spot_opt_in=opt_in))["gpu-spot"]
        keys = {t["key"] for t in spot["nodeTaints"]} | {t["key"] for t in spot["tolerations"]}
        assert "spot" in keys


def test_cluster_queue_per_team(deployed: Deployment) -> None:
    queue = deployed.named("ClusterQueue", "team-ml")
    assert queue["apiVersion"] == "kueue.x-k8s.io/v1beta2"
    assert queue["metadata"]["labels"] == {"team": "ml", "environment": "dev"}
    assert "namespace" not in queue["metadata"]
    spec = queue["spec"]
    assert spec["cohortName"] == "burst-gpu"
    assert "cohort" not in spec
    assert spec["namespaceSelector"] == {"matchLabels": {"team": "ml"}}
    (group,) = spec["resourceGroups"]
    assert group["coveredResources"] == ["cpu", "memory", "nvidia.com/gpu"]
    assert group["flavors"] == [
        {
            "name": "gpu-spot",
            "resources": [
                {"name": "cpu", "nominalQuota": "144", "borrowingLimit": "96"},
                {"name": "memory", "nominalQuota": "1152Gi", "borrowingLimit": "768Gi"},
                {"name": "nvidia.com/gpu", "nominalQuota": "12", "borrowingLimit": "8"},
            ],
        },
        {
            "name": "gpu-on-demand",
            "resources": [
                {"name": "cpu", "nominalQuota": "48", "borrowingLimit": "0"},
                {"name": "memory", "nominalQuota": "384Gi", "borrowingLimit": "0Gi"},
                {"name": "nvidia.com/gpu", "nominalQuota": "4", "borrowingLimit": "0"},
            ],
        },
    ]
    assert spec["preemption"] == {
        "withinClusterQueue": "LowerPriority",
        "reclaimWithinCohort": "Any",
        "borrowWithinCohort": {"policy": "LowerPriority", "maxPriorityThreshold": 1000},
    }
    assert spec["flavorFungibility"] == {
        "whenCanBorrow": "MayStopSearch",
        "whenCanPreempt": "TryNextFlavor",
    }
    assert spec["queueingStrategy"] == "BestEffortFIFO"


def test_namespaces_local_queues_and_backstops(deployed: Deployment) -> None:
    namespace = deployed.named("Namespace", "quant-research")
    assert namespace["metadata"]["labels"] == {"team": "quant", "environment": "dev", **RESTRICTED}
    local_queues = {q["metadata"]["namespace"]: q for q in deployed.kind("LocalQueue")}
    assert set(local_queues) == {"ml", "quant-research"}
    quant_queue = local_queues["quant-research"]
    assert quant_queue["metadata"]["name"] == "default"
    assert quant_queue["metadata"]["labels"]["team"] == "quant"
    assert quant_queue["spec"] == {"clusterQueue": "team-quant"}
    assert "queues-quant-namespace" in deployed.dependencies["queues-quant-local-queue"]
    assert "queues-quant-cluster-queue" in deployed.dependencies["queues-quant-local-queue"]
    quotas = {q["metadata"]["namespace"]: q for q in deployed.kind("ResourceQuota")}
    assert quotas["ml"]["spec"]["hard"] == {
        "requests.nvidia.com/gpu": "24",
        "requests.cpu": "288",
        "requests.memory": "2304Gi",
    }
    assert quotas["quant-research"]["spec"]["hard"]["requests.nvidia.com/gpu"] == "8"
    limit_ranges = {r["metadata"]["namespace"]: r for r in deployed.kind("LimitRange")}
    assert limit_ranges["ml"]["spec"] == {
        "limits": [{"type": "Container", "defaultRequest": {"cpu": "500m", "memory": "2Gi"}}]
    }


def test_cluster_queues_select_exactly_their_team_namespace(deployed: Deployment) -> None:
    namespaces = deployed.kind("Namespace")
    for queue in deployed.kind("ClusterQueue"):
        selector = queue["spec"]["namespaceSelector"]["matchLabels"]
        selected = [
            n["metadata"]["name"]
            for n in namespaces
            if selector.items() <= n["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, queue["metadata"]["name"]


def test_priority_ladder(deployed: Deployment) -> None:
    expected = {
        "burst-critical": (100000, "PreemptLowerPriority"),
        "burst-normal": (10000, "PreemptLowerPriority"),
        "burst-background": (1000, "Never"),
    }
    classes = {p["metadata"]["name"]: p for p in deployed.kind("PriorityClass")}
    assert {name: (p["value"], p["preemptionPolicy"]) for name, p in classes.items()} == expected
    # never the cluster default (absent means false; the engine records no explicit false)
    assert all(not p.get("globalDefault") and p["description"] for p in classes.values())
    workload_classes = {w["metadata"]["name"]: w for w in deployed.kind("WorkloadPriorityClass")}
    assert {n: w["value"] for n, w in workload_classes.items()} == {
        n: v for n, (v, _) in expected.items()
    }
    assert all(w["description"] and "spec" not in w for w in workload_classes.values())
    for queue in deployed.kind("ClusterQueue"):
        threshold = queue["spec"]["preemption"]["borrowWithinCohort"]["maxPriorityThreshold"]
        assert threshold < expected["burst-normal"][0]


def test_every_emitted_object_validates(deployed: Deployment) -> None:
    objects = [r.inputs for r in deployed.children() if "kind" in r.inputs]
    assert {o["kind"] for o in objects} == KUEUE_KINDS | {
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "PriorityClass",
    }
    for obj in objects:
        assert validate_object(obj) == []


def test_every_team_pool_can_serve_the_flavor_of_its_capacity_type() -> None:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        opts = pulumi.ResourceOptions(providers=[provider])
        capacities = [
            GpuCapacity(
                f"gpu-{team}",
                GpuCapacityArgs(
                    cluster_name="burst",
                    environment="dev",
                    instance_profile_name="node",
                    discovery_tag_value="burst",
                    volume_kms_key_arn="arn:aws:kms:us-east-1:111122223333:key/abc",
                    spot_gpu_limit=24,
                    on_demand_gpu_limit=4,
                    name_prefix=f"gpu-{team}",
                    team=team,
                    spot_taint_key="burst.io/spot",
                ),
                opts=opts,
            )
            for team in ("quant", "ml")
        ]
        TeamQueues("queues", make_args(spot_taint_key=capacities[0].spot_taint_key), opts=opts)

    recorded = run_program(program, project="burst-platform", stack="test")
    flavors = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in recorded
        if r.inputs.get("kind") == "ResourceFlavor"
    }
    assert flavors["gpu-spot"]["nodeTaints"][0]["key"] == "burst.io/spot"
    pools = [r.inputs["spec"]["template"] for r in recorded if r.inputs.get("kind") == "NodePool"]
    assert len(pools) == 4
    for flavor in flavors.values():
        serving = [
            pool
            for pool in pools
            if all(
                any(
                    req["key"] == key and req["operator"] == "In" and value in req["values"]
                    for req in pool["spec"]["requirements"]
                )
                for key, value in flavor["nodeLabels"].items()
            )
        ]
        assert {pool["metadata"]["labels"]["burst.io/team"] for pool in serving} == {"quant", "ml"}


def test_options_reach_the_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    team = TeamQuota(
        name="research",
        gpu_quota=4,
        on_demand_gpus=4,
        cpu_per_gpu=8,
        memory_per_gpu_gi=64,
        namespace="research-jobs",
    )
    deployment = Deployment(
        make_args(
            teams=[team],
            cohort="gpu-pool",
            environment="prod",
            default_cpu_request="1",
            default_memory_request="4Gi",
        ),
        monkeypatch,
    )
    (queue,) = deployment.kind("ClusterQueue")
    assert queue["spec"]["cohortName"] == "gpu-pool"
    spot, on_demand = queue["spec"]["resourceGroups"][0]["flavors"]
    assert spot["resources"][2] == {
        "name": "nvidia.com/gpu",
        "nominalQuota": "0",
        "borrowingLimit": "0",
    }
    assert on_demand["resources"] == [
        {"name": "cpu", "nominalQuota": "32", "borrowingLimit": "0"},
        {"name": "memory", "nominalQuota": "256Gi", "borrowingLimit": "0Gi"},
        {"name": "nvidia.com/gpu", "nominalQuota": "4", "borrowingLimit": "0"},
    ]
    (namespace,) = [
        n for n in deployment.kind("Namespace") if n["metadata"]["name"] != "kueue-system"
    ]
    assert namespace["metadata"] == {
        "name": "research-jobs",
        "labels": {"team": "research", "environment": "prod", **RESTRICTED},
    }
    (limit_range,) = deployment.kind("LimitRange")
    assert limit_range["spec"]["limits"][0]["defaultRequest"] == {"cpu": "1", "memory": "4Gi"}
    for obj in (r.inputs for r in deployment.children() if "kind" in r.inputs):
        assert validate_object(obj) == []


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: TeamQuota(name="ML", gpu_quota=1), "teams.name"),
        (lambda: TeamQuota(name="ml", gpu_quota=-1), "teams[ml].gpu_quota"),
        (lambda: TeamQuota(name="ml", gpu_quota=0), "teams[ml].gpu_quota"),
        (lambda: TeamQuota(name="ml", gpu_quota=2.5), "teams[ml].gpu_quota"),  # type: ignore[arg-type]
        (lambda: TeamQuota(name="ml", gpu_quota=2, on_demand_gpus=3), "teams[ml].on_demand_gpus"),
        (
            lambda: TeamQuota(name="ml", gpu_quota=2, gpu_borrowing_limit=-1),
            "teams[ml].gpu_borrowing_limit",
        ),
        (lambda: TeamQuota(name="ml", gpu_quota=2, cpu_per_gpu=0), "teams[ml].cpu_per_gpu"),
        (
            lambda: TeamQuota(name="ml", gpu_quota=2, memory_per_gpu_gi=0),
            "teams[ml].memory_per_gpu_gi",
        ),
        (lambda: TeamQuota(name="ml", gpu_quota=2, namespace="Bad_NS"), "teams[ml].namespace"),
        (lambda: TeamQuota(name="ml", gpu_quota=2, namespace="kube-system"), "teams[ml].namespace"),
        (lambda: TeamQuota(name="default", gpu_quota=2), "teams[default].namespace"),
        (lambda: make_args(teams=[]), "teams"),
        (lambda: make_args(teams="ml"), "teams"),
        (lambda: make_args(teams=[{"name": "ml"}]), "teams"),
        (lambda: make_args(teams=[TEAMS[0], TEAMS[0]]), "teams"),
        (
            lambda: make_args(
                teams=[TEAMS[0], TeamQuota(name="other", gpu_quota=1, namespace="ml")]
            ),
            "teams",
        ),
        (lambda: make_args(environment="Dev"), "environment"),
        (lambda: make_args(cohort=""), "cohort"),
        (lambda: make_args(spot_taint_key="bad key"), "spot_taint_key"),
        (lambda: make_args(spot_taint_key="nvidia.com/gpu"), "spot_taint_key"),
        (lambda: make_args(image_registry="https://mirror.example.com"), "image_registry"),
        (lambda: make_args(image_registry="mirror.example.com/"), "image_registry"),
        (lambda: make_args(default_cpu_request="one"), "default_cpu_request"),
        (lambda: make_args(default_memory_request="2GB"), "default_memory_request"),
        (lambda: make_args(spot_pool_gpu_limit=15), "spot_pool_gpu_limit"),
        (lambda: make_args(on_demand_pool_gpu_limit=3), "on_demand_pool_gpu_limit"),
        (lambda: make_args(on_demand_pool_gpu_limit=-1), "on_demand_pool_gpu_limit"),
    ],
)
def test_bad_args_name_the_field(make: Any, field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        make()
    assert error.value.field == field


def test_pool_limits_that_fit_are_accepted() -> None:
    args = make_args(spot_pool_gpu_limit=20, on_demand_pool_gpu_limit=4)
    assert args.spot_pool_gpu_limit == 20


_team_name = st.from_regex(r"^[a-z][a-z0-9]{0,10}$", fullmatch=True).filter(
    lambda name: name != "default"
)


@st.composite
def teams(draw: st.DrawFn) -> list[TeamQuota]:
    out = []
    for name in draw(st.lists(_team_name, min_size=1, max_size=5, unique=True)):
        quota = draw(st.integers(0, 512))
        out.append(
            TeamQuota(
                name=name,
                gpu_quota=quota,
                on_demand_gpus=draw(st.integers(0, quota)),
                gpu_borrowing_limit=draw(st.integers(0 if quota else 1, 256)),
                cpu_per_gpu=draw(st.integers(1, 96)),
                memory_per_gpu_gi=draw(st.integers(1, 1024)),
            )
        )
    return out


def _gpu(flavor: dict[str, Any]) -> dict[str, str]:
    (resource,) = [r for r in flavor["resources"] if r["name"] == "nvidia.com/gpu"]
    return resource


@settings(max_examples=40, deadline=None)
@given(teams())
def test_any_valid_quota_gives_queues_kueue_accepts(team_list: list[TeamQuota]) -> None:
    args = make_args(teams=team_list)
    for team in args.teams:
        spec = cluster_queue_spec(team, args.cohort)
        (group,) = spec["resourceGroups"]
        spot, on_demand = group["flavors"]
        assert [spot["name"], on_demand["name"]] == ["gpu-spot", "gpu-on-demand"]
        for flavor in (spot, on_demand):
            assert [r["name"] for r in flavor["resources"]] == group["coveredResources"]
        assert int(_gpu(spot)["nominalQuota"]) == team.gpu_quota - team.on_demand_gpus
        assert int(_gpu(spot)["borrowingLimit"]) == team.gpu_borrowing_limit
        assert int(_gpu(on_demand)["nominalQuota"]) == team.on_demand_gpus
        assert _gpu(on_demand)["borrowingLimit"] == "0"
        assert int(resource_quota_hard(team)["requests.nvidia.com/gpu"]) == (
            team.gpu_quota + team.gpu_borrowing_limit
        )
        obj = {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ClusterQueue",
            "metadata": {"name": f"team-{team.name}"},
            "spec": spec,
        }
        assert validate_object(obj) == []


def test_kueue_runs_on_the_system_nodes() -> None:
    values = kueue_values(None, {"burst.io/node-role": "system"})["controllerManager"]
    assert values["nodeSelector"] == {"burst.io/node-role": "system"}
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in values["tolerations"]
    assert kueue_values(None)["controllerManager"]["nodeSelector"] == {}


def _json_fields(source: str, struct: str) -> set[str]:
    """The JSON field names of a Go struct (inline members contribute nothing themselves)."""
    body = re.search(rf"^type {struct} struct {{\n(.*?)^}}", source, re.S | re.M)
    assert body, struct
    return {m for m in re.findall(r'json:"([^",]*)', body.group(1)) if m}


def test_kueue_configuration_uses_kueue_s_own_field_names() -> None:
    """Every key of the controller Configuration is a field of Kueue's Go types at the pinned
    version (sigs.k8s.io/kueue apis/config/v1beta2, from the Go module cache set-up fills)."""
    modcache = subprocess.run(
        ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True
    ).stdout.strip()
    types = Path(modcache) / f"sigs.k8s.io/kueue@v{KUEUE_VERSION}/apis/config/v1beta2"
    source = (types / "configuration_types.go").read_text()
    config = kueue_configuration()
    top = _json_fields(source, "Configuration") | _json_fields(source, "ControllerManager")
    assert set(config) - {"apiVersion", "kind"} <= top
    wait = config["waitForPodsReady"]
    assert set(wait) <= _json_fields(source, "WaitForPodsReady")
    assert set(wait["requeuingStrategy"]) <= _json_fields(source, "RequeuingStrategy")
    assert wait["requeuingStrategy"]["timestamp"] in {"Eviction", "Creation"}
    assert set(config["leaderElection"]) <= {"leaderElect", "resourceName"}


def test_kueue_is_highly_available_and_releases_stuck_quota() -> None:
    values = kueue_values(None)
    assert values["controllerManager"]["replicas"] == 2
    assert values["controllerManager"]["podDisruptionBudget"] == {
        "enabled": True,
        "minAvailable": 1,
    }
    config = yaml.safe_load(values["managerConfig"]["controllerManagerConfigYaml"])
    assert config == kueue_configuration()
    assert config["leaderElection"]["leaderElect"] is True
    assert config["waitForPodsReady"]["timeout"] == "10m"
    assert config["manageJobsWithoutQueueName"] is True
    assert config["managedJobsNamespaceSelector"] == {
        "matchExpressions": [{"key": "team", "operator": "Exists"}]
    }

"""GpuCapacity: the EC2NodeClass and the spot / on-demand NodePool ladder it emits."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from burst_platform.components.conventions import ComponentArgsError
from burst_platform.components.gpu_capacity import (
    DisruptionBudget,
    GpuCapacity,
    GpuCapacityArgs,
    node_class_spec,
    node_pool_spec,
)
from burst_platform.mock_runtime import Registration, run_program
from tests.k8s_validation import validate_object

KMS_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BASE: dict[str, Any] = {
    "cluster_name": "burst-use1",
    "environment": "dev",
    "instance_profile_name": "burst-use1-node",
    "discovery_tag_value": "burst-use1",
    "volume_kms_key_arn": KMS_ARN,
    "spot_gpu_limit": 32,
    "on_demand_gpu_limit": 8,
}
GPU_REQUIREMENT_KEYS = {
    "karpenter.sh/capacity-type",
    "kubernetes.io/arch",
    "kubernetes.io/os",
    "karpenter.k8s.aws/instance-family",
    "karpenter.k8s.aws/instance-gpu-manufacturer",
    "node.kubernetes.io/instance-type",
}


def make_args(**overrides: Any) -> GpuCapacityArgs:
    return GpuCapacityArgs(**{**BASE, **overrides})


def deploy(args: GpuCapacityArgs) -> tuple[list[Registration], dict[str, Any]]:
    outputs: dict[str, Any] = {}

    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        capacity = GpuCapacity("gpu", args, opts=pulumi.ResourceOptions(providers=[provider]))
        pulumi.Output.all(
            capacity.node_class_name,
            capacity.spot_pool_name,
            capacity.on_demand_pool_name,
            capacity.spot_taint_key,
        ).apply(
            lambda values: outputs.update(
                zip(("node_class", "spot", "on_demand", "taint"), values, strict=True)
            )
        )

    return run_program(program, project="burst-platform", stack="test"), outputs


def by_kind(registrations: list[Registration]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for registration in registrations:
        if "kind" in registration.inputs:
            kinds.setdefault(registration.inputs["kind"], []).append(registration.inputs)
    return kinds


def pools(registrations: list[Registration]) -> dict[str, dict[str, Any]]:
    return {pool["metadata"]["name"]: pool["spec"] for pool in by_kind(registrations)["NodePool"]}


def requirement(spec: dict[str, Any], key: str) -> dict[str, Any]:
    matches = [r for r in spec["template"]["spec"]["requirements"] if r["key"] == key]
    assert len(matches) == 1, key
    return matches[0]


@pytest.fixture(scope="module")
def default_run() -> tuple[list[Registration], dict[str, Any]]:
    return deploy(make_args())


def test_children_are_parented_and_use_the_program_provider(default_run: Any) -> None:
    registrations, _ = default_run
    component = next(r for r in registrations if r.type == "burst:karpenter:GpuCapacity")
    children = [r for r in registrations if r.parent == component.urn]
    assert sorted(r.type for r in children) == [
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
        "kubernetes:karpenter.sh/v1:NodePool",
        "kubernetes:karpenter.sh/v1:NodePool",
    ]
    assert {r.name for r in children} == {"gpu-node-class", "gpu-spot", "gpu-on-demand"}
    assert all("pulumi:providers:kubernetes::k8s" in r.provider for r in children)


def test_outputs(default_run: Any) -> None:
    _, outputs = default_run
    assert outputs == {
        "node_class": "gpu",
        "spot": "gpu-spot",
        "on_demand": "gpu-on-demand",
        "taint": "spot",
    }


def test_node_class_defaults(default_run: Any) -> None:
    registrations, _ = default_run
    (node_class,) = by_kind(registrations)["EC2NodeClass"]
    assert node_class["apiVersion"] == "karpenter.k8s.aws/v1"
    assert node_class["metadata"]["name"] == "gpu"
    assert "namespace" not in node_class["metadata"]
    spec = node_class["spec"]
    # Bottlerocket's NVIDIA variants run the device plugin on the host: nodes advertise
    # nvidia.com/gpu with no DaemonSet and no image to pull (AL2023 would need both).
    assert spec["amiSelectorTerms"] == [{"alias": "bottlerocket@v1.64.0"}]
    assert spec["instanceProfile"] == "burst-use1-node"  # Karpenter needs no IAM endpoint
    assert "role" not in spec
    assert "amiFamily" not in spec
    discovery = [{"tags": {"karpenter.sh/discovery": "burst-use1"}}]
    assert spec["subnetSelectorTerms"] == discovery
    assert spec["securityGroupSelectorTerms"] == discovery
    assert spec["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpProtocolIPv6": "disabled",
        "httpPutResponseHopLimit": 1,  # pods cannot reach the node role's credentials
        "httpTokens": "required",
    }
    assert spec["associatePublicIPAddress"] is False
    encrypted = {"volumeType": "gp3", "encrypted": True, "kmsKeyID": KMS_ARN}
    assert spec["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",  # Bottlerocket's OS volume
            "ebs": {"volumeSize": "4Gi", **encrypted, "deleteOnTermination": True},
        },
        {
            "deviceName": "/dev/xvdb",  # its data volume: images and ephemeral storage
            "ebs": {"volumeSize": "200Gi", **encrypted, "deleteOnTermination": True},
        },
    ]
    assert spec["tags"] == {
        "platform": "burst-platform",
        "environment": "dev",
        "cluster": "burst-use1",
    }
    assert "team" not in spec["tags"]


def test_spot_pool_defaults(default_run: Any) -> None:
    registrations, _ = default_run
    spot_pool = next(
        p for p in by_kind(registrations)["NodePool"] if p["metadata"]["name"] == "gpu-spot"
    )
    assert spot_pool["apiVersion"] == "karpenter.sh/v1"
    assert "namespace" not in spot_pool["metadata"]
    spec = spot_pool["spec"]
    assert spec["weight"] == 50
    assert spec["limits"] == {"nvidia.com/gpu": "32", "cpu": "1024", "memory": "8192Gi"}
    template = spec["template"]
    assert template["metadata"]["labels"] == {"burst.io/capacity-tier": "spot"}
    assert template["spec"]["nodeClassRef"] == {
        "group": "karpenter.k8s.aws",
        "kind": "EC2NodeClass",
        "name": "gpu",
    }
    assert template["spec"]["taints"] == [
        {"key": "spot", "value": "true", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
    ]
    assert template["spec"]["expireAfter"] == "720h"
    assert template["spec"]["terminationGracePeriod"] == "2h"
    assert "kubelet" not in template["spec"]
    assert spec["disruption"] == {
        "consolidationPolicy": "WhenEmpty",
        "consolidateAfter": "30m",
        "budgets": [
            {"nodes": "10%", "reasons": ["Empty"]},
            {"nodes": "0", "reasons": ["Underutilized", "Drifted"]},
        ],
    }
    requirements = template["spec"]["requirements"]
    assert {r["key"] for r in requirements} == GPU_REQUIREMENT_KEYS
    assert requirement(spec, "karpenter.sh/capacity-type")["values"] == ["spot"]
    assert requirement(spec, "kubernetes.io/arch")["values"] == ["amd64"]
    assert requirement(spec, "karpenter.k8s.aws/instance-gpu-manufacturer")["values"] == ["nvidia"]
    assert requirement(spec, "karpenter.k8s.aws/instance-family") == {
        "key": "karpenter.k8s.aws/instance-family",
        "operator": "In",
        "values": ["g5", "g6", "g6e"],
        "minValues": 2,
    }
    assert requirement(spec, "node.kubernetes.io/instance-type") == {
        "key": "node.kubernetes.io/instance-type",
        "operator": "Exists",
        "minValues": 3,
    }


def test_on_demand_pool_is_the_lower_rung(default_run: Any) -> None:
    registrations, _ = default_run
    spot, on_demand = pools(registrations)["gpu-spot"], pools(registrations)["gpu-on-demand"]
    assert on_demand["weight"] == 10
    assert on_demand["weight"] < spot["weight"]
    assert on_demand["limits"]["nvidia.com/gpu"] == "8"
    assert on_demand["template"]["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
    ]
    assert on_demand["template"]["metadata"]["labels"] == {"burst.io/capacity-tier": "on-demand"}
    assert requirement(on_demand, "karpenter.sh/capacity-type")["values"] == ["on-demand"]


def test_both_rungs_share_every_requirement_but_capacity_type(default_run: Any) -> None:
    registrations, _ = default_run

    def without_capacity(spec: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            r
            for r in spec["template"]["spec"]["requirements"]
            if r["key"] != "karpenter.sh/capacity-type"
        ]

    by_name = pools(registrations)
    assert without_capacity(by_name["gpu-spot"]) == without_capacity(by_name["gpu-on-demand"])
    assert by_name["gpu-spot"]["disruption"] == by_name["gpu-on-demand"]["disruption"]


def test_every_emitted_object_validates(default_run: Any) -> None:
    registrations, _ = default_run
    objects = [r.inputs for r in registrations if "kind" in r.inputs]
    assert len(objects) == 3
    for obj in objects:
        assert validate_object(obj) == []


def test_options_reach_the_objects() -> None:
    args = make_args(
        name_prefix="burst-gpu",
        gpu_instance_families=["g6e", "p5"],
        min_instance_types=8,
        min_instance_families=1,
        spot_weight=90,
        on_demand_weight=5,
        spot_taint_key="burst.io/spot",
        max_cpu_per_gpu=16,
        max_memory_gi_per_gpu=128,
        metadata_hop_limit=1,
        data_volume_size_gi=500,
        ami_alias="bottlerocket@v1.63.1",
        consolidate_after="1h",
        expire_after="Never",
        termination_grace_period="3h30m",
        disruption_budgets=[
            DisruptionBudget(nodes="0", schedule="0 8 * * mon-fri", duration="10h"),
            DisruptionBudget(nodes="2"),
        ],
        node_labels={"burst.io/gpu-class": "large"},
        node_tags={"cost-center": "research"},
        on_demand_gpu_limit=0,
    )
    registrations, outputs = deploy(args)
    assert outputs == {
        "node_class": "burst-gpu",
        "spot": "burst-gpu-spot",
        "on_demand": "burst-gpu-on-demand",
        "taint": "burst.io/spot",
    }
    (node_class,) = by_kind(registrations)["EC2NodeClass"]
    assert node_class["metadata"]["name"] == "burst-gpu"
    assert node_class["spec"]["amiSelectorTerms"] == [{"alias": "bottlerocket@v1.63.1"}]
    assert node_class["spec"]["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert node_class["spec"]["blockDeviceMappings"][1]["ebs"]["volumeSize"] == "500Gi"
    assert node_class["spec"]["tags"]["cost-center"] == "research"
    by_name = pools(registrations)
    spot, on_demand = by_name["burst-gpu-spot"], by_name["burst-gpu-on-demand"]
    assert (spot["weight"], on_demand["weight"]) == (90, 5)
    assert spot["limits"] == {"nvidia.com/gpu": "32", "cpu": "512", "memory": "4096Gi"}
    assert on_demand["limits"] == {"nvidia.com/gpu": "0", "cpu": "0", "memory": "0Gi"}
    assert spot["template"]["spec"]["taints"][0] == {
        "key": "burst.io/spot",
        "value": "true",
        "effect": "NoSchedule",
    }
    assert spot["template"]["spec"]["nodeClassRef"]["name"] == "burst-gpu"
    family = requirement(spot, "karpenter.k8s.aws/instance-family")
    assert family["values"] == ["g6e", "p5"]
    assert "minValues" not in family
    assert requirement(spot, "node.kubernetes.io/instance-type")["minValues"] == 8
    assert spot["template"]["metadata"]["labels"] == {
        "burst.io/gpu-class": "large",
        "burst.io/capacity-tier": "spot",
    }
    assert spot["disruption"] == {
        "consolidationPolicy": "WhenEmpty",
        "consolidateAfter": "1h",
        "budgets": [
            {"nodes": "0", "schedule": "0 8 * * mon-fri", "duration": "10h"},
            {"nodes": "2"},
        ],
    }
    assert spot["template"]["spec"]["expireAfter"] == "Never"
    assert spot["template"]["spec"]["terminationGracePeriod"] == "3h30m"
    for registration in registrations:
        if "kind" in registration.inputs:
            assert validate_object(registration.inputs) == []


def test_a_single_family_gets_no_family_min_values() -> None:
    spec = node_pool_spec(make_args(gpu_instance_families=["g6"]), "spot", "gpu")
    assert "minValues" not in requirement(spec, "karpenter.k8s.aws/instance-family")


def test_instance_profile_can_be_an_output_of_another_resource() -> None:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        profile = pulumi.Output.from_input("profile-from-iam")
        GpuCapacity(
            "gpu",
            make_args(instance_profile_name=profile),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )

    registrations = run_program(program, project="burst-platform", stack="test")
    (node_class,) = by_kind(registrations)["EC2NodeClass"]
    assert node_class["spec"]["instanceProfile"] == "profile-from-iam"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cluster_name": "Burst_1"}, "cluster_name"),
        ({"environment": ""}, "environment"),
        ({"instance_profile_name": ""}, "instance_profile_name"),
        ({"discovery_tag_value": ""}, "discovery_tag_value"),
        ({"volume_kms_key_arn": "alias/aws/ebs"}, "volume_kms_key_arn"),
        ({"spot_gpu_limit": 0}, "spot_gpu_limit"),
        ({"spot_gpu_limit": True}, "spot_gpu_limit"),
        ({"on_demand_gpu_limit": -1}, "on_demand_gpu_limit"),
        ({"ami_alias": "bottlerocket@latest"}, "ami_alias"),
        ({"ami_alias": "al2023@v20251001"}, "ami_alias"),  # no device plugin on AL2023
        ({"ami_alias": "bottlerocket@1.64.0"}, "ami_alias"),
        ({"ami_alias": "bottlerocket@v1.64.0123456789012345"}, "ami_alias"),
        ({"gpu_instance_families": []}, "gpu_instance_families"),
        ({"gpu_instance_families": "g5"}, "gpu_instance_families"),
        ({"gpu_instance_families": ["g5", "g5"]}, "gpu_instance_families"),
        ({"gpu_instance_families": ["G5"]}, "gpu_instance_families"),
        ({"gpu_instance_families": ["g5", "g5g"]}, "gpu_instance_families"),
        ({"gpu_instance_families": ["g6f"]}, "gpu_instance_families"),
        ({"gpu_instance_families": ["g" * 64]}, "gpu_instance_families"),
        ({"min_instance_types": 0}, "min_instance_types"),
        ({"min_instance_types": 51}, "min_instance_types"),
        ({"min_instance_families": 4}, "min_instance_families"),
        ({"min_instance_families": 0}, "min_instance_families"),
        ({"name_prefix": "GPU"}, "name_prefix"),
        ({"name_prefix": "g" * 60}, "name_prefix"),
        ({"spot_weight": 101}, "spot_weight"),
        ({"on_demand_weight": 0}, "on_demand_weight"),
        ({"spot_weight": 10, "on_demand_weight": 10}, "spot_weight"),
        ({"spot_taint_key": "bad key"}, "spot_taint_key"),
        ({"spot_taint_key": "nvidia.com/gpu"}, "spot_taint_key"),
        ({"max_cpu_per_gpu": 0}, "max_cpu_per_gpu"),
        ({"max_memory_gi_per_gpu": 0}, "max_memory_gi_per_gpu"),
        ({"metadata_hop_limit": 0}, "metadata_hop_limit"),
        ({"metadata_hop_limit": 65}, "metadata_hop_limit"),
        ({"data_volume_size_gi": 10}, "data_volume_size_gi"),
        ({"data_volume_size_gi": 20000}, "data_volume_size_gi"),
        ({"consolidate_after": "30 minutes"}, "consolidate_after"),
        ({"expire_after": "1d"}, "expire_after"),
        ({"termination_grace_period": "Never"}, "termination_grace_period"),
        ({"disruption_budgets": []}, "disruption_budgets"),
        ({"disruption_budgets": [DisruptionBudget(nodes="101%")]}, "disruption_budgets[0].nodes"),
        (
            {"disruption_budgets": [DisruptionBudget(nodes="1", reasons=("Expired",))]},
            "disruption_budgets[0].reasons",
        ),
        (
            {
                "disruption_budgets": [
                    DisruptionBudget(nodes="1"),
                    DisruptionBudget(nodes="0", schedule="@daily"),
                ]
            },
            "disruption_budgets[1]",
        ),
        (
            {"disruption_budgets": [DisruptionBudget(nodes="0", duration="8h")]},
            "disruption_budgets[0]",
        ),
        (
            {
                "disruption_budgets": [
                    DisruptionBudget(nodes="0", schedule="@daily", duration="30s")
                ]
            },
            "disruption_budgets[0].duration",
        ),
        (
            {"disruption_budgets": [DisruptionBudget(nodes="0", schedule="daily", duration="1h")]},
            "disruption_budgets[0].schedule",
        ),
        ({"disruption_budgets": [DisruptionBudget(nodes="1")] * 51}, "disruption_budgets"),
        ({"node_labels": {"karpenter.sh/custom": "x"}}, "node_labels"),
        ({"node_labels": {"karpenter.k8s.aws/anything": "x"}}, "node_labels"),
        ({"node_labels": {"kubernetes.io/hostname": "x"}}, "node_labels"),
        ({"node_labels": {"topology.kubernetes.io/zone": "x"}}, "node_labels"),
        ({"node_labels": {"burst.io/capacity-tier": "x"}}, "node_labels"),
        ({"node_labels": {"team": "x" * 64}}, "node_labels"),
        ({"node_labels": {"team": "-bad"}}, "node_labels"),
        ({"node_labels": {f"k{i}": "v" for i in range(100)}}, "node_labels"),
        ({"node_tags": {"eks:eks-cluster-name": "x"}}, "node_tags"),
        ({"node_tags": {"kubernetes.io/cluster/burst": "owned"}}, "node_tags"),
        ({"node_tags": {"karpenter.sh/nodepool": "x"}}, "node_tags"),
        ({"node_tags": {"environment": "prod"}}, "node_tags"),
        ({"node_tags": {"aws:cloudformation": "x"}}, "node_tags"),
        ({"node_tags": {"owner": ""}}, "node_tags"),
    ],
)
def test_bad_args_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        make_args(**overrides)
    assert error.value.field == field


def test_node_restriction_labels_are_allowed() -> None:
    args = make_args(node_labels={"node-restriction.kubernetes.io/gpu": "true"})
    spec = node_pool_spec(args, "spot", "gpu")
    assert spec["template"]["metadata"]["labels"]["node-restriction.kubernetes.io/gpu"] == "true"


def test_args_are_frozen() -> None:
    args = make_args()
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.spot_gpu_limit = 1  # type: ignore[misc]


_family = st.from_regex(r"^(g|p)[4-7][a-z]{0,2}$", fullmatch=True).filter(
    lambda f: f not in {"g5g", "g4ad", "g6f"}
)


@st.composite
def valid_args(draw: st.DrawFn) -> GpuCapacityArgs:
    families = draw(st.lists(_family, min_size=1, max_size=6, unique=True))
    spot_weight = draw(st.integers(2, 100))
    return make_args(
        gpu_instance_families=families,
        min_instance_types=draw(st.integers(1, 50)),
        min_instance_families=draw(st.none() | st.integers(1, len(families))),
        spot_weight=spot_weight,
        on_demand_weight=draw(st.integers(1, spot_weight - 1)),
        spot_gpu_limit=draw(st.integers(1, 10_000)),
        on_demand_gpu_limit=draw(st.integers(0, 10_000)),
        metadata_hop_limit=draw(st.integers(1, 64)),
        data_volume_size_gi=draw(st.integers(20, 16384)),
        consolidate_after=draw(st.sampled_from(["0s", "5m", "1h30m", "Never"])),
        expire_after=draw(st.sampled_from(["24h", "720h", "Never"])),
        termination_grace_period=draw(st.sampled_from(["90s", "2h", "1h30m"])),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_args())
def test_any_valid_args_give_objects_the_crds_accept(args: GpuCapacityArgs) -> None:
    spot = node_pool_spec(args, "spot", args.name_prefix)
    on_demand = node_pool_spec(args, "on-demand", args.name_prefix)
    assert spot["weight"] > on_demand["weight"]
    assert spot["limits"]["nvidia.com/gpu"] == str(args.spot_gpu_limit)
    assert on_demand["limits"]["nvidia.com/gpu"] == str(args.on_demand_gpu_limit)
    for name, spec in (("gpu-spot", spot), ("gpu-on-demand", on_demand)):
        obj = {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodePool",
            "metadata": {"name": name},
            "spec": spec,
        }
        assert validate_object(obj) == []
    node_class = {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": args.name_prefix},
        "spec": node_class_spec(args),
    }
    assert validate_object(node_class) == []


def test_region_label_on_every_object_when_given() -> None:
    def objects(args: GpuCapacityArgs) -> list[dict[str, Any]]:
        kinds = by_kind(deploy(args)[0])
        return [*kinds["NodePool"], *kinds["EC2NodeClass"]]

    labelled = objects(make_args(region="eu-west-1"))
    assert len(labelled) == 3
    for obj in labelled:
        assert obj["metadata"]["labels"]["topology.kubernetes.io/region"] == "eu-west-1"
    for obj in objects(make_args()):
        assert "topology.kubernetes.io/region" not in obj["metadata"]["labels"]
    with pytest.raises(ComponentArgsError) as error:
        make_args(region="europe")
    assert error.value.field == "region"


def test_team_capacity_is_tagged_labelled_and_tainted_for_that_team() -> None:
    registrations, _ = deploy(make_args(team="quant", name_prefix="gpu-quant"))
    kinds = by_kind(registrations)
    (node_class,) = kinds["EC2NodeClass"]
    assert node_class["spec"]["tags"]["team"] == "quant"  # the budget's cost-allocation tag
    for pool in kinds["NodePool"]:
        template = pool["spec"]["template"]
        assert template["metadata"]["labels"]["burst.io/team"] == "quant"
        assert {"key": "burst.io/team", "value": "quant", "effect": "NoSchedule"} in template[
            "spec"
        ]["taints"]
        assert validate_object(pool) == []
    assert validate_object(node_class) == []
    shared, _ = deploy(make_args())
    assert "team" not in by_kind(shared)["EC2NodeClass"][0]["spec"]["tags"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"team": "Quant"}, "team"),
        ({"team": "quant", "node_tags": {"team": "ml"}}, "node_tags"),
        ({"node_labels": {"burst.io/team": "ml"}}, "node_labels"),
        ({"spot_taint_key": "burst.io/team"}, "spot_taint_key"),
    ],
)
def test_team_fields_are_the_components(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        make_args(**overrides)
    assert error.value.field == field


def test_the_cpu_pool_is_spot_untainted_for_gpus_and_tried_first() -> None:
    args = make_args(
        team="quant",
        name_prefix="gpu-quant",
        cpu_instance_families=["c7i", "m7i"],
        cpu_vcpu_limit=96,
    )
    registrations, _ = deploy(args)
    pools = {p["metadata"]["name"]: p for p in by_kind(registrations)["NodePool"]}
    cpu = pools["gpu-quant-cpu"]["spec"]
    assert cpu["weight"] > pools["gpu-quant-spot"]["spec"]["weight"]
    assert cpu["limits"] == {"cpu": "96", "memory": "768Gi"}
    requirements = {r["key"]: r for r in cpu["template"]["spec"]["requirements"]}
    assert requirements["karpenter.sh/capacity-type"]["values"] == ["spot"]
    assert requirements["karpenter.k8s.aws/instance-family"]["values"] == ["c7i", "m7i"]
    assert "karpenter.k8s.aws/instance-gpu-manufacturer" not in requirements
    taints = {t["key"]: t["value"] for t in cpu["template"]["spec"]["taints"]}
    assert taints == {"spot": "true", "burst.io/team": "quant"}  # no GPU taint
    assert cpu["template"]["metadata"]["labels"]["burst.io/capacity-tier"] == "cpu"
    assert validate_object(pools["gpu-quant-cpu"]) == []
    assert "gpu-cpu" not in {
        p["metadata"]["name"] for p in by_kind(deploy(make_args())[0])["NodePool"]
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cpu_instance_families": ["g5"], "cpu_vcpu_limit": 8}, "cpu_instance_families"),
        ({"cpu_instance_families": ["c7i"]}, "cpu_vcpu_limit"),
        ({"cpu_vcpu_limit": 8}, "cpu_vcpu_limit"),
        ({"cpu_instance_families": ["c7i"], "cpu_vcpu_limit": 8, "cpu_weight": 20}, "cpu_weight"),
        ({"cpu_instance_families": "c7i", "cpu_vcpu_limit": 8}, "cpu_instance_families"),
    ],
)
def test_bad_cpu_pool_arguments_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        make_args(**overrides)
    assert error.value.field == field

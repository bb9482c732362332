"""The offline Kubernetes validator: it accepts what the components emit and catches known bugs."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest

from burst_platform.components.admission import AdmissionGuardrails, AdmissionGuardrailsArgs
from burst_platform.components.gpu_capacity import (
    _KARPENTER_AWS_LABELS,
    DisruptionBudget,
    GpuCapacity,
    GpuCapacityArgs,
    node_class_spec,
    node_pool_spec,
)
from burst_platform.components.team_queues import (
    TeamQueues,
    TeamQueuesArgs,
    TeamQuota,
    cluster_queue_spec,
    resource_flavor_specs,
)
from burst_platform.components.versions import EKS_VERSION
from burst_platform.mock_runtime import run_program
from tests import k8s_validation
from tests.k8s_validation import (
    ENGINES,
    SECTION3_CEL_RULES,
    SECTION3_SCHEMA_CONSTRAINTS,
    CrdSchemasMissingError,
    crd_schema_node,
    objects_from_registrations,
    rule_coverage,
    validate_object,
)

GPU_ARGS = GpuCapacityArgs(
    cluster_name="burst",
    environment="dev",
    instance_profile_name="burst-node",
    discovery_tag_value="burst",
    volume_kms_key_arn="arn:aws:kms:us-east-1:111122223333:key/abc",
    spot_gpu_limit=16,
    on_demand_gpu_limit=4,
)
QUEUE_ARGS = TeamQueuesArgs(
    teams=[TeamQuota("ml", 8, 2, 4), TeamQuota("quant", 4, namespace="quant-research")],
    environment="dev",
)
GT_LT_MESSAGE = (
    "requirements operator 'Gt', 'Lt', 'Gte', or 'Lte' must have a single positive integer value"
)


def nodepool() -> dict[str, Any]:
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "gpu-spot"},
        "spec": node_pool_spec(GPU_ARGS, "spot", "gpu"),
    }


def nodeclass() -> dict[str, Any]:
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": "gpu"},
        "spec": node_class_spec(GPU_ARGS),
    }


def clusterqueue() -> dict[str, Any]:
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ClusterQueue",
        "metadata": {"name": "team-ml"},
        "spec": cluster_queue_spec(QUEUE_ARGS.teams[0], "burst-gpu"),
    }


def flavor() -> dict[str, Any]:
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ResourceFlavor",
        "metadata": {"name": "gpu-spot"},
        "spec": resource_flavor_specs(QUEUE_ARGS)["gpu-spot"],
    }


def localqueue() -> dict[str, Any]:
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "LocalQueue",
        "metadata": {"name": "default", "namespace": "ml"},
        "spec": {"clusterQueue": "team-ml"},
    }


def job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "train",
            "namespace": "ml",
            "labels": {
                "kueue.x-k8s.io/queue-name": "default",
                "kueue.x-k8s.io/priority-class": "burst-background",
            },
        },
        "spec": {
            "suspend": True,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "priorityClassName": "burst-background",
                    "terminationGracePeriodSeconds": 100,
                    "containers": [
                        {
                            "name": "train",
                            "image": "train:1",
                            "resources": {"limits": {"nvidia.com/gpu": "1"}},
                        }
                    ],
                }
            },
        },
    }


def requirements(obj: dict[str, Any]) -> list[dict[str, Any]]:
    reqs: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["requirements"]
    return reqs


def family_requirement(obj: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in requirements(obj) if r["key"].endswith("instance-family"))


def edit(
    make: Callable[[], dict[str, Any]], change: Callable[[dict[str, Any]], Any]
) -> dict[str, Any]:
    obj = make()
    change(obj)
    return obj


def deployed_objects() -> list[dict[str, Any]]:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        opts = pulumi.ResourceOptions(providers=[provider])
        GpuCapacity("gpu", GPU_ARGS, opts=opts)
        TeamQueues("queues", QUEUE_ARGS, opts=opts)
        AdmissionGuardrails("admission", AdmissionGuardrailsArgs(), opts=opts)
        TeamQueues(
            "opt-in",
            TeamQueuesArgs(
                teams=[TeamQuota("research", 2, namespace="research")],
                environment="dev",
                spot_opt_in=True,
                install_kueue=False,
                cohort="other",
            ),
            opts=opts,
        )

    return objects_from_registrations(run_program(program, project="burst-platform", stack="test"))


@pytest.fixture(scope="module")
def emitted() -> list[dict[str, Any]]:
    return deployed_objects()


def test_every_object_the_components_emit_validates(emitted: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in emitted}
    assert kinds == {
        "EC2NodeClass",
        "NodePool",
        "ResourceFlavor",
        "WorkloadPriorityClass",
        "ClusterQueue",
        "LocalQueue",
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "PriorityClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    for obj in emitted:
        assert validate_object(obj) == [], obj["metadata"]["name"]


def test_the_base_objects_of_the_negative_tests_are_valid() -> None:
    for make in (nodepool, nodeclass, clusterqueue, flavor, localqueue, job):
        assert validate_object(make()) == [], make.__name__


AS_OFFLINE = "<the offline message>"
"""The API server refuses with the offline validator's message: the CRD's own CEL message."""


class NegativeCase(NamedTuple):
    """An object the components must never emit, and who refuses it."""

    title: str
    make: Callable[[], dict[str, Any]]
    offline: str | None
    """A fragment of a `validate_object` problem (None: only the API server can judge it)."""
    server: str | None
    """A fragment of the API server's refusal on a server-side dry run (`make e2e`), or
    `AS_OFFLINE`; None: the server accepts it and only the offline client-side checks catch it."""

    @property
    def server_message(self) -> str | None:
        """The fragment the API server's refusal must hold (None: the server accepts it)."""
        return self.offline if self.server == AS_OFFLINE else self.server


NEGATIVE_CASES: list[NegativeCase] = [
    NegativeCase(
        "kubelet under the NodePool template (moved to EC2NodeClass in v1)",
        lambda: edit(
            nodepool, lambda o: o["spec"]["template"]["spec"].update(kubelet={"maxPods": 110})
        ),
        "spec.template.spec.kubelet: unknown field",
        'unknown field "spec.template.spec.kubelet"',
    ),
    NegativeCase(
        "metadata.namespace on a cluster-scoped NodePool",
        lambda: edit(nodepool, lambda o: o["metadata"].update(namespace="karpenter")),
        "metadata.namespace: NodePool is cluster-scoped",
        None,
    ),
    NegativeCase(
        "weight 101",
        lambda: edit(nodepool, lambda o: o["spec"].update(weight=101)),
        "spec.weight: 101 is greater than the maximum of 100",
        "spec.weight in body should be less than or equal to 100",
    ),
    NegativeCase(
        "weight 0",
        lambda: edit(nodepool, lambda o: o["spec"].update(weight=0)),
        "spec.weight: 0 is less than the minimum of 1",
        "spec.weight in body should be greater than or equal to 1",
    ),
    NegativeCase(
        "minValues 51",
        lambda: edit(nodepool, lambda o: requirements(o)[-1].update(minValues=51)),
        "minValues: 51 is greater than the maximum of 50",
        "minValues in body should be less than or equal to 50",
    ),
    NegativeCase(
        "In requirement with fewer values than minValues",
        lambda: edit(nodepool, lambda o: family_requirement(o).update(minValues=4)),
        "requirements with 'minValues' must have at least that many values specified in the "
        "'values' field",
        AS_OFFLINE,
    ),
    NegativeCase(
        "budget schedule without duration",
        lambda: edit(
            nodepool,
            lambda o: o["spec"]["disruption"]["budgets"].append(
                {"nodes": "0", "schedule": "@daily"}
            ),
        ),
        "'schedule' must be set with 'duration'",
        AS_OFFLINE,
    ),
    NegativeCase(
        "EC2NodeClass with both role and instanceProfile",
        lambda: edit(nodeclass, lambda o: o["spec"].update(role="burst-node")),
        "must specify exactly one of ['role', 'instanceProfile']",
        AS_OFFLINE,
    ),
    NegativeCase(
        "EC2NodeClass with neither role nor instanceProfile",
        lambda: edit(nodeclass, lambda o: o["spec"].pop("instanceProfile")),
        "must specify exactly one of ['role', 'instanceProfile']",
        AS_OFFLINE,
    ),
    NegativeCase(
        "ClusterQueue with the v1beta1 field cohort instead of cohortName",
        lambda: edit(clusterqueue, lambda o: o["spec"].update(cohort=o["spec"].pop("cohortName"))),
        "spec.cohort: unknown field",
        'unknown field "spec.cohort"',
    ),
    NegativeCase(
        "ClusterQueue in the deprecated v1beta1 API",
        lambda: edit(clusterqueue, lambda o: o.update(apiVersion="kueue.x-k8s.io/v1beta1")),
        "the platform emits kueue.x-k8s.io/v1beta2",
        'unknown field "spec.cohortName"',  # v1beta1 calls it cohort
    ),
    NegativeCase(
        "requirement key in the karpenter.sh domain",
        lambda: edit(
            nodepool,
            lambda o: requirements(o).append({"key": "karpenter.sh/custom", "operator": "Exists"}),
        ),
        None,
        'label domain "karpenter.sh" is restricted',
    ),
    NegativeCase(
        "requirement key outside the karpenter.k8s.aws allow-list",
        lambda: edit(
            nodepool,
            lambda o: requirements(o).append(
                {"key": "karpenter.k8s.aws/instance-color", "operator": "Exists"}
            ),
        ),
        None,
        'label domain "karpenter.k8s.aws" is restricted',
    ),
    NegativeCase(
        "requirement on karpenter.sh/nodepool",
        lambda: edit(
            nodepool,
            lambda o: requirements(o).append(
                {"key": "karpenter.sh/nodepool", "operator": "In", "values": ["x"]}
            ),
        ),
        'label "karpenter.sh/nodepool" is restricted',
        AS_OFFLINE,
    ),
    NegativeCase(
        "template label kubernetes.io/hostname",
        lambda: edit(
            nodepool,
            lambda o: o["spec"]["template"]["metadata"]["labels"].update(
                {"kubernetes.io/hostname": "a"}
            ),
        ),
        'label "kubernetes.io/hostname" is restricted',
        AS_OFFLINE,
    ),
    NegativeCase(
        "In requirement without values",
        lambda: edit(nodepool, lambda o: family_requirement(o).update(values=[])),
        "requirements with operator 'In' must have a value defined",
        AS_OFFLINE,
    ),
    NegativeCase(
        "Gt requirement with a non-integer",
        lambda: edit(
            nodepool,
            lambda o: requirements(o).append(
                {
                    "key": "karpenter.k8s.aws/instance-gpu-count",
                    "operator": "Gt",
                    "values": ["many"],
                }
            ),
        ),
        GT_LT_MESSAGE,
        AS_OFFLINE,
    ),
    NegativeCase(
        "Lt requirement with two values",
        lambda: edit(
            nodepool,
            lambda o: requirements(o).append(
                {
                    "key": "karpenter.k8s.aws/instance-gpu-count",
                    "operator": "Lt",
                    "values": ["1", "2"],
                }
            ),
        ),
        GT_LT_MESSAGE,
        AS_OFFLINE,
    ),
    NegativeCase(
        "requirement value that is not a label value",
        lambda: edit(nodepool, lambda o: family_requirement(o)["values"].append("g5/large")),
        "is not a label value (client-side)",
        None,
    ),
    NegativeCase(
        "Exists requirement with values",
        lambda: edit(nodepool, lambda o: requirements(o)[-1].update(values=["g5.xlarge"])),
        "must be empty for Exists",
        None,
    ),
    NegativeCase(
        "NodePool without consolidateAfter (required by the AWS v1.14.1 CRD)",
        lambda: edit(nodepool, lambda o: o["spec"]["disruption"].pop("consolidateAfter")),
        "'consolidateAfter' is a required property",
        "spec.disruption.consolidateAfter: Required value",
    ),
    NegativeCase(
        "budget duration in seconds",
        lambda: edit(
            nodepool,
            lambda o: o["spec"]["disruption"]["budgets"].append(
                {"nodes": "0", "schedule": "@daily", "duration": "30s"}
            ),
        ),
        "duration: '30s' does not match",
        "duration in body should match",
    ),
    NegativeCase(
        "terminationGracePeriod Never",
        lambda: edit(
            nodepool, lambda o: o["spec"]["template"]["spec"].update(terminationGracePeriod="Never")
        ),
        "terminationGracePeriod: 'Never' does not match",
        "terminationGracePeriod in body should match",
    ),
    NegativeCase(
        "NodePool name longer than a label value",
        lambda: edit(nodepool, lambda o: o["metadata"].update(name="p" * 64)),
        "is not a DNS-1123 label",
        None,
    ),
    NegativeCase(
        "alias combined with an id term",
        lambda: edit(
            nodeclass,
            lambda o: o["spec"]["amiSelectorTerms"].append({"id": "ami-0123456789abcdef0"}),
        ),
        "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms",
        AS_OFFLINE,
    ),
    NegativeCase(
        "alias and name in one term",
        lambda: edit(nodeclass, lambda o: o["spec"]["amiSelectorTerms"][0].update(name="my-ami")),
        "'alias' is mutually exclusive, cannot be set with a combination of other fields in "
        "amiSelectorTerms",
        AS_OFFLINE,
    ),
    NegativeCase(
        "alias of an unknown family",
        lambda: edit(
            nodeclass, lambda o: o["spec"]["amiSelectorTerms"][0].update(alias="ubuntu@v1")
        ),
        None,
        "family is not supported, must be one of the following: 'al2', 'al2023', 'bottlerocket', "
        "'windows2019', 'windows2022', 'windows2025'",
    ),
    NegativeCase(
        "windows alias pinned to a version",
        lambda: edit(
            nodeclass, lambda o: o["spec"]["amiSelectorTerms"][0].update(alias="windows2022@v1")
        ),
        None,
        "windows families may only specify version 'latest'",
    ),
    NegativeCase(
        "alias longer than 30 characters",
        lambda: edit(
            nodeclass,
            lambda o: o["spec"]["amiSelectorTerms"][0].update(alias="al2023@v" + "1" * 30),
        ),
        "is too long",
        "Too long",
    ),
    NegativeCase(
        "amiFamily that contradicts the alias",
        lambda: edit(nodeclass, lambda o: o["spec"].update(amiFamily="AL2023")),
        None,
        "if set, amiFamily must be 'Bottlerocket' or 'Custom' when using a Bottlerocket alias",
    ),
    NegativeCase(
        "restricted EC2NodeClass tag",
        lambda: edit(nodeclass, lambda o: o["spec"]["tags"].update({"eks:eks-cluster-name": "x"})),
        "tag contains a restricted tag matching eks:eks-cluster-name",
        AS_OFFLINE,
    ),
    NegativeCase(
        "two root volumes",
        lambda: edit(
            nodeclass,
            lambda o: [m.update(rootVolume=True) for m in o["spec"]["blockDeviceMappings"]],
        ),
        "must have only one blockDeviceMappings with rootVolume",
        AS_OFFLINE,
    ),
    NegativeCase(
        "hop limit 65",
        lambda: edit(
            nodeclass, lambda o: o["spec"]["metadataOptions"].update(httpPutResponseHopLimit=65)
        ),
        "httpPutResponseHopLimit: 65 is greater than the maximum of 64",
        "httpPutResponseHopLimit in body should be less than or equal to 64",
    ),
    NegativeCase(
        "empty subnet selector",
        lambda: edit(nodeclass, lambda o: o["spec"].update(subnetSelectorTerms=[])),
        "subnetSelectorTerms cannot be empty",
        AS_OFFLINE,
    ),
    NegativeCase(
        "flavor that does not list every covered resource",
        lambda: edit(
            clusterqueue, lambda o: o["spec"]["resourceGroups"][0]["flavors"][1]["resources"].pop()
        ),
        "flavors must have the same number of resources as the coveredResources",
        AS_OFFLINE,
    ),
    NegativeCase(
        "borrowingLimit without a cohort",
        lambda: edit(clusterqueue, lambda o: o["spec"].pop("cohortName")),
        "borrowingLimit must be nil when cohort is empty",
        AS_OFFLINE,
    ),
    NegativeCase(
        "fungibility preference with MayStopSearch",
        lambda: edit(
            clusterqueue,
            lambda o: o["spec"]["flavorFungibility"].update(preference="BorrowingOverPreemption"),
        ),
        "preference can only be set when both whenCanBorrow and whenCanPreempt are TryNextFlavor",
        AS_OFFLINE,
    ),
    NegativeCase(
        "the same flavor twice",
        lambda: edit(
            clusterqueue,
            lambda o: o["spec"]["resourceGroups"][0]["flavors"].append(
                copy.deepcopy(o["spec"]["resourceGroups"][0]["flavors"][0])
            ),
        ),
        "duplicate entry for key(s) ['name']",
        "Duplicate value",
    ),
    NegativeCase(
        "nominal quota that is not a quantity",
        lambda: edit(
            clusterqueue,
            lambda o: o["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0].update(
                nominalQuota="lots"
            ),
        ),
        "nominalQuota: 'lots' does not match",
        "nominalQuota in body should match",
    ),
    NegativeCase(
        "Exists toleration with a value",
        lambda: edit(flavor, lambda o: o["spec"]["tolerations"][0].update(value="true")),
        "a value must be empty when 'operator' is 'Exists'",
        AS_OFFLINE,
    ),
    NegativeCase(
        "LocalQueue without namespace",
        lambda: edit(localqueue, lambda o: o["metadata"].pop("namespace")),
        "metadata.namespace: LocalQueue is namespaced",
        None,
    ),
    NegativeCase(
        "WorkloadPriorityClass with a spec",
        lambda: {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "WorkloadPriorityClass",
            "metadata": {"name": "burst-critical"},
            "spec": {"value": 1},
        },
        "'value' is a required property",
        'unknown field "spec"',
    ),
    NegativeCase(
        "Job with an unknown field",
        lambda: edit(job, lambda o: o["spec"].update(queueName="default")),
        "Additional properties are not allowed ('queueName' was unexpected)",
        'unknown field "spec.queueName"',
    ),
    NegativeCase(
        "ResourceQuota without a namespace",
        lambda: {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "backstop"},
            "spec": {"hard": {"requests.nvidia.com/gpu": "4"}},
        },
        "metadata.namespace: ResourceQuota is namespaced",
        None,
    ),
    NegativeCase(
        "PriorityClass with a namespace",
        lambda: {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "burst-critical", "namespace": "ml"},
            "value": 1,
        },
        "metadata.namespace: PriorityClass is cluster-scoped",
        None,
    ),
    NegativeCase(
        "Namespace with an invalid label value",
        lambda: {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "ml", "labels": {"team": "ML team"}},
        },
        "is not a label value",
        'metadata.labels: Invalid value: "ML team"',
    ),
    NegativeCase(
        "LimitRange with a misspelled field",
        lambda: {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "defaults", "namespace": "ml"},
            "spec": {"limits": [{"type": "Container", "defaultRequests": {"cpu": "1"}}]},
        },
        "'defaultRequests' was unexpected",
        'unknown field "spec.limits[0].defaultRequests"',
    ),
]
NEGATIVE_CASES += [
    NegativeCase(
        f"amiFamily Bottlerocket with a {family} alias",
        lambda family=family: edit(
            nodeclass,
            lambda o: o["spec"].update(
                amiFamily="Bottlerocket", amiSelectorTerms=[{"alias": f"{family.lower()}@latest"}]
            ),
        ),
        None,
        f"if set, amiFamily must be '{family}' or 'Custom' when using {article} {family} alias",
    )
    for family, article in [
        ("AL2", "an"),
        ("AL2023", "an"),
        ("Windows2019", "a"),
        ("Windows2022", "a"),
        ("Windows2025", "a"),
    ]
]


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.title) for c in NEGATIVE_CASES if c.offline is not None]
)
def test_the_validator_catches(case: NegativeCase) -> None:
    assert case.offline is not None
    problems = validate_object(case.make())
    assert any(case.offline in problem for problem in problems), problems


def test_problems_name_the_object_and_the_path() -> None:
    obj = edit(nodepool, lambda o: o["spec"]["template"]["spec"].update(kubelet={}))
    assert validate_object(obj) == [
        "NodePool/gpu-spot: spec.template.spec.kubelet: unknown field "
        "(the API server would prune it)"
    ]


def test_every_section3_cel_rule_is_in_the_crd_and_has_a_judge() -> None:
    """Each §3 rule is in the CRD verbatim; celpy judges it offline, or a known-bad object
    proves that the API server refuses with it (tests/e2e/test_api_server_validation.py)."""
    coverage = rule_coverage()
    refused_by_server = {c.server_message for c in NEGATIVE_CASES}
    for kind, messages in SECTION3_CEL_RULES.items():
        for message in messages:
            rules = [c for c in coverage if c.kind == kind and c.message == message]
            assert rules, f"{kind}: {message!r} is not (verbatim) in the CRD"
            if any(c.engine != "cel" for c in rules):
                assert message in refused_by_server, f"no known-bad object for {message!r}"


def test_only_the_api_server_judges_the_rules_celpy_cannot_evaluate() -> None:
    coverage = rule_coverage()
    assert {c.engine for c in coverage} <= set(ENGINES)
    for rule in coverage:
        if rule.engine == "api-server":
            assert re.search(r"lacks (find|split)", rule.reason), rule
        if rule.engine == "transition":
            assert "oldSelf" in rule.rule
    engines = {c.engine for c in coverage if c.kind in ("NodePool", "EC2NodeClass")}
    assert engines == {"cel", "api-server", "transition"}
    server_only = {c.message for c in coverage if c.engine == "api-server"}
    assert server_only <= {c.server_message for c in NEGATIVE_CASES if c.offline is None}


def test_every_section3_schema_constraint_is_in_the_crd() -> None:
    for constraint in SECTION3_SCHEMA_CONSTRAINTS:
        node = crd_schema_node(constraint.kind, constraint.path)
        if constraint.keyword == "required":
            assert set(constraint.value) <= set(node["required"]), constraint
        else:
            assert node[constraint.keyword] == constraint.value, constraint


def test_the_karpenter_aws_allow_list_matches_the_crd() -> None:
    rules = [
        c
        for c in rule_coverage()
        if c.kind == "NodePool" and c.message == 'label domain "karpenter.k8s.aws" is restricted'
    ]
    assert len(rules) == 2
    for rule in rules:
        assert set(re.findall(r'"(karpenter\.k8s\.aws/[^"]+)"', rule.rule)) == _KARPENTER_AWS_LABELS


def test_the_budget_dataclass_round_trips_through_validation() -> None:
    args = GpuCapacityArgs(
        **{
            **{
                f: getattr(GPU_ARGS, f)
                for f in ("cluster_name", "environment", "instance_profile_name")
            },
            "discovery_tag_value": "burst",
            "volume_kms_key_arn": GPU_ARGS.volume_kms_key_arn,
            "spot_gpu_limit": 1,
            "on_demand_gpu_limit": 1,
            "disruption_budgets": [DisruptionBudget("0", ("Drifted",), "0 9 * * 1-5", "9h30m")],
        }
    )
    obj = nodepool()
    obj["spec"] = node_pool_spec(args, "spot", "gpu")
    assert validate_object(obj) == []


def test_the_cluster_version_is_bundled_by_kubernetes_validate() -> None:
    bundled = {".".join(v.split(".")[:2]) for v in kubernetes_validate.utils.all_versions()}
    assert EKS_VERSION in bundled


def test_missing_crds_fail_with_a_setup_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(k8s_validation, "CRD_DIR", tmp_path / "crds")
    k8s_validation._catalogue.cache_clear()
    try:
        with pytest.raises(CrdSchemasMissingError, match="make setup"):
            validate_object(nodepool())
    finally:
        monkeypatch.undo()
        k8s_validation._catalogue.cache_clear()
    assert validate_object(nodepool()) == []

"""What `pulumi preview --json` really emits (shared/reference/preview-format.md), normalised.

Failed previews, every op, partial step lists, dependency records, default and explicit
providers, source positions: the cases the CLI produces and `burst plan` used to leave out.
"""

from __future__ import annotations

from typing import Any

import pytest

from burst_platform.check.model import Location
from burst_platform.check.normalise import (
    INCLUDED_OPS,
    REFUSED_OPS,
    REMOVED_OPS,
    SKIPPED_OPS,
    UNKNOWN_SENTINEL,
    normalise_preview,
)
from burst_platform.errors import BurstError

P = "urn:pulumi:prod::burst-platform::"
STACK = P + "pulumi:pulumi:Stack::burst-platform-prod"
AWS = P + "pulumi:providers:aws::aws-eu-west-1"
EKS = P + "burst:cluster:BurstCluster$aws:eks/cluster:Cluster::cluster-eks"
K8S = P + "burst:cluster:BurstCluster$pulumi:providers:kubernetes::cluster-k8s"
POOL = P + "kubernetes:karpenter.sh/v1:NodePool::gpu-spot"

ALL_OPS = {
    "same", "create", "update", "delete", "replace", "create-replacement", "delete-replaced",
    "read", "read-replacement", "refresh", "discard", "discard-replaced", "import",
    "import-replacement", "remove-pending-replace", "diff",
}  # fmt: skip
"""Every op of the reference's list (pkg/resource/deploy/step.go)."""


def state(urn: str, inputs: Any = None, **extra: Any) -> dict[str, Any]:
    resource_type = urn.split("::")[2].rsplit("$", 1)[-1]
    return {"urn": urn, "type": resource_type, "custom": True, "inputs": inputs or {}, **extra}


def new(op: str, urn: str, inputs: Any = None, **extra: Any) -> dict[str, Any]:
    return {"op": op, "urn": urn, "newState": state(urn, inputs, **extra)}


def first_deploy_steps() -> list[dict[str, Any]]:
    """A first deploy as the CLI prints it: unknown provider IDs, kubeconfig unknown."""
    unknown_ref = f"::{UNKNOWN_SENTINEL}"
    return [
        new("create", STACK),
        new("create", AWS, {"region": "eu-west-1"}),
        new("create", EKS, {"name": "research"}, provider=AWS + unknown_ref),
        new(
            "create",
            K8S,
            {"kubeconfig": UNKNOWN_SENTINEL},
            dependencies=[EKS],
            propertyDependencies={"kubeconfig": [EKS]},
        ),
        new(
            "create",
            POOL,
            {"kind": "NodePool", "spec": UNKNOWN_SENTINEL},
            provider=K8S + unknown_ref,
            sourcePosition="project:///components/gpu_capacity.py#212",
        ),
    ]


def document(steps: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    summary: dict[str, int] = {}
    for step in steps:
        summary[step["op"]] = summary.get(step["op"], 0) + 1
    return {"config": {"aws:region": "us-east-1"}, "steps": steps, "changeSummary": summary, **top}


def by_name(plan: Any) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in plan.document["resources"]}


def test_every_op_has_a_defined_meaning() -> None:
    decided = INCLUDED_OPS | REMOVED_OPS | SKIPPED_OPS | set(REFUSED_OPS)
    assert decided == ALL_OPS
    assert not (INCLUDED_OPS & REMOVED_OPS) and not (INCLUDED_OPS & SKIPPED_OPS)


def test_kubernetes_region_comes_from_the_provider_dependency_chain() -> None:
    plan = normalise_preview(document(first_deploy_steps()))
    resources = by_name(plan)
    assert resources["gpu-spot"]["region"] == "eu-west-1"  # NodePool -> k8s provider -> EKS
    assert resources["cluster-k8s"]["region"] == "eu-west-1"
    assert resources["gpu-spot"]["provider"] == K8S
    assert resources["cluster-k8s"]["propertyDependencies"] == {"kubeconfig": [EKS]}


def test_source_position_becomes_the_location() -> None:
    plan = normalise_preview(document(first_deploy_steps()))
    assert plan.locations[POOL] == Location("components/gpu_capacity.py", 212)
    assert EKS not in plan.locations


@pytest.mark.parametrize(
    "position",
    ["project:///../elsewhere.py#3", "project:///.venv/lib/x.py#9", "file:///abs.py#1", "x"],
)
def test_source_positions_outside_the_repository_are_ignored(position: str) -> None:
    steps = [new("create", STACK, sourcePosition=position)]
    assert normalise_preview(document(steps)).locations == {}


def test_no_config_fallback_for_an_explicit_provider() -> None:
    queue = P + "aws:sqs/queue:Queue::"
    default = P + "pulumi:providers:aws::default_7_1_0::id"
    steps = [
        new("create", STACK),
        new("create", AWS, {}),  # an explicit provider without region reads AWS_REGION
        new("create", queue + "q", {}, provider=AWS + "::id"),
        new("create", queue + "d", {}, provider=default),
        new("create", queue + "hidden", {}, provider=P + "pulumi:providers:aws::gone::id"),
    ]
    resources = by_name(normalise_preview(document(steps)))
    assert resources["q"]["region"] == UNKNOWN_SENTINEL
    assert resources["d"]["region"] == "us-east-1"  # a default provider reads aws:region
    assert resources["hidden"]["region"] == UNKNOWN_SENTINEL  # its provider is not shown


@pytest.mark.parametrize(
    ("top", "message"),
    [
        (
            {"diagnostics": [{"severity": "error", "urn": EKS, "message": "InvalidParameter"}]},
            "the preview failed (cluster-eks): InvalidParameter",
        ),
        ({"maybeCorrupt": True}, "maybeCorrupt"),
    ],
)
def test_failed_previews_are_refused(top: dict[str, Any], message: str) -> None:
    with pytest.raises(BurstError) as error:
        normalise_preview(document(first_deploy_steps(), **top), source="p.json")
    assert message in error.value.problems[0]
    assert error.value.problems[0].startswith("p.json: ")


def test_warnings_do_not_fail_a_preview() -> None:
    diagnostics = [{"severity": "warning", "message": "deprecated"}, {"severity": "info#err"}]
    normalise_preview(document(first_deploy_steps(), diagnostics=diagnostics))


def test_diff_op_is_refused() -> None:
    with pytest.raises(BurstError, match="engine-internal"):
        normalise_preview(document([new("diff", STACK)]))


def test_completeness_from_the_change_summary() -> None:
    shown = [new("same", STACK), new("update", P + "aws:sqs/queue:Queue::q")]
    partial = normalise_preview({"steps": shown, "changeSummary": {"same": 40, "update": 1}})
    assert partial.stack["complete"] is False
    assert partial.stack["hidden"] == 39
    full = normalise_preview(document(shown))
    assert full.stack == {"name": "prod", "source": "preview", "complete": True, "hidden": 0}
    missing = normalise_preview({"steps": shown})
    assert missing.stack["complete"] is False


def test_deletes_are_removed_and_replacements_are_one_resource() -> None:
    queue = P + "aws:sqs/queue:Queue::q"
    role = P + "aws:iam/role:Role::r"
    steps = [
        new("same", STACK),
        {"op": "delete", "urn": queue, "oldState": state(queue, {"name": "q"})},
        new("replace", role, {"name": "r"}),
        new("create-replacement", role, {"name": "r"}),
        {"op": "delete-replaced", "urn": role, "oldState": state(role, {"name": "old"})},
    ]
    plan = normalise_preview(document(steps))
    assert [r["urn"] for r in plan.document["removed"]] == [queue]
    assert [r["name"] for r in plan.resources] == ["burst-platform-prod", "r"]


def test_the_same_urn_with_another_state_is_refused() -> None:
    bucket = P + "aws:s3/bucketV2:BucketV2::b"
    steps = [new("create", bucket, {"tags": {}}), new("create", bucket, {"tags": {"x": "y"}})]
    with pytest.raises(BurstError, match="already appears in an earlier step"):
        normalise_preview(document(steps))


@pytest.mark.parametrize("inputs", ["not an object", 3, ["a"]])
def test_inputs_must_be_an_object_or_wholly_unknown(inputs: Any) -> None:
    steps = [new("create", P + "aws:s3/bucketV2:BucketV2::b", inputs)]
    with pytest.raises(BurstError, match=r"newState.inputs: must be an object"):
        normalise_preview(document(steps))


@pytest.mark.parametrize("inputs", [UNKNOWN_SENTINEL, "[secret]"])
def test_wholly_unknown_inputs_pass_through(inputs: str) -> None:
    steps = [new("create", P + "aws:s3/bucketV2:BucketV2::b", inputs)]
    assert normalise_preview(document(steps)).resources[0]["inputs"] == inputs


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("dependencies", "urn:x", "dependencies: must be a list of URNs"),
        ("propertyDependencies", [], "propertyDependencies: must be an object"),
        ("propertyDependencies", {"arn": "urn:x"}, "propertyDependencies.arn: must be a list"),
    ],
)
def test_malformed_dependency_records(key: str, value: Any, message: str) -> None:
    steps = [new("create", P + "aws:sqs/queue:Queue::q", {}, **{key: value})]
    with pytest.raises(BurstError, match=message):
        normalise_preview(document(steps))


def test_a_replacement_family_must_agree_on_the_resource() -> None:
    """Found by the fuzzer: a `replace` clean copy of another type first hid the real one."""
    key = P + "aws:iam/accessKey:AccessKey::ci"
    clean = {
        "op": "replace",
        "urn": key,
        "newState": {**state(key, {"user": "ci"}), "type": "aws:s3/bucketV2:BucketV2"},
    }
    steps = [clean, new("replace", key, {"user": "ci"})]
    with pytest.raises(BurstError, match="already appears in an earlier step"):
        normalise_preview(document(steps))

"""WorkloadIdentity under the mock runtime: trust, least privilege, boundary, associations."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from burst_platform.components.conventions import ComponentArgsError
from burst_platform.components.workload_identity import (
    POD_IDENTITY_SESSION_TAGS,
    WorkloadIdentity,
    WorkloadIdentityArgs,
    pod_identity_trust_policy,
)
from burst_platform.mock_runtime import Registration, run_program
from tests.conftest import assert_children_of, of_type

ACCOUNT = "111122223333"
REGION = "eu-west-1"
CLUSTER_ARN = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/burst-eu"
DATASETS = "arn:aws:s3:::acme-ml-dev-eu-west-1-imagenet"
CHECKPOINTS = "arn:aws:s3:::acme-ml-dev-eu-west-1-checkpoints"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ARGS = WorkloadIdentityArgs(
    team="ml",
    environment="dev",
    region=REGION,
    account_id=ACCOUNT,
    cluster_name="burst-eu",
    cluster_arn=CLUSTER_ARN,
    namespace="ml",
    read_bucket_arns=(DATASETS,),
    write_bucket_arns=(CHECKPOINTS,),
    kms_key_arns=(KEY,),
)


def run(*identities: tuple[str, WorkloadIdentityArgs]) -> list[Registration]:
    """Create each (name, args) WorkloadIdentity with an eu-west-1 provider."""

    def program() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        for name, args in identities:
            WorkloadIdentity(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return run_program(program, project="burst-platform", stack="test")


def role(registrations: list[Registration], service_account: str) -> Registration:
    (match,) = [
        r for r in of_type(registrations, "aws:iam/role:Role") if r.name == f"ml-{service_account}"
    ]
    return match


def statements(document: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_default_creates_a_role_policy_and_association_per_service_account() -> None:
    registrations = run(("ml", ARGS))
    assert Counter(r.type for r in registrations if r.type.startswith("aws:")) == {
        "aws:iam/policy:Policy": 1,
        "aws:iam/role:Role": 2,
        "aws:iam/rolePolicy:RolePolicy": 2,
        "aws:eks/podIdentityAssociation:PodIdentityAssociation": 2,
    }
    associations = of_type(registrations, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert sorted(a.inputs["serviceAccount"] for a in associations) == ["backtest", "training"]


def test_children_belong_to_the_component_and_its_provider() -> None:
    assert_children_of(run(("ml", ARGS)), "burst:identity:WorkloadIdentity", "ml-")


@pytest.mark.parametrize("service_account", ["training", "backtest"])
def test_trust_admits_only_pod_identity_for_this_cluster_namespace_and_account(
    service_account: str,
) -> None:
    trust = json.loads(role(run(("ml", ARGS)), service_account).inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:SourceAccount": ACCOUNT,
            "aws:RequestTag/eks-cluster-arn": CLUSTER_ARN,
            "aws:RequestTag/kubernetes-namespace": "ml",
            "aws:RequestTag/kubernetes-service-account": service_account,
        },
        "ArnEquals": {"aws:SourceArn": CLUSTER_ARN},
    }


def test_trust_conditions_only_use_session_tags_pod_identity_sets() -> None:
    trust = pod_identity_trust_policy(ACCOUNT, CLUSTER_ARN, "ml", "training")
    keys = [k for block in trust["Statement"][0]["Condition"].values() for k in block]
    request_tags = [k.removeprefix("aws:RequestTag/") for k in keys if "RequestTag" in k]
    assert len(request_tags) == 3
    assert set(request_tags) <= set(POD_IDENTITY_SESSION_TAGS)


def test_roles_are_short_lived_bounded_tagged_and_named_per_region() -> None:
    registrations = run(("ml", ARGS))
    (boundary,) = of_type(registrations, "aws:iam/policy:Policy")
    boundary_arn = f"arn:aws:iam::{ACCOUNT}:policy/{boundary.inputs['name']}"
    for service_account in ("training", "backtest"):
        inputs = role(registrations, service_account).inputs
        assert inputs["maxSessionDuration"] == 3600
        assert inputs["permissionsBoundary"] == boundary_arn
        assert inputs["tags"] == {"team": "ml", "environment": "dev"}
        assert inputs["name"] == f"burst-ml-dev-eu-west-1-{service_account}"
    assert boundary.inputs["tags"] == {"team": "ml", "environment": "dev"}
    assert REGION in boundary.inputs["name"]


def test_session_length_is_configurable() -> None:
    registrations = run(("ml", dataclasses.replace(ARGS, max_session_seconds=900)))
    assert {
        r.inputs["maxSessionDuration"] for r in of_type(registrations, "aws:iam/role:Role")
    } == {900}


def test_inline_policy_reads_datasets_writes_checkpoints_and_uses_keys_via_s3_only() -> None:
    registrations = run(("ml", ARGS))
    policies = of_type(registrations, "aws:iam/rolePolicy:RolePolicy")
    assert len(policies) == 2
    for policy in policies:
        granted = statements(policy.inputs["policy"])
        assert {s["Effect"] for s in granted.values()} == {"Allow"}
        assert granted["ListBuckets"]["Action"] == ["s3:ListBucket"]
        assert sorted(granted["ListBuckets"]["Resource"]) == sorted([DATASETS, CHECKPOINTS])
        assert granted["ReadObjects"]["Action"] == ["s3:GetObject"]
        assert sorted(granted["ReadObjects"]["Resource"]) == sorted(
            [f"{DATASETS}/*", f"{CHECKPOINTS}/*"]
        )
        write = granted["WriteCheckpoints"]
        assert sorted(write["Action"]) == [
            "s3:AbortMultipartUpload",
            "s3:DeleteObject",
            "s3:PutObject",
        ]
        assert write["Resource"] == [f"{CHECKPOINTS}/*"]
        keys = granted["UseBucketKeysViaS3"]
        assert sorted(keys["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
        assert keys["Resource"] == [KEY]
        assert keys["Condition"] == {
            "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
        }
        for statement in granted.values():
            assert "*" not in as_list(statement["Resource"])
            assert not any(a.endswith("*") for a in as_list(statement["Action"]))


def test_each_role_gets_its_own_inline_policy() -> None:
    registrations = run(("ml", ARGS))
    roles = {f"{r.urn}" for r in of_type(registrations, "aws:iam/role:Role")}
    targets = {r.inputs["role"] for r in of_type(registrations, "aws:iam/rolePolicy:RolePolicy")}
    assert len(roles) == len(targets) == 2


def test_without_write_buckets_or_keys_nothing_is_writable_or_decryptable() -> None:
    args = dataclasses.replace(ARGS, write_bucket_arns=(), kms_key_arns=())
    registrations = run(("ml", args))
    for policy in [
        *of_type(registrations, "aws:iam/rolePolicy:RolePolicy"),
        *of_type(registrations, "aws:iam/policy:Policy"),
    ]:
        granted = statements(policy.inputs["policy"])
        assert "WriteCheckpoints" not in granted
        actions = [
            a
            for s in granted.values()
            if s["Effect"] == "Allow"
            for a in as_list(s.get("Action", []))
        ]
        assert not [a for a in actions if a.startswith("kms:") or a == "s3:PutObject"]


def test_boundary_caps_services_and_region() -> None:
    registrations = run(("ml", ARGS))
    (boundary,) = of_type(registrations, "aws:iam/policy:Policy")
    policy = statements(boundary.inputs["policy"])
    allowed = {a for s in policy.values() if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert allowed == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "sts:GetCallerIdentity",
    }
    deny = policy["DenyIdentityAdministration"]
    assert deny["Effect"] == "Deny"
    assert sorted(deny["Action"]) == ["iam:*", "organizations:*", "sts:AssumeRole"]
    assert deny["Resource"] == "*"
    region = policy["DenyOutsideRegion"]
    assert region["Effect"] == "Deny"
    assert region["NotAction"] == ["sts:GetCallerIdentity"]
    assert region["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": REGION}}


def test_given_boundary_is_used_and_none_is_created() -> None:
    given = "arn:aws:iam::111122223333:policy/org-workload-boundary"
    registrations = run(("ml", dataclasses.replace(ARGS, permissions_boundary_arn=given)))
    assert not of_type(registrations, "aws:iam/policy:Policy")
    assert {
        r.inputs["permissionsBoundary"] for r in of_type(registrations, "aws:iam/role:Role")
    } == {given}


def test_custom_service_accounts_and_inputs_from_other_resources() -> None:
    args = dataclasses.replace(
        ARGS,
        service_accounts=("sweep",),
        cluster_name=pulumi.Output.from_input("burst-eu"),
        cluster_arn=pulumi.Output.from_input(CLUSTER_ARN),
        read_bucket_arns=(pulumi.Output.from_input(DATASETS),),
    )
    registrations = run(("ml", args))
    (association,) = of_type(registrations, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    sweep = role(registrations, "sweep")
    assert association.inputs == {
        "clusterName": "burst-eu",
        "namespace": "ml",
        "serviceAccount": "sweep",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{sweep.inputs['name']}",
        "disableSessionTags": False,
        "tags": {"team": "ml", "environment": "dev"},
    }
    trust = json.loads(sweep.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"]["ArnEquals"] == {"aws:SourceArn": CLUSTER_ARN}


def test_role_names_are_unique_per_region_team_and_environment() -> None:
    registrations = run(
        ("ml-eu", ARGS),
        ("ml-us", dataclasses.replace(ARGS, region="us-east-1", kms_key_arns=())),
        ("ml-prod", dataclasses.replace(ARGS, environment="prod")),
        ("quant", dataclasses.replace(ARGS, team="quant")),
    )
    for resource_type, count in (("aws:iam/role:Role", 8), ("aws:iam/policy:Policy", 4)):
        names = [r.inputs["name"] for r in of_type(registrations, resource_type)]
        assert len(names) == len(set(names)) == count, resource_type


def test_long_names_stay_within_the_iam_limit() -> None:
    args = dataclasses.replace(
        ARGS, team="t" * 40, environment="e" * 40, service_accounts=("a" * 60, "a" * 59 + "b")
    )
    names = [r.inputs["name"] for r in of_type(run(("ml", args)), "aws:iam/role:Role")]
    assert all(len(n) <= 64 for n in names)
    assert len(set(names)) == 2


def test_role_arns_output_maps_service_accounts_to_roles() -> None:
    resolved: dict[str, str] = {}

    def program() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        identity = WorkloadIdentity("ml", ARGS, opts=pulumi.ResourceOptions(providers=[provider]))
        for service_account, arn in identity.role_arns.items():
            arn.apply(lambda value, sa=service_account: resolved.__setitem__(sa, value))

    run_program(program, project="burst-platform", stack="test")
    assert resolved == {
        "training": f"arn:aws:iam::{ACCOUNT}:role/burst-ml-dev-eu-west-1-training",
        "backtest": f"arn:aws:iam::{ACCOUNT}:role/burst-ml-dev-eu-west-1-backtest",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"team": "Team"}, "team"),
        ({"environment": "dev_1"}, "environment"),
        ({"region": "europe"}, "region"),
        ({"account_id": "abc"}, "account_id"),
        ({"account_id": "111122223333\n"}, "account_id"),
        ({"namespace": "ML"}, "namespace"),
        ({"service_accounts": ()}, "service_accounts"),
        ({"service_accounts": "training"}, "service_accounts"),
        ({"service_accounts": ("training", "training")}, "service_accounts"),
        ({"service_accounts": ("Training",)}, "service_accounts[0]"),
        ({"read_bucket_arns": (), "write_bucket_arns": ()}, "read_bucket_arns"),
        ({"read_bucket_arns": ("acme-datasets",)}, "read_bucket_arns[0]"),
        ({"write_bucket_arns": (CHECKPOINTS, "arn:aws:s3:eu-west-1::x")}, "write_bucket_arns[1]"),
        ({"kms_key_arns": ("arn:aws:kms:us-east-1:111122223333:key/x",)}, "kms_key_arns[0]"),
        ({"max_session_seconds": 899}, "max_session_seconds"),
        ({"max_session_seconds": 3601}, "max_session_seconds"),
        ({"max_session_seconds": 1800.0}, "max_session_seconds"),
        ({"max_session_seconds": True}, "max_session_seconds"),
    ],
)
def test_bad_arguments_are_rejected_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        dataclasses.replace(ARGS, **changes)
    assert error.value.field == field


def test_the_trusted_service_accounts_exist_in_the_team_namespace() -> None:
    registrations = run(("ml", ARGS))
    accounts = of_type(registrations, "kubernetes:core/v1:ServiceAccount")
    associations = of_type(registrations, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert {
        (a.inputs["metadata"]["namespace"], a.inputs["metadata"]["name"]) for a in accounts
    } == {(a.inputs["namespace"], a.inputs["serviceAccount"]) for a in associations}
    assert all(a.inputs["automountServiceAccountToken"] is False for a in accounts)
    elsewhere = run(("ml", dataclasses.replace(ARGS, create_service_accounts=False)))
    assert not of_type(elsewhere, "kubernetes:core/v1:ServiceAccount")

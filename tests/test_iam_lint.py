"""Every IAM policy document the budget, identity and storage components generate passes parliament.

The documents are taken from the mock registrations, so what is linted is exactly what the
components send to AWS: trust policies (linted with the role as resource, see `iam_lint`),
managed and inline identity policies, the permissions boundary, bucket policies, the SNS topic
policy and the KMS key policy. The dataset key has no explicit policy (AWS's default key
policy applies), and the pod identity associations carry no session policy.
"""

from __future__ import annotations

import copy
from collections import Counter

import pulumi
import pulumi_aws as aws
import pytest

from burst_platform.components.budgets import (
    TeamBudget,
    TeamBudgetArgs,
    circuit_breaker_deny_policy,
)
from burst_platform.components.dataset_storage import Dataset, DatasetStorage, DatasetStorageArgs
from burst_platform.components.workload_identity import (
    WorkloadIdentity,
    WorkloadIdentityArgs,
    pod_identity_trust_policy,
    workload_access_policy,
)
from burst_platform.mock_runtime import MOCK_ACCOUNT_ID, run_program
from tests.iam_lint import (
    IDENTITY_POLICY,
    RESOURCE_POLICY,
    TRUST_POLICY,
    Finding,
    PolicyDocument,
    all_findings,
    lint,
    lint_document,
    lint_trust_policy,
    policy_documents,
)

REGION = "eu-west-1"


def _program() -> None:
    provider = aws.Provider("aws-eu-west-1", region=REGION)
    opts = pulumi.ResourceOptions(providers=[provider])
    storage = DatasetStorage(
        "ml",
        DatasetStorageArgs(
            team="ml",
            environment="dev",
            region=REGION,
            bucket_prefix="acme",
            datasets=(
                Dataset("imagenet", "internal"),
                Dataset("ticks", "confidential", object_lock_mode="COMPLIANCE"),
            ),
            class_regions={"internal": ["*"], "confidential": [REGION]},
            account_id=MOCK_ACCOUNT_ID,
        ),
        opts=opts,
    )
    WorkloadIdentity(
        "ml",
        WorkloadIdentityArgs(
            team="ml",
            environment="dev",
            region=REGION,
            account_id=MOCK_ACCOUNT_ID,
            cluster_name="burst-eu",
            cluster_arn=f"arn:aws:eks:{REGION}:{MOCK_ACCOUNT_ID}:cluster/burst-eu",
            namespace="ml",
            read_bucket_arns=list(storage.dataset_bucket_arns.values()),
            write_bucket_arns=[storage.checkpoint_bucket_arn],
            kms_key_arns=[storage.kms_key_arn],
        ),
        opts=opts,
    )
    TeamBudget(
        "ml",
        TeamBudgetArgs(
            team="ml",
            environment="dev",
            account_id=MOCK_ACCOUNT_ID,
            monthly_limit_usd=20000,
            alert_emails=("ml-leads@example.com",),
            circuit_breaker_role_names=("KarpenterController-burst-eu",),
        ),
        opts=opts,
    )


DOCUMENTS = policy_documents(
    run_program(_program, project="burst-platform", stack="test"), MOCK_ACCOUNT_ID
)


def test_every_generated_document_kind_is_collected() -> None:
    kinds = Counter((d.resource_type, d.kind) for d in DOCUMENTS)
    assert kinds == {
        # Pod identity roles (training, backtest) and the budget action's execution role.
        ("aws:iam/role:Role", TRUST_POLICY): 3,
        ("aws:iam/rolePolicy:RolePolicy", IDENTITY_POLICY): 3,
        # Workload boundary, circuit breaker deny and the execution role's boundary.
        ("aws:iam/policy:Policy", IDENTITY_POLICY): 3,
        ("aws:s3/bucketPolicy:BucketPolicy", RESOURCE_POLICY): 3,
        ("aws:sns/topicPolicy:TopicPolicy", RESOURCE_POLICY): 1,
        # The alert topic's key and the storage key (explicit policies on every key).
        ("aws:kms/key:Key", RESOURCE_POLICY): 2,
    }


@pytest.mark.parametrize("policy", DOCUMENTS, ids=lambda d: f"{d.resource_type}:{d.resource_name}")
def test_generated_document_has_no_finding_above_low(policy: PolicyDocument) -> None:
    assert lint_document(policy) == []


def test_low_findings_are_reported_but_not_returned() -> None:
    # Key policies must name Resource "*", which parliament notes as RESOURCE_STAR (LOW).
    key_policies = [d for d in DOCUMENTS if d.resource_type == "aws:kms/key:Key"]
    assert key_policies
    for key_policy in key_policies:
        assert {f.issue for f in all_findings(key_policy.document)} == {"RESOURCE_STAR"}
        assert lint(key_policy.document) == []
        assert lint(key_policy.document, minimum_severity="LOW")


def issues(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.issue, f.severity) for f in findings}


def test_unknown_action_is_caught() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObjectt", "Resource": "arn:aws:s3:::b/*"}
        ],
    }
    assert issues(lint(document)) == {("UNKNOWN_ACTION", "MEDIUM")}


def test_misspelt_action_in_the_circuit_breaker_would_be_caught() -> None:
    # A typo in a Deny matches nothing and fails open; the linter must not let it through.
    document = circuit_breaker_deny_policy("quant")
    document["Statement"][0]["Action"] = ["ec2:RunInstance", "ec2:CreateFleet"]
    assert ("UNKNOWN_ACTION", "MEDIUM") in issues(lint(document))


def test_resource_that_no_action_applies_to_is_caught() -> None:
    # s3:GetObject applies to objects (bucket/*), not to the bucket itself.
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}],
    }
    assert issues(lint(document)) == {("RESOURCE_MISMATCH", "MEDIUM")}


def test_object_actions_granted_on_bucket_arns_would_be_caught() -> None:
    document = workload_access_policy(
        REGION, ["arn:aws:s3:::datasets"], ["arn:aws:s3:::checkpoints"], []
    )
    assert lint(document) == []
    broken = copy.deepcopy(document)
    for statement in broken["Statement"]:
        statement["Resource"] = [r.removesuffix("/*") for r in statement["Resource"]]
    assert ("RESOURCE_MISMATCH", "MEDIUM") in issues(lint(broken))


def test_condition_key_the_action_does_not_support_is_caught() -> None:
    document = workload_access_policy(REGION, ["arn:aws:s3:::d"], [], ["arn:aws:kms:eu-west-1:1:k"])
    document["Statement"][-1]["Condition"] = {"StringEquals": {"kms:ViaServices": "s3"}}
    assert ("UNKNOWN_CONDITION_FOR_ACTION", "MEDIUM") in issues(lint(document))


def test_trust_policy_needs_the_role_as_resource() -> None:
    trust = pod_identity_trust_policy(
        MOCK_ACCOUNT_ID, f"arn:aws:eks:{REGION}:{MOCK_ACCOUNT_ID}:cluster/c", "ml", "training"
    )
    assert ("MALFORMED", "HIGH") in issues(lint(trust))
    assert lint_trust_policy(trust, f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/r") == []
    assert "Resource" not in trust["Statement"][0]


def test_malformed_principal_in_a_resource_policy_is_caught() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": "everyone"},
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::b",
            }
        ],
    }
    assert ("UNKNOWN_PRINCIPAL", "MEDIUM") in issues(lint(document))


def test_split_statements_are_judged_as_a_union() -> None:
    """RunInstances scoped per resource type over several statements passes only when complete."""
    subnet_only = {
        "Effect": "Allow",
        "Action": "ec2:RunInstances",
        "Resource": "arn:aws:ec2:eu-west-1:*:subnet/*",
    }
    rest = {
        "Effect": "Allow",
        "Action": "ec2:RunInstances",
        "Resource": [
            "arn:aws:ec2:eu-west-1::image/*",
            "arn:aws:ec2:eu-west-1:*:instance/*",
            "arn:aws:ec2:eu-west-1:*:network-interface/*",
            "arn:aws:ec2:eu-west-1:*:security-group/*",
            "arn:aws:ec2:eu-west-1:*:volume/*",
        ],
    }
    partial = {"Version": "2012-10-17", "Statement": [subnet_only]}
    assert [f.issue for f in lint(partial)] == ["RESOURCE_MISMATCH"]
    assert lint({"Version": "2012-10-17", "Statement": [subnet_only, rest]}) == []

"""Short-lived, least-privilege AWS identities for training and backtest pods (EKS Pod Identity).

One IAM role per Kubernetes service account. The trust policy admits only the EKS Pod Identity
service, and only when the session tags EKS attaches name this cluster, namespace and service
account, so an association made in another cluster or namespace cannot use the role. Sessions
last at most an hour, and a permissions boundary caps what the role can ever be granted: S3
object access on the team's buckets, KMS data keys on its keys, nothing in IAM, STS role
chaining or Organizations, and nothing outside the region.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from burst_platform.components.conventions import (
    ENVIRONMENT_TAG,
    TEAM_TAG,
    ComponentArgsError,
    bounded_name,
    require_account_id,
    require_name,
    require_region,
    team_tags,
)

POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
"""Service principal EKS Pod Identity assumes roles as."""

POD_IDENTITY_SESSION_TAGS = (
    "eks-cluster-arn",
    "eks-cluster-name",
    "kubernetes-namespace",
    "kubernetes-service-account",
    "kubernetes-pod-name",
    "kubernetes-pod-uid",
)
"""The six session tags EKS Pod Identity adds to every AssumeRole (EKS user guide, pod-id-abac)."""

READ_OBJECT_ACTIONS = ("s3:GetObject",)
LIST_BUCKET_ACTIONS = ("s3:ListBucket",)
WRITE_OBJECT_ACTIONS = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
KMS_DATA_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
GLOBAL_READ_ACTIONS = ("sts:GetCallerIdentity",)
"""Calls that go to a global endpoint (so `aws:RequestedRegion` is us-east-1) and stay allowed."""

MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 3600
IAM_ROLE_NAME_MAX = 64
IAM_POLICY_NAME_MAX = 128


def role_name(team: str, environment: str, region: str, service_account: str) -> str:
    """IAM role name of one service account; IAM is global, so the region is part of it."""
    return bounded_name(
        "burst", team, environment, region, service_account, max_length=IAM_ROLE_NAME_MAX
    )


def boundary_policy_name(team: str, environment: str, region: str) -> str:
    """Name of the permissions boundary the component creates for a team in a region."""
    return bounded_name(
        "burst", team, environment, region, "workload-boundary", max_length=IAM_POLICY_NAME_MAX
    )


def pod_identity_trust_policy(
    account_id: str, cluster_arn: str, namespace: str, service_account: str
) -> dict[str, Any]:
    """Trust policy: EKS Pod Identity, for this cluster, namespace and service account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EksPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": account_id,
                        "aws:RequestTag/eks-cluster-arn": cluster_arn,
                        "aws:RequestTag/kubernetes-namespace": namespace,
                        "aws:RequestTag/kubernetes-service-account": service_account,
                    },
                    "ArnEquals": {"aws:SourceArn": cluster_arn},
                },
            }
        ],
    }


def _trust_json(account_id: str, namespace: str, service_account: str, cluster_arn: str) -> str:
    return json.dumps(
        pod_identity_trust_policy(account_id, cluster_arn, namespace, service_account)
    )


def _bucket_statements(
    read_bucket_arns: Sequence[str], write_bucket_arns: Sequence[str]
) -> list[dict[str, Any]]:
    buckets = list(dict.fromkeys([*read_bucket_arns, *write_bucket_arns]))
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListBuckets",
            "Effect": "Allow",
            "Action": list(LIST_BUCKET_ACTIONS),
            "Resource": buckets,
        },
        {
            "Sid": "ReadObjects",
            "Effect": "Allow",
            "Action": list(READ_OBJECT_ACTIONS),
            "Resource": [f"{arn}/*" for arn in buckets],
        },
    ]
    if write_bucket_arns:
        statements.append(
            {
                "Sid": "WriteCheckpoints",
                "Effect": "Allow",
                "Action": list(WRITE_OBJECT_ACTIONS),
                "Resource": [f"{arn}/*" for arn in dict.fromkeys(write_bucket_arns)],
            }
        )
    return statements


def workload_access_policy(
    region: str,
    read_bucket_arns: Sequence[str],
    write_bucket_arns: Sequence[str],
    kms_key_arns: Sequence[str],
) -> dict[str, Any]:
    """Inline policy of a workload role: read datasets, read/write checkpoints, S3's KMS keys.

    Write buckets are readable too (a run resumes from its own checkpoints). The keys may only
    be used through S3 in `region` (`kms:ViaService`), so the credentials cannot decrypt
    anything directly.
    """
    statements = _bucket_statements(read_bucket_arns, write_bucket_arns)
    if kms_key_arns:
        statements.append(
            {
                "Sid": "UseBucketKeysViaS3",
                "Effect": "Allow",
                "Action": list(KMS_DATA_KEY_ACTIONS),
                "Resource": list(dict.fromkeys(kms_key_arns)),
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def workload_boundary_policy(
    region: str,
    read_bucket_arns: Sequence[str],
    write_bucket_arns: Sequence[str],
    kms_key_arns: Sequence[str],
) -> dict[str, Any]:
    """Permissions boundary of the workload roles of a team in a region.

    Allows at most the workload permissions plus `sts:GetCallerIdentity`, and denies explicitly
    what must never be granted later, whatever policy is attached: IAM, STS role chaining,
    Organizations, and any call outside `region` except the global read calls.
    """
    statements = _bucket_statements(read_bucket_arns, write_bucket_arns)
    if kms_key_arns:
        statements.append(
            {
                "Sid": "UseBucketKeys",
                "Effect": "Allow",
                "Action": list(KMS_DATA_KEY_ACTIONS),
                "Resource": list(dict.fromkeys(kms_key_arns)),
            }
        )
    statements += [
        {
            "Sid": "GlobalRead",
            "Effect": "Allow",
            "Action": list(GLOBAL_READ_ACTIONS),
            "Resource": "*",
        },
        {
            "Sid": "DenyIdentityAdministration",
            "Effect": "Deny",
            "Action": ["iam:*", "organizations:*", "sts:AssumeRole"],
            "Resource": "*",
        },
        {
            "Sid": "DenyOutsideRegion",
            "Effect": "Deny",
            "NotAction": list(GLOBAL_READ_ACTIONS),
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": region}},
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    """Arguments of `WorkloadIdentity`."""

    team: str
    """Team that owns the workloads (tags and names)."""

    environment: str
    """Environment tag value; part of the role names."""

    region: str
    """Region of the cluster and buckets. Only used in names and conditions: IAM is global."""

    account_id: str
    """12-digit ID of the account the cluster runs in (`aws:SourceAccount` of the trust)."""

    cluster_name: pulumi.Input[str]
    """Name of the EKS cluster the pod identity associations are made in."""

    cluster_arn: pulumi.Input[str]
    """ARN of that cluster; the trust policy admits sessions tagged with it only."""

    namespace: str
    """Kubernetes namespace of the service accounts."""

    read_bucket_arns: Sequence[pulumi.Input[str]]
    """Dataset buckets, read-only (may be empty if there are write buckets)."""

    write_bucket_arns: Sequence[pulumi.Input[str]]
    """Checkpoint buckets, read and write (may be empty if there are read buckets)."""

    kms_key_arns: Sequence[pulumi.Input[str]]
    """KMS keys the buckets are encrypted with; usable only through S3 in `region`."""

    service_accounts: Sequence[str] = ("training", "backtest")
    """Kubernetes service accounts that get a role each."""

    create_service_accounts: bool = True
    """Create the service accounts in `namespace` (through the Kubernetes provider in the
    component's `providers`; the namespace must exist first); False when they are made elsewhere."""

    max_session_seconds: int = 3600
    """Maximum session length of the roles, 900 to 3600 seconds."""

    permissions_boundary_arn: pulumi.Input[str] | None = None
    """Permissions boundary for the roles; None creates one for the team in this region."""

    def __post_init__(self) -> None:
        require_name("team", self.team)
        require_name("environment", self.environment)
        require_region("region", self.region)
        require_account_id("account_id", self.account_id)
        require_name("namespace", self.namespace)
        for field in ("read_bucket_arns", "write_bucket_arns", "kms_key_arns", "service_accounts"):
            if isinstance(getattr(self, field), str):
                raise ComponentArgsError(field, "must be a list, not a string")
        if not self.read_bucket_arns and not self.write_bucket_arns:
            raise ComponentArgsError("read_bucket_arns", "give at least one read or write bucket")
        for field in ("read_bucket_arns", "write_bucket_arns"):
            for index, arn in enumerate(getattr(self, field)):
                if isinstance(arn, str) and not arn.startswith("arn:aws:s3:::"):
                    raise ComponentArgsError(f"{field}[{index}]", f"{arn!r} is not a bucket ARN")
        for index, arn in enumerate(self.kms_key_arns):
            if isinstance(arn, str) and not arn.startswith(f"arn:aws:kms:{self.region}:"):
                raise ComponentArgsError(
                    f"kms_key_arns[{index}]", f"{arn!r} is not a KMS key ARN in {self.region}"
                )
        if not self.service_accounts:
            raise ComponentArgsError("service_accounts", "must not be empty")
        for index, service_account in enumerate(self.service_accounts):
            require_name(f"service_accounts[{index}]", service_account)
        if len(set(self.service_accounts)) != len(self.service_accounts):
            raise ComponentArgsError("service_accounts", "service accounts must be unique")
        if (
            isinstance(self.max_session_seconds, bool)
            or not isinstance(self.max_session_seconds, int)
            or not MIN_SESSION_SECONDS <= self.max_session_seconds <= MAX_SESSION_SECONDS
        ):
            raise ComponentArgsError(
                "max_session_seconds",
                f"must be a whole number from {MIN_SESSION_SECONDS} to {MAX_SESSION_SECONDS}",
            )


class WorkloadIdentity(pulumi.ComponentResource):
    """IAM roles for a team's training and backtest service accounts, bound by EKS Pod Identity.

    Children, per service account: an IAM role, its inline least-privilege policy, a pod
    identity association and (`create_service_accounts`) the Kubernetes ServiceAccount itself;
    plus, without `permissions_boundary_arn`, one boundary policy.
    """

    role_arns: dict[str, pulumi.Output[str]]
    """Role ARN of each service account."""

    boundary_arn: pulumi.Output[str]
    """ARN of the permissions boundary the roles carry."""

    def __init__(
        self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:identity:WorkloadIdentity", name, None, opts)
        tags = team_tags(args.team, args.environment)
        documents = pulumi.Output.all(
            pulumi.Output.all(*args.read_bucket_arns),
            pulumi.Output.all(*args.write_bucket_arns),
            pulumi.Output.all(*args.kms_key_arns),
        )

        boundary_arn: pulumi.Output[str]
        if args.permissions_boundary_arn is None:
            boundary = aws.iam.Policy(
                f"{name}-boundary",
                name=boundary_policy_name(args.team, args.environment, args.region),
                description=f"Permissions boundary of {args.team} workloads in {args.region}",
                policy=documents.apply(
                    lambda d: json.dumps(workload_boundary_policy(args.region, d[0], d[1], d[2]))
                ),
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            boundary_arn = boundary.arn
        else:
            boundary_arn = pulumi.Output.from_input(args.permissions_boundary_arn)

        access_policy = documents.apply(
            lambda d: json.dumps(workload_access_policy(args.region, d[0], d[1], d[2]))
        )
        self.role_arns = {}
        for service_account in args.service_accounts:
            trust = pulumi.Output.from_input(args.cluster_arn).apply(
                functools.partial(_trust_json, args.account_id, args.namespace, service_account)
            )
            role = aws.iam.Role(
                f"{name}-{service_account}",
                name=role_name(args.team, args.environment, args.region, service_account),
                description=(
                    f"Pod identity of {args.namespace}/{service_account} ({args.team}, "
                    f"{args.region})"
                ),
                assume_role_policy=trust,
                max_session_duration=args.max_session_seconds,
                permissions_boundary=boundary_arn,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.iam.RolePolicy(
                f"{name}-{service_account}-access",
                name="least-privilege",
                role=role.id,
                policy=access_policy,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.eks.PodIdentityAssociation(
                f"{name}-{service_account}-association",
                cluster_name=args.cluster_name,
                namespace=args.namespace,
                service_account=service_account,
                role_arn=role.arn,
                # The trust policy matches on the session tags, so they must stay on.
                disable_session_tags=False,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            if args.create_service_accounts:
                k8s.core.v1.ServiceAccount(
                    f"{name}-{service_account}-account",
                    metadata={
                        "name": service_account,
                        "namespace": args.namespace,
                        "labels": {TEAM_TAG: args.team, ENVIRONMENT_TAG: args.environment},
                    },
                    # Pod Identity brings its own projected token; the workloads need no
                    # Kubernetes API token.
                    automount_service_account_token=False,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            self.role_arns[service_account] = role.arn

        self.boundary_arn = boundary_arn
        self.register_outputs({"role_arns": self.role_arns, "boundary_arn": self.boundary_arn})

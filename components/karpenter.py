"""Karpenter controller: a scoped IAM role bound by Pod Identity, and the pinned Helm release.

The controller policy follows terraform-aws-eks' `modules/karpenter` statement by statement: EC2
actions are limited to resources tagged for this cluster, the interruption queue is the only queue
it can read, and it may pass only the node role. Settings point Karpenter at the interruption queue
by *name* and run it in isolated-VPC mode, since the burst network has no internet egress.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from burst_platform.components.conventions import (
    ComponentArgsError,
    bounded_name,
    platform_tags,
    require_account_id,
    require_name,
    require_region,
)
from burst_platform.components.versions import KARPENTER_VERSION
from burst_platform.components.workload_identity import pod_identity_trust_policy

KARPENTER_CHART = "oci://public.ecr.aws/karpenter/karpenter"
KARPENTER_CRD_CHART = "oci://public.ecr.aws/karpenter/karpenter-crd"
"""Karpenter's CRDs as templates, so that `helm upgrade` (and `pulumi up`) upgrades them."""


@dataclass(frozen=True)
class KarpenterControllerArgs:
    """Arguments of `KarpenterController`."""

    cluster_name: pulumi.Input[str]
    """Name of the EKS cluster."""

    cluster_arn: pulumi.Input[str]
    """ARN of the cluster; the Pod Identity trust is limited to it."""

    cluster_endpoint: pulumi.Input[str]
    """Private API server endpoint, so Karpenter does not need eks:DescribeCluster at start."""

    cluster_label: str
    """Plain cluster name used in IAM names and tag conditions (same as `cluster_name`)."""

    region: str
    """Region the provider deploys to."""

    account_id: str
    """AWS account ID."""

    environment: str
    """Environment tag value."""

    node_role_arn: pulumi.Input[str]
    """Node role Karpenter passes to the instances it launches."""

    interruption_queue_name: pulumi.Input[str]
    """Interruption queue name (Helm `settings.interruptionQueue` takes the name, not the ARN)."""

    interruption_queue_arn: pulumi.Input[str]
    """Interruption queue ARN, the only queue the controller may read."""

    volume_kms_key_arn: pulumi.Input[str]
    """KMS key of node root volumes; the controller needs grants on it to launch instances."""

    permissions_boundary_arn: pulumi.Input[str]
    """Permissions boundary of the controller role."""

    chart_version: str = KARPENTER_VERSION
    """Pinned Karpenter chart version (matches the CRDs the tests validate against)."""

    image_registry: str | None = None
    """Registry mirroring the controller image (e.g. an ECR pull-through cache); None: upstream."""

    namespace: str = "kube-system"
    """Namespace of the controller."""

    service_account: str = "karpenter"
    """Service account of the controller."""

    max_session_seconds: int = 3600
    """Maximum session of the controller role."""

    replicas: int = 2
    """Controller replicas (leader election keeps one active)."""

    system_node_selector: Mapping[str, str] | None = None
    """Node labels of the system nodes the controller must run on (None: any node)."""

    def __post_init__(self) -> None:
        require_name("cluster_label", self.cluster_label, max_length=100)
        require_region("region", self.region)
        require_name("environment", self.environment)
        require_name("namespace", self.namespace)
        require_name("service_account", self.service_account)
        require_account_id("account_id", self.account_id)
        if not re.fullmatch(r"^\d+\.\d+\.\d+$", self.chart_version):
            raise ComponentArgsError("chart_version", "pin an exact version such as 1.14.1")
        if not 900 <= self.max_session_seconds <= 3600:
            raise ComponentArgsError("max_session_seconds", "must be between 900 and 3600")
        if not 1 <= self.replicas <= 5:
            raise ComponentArgsError("replicas", "must be between 1 and 5")


def controller_policy_document(
    *,
    cluster_name: str,
    region: str,
    account_id: str,
    cluster_arn: str,
    queue_arn: str,
    node_role_arn: str,
    volume_kms_key_arn: str,
) -> dict[str, Any]:
    """Least-privilege Karpenter controller policy (terraform-aws-eks `modules/karpenter`)."""
    ec2 = f"arn:aws:ec2:{region}:*"
    owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}
    request_owned = {
        f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": cluster_name,
    }
    in_region = {"aws:RequestedRegion": region}
    launched = [
        f"{ec2}:{kind}/*"
        for kind in (
            "fleet",
            "instance",
            "volume",
            "network-interface",
            "launch-template",
            "spot-instances-request",
        )
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowScopedEC2InstanceAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": [
                    f"arn:aws:ec2:{region}::image/*",
                    f"arn:aws:ec2:{region}::snapshot/*",
                    f"{ec2}:security-group/*",
                    f"{ec2}:subnet/*",
                    f"{ec2}:capacity-reservation/*",
                ],
            },
            {
                "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": f"{ec2}:launch-template/*",
                "Condition": {
                    "StringEquals": owned,
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedEC2InstanceActionsWithTags",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                "Resource": launched,
                "Condition": {
                    "StringEquals": request_owned,
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceCreationTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": launched,
                "Condition": {
                    "StringEquals": {
                        **request_owned,
                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                    },
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": f"{ec2}:instance/*",
                "Condition": {
                    "StringEquals": owned,
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                    "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster_name},
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                    },
                },
            },
            {
                "Sid": "AllowScopedDeletion",
                "Effect": "Allow",
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                "Resource": [f"{ec2}:instance/*", f"{ec2}:launch-template/*"],
                "Condition": {
                    "StringEquals": owned,
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowRegionalReadActions",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeCapacityReservations",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceStatus",
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplates",
                    "ec2:DescribePlacementGroups",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeSubnets",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": in_region},
            },
            {
                "Sid": "AllowSSMReadActions",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": f"arn:aws:ssm:{region}:*:parameter/aws/service/*",
            },
            {
                "Sid": "AllowPricingReadActions",
                "Effect": "Allow",
                "Action": "pricing:GetProducts",
                "Resource": "*",
            },
            {
                "Sid": "AllowInterruptionQueueActions",
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                "Resource": queue_arn,
            },
            {
                "Sid": "AllowPassingInstanceRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": node_role_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            },
            {
                "Sid": "AllowScopedInstanceProfileCreationActions",
                "Effect": "Allow",
                "Action": ["iam:CreateInstanceProfile"],
                "Resource": f"arn:aws:iam::{account_id}:instance-profile/*",
                "Condition": {
                    "StringEquals": {
                        **request_owned,
                        "aws:RequestTag/topology.kubernetes.io/region": region,
                    },
                    "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileTagActions",
                "Effect": "Allow",
                "Action": ["iam:TagInstanceProfile"],
                "Resource": f"arn:aws:iam::{account_id}:instance-profile/*",
                "Condition": {
                    "StringEquals": {
                        **owned,
                        "aws:ResourceTag/topology.kubernetes.io/region": region,
                        **request_owned,
                        "aws:RequestTag/topology.kubernetes.io/region": region,
                    },
                    "StringLike": {
                        "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                        "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    },
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileActions",
                "Effect": "Allow",
                "Action": [
                    "iam:AddRoleToInstanceProfile",
                    "iam:RemoveRoleFromInstanceProfile",
                    "iam:DeleteInstanceProfile",
                ],
                "Resource": f"arn:aws:iam::{account_id}:instance-profile/*",
                "Condition": {
                    "StringEquals": {
                        **owned,
                        "aws:ResourceTag/topology.kubernetes.io/region": region,
                    },
                    "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowInstanceProfileReadActions",
                "Effect": "Allow",
                "Action": "iam:GetInstanceProfile",
                "Resource": f"arn:aws:iam::{account_id}:instance-profile/*",
            },
            {
                "Sid": "AllowInstanceProfileListing",
                "Effect": "Allow",
                "Action": "iam:ListInstanceProfiles",
                "Resource": "*",
            },
            {
                "Sid": "AllowAPIServerEndpointDiscovery",
                "Effect": "Allow",
                "Action": "eks:DescribeCluster",
                "Resource": cluster_arn,
            },
            {
                "Sid": "AllowZonalShiftStatusReadOnly",
                "Effect": "Allow",
                "Action": "arc-zonal-shift:GetManagedResource",
                "Resource": "*",
                "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}},
            },
            {
                "Sid": "AllowEncryptedVolumes",
                "Effect": "Allow",
                "Action": [
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                ],
                "Resource": volume_kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"ec2.{region}.amazonaws.com"}},
            },
        ],
    }


def controller_actions() -> frozenset[str]:
    """Every action the controller policy allows, whatever the cluster: what the permissions
    boundary of platform roles must admit for Karpenter."""
    document = controller_policy_document(
        cluster_name="cluster",
        region="us-east-1",
        account_id="111111111111",
        cluster_arn="arn:aws:eks:us-east-1:111111111111:cluster/cluster",
        queue_arn="arn:aws:sqs:us-east-1:111111111111:queue",
        node_role_arn="arn:aws:iam::111111111111:role/node",
        volume_kms_key_arn="arn:aws:kms:us-east-1:111111111111:key/volumes",
    )
    return frozenset(
        action
        for statement in document["Statement"]
        if statement["Effect"] == "Allow"
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    )


class KarpenterController(pulumi.ComponentResource):
    """Karpenter's IAM role (Pod Identity, scoped policy) and its pinned Helm release."""

    role_arn: pulumi.Output[str]
    """ARN of the controller role."""

    role_name: pulumi.Output[str]
    """Name of the controller role (a budget action can attach a deny policy to it)."""

    release_status: pulumi.Output[Any]
    """Status of the Helm release."""

    def __init__(
        self, name: str, args: KarpenterControllerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:karpenter:KarpenterController", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = platform_tags(args.environment, ClusterName=args.cluster_label)

        role = aws.iam.Role(
            f"{name}-role",
            name=bounded_name("burst-karpenter", args.cluster_label, args.region, max_length=64),
            assume_role_policy=pulumi.Output.from_input(args.cluster_arn).apply(
                lambda arn: json.dumps(
                    pod_identity_trust_policy(
                        args.account_id, arn, args.namespace, args.service_account
                    )
                )
            ),
            max_session_duration=args.max_session_seconds,
            permissions_boundary=args.permissions_boundary_arn,
            tags=tags,
            opts=child,
        )
        policy = pulumi.Output.all(
            args.cluster_arn,
            args.interruption_queue_arn,
            args.node_role_arn,
            args.volume_kms_key_arn,
        ).apply(
            lambda values: json.dumps(
                controller_policy_document(
                    cluster_name=args.cluster_label,
                    region=args.region,
                    account_id=args.account_id,
                    cluster_arn=values[0],
                    queue_arn=values[1],
                    node_role_arn=values[2],
                    volume_kms_key_arn=values[3],
                )
            )
        )
        # Inline, because the managed-policy size limit is too small (terraform-aws-eks#3571).
        role_policy = aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=child)
        association = aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity",
            cluster_name=args.cluster_name,
            namespace=args.namespace,
            service_account=args.service_account,
            role_arn=role.arn,
            tags=tags,
            opts=child,
        )
        controller_image: dict[str, Any] = {}
        if args.image_registry is not None:
            controller_image = {
                "image": {"repository": f"{args.image_registry}/karpenter/controller"}
            }
        # The CRDs come from their own chart: Helm installs a chart's `crds/` once and never
        # upgrades them, so CRDs shipped with the controller chart would stay at the first version.
        crds = k8s.helm.v3.Release(
            f"{name}-crds",
            name="karpenter-crd",
            chart=KARPENTER_CRD_CHART,
            version=args.chart_version,
            namespace=args.namespace,
            opts=child,
        )
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name="karpenter",
            chart=KARPENTER_CHART,
            version=args.chart_version,
            namespace=args.namespace,
            skip_crds=True,
            values={
                "replicas": args.replicas,
                "serviceAccount": {"name": args.service_account},
                "settings": {
                    "clusterName": args.cluster_name,
                    "clusterEndpoint": args.cluster_endpoint,
                    "interruptionQueue": args.interruption_queue_name,
                    "isolatedVPC": True,
                },
                "controller": {
                    **controller_image,
                    "resources": {
                        "requests": {"cpu": "1", "memory": "1Gi"},
                        "limits": {"memory": "1Gi"},
                    },
                },
                "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
                "nodeSelector": dict(args.system_node_selector or {}),
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[crds, association, role_policy]),
        )
        self.role_arn = role.arn
        self.role_name = role.name
        self.release_status = release.status
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})

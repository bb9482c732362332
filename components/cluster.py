"""Cluster access for a burst region: a private EKS cluster, or an existing cluster to attach to.

Either way the component hands out what the rest of the layer needs: the cluster's name, ARN and
endpoint, a Kubernetes provider bound to it, the IAM role Karpenter gives its nodes (with the EKS
access entry that lets them join), a KMS key for node volumes, and a permissions boundary that every
platform role carries.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from burst_platform.components.aws_managed_policies import MANAGED_POLICY_ACTIONS
from burst_platform.components.conventions import (
    DISCOVERY_TAG,
    ROLE_ARN_PATTERN,
    ComponentArgsError,
    bounded_name,
    ebs_key_statements,
    key_policy,
    platform_tags,
    require_account_id,
    require_name,
    require_region,
)
from burst_platform.components.karpenter import controller_actions
from burst_platform.components.versions import EKS_VERSION

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_MANAGED_POLICY = "AmazonEKSClusterPolicy"
NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEKS_CNI_Policy",
    "AmazonSSMManagedInstanceCore",
)
SECRETS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey")
"""What the cluster role does with the secrets key (envelope encryption of Kubernetes secrets)."""
BOUNDARY_WITHHELD_SERVICES = frozenset({"elasticloadbalancing"})
"""Services the boundary withholds although a role's managed policy grants them: the cluster
policy's load-balancer actions serve Services of type LoadBalancer, and the burst VPC has none
(no public ingress or egress; research workloads reach nothing from outside)."""
ACTION_PATTERN = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+\*?$")
SYSTEM_NODE_LABELS = {"burst.io/node-role": "system"}
"""Labels of the system node group a created cluster runs its controllers on."""


@dataclass(frozen=True)
class BurstClusterArgs:
    """Arguments of `BurstCluster`."""

    mode: Literal["create", "attach"]
    """`create` a private EKS cluster, or `attach` to an existing one by name."""

    cluster_name: str
    """Name of the cluster to create, or of the existing cluster."""

    environment: str
    """Environment tag value."""

    region: str
    """Region the provider deploys to (IAM names include it, since IAM is global)."""

    account_id: str
    """AWS account ID, for trust conditions and the permissions boundary."""

    discovery_tag_value: str
    """Value of `karpenter.sh/discovery` put on the cluster security group."""

    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]] = ()
    """Private subnets of the cluster and its system nodes (create mode)."""

    node_security_group_id: pulumi.Input[str] | None = None
    """Security group of burst nodes, allowed to reach the API server (create mode)."""

    admin_role_arns: Sequence[str] = ()
    """IAM roles given cluster-admin through EKS access entries (create mode)."""

    api_access_cidrs: Sequence[str] = ()
    """Networks that reach the private API endpoint over the on-prem link: where `pulumi up`
    runs (the on-prem CIDRs) and CI runners. Each gets TCP 443 on the cluster security group;
    without it the Kubernetes provider cannot reach the cluster from outside the VPC."""

    kubernetes_version: str = EKS_VERSION
    """Kubernetes version of a created cluster."""

    log_retention_days: int = 90
    """Retention of the control-plane log group."""

    system_node_instance_types: Sequence[str] = ("m6i.large",)
    """On-demand instance types of the small node group that runs Karpenter and Kueue."""

    system_node_count: int = 2
    """Number of system nodes (at least 2 for controller availability)."""

    max_session_seconds: int = 3600
    """Maximum session of every role this component creates."""

    boundary_extra_actions: Sequence[str] = ()
    """Actions the permissions boundary admits beyond the platform roles' own (`boundary_actions`),
    for another role given the boundary; named actions (`logs:PutLogEvents`, `s3:Get*`), never a
    whole service."""

    def __post_init__(self) -> None:
        if self.mode not in ("create", "attach"):
            raise ComponentArgsError("mode", f"{self.mode!r} must be 'create' or 'attach'")
        require_name("cluster_name", self.cluster_name, max_length=100)
        require_name("environment", self.environment)
        require_region("region", self.region)
        require_account_id("account_id", self.account_id)
        require_name("discovery_tag_value", self.discovery_tag_value)
        for i, arn in enumerate(self.admin_role_arns):
            if not ROLE_ARN_PATTERN.fullmatch(arn):
                raise ComponentArgsError(f"admin_role_arns[{i}]", f"{arn!r} is not an IAM role ARN")
        for i, cidr in enumerate(self.api_access_cidrs):
            try:
                network = ipaddress.IPv4Network(cidr)
            except (ValueError, TypeError):
                raise ComponentArgsError(
                    f"api_access_cidrs[{i}]", f"{cidr!r} is not an IPv4 CIDR block"
                ) from None
            if network.prefixlen == 0:
                raise ComponentArgsError(f"api_access_cidrs[{i}]", "must not be 0.0.0.0/0")
        if self.mode == "create":
            if self.node_security_group_id is None:
                raise ComponentArgsError("node_security_group_id", "required in create mode")
            if isinstance(self.subnet_ids, list | tuple) and len(self.subnet_ids) < 2:
                raise ComponentArgsError("subnet_ids", "create mode needs at least two subnets")
        if not 1 <= self.log_retention_days <= 3653:
            raise ComponentArgsError("log_retention_days", "must be between 1 and 3653")
        if self.system_node_count < 2:
            raise ComponentArgsError("system_node_count", "must be at least 2")
        if not self.system_node_instance_types:
            raise ComponentArgsError("system_node_instance_types", "must not be empty")
        if not 900 <= self.max_session_seconds <= 3600:
            raise ComponentArgsError("max_session_seconds", "must be between 900 and 3600")
        for action in self.boundary_extra_actions:
            if not isinstance(action, str) or not ACTION_PATTERN.fullmatch(action):
                raise ComponentArgsError(
                    "boundary_extra_actions",
                    f"{action!r} is not a named action such as logs:PutLogEvents (no service:*)",
                )


def service_trust_policy(service: str, account_id: str) -> dict[str, Any]:
    """Trust policy for an AWS service principal, limited to requests from our own account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


def node_trust_policy() -> dict[str, Any]:
    """Trust policy of the node role: EC2 instances launched for the cluster."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def boundary_actions(extra: Sequence[str] = ()) -> list[str]:
    """What the platform roles are known to need, the actions the boundary admits: the cluster
    role's and node roles' AWS-managed policies, the cluster role's use of the secrets key and
    Karpenter's controller policy, less the withheld services and `iam:PassRole` (which the
    boundary admits only towards EC2), plus `extra`."""
    needs = set(controller_actions()).union(SECRETS_KEY_ACTIONS, extra)
    for policy in (CLUSTER_MANAGED_POLICY, *NODE_MANAGED_POLICIES):
        needs |= MANAGED_POLICY_ACTIONS[policy]
    return sorted(
        action
        for action in needs
        if action.split(":")[0] not in BOUNDARY_WITHHELD_SERVICES and action != "iam:PassRole"
    )


def boundary_policy_document(actions: Sequence[str], region: str) -> dict[str, Any]:
    """Boundary of platform roles: the named actions in this region, no long-lived keys."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PlatformNeeds",
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": "*",
            },
            {
                "Sid": "PassNodeRolesToEc2",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            },
            {
                "Sid": "NoLongLivedCredentials",
                "Effect": "Deny",
                "Action": [
                    "iam:CreateUser",
                    "iam:CreateAccessKey",
                    "iam:CreateLoginProfile",
                    "iam:UpdateAssumeRolePolicy",
                ],
                "Resource": "*",
            },
            {
                "Sid": "StayInRegion",
                "Effect": "Deny",
                "NotAction": ["iam:*", "sts:*", "pricing:*"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": region}},
            },
        ],
    }


def logs_key_statements(account_id: str, region: str, log_group_name: str) -> list[dict[str, Any]]:
    """Key policy statements that let CloudWatch Logs encrypt one log group with the key: the
    regional service principal, bound to that log group by the encryption context (which
    `kms:DescribeKey` does not carry, so describing the key is a statement of its own)."""
    logs = {"Service": f"logs.{region}.amazonaws.com"}
    return [
        {
            "Sid": "LogsEncryptTheLogGroup",
            "Effect": "Allow",
            "Principal": logs,
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
            ],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:aws:logs:{region}:{account_id}:log-group:{log_group_name}"
                    )
                }
            },
        },
        {
            "Sid": "LogsDescribeKey",
            "Effect": "Allow",
            "Principal": logs,
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
    ]


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """Kubeconfig that authenticates with short-lived tokens from `aws eks get-token`."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {"server": endpoint, "certificate-authority-data": ca_data},
                }
            ],
            "contexts": [
                {"name": cluster_name, "context": {"cluster": cluster_name, "user": "aws"}}
            ],
            "current-context": cluster_name,
            "users": [
                {
                    "name": "aws",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster_name,
                                "--region",
                                region,
                            ],
                        }
                    },
                }
            ],
        }
    )


class BurstCluster(pulumi.ComponentResource):
    """Private EKS cluster (or an attached one) with node identity and a Kubernetes provider."""

    cluster_name: pulumi.Output[str]
    """Name of the cluster."""

    cluster_arn: pulumi.Output[str]
    """ARN of the cluster (Pod Identity trust conditions use it)."""

    endpoint: pulumi.Output[str]
    """Private API server endpoint."""

    vpc_id: pulumi.Output[str]
    """VPC of the cluster: the one given in create mode, the existing cluster's in attach mode."""

    subnet_ids: pulumi.Output[list[str]]
    """Subnets of the cluster (attach mode: the existing cluster's, where Karpenter launches)."""

    node_role_name: pulumi.Output[str]
    """Role of Karpenter's nodes (its own: not the system node group's)."""

    node_instance_profile_name: pulumi.Output[str]
    """Instance profile of Karpenter's nodes, for the EC2NodeClass's `spec.instanceProfile`."""

    system_node_role_name: pulumi.Output[str]
    """Role of the system node group, where the controllers run."""

    node_role_arn: pulumi.Output[str]
    """ARN of Karpenter's node role (Karpenter passes it to EC2)."""

    volume_kms_key_arn: pulumi.Output[str]
    """KMS key encrypting node root volumes."""

    permissions_boundary_arn: pulumi.Output[str]
    """Permissions boundary of platform roles in this region."""

    k8s_provider: k8s.Provider
    """Kubernetes provider bound to this cluster; pass it to the in-cluster components."""

    system_node_selector: dict[str, str]
    """Node selector for controllers: the system node group when created, any node when attached."""

    def __init__(
        self, name: str, args: BurstClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:cluster:BurstCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = platform_tags(args.environment, ClusterName=args.cluster_name)
        self._args = args

        boundary = aws.iam.Policy(
            f"{name}-boundary",
            name=bounded_name("burst-boundary", args.cluster_name, args.region, max_length=128),
            description="Permissions boundary of burst platform roles",
            policy=json.dumps(
                boundary_policy_document(boundary_actions(args.boundary_extra_actions), args.region)
            ),
            tags=tags,
            opts=child,
        )
        self.permissions_boundary_arn = boundary.arn

        volume_key = self._rotating_key(
            f"{name}-volumes",
            f"OS and data volumes of burst nodes in {args.cluster_name}",
            tags,
            key_policy(args.account_id, *ebs_key_statements(args.account_id, args.region)),
        )
        aws.kms.Alias(
            f"{name}-volumes",
            name=f"alias/{bounded_name('burst', args.cluster_name, 'volumes', max_length=200)}",
            target_key_id=volume_key.key_id,
            opts=child,
        )
        self.volume_kms_key_arn = volume_key.arn

        # The system node group's role: the managed node group keeps its EC2_LINUX access entry.
        node_role = self._node_role(f"{name}-node", "burst-node", args, boundary, tags)
        self.system_node_role_name = node_role.name
        # Karpenter's nodes get a role, instance profile and access entry of their own: an
        # isolated VPC has no IAM endpoint, so Karpenter cannot create the profile itself.
        karpenter_role = self._node_role(
            f"{name}-karpenter-node", "burst-karpenter-node", args, boundary, tags
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-karpenter-node",
            name=bounded_name(
                "burst-karpenter-node", args.cluster_name, args.region, max_length=128
            ),
            role=karpenter_role.name,
            tags=tags,
            opts=child,
        )
        self.node_role_name = karpenter_role.name
        self.node_role_arn = karpenter_role.arn
        self.node_instance_profile_name = profile.name

        self.system_node_selector = dict(SYSTEM_NODE_LABELS) if args.mode == "create" else {}
        if args.mode == "create":
            cluster, cluster_ready = self._create_cluster(name, args, node_role, boundary, tags)
            self.cluster_name = cluster.name
            self.cluster_arn = cluster.arn
            self.endpoint = cluster.endpoint
            ca_data = cluster.certificate_authority.data
            cluster_sg = cluster.vpc_config.cluster_security_group_id
            self.vpc_id = cluster.vpc_config.vpc_id
            self.subnet_ids = cluster.vpc_config.subnet_ids
            access_dependency: list[pulumi.Resource] = [cluster]
        else:
            cluster_ready = []
            existing = aws.eks.get_cluster_output(
                name=args.cluster_name, opts=pulumi.InvokeOptions(parent=self)
            )
            self.cluster_name = existing.name
            self.cluster_arn = existing.arn
            self.endpoint = existing.endpoint
            ca_data = existing.certificate_authorities[0].data
            cluster_sg = existing.vpc_config.cluster_security_group_id
            self.vpc_id = existing.vpc_config.vpc_id
            self.subnet_ids = existing.vpc_config.subnet_ids.apply(sorted)
            access_dependency = []

        karpenter_nodes = aws.eks.AccessEntry(
            f"{name}-karpenter-node",
            cluster_name=self.cluster_name,
            principal_arn=karpenter_role.arn,
            type="EC2_LINUX",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=access_dependency),
        )
        for index, cidr in enumerate(args.api_access_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-access-{index}",
                security_group_id=cluster_sg,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description=f"Kubernetes API from {cidr} (pulumi up, CI) over the private link",
                tags=tags,
                opts=child,
            )
        aws.ec2.Tag(
            f"{name}-cluster-sg-discovery",
            resource_id=cluster_sg,
            key=DISCOVERY_TAG,
            value=args.discovery_tag_value,
            opts=child,
        )

        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=pulumi.Output.all(self.cluster_name, self.endpoint, ca_data).apply(
                lambda values: kubeconfig(values[0], values[1], values[2], args.region)
            ),
            enable_server_side_apply=True,
            # Every Kubernetes resource goes through this provider: none starts before the
            # admins' access policies are associated (no 401/403 race on the first `up`), the
            # controllers can get credentials and be scheduled, and Karpenter's nodes can join.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*cluster_ready, karpenter_nodes]),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_arn": self.cluster_arn,
                "endpoint": self.endpoint,
                "node_role_name": self.node_role_name,
                "node_role_arn": self.node_role_arn,
                "node_instance_profile_name": self.node_instance_profile_name,
                "system_node_role_name": self.system_node_role_name,
                "volume_kms_key_arn": self.volume_kms_key_arn,
                "permissions_boundary_arn": self.permissions_boundary_arn,
            }
        )

    def _node_role(
        self,
        resource_name: str,
        role_prefix: str,
        args: BurstClusterArgs,
        boundary: aws.iam.Policy,
        tags: dict[str, str],
    ) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            resource_name,
            name=bounded_name(role_prefix, args.cluster_name, args.region, max_length=64),
            assume_role_policy=json.dumps(node_trust_policy()),
            max_session_duration=args.max_session_seconds,
            permissions_boundary=boundary.arn,
            tags=tags,
            opts=child,
        )
        for policy in NODE_MANAGED_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{resource_name}-{policy}",
                role=role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )
        return role

    def _rotating_key(
        self, name: str, description: str, tags: dict[str, str], policy: dict[str, Any]
    ) -> aws.kms.Key:
        return aws.kms.Key(
            name,
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=json.dumps(policy),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_cluster(
        self,
        name: str,
        args: BurstClusterArgs,
        node_role: aws.iam.Role,
        boundary: aws.iam.Policy,
        tags: dict[str, str],
    ) -> tuple[aws.eks.Cluster, list[pulumi.Resource]]:
        """The cluster and what Kubernetes resources wait for: the admins' access policy
        associations, the Pod Identity agent (controllers' credentials) and the system nodes
        (where the controllers run).

        The identity that runs `pulumi up` becomes cluster admin when EKS creates the cluster
        (`bootstrap_cluster_creator_admin_permissions`), so the Kubernetes provider can deploy
        right away; `admin_role_arns` get access entries of their own (list other roles there,
        not the deploying one: EKS already gave it an entry).
        """
        child = pulumi.ResourceOptions(parent=self)
        secrets_key = self._rotating_key(
            f"{name}-secrets",
            f"Kubernetes secrets of {args.cluster_name}",
            tags,
            key_policy(args.account_id),
        )
        cluster_role = aws.iam.Role(
            f"{name}-cluster",
            name=bounded_name("burst-eks", args.cluster_name, args.region, max_length=64),
            assume_role_policy=json.dumps(
                service_trust_policy("eks.amazonaws.com", args.account_id)
            ),
            max_session_duration=args.max_session_seconds,
            permissions_boundary=boundary.arn,
            tags=tags,
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn=f"arn:aws:iam::aws:policy/{CLUSTER_MANAGED_POLICY}",
            opts=child,
        )
        encryption = aws.iam.RolePolicy(
            f"{name}-cluster-encryption",
            role=cluster_role.id,
            policy=secrets_key.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "EncryptSecrets",
                                "Effect": "Allow",
                                "Action": list(SECRETS_KEY_ACTIONS),
                                "Resource": arn,
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        log_group_name = f"/aws/eks/{args.cluster_name}/cluster"
        logs_key = self._rotating_key(
            f"{name}-logs",
            f"Control-plane logs of {args.cluster_name}",
            tags,
            key_policy(
                args.account_id,
                *logs_key_statements(args.account_id, args.region, log_group_name),
            ),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=logs_key.arn,
            tags=tags,
            opts=child,
        )
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids,
                security_group_ids=[args.node_security_group_id]
                if args.node_security_group_id
                else [],
                endpoint_private_access=True,
                endpoint_public_access=False,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_key.arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=True,
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[attachment, encryption, log_group]
            ),
        )
        pod_identity = aws.eks.Addon(
            f"{name}-pod-identity-agent",
            cluster_name=cluster.name,
            addon_name="eks-pod-identity-agent",
            resolve_conflicts_on_create="OVERWRITE",
            tags=tags,
            opts=child,
        )
        admin_access: list[pulumi.Resource] = []
        for i, role_arn in enumerate(args.admin_role_arns):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{i}",
                cluster_name=cluster.name,
                principal_arn=role_arn,
                type="STANDARD",
                tags=tags,
                opts=child,
            )
            association = aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{i}",
                cluster_name=cluster.name,
                principal_arn=role_arn,
                policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )
            admin_access.append(association)
        system_nodes = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=args.subnet_ids,
            capacity_type="ON_DEMAND",
            instance_types=list(args.system_node_instance_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                desired_size=args.system_node_count,
                min_size=args.system_node_count,
                max_size=args.system_node_count + 1,
            ),
            labels=SYSTEM_NODE_LABELS,
            taints=[
                aws.eks.NodeGroupTaintArgs(
                    key="CriticalAddonsOnly", value="true", effect="NO_SCHEDULE"
                )
            ],
            tags=tags,
            opts=child,
        )
        return cluster, [*admin_access, pod_identity, system_nodes]

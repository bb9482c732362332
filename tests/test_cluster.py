"""BurstCluster and KarpenterController: private cluster, attach mode, scoped controller role."""

from __future__ import annotations

import json
from typing import Any

import parliament  # type: ignore[import-untyped]
import pulumi
import pulumi_aws as aws
import pytest

from burst_platform.components.aws_managed_policies import MANAGED_POLICY_ACTIONS
from burst_platform.components.cluster import (
    BOUNDARY_WITHHELD_SERVICES,
    CONTROL_PLANE_LOG_TYPES,
    BurstCluster,
    BurstClusterArgs,
)
from burst_platform.components.conventions import ComponentArgsError
from burst_platform.components.karpenter import KarpenterController, KarpenterControllerArgs
from burst_platform.components.versions import KARPENTER_VERSION
from burst_platform.mock_runtime import Registration
from tests.conftest import Run, of_type

ACCOUNT = "111122223333"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"


def cluster_args(**overrides: Any) -> BurstClusterArgs:
    values: dict[str, Any] = {
        "mode": "create",
        "cluster_name": "burst-dev",
        "environment": "dev",
        "region": "eu-west-1",
        "account_id": ACCOUNT,
        "discovery_tag_value": "burst-dev-eu-west-1",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "node_security_group_id": "sg-nodes",
        "admin_role_arns": [ADMIN],
    }
    values.update(overrides)
    return BurstClusterArgs(**values)


def build(run: Run, args: BurstClusterArgs, **karpenter: Any) -> list[Registration]:
    def program() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        cluster = BurstCluster("cluster", args, opts=pulumi.ResourceOptions(providers=[provider]))
        KarpenterController(
            "karpenter",
            KarpenterControllerArgs(
                cluster_name=cluster.cluster_name,
                cluster_arn=cluster.cluster_arn,
                cluster_endpoint=cluster.endpoint,
                cluster_label=args.cluster_name,
                region=args.region,
                account_id=ACCOUNT,
                environment=args.environment,
                node_role_arn=cluster.node_role_arn,
                interruption_queue_name="karpenter-burst-dev-eu-west-1",
                interruption_queue_arn=f"arn:aws:sqs:eu-west-1:{ACCOUNT}:karpenter-burst-dev-eu-west-1",
                volume_kms_key_arn=cluster.volume_kms_key_arn,
                permissions_boundary_arn=cluster.permissions_boundary_arn,
                system_node_selector=cluster.system_node_selector,
                **karpenter,
            ),
            opts=pulumi.ResourceOptions(providers=[provider, cluster.k8s_provider]),
        )

    return run(program)


def test_created_cluster_is_private_encrypted_and_logged(run: Run) -> None:
    regs = build(run, cluster_args())
    (cluster,) = of_type(regs, "aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert cluster.inputs["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster.inputs["encryptionConfig"]["provider"]["keyArn"].startswith(
        "arn:aws:kms:eu-west-1:"
    )
    assert cluster.inputs["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES)
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"
    addons = [a.inputs["addonName"] for a in of_type(regs, "aws:eks/addon:Addon")]
    assert addons == ["eks-pod-identity-agent"]
    entries = {e.inputs["type"]: e for e in of_type(regs, "aws:eks/accessEntry:AccessEntry")}
    assert entries["STANDARD"].inputs["principalArn"] == ADMIN
    assert "EC2_LINUX" in entries
    keys = of_type(regs, "aws:kms/key:Key")
    assert keys and all(k.inputs["enableKeyRotation"] for k in keys)


def test_attach_mode_reads_the_existing_cluster(run: Run) -> None:
    regs = build(
        run,
        cluster_args(mode="attach", subnet_ids=(), node_security_group_id=None, admin_role_arns=()),
    )
    assert not of_type(regs, "aws:eks/cluster:Cluster")
    assert not of_type(regs, "aws:eks/nodeGroup:NodeGroup")
    (entry,) = of_type(regs, "aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["clusterName"] == "burst-dev"
    (release,) = [
        r for r in of_type(regs, "kubernetes:helm.sh/v3:Release") if r.name.endswith("-release")
    ]
    assert release.inputs["values"]["nodeSelector"] == {}
    (association,) = of_type(regs, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert association.inputs["clusterName"] == "burst-dev"


def test_karpenter_release_is_pinned_and_points_at_the_queue_name(run: Run) -> None:
    regs = build(run, cluster_args())
    (release,) = [
        r for r in of_type(regs, "kubernetes:helm.sh/v3:Release") if r.name.endswith("-release")
    ]
    assert release.inputs["version"] == KARPENTER_VERSION
    settings = release.inputs["values"]["settings"]
    assert settings["clusterName"] == "burst-dev"
    assert settings["interruptionQueue"] == "karpenter-burst-dev-eu-west-1"
    assert not settings["interruptionQueue"].startswith("arn:")
    assert settings["isolatedVPC"] is True
    assert release.inputs["values"]["nodeSelector"] == {"burst.io/node-role": "system"}
    (association,) = of_type(regs, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        "kube-system",
        "karpenter",
    )


def test_image_registry_mirror(run: Run) -> None:
    mirror = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/ecr-public"
    regs = build(run, cluster_args(), image_registry=mirror)
    (release,) = [
        r for r in of_type(regs, "kubernetes:helm.sh/v3:Release") if r.name.endswith("-release")
    ]
    assert (
        release.inputs["values"]["controller"]["image"]["repository"]
        == f"{mirror}/karpenter/controller"
    )


def test_roles_are_short_lived_bounded_and_scoped(run: Run) -> None:
    regs = build(run, cluster_args())
    roles = {r.name: r for r in of_type(regs, "aws:iam/role:Role")}
    assert set(roles) == {
        "cluster-node",
        "cluster-karpenter-node",
        "cluster-cluster",
        "karpenter-role",
    }
    for role in roles.values():
        assert role.inputs["maxSessionDuration"] <= 3600
        assert role.inputs["permissionsBoundary"].startswith(f"arn:aws:iam::{ACCOUNT}:policy/")
        assert len(role.inputs["name"]) <= 64 and "eu-west-1" in role.inputs["name"]
    trust = json.loads(roles["karpenter-role"].inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert (
        trust["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"]
        == "karpenter"
    )
    assert trust["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(":cluster/burst-dev")
    (policy,) = [
        p for p in of_type(regs, "aws:iam/rolePolicy:RolePolicy") if p.name == "karpenter-policy"
    ]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["AllowInterruptionQueueActions"]["Resource"].endswith(
        ":karpenter-burst-dev-eu-west-1"
    )
    assert statements["AllowPassingInstanceRole"]["Resource"].endswith(
        "role/" + roles["cluster-karpenter-node"].inputs["name"]
    )
    for statement in statements.values():
        assert not (statement["Action"] == "*" and statement["Resource"] == "*")


def test_no_iam_users_or_access_keys(run: Run) -> None:
    regs = build(run, cluster_args())
    assert not [r for r in regs if r.type.startswith(("aws:iam/user", "aws:iam/accessKey"))]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"mode": "adopt"}, "mode"),
        ({"cluster_name": "Burst_Dev"}, "cluster_name"),
        ({"account_id": "1"}, "account_id"),
        ({"admin_role_arns": ["arn:aws:iam::111122223333:user/alice"]}, "admin_role_arns[0]"),
        ({"node_security_group_id": None}, "node_security_group_id"),
        ({"subnet_ids": ["subnet-a"]}, "subnet_ids"),
        ({"system_node_count": 1}, "system_node_count"),
        ({"max_session_seconds": 43200}, "max_session_seconds"),
    ],
)
def test_bad_cluster_arguments_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        cluster_args(**overrides)
    assert error.value.field == field


def test_bad_karpenter_arguments_name_the_field() -> None:
    with pytest.raises(ComponentArgsError) as error:
        KarpenterControllerArgs(
            cluster_name="c",
            cluster_arn="arn",
            cluster_endpoint="https://x",
            cluster_label="c",
            region="eu-west-1",
            account_id=ACCOUNT,
            environment="dev",
            node_role_arn="arn",
            interruption_queue_name="q",
            interruption_queue_arn="arn",
            volume_kms_key_arn="arn",
            permissions_boundary_arn="arn",
            chart_version="latest",
        )
    assert error.value.field == "chart_version"


KARPENTER_V1_14_CONTROLLER_ACTIONS = {
    # NodeLifecyclePolicy
    "ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:CreateTags",
    "ec2:TerminateInstances", "ec2:DeleteLaunchTemplate",
    # IAMIntegrationPolicy
    "iam:PassRole", "iam:CreateInstanceProfile", "iam:TagInstanceProfile",
    "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
    "iam:DeleteInstanceProfile",
    # EKSIntegrationPolicy, InterruptionPolicy, ZonalShiftPolicy
    "eks:DescribeCluster", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage",
    "arc-zonal-shift:GetManagedResource",
    # ResourceDiscoveryPolicy
    "ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
    "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups",
    "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets", "ssm:GetParameter",
    "pricing:GetProducts", "iam:ListInstanceProfiles", "iam:GetInstanceProfile",
}  # fmt: skip
"""Every action of the controller policies in Karpenter v1.14's getting-started CloudFormation
template (aws/karpenter-provider-aws, website/content/en/v1.14/getting-started/
getting-started-with-karpenter/cloudformation.yaml, read at commit e0834c2). Pinned: when the
chart moves, compare the new version's template and update this list with it."""

ENCRYPTED_VOLUME_ACTIONS = {
    "kms:CreateGrant",
    "kms:DescribeKey",
    "kms:GenerateDataKeyWithoutPlaintext",
}
"""What the controller needs beyond the reference: the node volumes use our KMS key."""


def test_controller_policy_has_every_action_of_the_reference_and_nothing_else(run: Run) -> None:
    regs = build(run, cluster_args())
    (policy,) = [
        p for p in of_type(regs, "aws:iam/rolePolicy:RolePolicy") if p.name == "karpenter-policy"
    ]
    actions: set[str] = set()
    for statement in json.loads(policy.inputs["policy"])["Statement"]:
        listed = statement["Action"]
        actions |= {listed} if isinstance(listed, str) else set(listed)
    assert sorted(KARPENTER_V1_14_CONTROLLER_ACTIONS - actions) == []
    assert sorted(actions - KARPENTER_V1_14_CONTROLLER_ACTIONS) == sorted(ENCRYPTED_VOLUME_ACTIONS)
    assert KARPENTER_VERSION.startswith("1.14."), (
        "compare the controller policy with the new template"
    )


def test_the_api_endpoint_is_reachable_from_where_pulumi_up_runs(run: Run) -> None:
    """The endpoint is private: the on-prem and CI networks get TCP 443 on the cluster SG."""
    regs = build(run, cluster_args(api_access_cidrs=("192.168.0.0/16", "10.200.0.0/24")))
    rules = of_type(regs, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert sorted(r.inputs["cidrIpv4"] for r in rules) == ["10.200.0.0/24", "192.168.0.0/16"]
    for rule in rules:
        assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
            "tcp",
            443,
            443,
        )
        assert rule.inputs["securityGroupId"].startswith("sg-")  # the cluster's own SG


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "not-a-cidr"])
def test_api_access_cidrs_are_validated(cidr: str) -> None:
    with pytest.raises(ComponentArgsError, match=r"api_access_cidrs\[0\]"):
        cluster_args(api_access_cidrs=(cidr,))


def test_the_deploying_identity_administers_the_cluster_before_any_kubernetes_resource(
    run: Run,
) -> None:
    """`pulumi up`'s identity is admin from the cluster's creation, and the Kubernetes provider
    (so every Kubernetes resource) waits for the listed admins' access policy associations."""
    regs = build(run, cluster_args())
    (cluster,) = of_type(regs, "aws:eks/cluster:Cluster")
    assert cluster.inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": True,
    }
    associations = {
        r.urn for r in of_type(regs, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    }
    assert associations
    (provider,) = of_type(regs, "pulumi:providers:kubernetes")
    assert associations <= set(provider.dependencies)


def test_kubernetes_resources_wait_for_credentials_nodes_and_crds(run: Run) -> None:
    """Helm releases start once the controllers can get credentials (the Pod Identity agent), be
    scheduled (the system node group) and Karpenter's nodes can join (their access entry); the
    controller chart waits for the CRD chart, which owns the CRDs so that upgrades reach them."""
    regs = build(run, cluster_args())
    (provider,) = of_type(regs, "pulumi:providers:kubernetes")
    waits_for = {r.type for r in regs if r.urn in provider.dependencies}
    assert {
        "aws:eks/addon:Addon",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:eks/accessEntry:AccessEntry",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    } <= waits_for
    releases = {r.name: r for r in of_type(regs, "kubernetes:helm.sh/v3:Release")}
    crds, controller = releases["karpenter-crds"], releases["karpenter-release"]
    assert crds.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter-crd"
    assert crds.inputs["version"] == controller.inputs["version"] == KARPENTER_VERSION
    assert controller.inputs["skipCrds"] is True
    assert crds.urn in controller.dependencies


def test_karpenter_nodes_have_a_role_profile_and_access_entry_of_their_own(run: Run) -> None:
    """The system node group keeps its role (and the access entry EKS manages for it);
    Karpenter's nodes use a separate role through an instance profile the program creates."""
    regs = build(run, cluster_args())
    roles = {r.name: r for r in of_type(regs, "aws:iam/role:Role")}
    (profile,) = of_type(regs, "aws:iam/instanceProfile:InstanceProfile")
    assert profile.inputs["role"] == roles["cluster-karpenter-node"].inputs["name"]
    entries = of_type(regs, "aws:eks/accessEntry:AccessEntry")
    ec2_linux = [e for e in entries if e.inputs["type"] == "EC2_LINUX"]
    assert [e.inputs["principalArn"] for e in ec2_linux] == [
        f"arn:aws:iam::{ACCOUNT}:role/" + roles["cluster-karpenter-node"].inputs["name"]
    ]
    (node_group,) = of_type(regs, "aws:eks/nodeGroup:NodeGroup")
    assert node_group.inputs["nodeRoleArn"].endswith(roles["cluster-node"].inputs["name"])


def allowed_actions(document: str | dict[str, Any]) -> set[str]:
    """The actions the Allow statements of an IAM policy document name."""
    policy = json.loads(document) if isinstance(document, str) else document
    actions: set[str] = set()
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow":
            listed = statement["Action"]
            actions |= {listed} if isinstance(listed, str) else set(listed)
    return actions


def role_needs(regs: list[Registration]) -> dict[str, set[str]]:
    """Each role's actions: its inline policies and the AWS-managed policies attached to it."""
    roles = {
        key: r.name for r in of_type(regs, "aws:iam/role:Role") for key in (r.id, r.inputs["name"])
    }
    needs: dict[str, set[str]] = {name: set() for name in roles.values()}
    for inline in of_type(regs, "aws:iam/rolePolicy:RolePolicy"):
        needs[roles[inline.inputs["role"]]] |= allowed_actions(inline.inputs["policy"])
    for attachment in of_type(regs, "aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        managed = attachment.inputs["policyArn"].removeprefix("arn:aws:iam::aws:policy/")
        assert managed in MANAGED_POLICY_ACTIONS, f"record the actions of {managed}"
        needs[roles[attachment.inputs["role"]]] |= MANAGED_POLICY_ACTIONS[managed]
    return needs


def test_the_boundary_admits_what_the_platform_roles_need_and_nothing_else(run: Run) -> None:
    regs = build(run, cluster_args())
    (boundary,) = [
        p for p in of_type(regs, "aws:iam/policy:Policy") if p.name == "cluster-boundary"
    ]
    admitted = allowed_actions(boundary.inputs["policy"])
    assert not [a for a in admitted if a.endswith(":*") or a == "*"]
    needed = set().union(*role_needs(regs).values())
    withheld = {a for a in needed if a.split(":")[0] in BOUNDARY_WITHHELD_SERVICES}
    assert withheld, "the cluster policy's load-balancer actions are withheld"
    assert sorted(needed - withheld - admitted) == []
    assert sorted(admitted - needed) == []
    statements = {s["Sid"]: s for s in json.loads(boundary.inputs["policy"])["Statement"]}
    assert statements["PassNodeRolesToEc2"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}
    }
    assert len("".join(boundary.inputs["policy"].split())) <= 6144, "IAM's managed policy limit"


def test_extra_boundary_actions_are_admitted_and_named(run: Run) -> None:
    regs = build(run, cluster_args(boundary_extra_actions=["logs:PutLogEvents"]))
    (boundary,) = [
        p for p in of_type(regs, "aws:iam/policy:Policy") if p.name == "cluster-boundary"
    ]
    assert "logs:PutLogEvents" in allowed_actions(boundary.inputs["policy"])
    for bad in ["logs:*", "*", "PutLogEvents"]:
        with pytest.raises(ComponentArgsError) as error:
            cluster_args(boundary_extra_actions=[bad])
        assert error.value.field == "boundary_extra_actions"


@pytest.mark.parametrize("policy", sorted(MANAGED_POLICY_ACTIONS))
def test_recorded_managed_policy_actions_exist(policy: str) -> None:
    for action in sorted(MANAGED_POLICY_ACTIONS[policy]):
        assert parliament.expand_action(action), action


def test_ebs_may_use_the_volume_key_for_spot_launches_and_only_through_ec2(run: Run) -> None:
    regs = build(run, cluster_args())
    keys = {k.name: json.loads(k.inputs["policy"]) for k in of_type(regs, "aws:kms/key:Key")}
    statements = {s["Sid"]: s for s in keys["cluster-volumes"]["Statement"]}
    through_ec2 = {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ec2.eu-west-1.amazonaws.com"}
    use = statements["VolumesThroughEc2"]
    assert use["Principal"] == {"AWS": "*"} and use["Condition"] == {"StringEquals": through_ec2}
    assert {"kms:GenerateDataKey*", "kms:Decrypt", "kms:ReEncrypt*"} <= set(use["Action"])
    grant = statements["GrantsForVolumesThroughEc2"]
    assert grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"] == {
        "StringEquals": through_ec2,
        "Bool": {"kms:GrantIsForAWSResource": "true"},
    }
    for key in keys.values():
        for statement in key["Statement"]:
            assert statement["Principal"] != {"AWS": "*"} or statement.get("Condition"), statement
    assert "VolumesThroughEc2" not in {s["Sid"] for s in keys["cluster-secrets"]["Statement"]}


def test_the_cluster_role_may_use_the_secrets_key_before_the_cluster_is_created(run: Run) -> None:
    regs = build(run, cluster_args())
    (encryption,) = [
        p
        for p in of_type(regs, "aws:iam/rolePolicy:RolePolicy")
        if p.name == "cluster-cluster-encryption"
    ]
    (statement,) = json.loads(encryption.inputs["policy"])["Statement"]
    assert set(statement["Action"]) == {
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ListGrants",
        "kms:DescribeKey",
    }
    (secrets_key,) = [k for k in of_type(regs, "aws:kms/key:Key") if k.name == "cluster-secrets"]
    assert statement["Resource"].startswith(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/")
    assert encryption.property_dependencies["policy"] == [secrets_key.urn]
    (cluster,) = of_type(regs, "aws:eks/cluster:Cluster")
    assert encryption.urn in cluster.dependencies


def test_control_plane_logs_are_encrypted_with_a_key_bound_to_their_log_group(run: Run) -> None:
    regs = build(run, cluster_args())
    (log_group,) = of_type(regs, "aws:cloudwatch/logGroup:LogGroup")
    (logs_key,) = [k for k in of_type(regs, "aws:kms/key:Key") if k.name == "cluster-logs"]
    assert log_group.property_dependencies["kmsKeyId"] == [logs_key.urn]
    statements = {s["Sid"]: s for s in json.loads(logs_key.inputs["policy"])["Statement"]}
    logs = statements["LogsEncryptTheLogGroup"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"] == {
        "StringEquals": {
            "kms:EncryptionContext:aws:logs:arn": (
                f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/eks/burst-dev/cluster"
            )
        }
    }
    assert logs_key.inputs["enableKeyRotation"] is True
    assert statements["LogsDescribeKey"]["Action"] == "kms:DescribeKey"

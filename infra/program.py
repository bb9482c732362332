"""The burst-platform Pulumi program: one burst layer per region, budgets once per stack.

Every region gets an explicit AWS provider (default providers are disabled in `Pulumi.yaml`), so
the components stay region-agnostic and the same code serves one region or twenty. Resource names
carry the region, which keeps URNs and AWS names unique across regions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from burst_platform.components.admission import AdmissionGuardrails, AdmissionGuardrailsArgs
from burst_platform.components.alerts import PlatformAlerts, PlatformAlertsArgs
from burst_platform.components.budgets import (
    CostAllocationTags,
    CostAllocationTagsArgs,
    TeamBudget,
    TeamBudgetArgs,
    budget_name,
)
from burst_platform.components.cluster import BurstCluster, BurstClusterArgs
from burst_platform.components.conventions import platform_tags
from burst_platform.components.dataset_storage import Dataset, DatasetStorage, DatasetStorageArgs
from burst_platform.components.gpu_capacity import GpuCapacity, GpuCapacityArgs
from burst_platform.components.interruption import InterruptionQueue, InterruptionQueueArgs
from burst_platform.components.karpenter import KarpenterController, KarpenterControllerArgs
from burst_platform.components.network import OnPremLink, PrivateNetwork, PrivateNetworkArgs
from burst_platform.components.observability import BudgetView, SpotDashboard, SpotDashboardArgs
from burst_platform.components.registry import ImageMirror, ImageMirrorArgs
from burst_platform.components.team_queues import TeamQueues, TeamQueuesArgs, TeamQuota
from burst_platform.components.workload_identity import WorkloadIdentity, WorkloadIdentityArgs
from burst_platform.infra.config import StackConfig

ZONE_LETTERS = "abcdef"
SPOT_TAINT_KEY = "spot"
"""Key of the spot nodes' taint: the GPU and CPU pools put it on, the admission policies look
for tolerations of it (as the pack does, with guardrails `spot.taint_key`)."""
TEAM_CPU_PER_GPU = TeamQuota.cpu_per_gpu
"""CPU quota Kueue gives a team per GPU of quota; its CPU pool may hold as much."""


def build_platform(config: StackConfig) -> None:
    """Declare the whole burst layer for `config` and export its key outputs."""
    controller_roles: list[pulumi.Output[str]] = []
    exports: dict[str, dict[str, object]] = {}
    for index, region in enumerate(config.regions):
        controller_role, region_exports = build_region(config, region, account_wide=index == 0)
        controller_roles.append(controller_role)
        exports[region] = region_exports
    build_budgets(config, controller_roles)
    pulumi.export("regions", exports)


def build_region(
    config: StackConfig, region: str, account_wide: bool = False
) -> tuple[pulumi.Output[str], dict[str, object]]:
    """Declare one region's burst layer; returns the Karpenter controller role name and exports.

    `account_wide`: this region also declares what the account has once (IAM is global).
    """
    env = config.environment
    provider = aws.Provider(f"aws-{region}", region=region, allowed_account_ids=[config.account_id])
    aws_only = pulumi.ResourceOptions(providers=[provider])
    discovery = f"{config.cluster_name}-{region}"
    spot_prerequisites: list[pulumi.Resource] = []
    if account_wide and config.create_spot_service_linked_role:
        spot_prerequisites.append(spot_service_linked_role(provider, env))

    attach = config.cluster_mode == "attach"
    # Attaching to an existing cluster uses its VPC and subnets (looked up by BurstCluster): the
    # program builds no second network beside it, and Karpenter launches into its subnets.
    network = (
        None
        if attach
        else PrivateNetwork(
            f"network-{region}",
            PrivateNetworkArgs(
                environment=env,
                region=region,
                account_id=config.account_id,
                cidr_block=config.vpc_cidrs[region],
                availability_zones=[
                    f"{region}{z}" for z in ZONE_LETTERS[: config.availability_zone_count]
                ],
                discovery_tag_value=discovery,
                on_prem=_on_prem_link(config, region),
            ),
            opts=aws_only,
        )
    )
    cluster = BurstCluster(
        f"cluster-{region}",
        BurstClusterArgs(
            mode="attach" if attach else "create",
            cluster_name=config.cluster_name,
            environment=env,
            region=region,
            account_id=config.account_id,
            discovery_tag_value=discovery,
            subnet_ids=network.private_subnet_ids if network else (),
            node_security_group_id=network.node_security_group_id if network else None,
            admin_role_arns=config.admin_role_arns,
            api_access_cidrs=api_access_cidrs(config, region),
        ),
        opts=aws_only,
    )
    mirror = ImageMirror(
        f"images-{region}",
        ImageMirrorArgs(
            region=region,
            account_id=config.account_id,
            node_role_names=[cluster.system_node_role_name, cluster.node_role_name],
        ),
        opts=aws_only,
    )
    alerts = PlatformAlerts(
        f"alerts-{region}",
        PlatformAlertsArgs(
            cluster_name=config.cluster_name,
            region=region,
            environment=env,
            account_id=config.account_id,
            emails=config.alert_emails,
        ),
        opts=aws_only,
    )
    interruption = InterruptionQueue(
        f"interruption-{region}",
        InterruptionQueueArgs(
            cluster_name=config.cluster_name,
            region=region,
            environment=env,
            alarm_topic_arn=alerts.topic_arn,
        ),
        opts=aws_only,
    )
    SpotDashboard(
        f"dashboard-{region}",
        SpotDashboardArgs(
            cluster_name=config.cluster_name,
            region=region,
            interruption_rule_names=interruption.rule_names_by_pattern,
            interruption_queue_name=interruption.queue_name,
            budgets=[
                BudgetView(team.name, budget_name(team.name, env), team.monthly_budget_usd)
                for team in config.teams
            ],
        ),
        opts=aws_only,
    )
    both = pulumi.ResourceOptions(providers=[provider, cluster.k8s_provider])
    karpenter = KarpenterController(
        f"karpenter-{region}",
        KarpenterControllerArgs(
            cluster_name=cluster.cluster_name,
            cluster_arn=cluster.cluster_arn,
            cluster_endpoint=cluster.endpoint,
            cluster_label=config.cluster_name,
            region=region,
            account_id=config.account_id,
            environment=env,
            node_role_arn=cluster.node_role_arn,
            interruption_queue_name=interruption.queue_name,
            interruption_queue_arn=interruption.queue_arn,
            volume_kms_key_arn=cluster.volume_kms_key_arn,
            permissions_boundary_arn=cluster.permissions_boundary_arn,
            system_node_selector=cluster.system_node_selector,
            image_registry=mirror.mirror_of("public.ecr.aws"),
        ),
        opts=both,
    )
    in_cluster = pulumi.ResourceOptions(
        providers=[cluster.k8s_provider], depends_on=[karpenter, *spot_prerequisites]
    )
    queues = build_kubernetes_layer(
        config,
        region,
        KubernetesLayerInputs(
            instance_profile_name=cluster.node_instance_profile_name,
            volume_kms_key_arn=cluster.volume_kms_key_arn,
            subnet_ids=cluster.subnet_ids if attach else None,
            system_node_selector=cluster.system_node_selector,
            kueue_image_registry=mirror.mirror_of("registry.k8s.io"),
        ),
        opts=in_cluster,
    )

    for team in config.teams:
        datasets = [
            Dataset(
                name=dataset.name,
                classification=dataset.classification,
                object_lock_days=dataset.object_lock_days,
            )
            for dataset in config.datasets
            if dataset.team == team.name
            and config.data_classes[dataset.classification].allows(region)
        ]
        storage = DatasetStorage(
            f"storage-{team.name}-{region}",
            DatasetStorageArgs(
                team=team.name,
                environment=env,
                region=region,
                bucket_prefix=config.bucket_prefix,
                datasets=datasets,
                class_regions={name: dc.regions for name, dc in config.data_classes.items()},
                account_id=config.account_id,
                checkpoint_classification=config.checkpoint_class,
                checkpoint_expiry_days=config.checkpoint_expiry_days,
            ),
            opts=aws_only,
        )
        WorkloadIdentity(
            f"identity-{team.name}-{region}",
            WorkloadIdentityArgs(
                team=team.name,
                environment=env,
                region=region,
                account_id=config.account_id,
                cluster_name=cluster.cluster_name,
                cluster_arn=cluster.cluster_arn,
                namespace=team.name,
                read_bucket_arns=list(storage.dataset_bucket_arns.values()),
                write_bucket_arns=[storage.checkpoint_bucket_arn],
                kms_key_arns=[storage.kms_key_arn],
            ),
            # The service accounts go into the team namespace TeamQueues creates.
            opts=pulumi.ResourceOptions(
                providers=[provider, cluster.k8s_provider], depends_on=[queues]
            ),
        )

    return karpenter.role_name, {
        "vpcId": cluster.vpc_id,
        # Where on-prem DNS forwards eks.amazonaws.com to reach the private API endpoint.
        "dnsForwarders": network.dns_forwarder_ips if network else [],
        "clusterName": cluster.cluster_name,
        "interruptionQueue": interruption.queue_name,
    }


@dataclass(frozen=True)
class KubernetesLayerInputs:
    """What a region's Kubernetes layer takes from its AWS layer (given as stack config when the
    layer is deployed on its own, as `make e2e` does)."""

    instance_profile_name: pulumi.Input[str]
    """Instance profile of Karpenter's nodes."""

    volume_kms_key_arn: pulumi.Input[str]
    """KMS key of the nodes' volumes."""

    subnet_ids: pulumi.Input[Sequence[str]] | None = None
    """Subnets Karpenter launches into by ID (attach mode); None: the discovery-tagged ones."""

    system_node_selector: Mapping[str, str] = field(default_factory=dict)
    """Node labels of the nodes the controllers run on."""

    kueue_image_registry: str | None = None
    """Mirror of registry.k8s.io for the Kueue chart's image."""

    install_kueue: bool = True
    """Install Kueue's Helm chart (False where Kueue is installed otherwise)."""


def build_kubernetes_layer(
    config: StackConfig,
    region: str,
    inputs: KubernetesLayerInputs,
    opts: pulumi.ResourceOptions,
) -> TeamQueues:
    """Declare a region's Kubernetes layer: each team's GPU and CPU capacity, the Kueue queues and
    the admission policies of the pack's workload rules; `opts` carries the region's Kubernetes
    provider. Returns the queues (they create the team namespaces)."""
    # One GPU capacity per team: its instances carry its `team` tag, so its budget sees its GPU
    # hours and its budget action stops its launches alone. Quota stays shared (see TeamQueues).
    capacities = [
        GpuCapacity(
            f"gpu-{team.name}-{region}",
            GpuCapacityArgs(
                cluster_name=config.cluster_name,
                environment=config.environment,
                instance_profile_name=inputs.instance_profile_name,
                discovery_tag_value=f"{config.cluster_name}-{region}",
                volume_kms_key_arn=inputs.volume_kms_key_arn,
                gpu_instance_families=config.gpu_families,
                ami_alias=config.ami_alias,
                min_instance_types=config.min_instance_types,
                spot_gpu_limit=team.gpu_quota + team.gpu_borrowing_limit,
                on_demand_gpu_limit=team.on_demand_gpus,
                name_prefix=f"gpu-{team.name}",
                team=team.name,
                spot_taint_key=SPOT_TAINT_KEY,
                subnet_ids=inputs.subnet_ids,
                cpu_instance_families=config.cpu_families,
                cpu_vcpu_limit=(
                    (team.gpu_quota + team.gpu_borrowing_limit) * TEAM_CPU_PER_GPU
                    if config.cpu_families
                    else 0
                ),
                region=region,
            ),
            opts=opts,
        )
        for team in config.teams
    ]
    queues = TeamQueues(
        f"queues-{region}",
        TeamQueuesArgs(
            teams=[
                TeamQuota(
                    name=team.name,
                    gpu_quota=team.gpu_quota,
                    on_demand_gpus=team.on_demand_gpus,
                    gpu_borrowing_limit=team.gpu_borrowing_limit,
                )
                for team in config.teams
            ],
            environment=config.environment,
            spot_taint_key=capacities[0].spot_taint_key,
            spot_pool_gpu_limit=config.spot_gpu_limit(),
            on_demand_pool_gpu_limit=config.on_demand_gpu_limit,
            system_node_selector=inputs.system_node_selector,
            image_registry=inputs.kueue_image_registry,
            install_kueue=inputs.install_kueue,
        ),
        opts=opts,
    )
    # A Job submitted straight to a team namespace meets the same workload rules as a pull
    # request: the API server enforces them (policies/admission.json, from the rules' METADATA).
    AdmissionGuardrails(
        f"admission-{region}",
        AdmissionGuardrailsArgs(spot_taint_key=SPOT_TAINT_KEY),
        opts=opts,
    )
    return queues


def spot_service_linked_role(provider: aws.Provider, environment: str) -> aws.iam.ServiceLinkedRole:
    """EC2 Spot's service-linked role, which a fresh account lacks until its first spot request.

    Karpenter's spot launches fail without it. IAM refuses to create it twice, so the program
    creates it only when the stack says so (`cluster.createSpotServiceLinkedRole`; `burst
    preflight` prints how to check), and never deletes it: other spot users share it.
    """
    return aws.iam.ServiceLinkedRole(
        "spot-service-linked-role",
        aws_service_name="spot.amazonaws.com",
        description="EC2 Spot, for Karpenter's spot capacity",
        tags=platform_tags(environment),
        opts=pulumi.ResourceOptions(provider=provider, retain_on_delete=True),
    )


def build_budgets(config: StackConfig, controller_roles: list[pulumi.Output[str]]) -> None:
    """Declare the account-level cost controls once per stack, in the first region."""
    provider = aws.Provider(
        "aws-billing", region=config.regions[0], allowed_account_ids=[config.account_id]
    )
    opts = pulumi.ResourceOptions(providers=[provider])
    if config.activate_cost_allocation_tags:  # a second step: AWS only knows the tag keys later
        CostAllocationTags("cost-allocation-tags", CostAllocationTagsArgs(), opts=opts)
    for team in config.teams:
        TeamBudget(
            f"budget-{team.name}",
            TeamBudgetArgs(
                team=team.name,
                environment=config.environment,
                account_id=config.account_id,
                monthly_limit_usd=team.monthly_budget_usd,
                alert_emails=team.budget_emails,
                anomaly_threshold_usd=config.anomaly_threshold_usd,
                circuit_breaker_role_names=controller_roles if config.circuit_breaker else (),
            ),
            opts=opts,
        )


def api_access_cidrs(config: StackConfig, region: str) -> tuple[str, ...]:
    """Networks that reach the region's private API endpoint: its on-prem CIDRs (where `pulumi
    up` runs) and `cluster.apiAccessCidrs` (CI runners), each once."""
    link = config.on_prem.get(region)
    on_prem = link.cidrs if link is not None else ()
    return tuple(dict.fromkeys([*on_prem, *config.api_access_cidrs]))


def _on_prem_link(config: StackConfig, region: str) -> OnPremLink | None:
    link = config.on_prem.get(region)
    if link is None:
        return None
    return OnPremLink(
        cidrs=link.cidrs,
        transit_gateway_id=link.transit_gateway_id,
        customer_gateway_ip=link.customer_gateway_ip,
        customer_gateway_bgp_asn=link.customer_gateway_bgp_asn,
    )

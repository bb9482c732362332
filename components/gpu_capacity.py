"""GPU spot capacity for Karpenter: one EC2NodeClass and a spot-first fallback ladder of NodePools,
plus an optional spot CPU pool for the CPU-only work of the same users.

The ladder is two NodePools over the same EC2NodeClass and the same NVIDIA x86 requirements:

* `<prefix>-spot` (weight 50 by default): `capacity-type In [spot]`, tainted with the spot taint
  and `nvidia.com/gpu`, capped by `spot_gpu_limit`.
* `<prefix>-on-demand` (weight 10 by default): `capacity-type In [on-demand]`, tainted with
  `nvidia.com/gpu` only, capped hard by `on_demand_gpu_limit`.

Karpenter tries pools in descending weight: a pod that tolerates the spot taint and does not pin a
capacity type lands on spot and falls back to on-demand only when spot cannot be launched; a pod
that does not tolerate it can only use on-demand. Pods admitted by Kueue (`components.team_queues`)
carry their flavor's `karpenter.sh/capacity-type` node selector, so for them the quota split, not
the weights, decides. Weighted fallback is per scheduling batch and known to be slow or opaque
(aws/karpenter-provider-aws#8885, #5743), which is why the on-demand pool carries a hard GPU limit.

Each pool diversifies by construction: several instance families (with `minValues` on the family
when more than one is given) and `node.kubernetes.io/instance-type Exists` with `minValues`, so a
pool never collapses to a single SKU that an insufficient-capacity error takes out (#9554).

Disruption defaults are job-safe for training and backtests: `WhenEmpty` consolidation after
30 minutes, budgets that never disrupt nodes for underutilisation or drift, a pinned AMI alias (no
surprise drift), and a termination grace period long enough to write a checkpoint.

With `team`, the capacity is one team's: the EC2NodeClass tags every instance and volume
`team=<team>` (the cost-allocation tag the team's budget filters on, and the request tag its
budget action denies on), and both pools label and taint their nodes `burst.io/team=<team>`, so
only pods that select and tolerate the team's capacity land there.

The CPU pool (`<prefix>-cpu`, with `cpu_instance_families`) is spot only, tainted with the spot
taint but not the GPU taint, and weighted above both GPU rungs: Karpenter tries it first for every
pod it fits, which is every CPU-only pod and no GPU pod.

Every value the Karpenter v1 CRDs constrain (`karpenter.sh/v1` NodePool, `karpenter.k8s.aws/v1`
EC2NodeClass, v1.14.1) is validated in `GpuCapacityArgs` before anything is created, so a bad
argument fails at construction with the field named rather than at apply time in the cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from burst_platform.components.conventions import (
    DISCOVERY_TAG,
    ENVIRONMENT_TAG,
    GPU_INSTANCE_FAMILIES,
    PLATFORM_NAME,
    PLATFORM_TAG,
    TEAM_TAG,
    ComponentArgsError,
    platform_tags,
    require_name,
    require_non_empty,
    require_region,
)

NODEPOOL_API_VERSION = "karpenter.sh/v1"
"""API version of the NodePools this component emits."""

EC2NODECLASS_API_VERSION = "karpenter.k8s.aws/v1"
"""API version of the EC2NodeClass this component emits."""

GPU_RESOURCE = "nvidia.com/gpu"
"""Extended resource (and taint key) of NVIDIA GPUs."""

TEAM_LABEL = "burst.io/team"
"""Node label and NoSchedule taint key of capacity dedicated to one team (value: the team).
A team's pods select it (`nodeSelector`) and tolerate it; no other pod can land there."""

CAPACITY_TIER_LABEL = "burst.io/capacity-tier"
"""Node label naming the pool a node came from: the GPU ladder's `spot` or `on-demand` rung, or
the `cpu` pool."""


REGION_LABEL = "topology.kubernetes.io/region"
"""Well-known label naming the region of the objects (set when `region` is given)."""

OS_DEVICE_NAME = "/dev/xvda"
"""Bottlerocket's OS volume: the read-only image and its settings."""

DATA_DEVICE_NAME = "/dev/xvdb"
"""Bottlerocket's data volume: container images, pod ephemeral storage, logs. Karpenter counts its
size as the node's ephemeral storage."""

OS_VOLUME_GI = 4
"""Size of the OS volume (Bottlerocket's image needs less; Karpenter's default)."""

# Constraints of the Karpenter v1.14.1 NodePool and EC2NodeClass CRDs.
_DURATION = re.compile(r"^(([0-9]+(s|m|h))+|Never)$")
_GRACE_PERIOD = re.compile(r"^([0-9]+(s|m|h))+$")
_BUDGET_NODES = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")
_BUDGET_SCHEDULE = re.compile(
    r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly))|((.+)\s(.+)\s(.+)\s(.+)\s(.+))$"
)
_BUDGET_DURATION = re.compile(r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$")
_BUDGET_REASONS = ("Underutilized", "Empty", "Drifted")
_QUALIFIED_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(\/))?"
    r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_VALUE_MAX = 63
_LABEL_NAME_MAX = 63
_LABEL_PREFIX_MAX = 253
_MAX_REQUIREMENTS = 100
_MAX_MIN_VALUES = 50
_MAX_LABELS = 100
_MAX_BUDGETS = 50
_MAX_WEIGHT = 100
AMI_ALIAS_PATTERN = re.compile(r"^bottlerocket@v[0-9]+\.[0-9]+\.[0-9]+$")
"""A pinned Bottlerocket release as a Karpenter alias."""
DEFAULT_AMI_ALIAS = "bottlerocket@v1.64.0"
"""The Bottlerocket release GPU nodes run unless a stack pins another."""
_AMI_ALIAS_MAX = 30
_FAMILY = re.compile(r"^[a-z][a-z0-9-]*$")
_KMS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+$")
_DATA_VOLUME_GI = (20, 16384)
_HOP_LIMIT = (1, 64)

_KARPENTER_AWS_LABELS = frozenset(
    f"karpenter.k8s.aws/{suffix}"
    for suffix in (
        "instance-tenancy",
        "capacity-reservation-type",
        "capacity-reservation-id",
        "capacity-reservation-interruptible",
        "ec2nodeclass",
        "instance-encryption-in-transit-supported",
        "instance-category",
        "instance-hypervisor",
        "instance-family",
        "instance-generation",
        "instance-local-nvme",
        "instance-size",
        "instance-cpu",
        "instance-cpu-manufacturer",
        "instance-cpu-sustained-clock-speed-mhz",
        "instance-memory",
        "instance-ebs-bandwidth",
        "instance-network-bandwidth",
        "instance-gpu-name",
        "instance-gpu-manufacturer",
        "instance-gpu-count",
        "instance-gpu-memory",
        "instance-accelerator-name",
        "instance-accelerator-manufacturer",
        "instance-accelerator-count",
        "instance-capability-flex",
        "placement-group-id",
        "placement-group-partition",
    )
)
"""`karpenter.k8s.aws/*` keys the v1.14.1 NodePool CRD allows in requirements and labels."""

_INCOMPATIBLE_FAMILIES = {
    "g5g": "is ARM (Graviton); the pools require kubernetes.io/arch=amd64",
    "g4ad": "has AMD GPUs; the pools require NVIDIA",
    "g6f": "has fractional GPUs that report 0 nvidia.com/gpu (aws/karpenter-provider-aws#8368)",
    "gr6f": "has fractional GPUs that report 0 nvidia.com/gpu (aws/karpenter-provider-aws#8368)",
}
_RESTRICTED_TAG_KEYS = (
    "eks:eks-cluster-name",
    "karpenter.sh/nodepool",
    "karpenter.sh/nodeclaim",
    "karpenter.k8s.aws/ec2nodeclass",
)


@dataclass(frozen=True)
class DisruptionBudget:
    """One Karpenter disruption budget (`spec.disruption.budgets[]` of a NodePool)."""

    nodes: str
    """Nodes that may be disrupted at once: a count ("0", "2") or a percentage ("10%")."""

    reasons: Sequence[str] = ()
    """Disruption reasons the budget applies to (Underutilized, Empty, Drifted); empty = all."""

    schedule: str | None = None
    """Cron schedule (or @daily-style macro) at which the budget turns on; needs `duration`."""

    duration: str | None = None
    """How long the budget stays active after each `schedule` hit, in h/m (e.g. "8h"); needs
    `schedule`."""


JOB_SAFE_BUDGETS: tuple[DisruptionBudget, ...] = (
    DisruptionBudget(nodes="10%", reasons=("Empty",)),
    DisruptionBudget(nodes="0", reasons=("Underutilized", "Drifted")),
)
"""Default budgets: empty nodes drain 10% at a time; busy nodes are never disrupted for
underutilisation or drift (expiry and spot interruption are not budgeted by Karpenter)."""


@dataclass(frozen=True)
class GpuCapacityArgs:
    """Arguments of `GpuCapacity`."""

    cluster_name: str
    """Name of the EKS cluster the pools belong to (tagged on every instance as `cluster`)."""

    environment: str
    """Environment tag value (dev, prod, ...)."""

    instance_profile_name: pulumi.Input[str]
    """Instance profile of the nodes (`spec.instanceProfile`): created by the program, because
    in a VPC without an IAM endpoint Karpenter cannot create one from a role."""

    discovery_tag_value: str
    """Value of the `karpenter.sh/discovery` tag on the private subnets and node security groups."""

    volume_kms_key_arn: pulumi.Input[str]
    """Customer-managed KMS key that encrypts the nodes' OS and data volumes."""

    spot_gpu_limit: int
    """Most GPUs the spot pool may provision at once (NodePool `limits`)."""

    on_demand_gpu_limit: int
    """Most GPUs the on-demand pool may provision at once; the hard cap on on-demand spend.
    0 disables the on-demand rung."""

    ami_alias: str = DEFAULT_AMI_ALIAS
    """Pinned Bottlerocket release (`bottlerocket@vX.Y.Z`). For GPU instance types Karpenter picks
    the release's `aws-k8s-<version>-nvidia` variant, which ships the NVIDIA driver and runs the
    NVIDIA device plugin on the host, so nodes advertise `nvidia.com/gpu` with no DaemonSet and no
    image to pull through a VPC without egress (the EKS-optimised AL2023 AMIs have the driver but
    not the plugin). `@latest` is refused because every release would drift (and replace) running
    GPU nodes; to move to a new release see the README's "Upgrading the node image"."""

    gpu_instance_families: Sequence[str] = ("g5", "g6", "g6e")
    """NVIDIA x86 instance families the pools may launch (A10G, L4, L40S by default)."""

    min_instance_types: int = 3
    """`minValues` on `node.kubernetes.io/instance-type`: each launch must be able to choose among
    at least this many instance types (1..50)."""

    min_instance_families: int | None = None
    """`minValues` on the instance-family requirement (1..number of families); None = 2 when more
    than one family is given."""

    name_prefix: str = "gpu"
    """Name of the EC2NodeClass and prefix of the NodePools (`<prefix>-spot`,
    `<prefix>-on-demand`)."""

    subnet_ids: pulumi.Input[Sequence[str]] | None = None
    """Subnets Karpenter launches into, by ID; None selects the subnets tagged
    `karpenter.sh/discovery=<discovery_tag_value>` (attaching to an existing cluster, whose
    subnets the program does not tag, passes the cluster's subnets here)."""

    team: str | None = None
    """Team the capacity is dedicated to: every instance and volume carries the EC2 tag
    `team=<team>`, so the team's budget (filtered on that cost-allocation tag) sees its GPU hours
    and its budget action can stop its launches alone; nodes carry the label and NoSchedule taint
    `burst.io/team=<team>`. None: capacity any team's pods may use, billed to no team."""

    spot_weight: int = 50
    """NodePool weight of the spot pool (1..100); must be above `on_demand_weight`."""

    cpu_instance_families: Sequence[str] = ()
    """CPU instance families of a spot CPU pool (`<prefix>-cpu`) for CPU-only work such as
    backtests, so it does not buy GPU nodes; empty: no CPU pool."""

    cpu_vcpu_limit: int = 0
    """Most vCPUs the CPU pool may provision at once (NodePool `limits`); required with
    `cpu_instance_families`."""

    cpu_weight: int = 80
    """NodePool weight of the CPU pool; above `spot_weight`, so Karpenter tries it first for
    every pod it fits: CPU-only pods (GPU pods fit no CPU instance type)."""

    on_demand_weight: int = 10
    """NodePool weight of the on-demand pool (1..100)."""

    spot_taint_key: str = "spot"
    """Key of the `<key>=true:NoSchedule` taint on spot nodes; only workloads that tolerate it
    (Kueue injects the toleration for the spot flavor) are placed on spot."""

    max_cpu_per_gpu: int = 32
    """vCPU each pool may provision per GPU of its limit (`limits.cpu` = GPU limit x this)."""

    max_memory_gi_per_gpu: int = 256
    """Memory in GiB each pool may provision per GPU of its limit (`limits.memory`)."""

    metadata_hop_limit: int = 1
    """IMDSv2 `httpPutResponseHopLimit` (1..64); IMDSv2 tokens are always required. 1 keeps
    pods (one hop further) away from the node role's credentials; Pod Identity needs no IMDS."""

    data_volume_size_gi: int = 200
    """Size of the encrypted gp3 data volume in GiB (20..16384): container images and pods'
    ephemeral storage (GPU images are large). The OS volume is a fixed `OS_VOLUME_GI`."""

    consolidate_after: str = "30m"
    """How long a node must be empty before Karpenter removes it (Karpenter duration or "Never");
    longer than an image pull so nodes still pulling multi-GB images are not reaped."""

    expire_after: str = "720h"
    """Node lifetime after which Karpenter replaces the node (Karpenter duration or "Never")."""

    termination_grace_period: str = "2h"
    """Longest Karpenter waits for pods to drain (and checkpoint) before forcing them off."""

    disruption_budgets: Sequence[DisruptionBudget] = JOB_SAFE_BUDGETS
    """Disruption budgets of both pools (1..50)."""

    node_labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on every node (restricted Kubernetes and Karpenter domains are refused)."""

    node_tags: Mapping[str, str] = field(default_factory=dict)
    """Extra EC2 tags on instances and volumes (EC2NodeClass `spec.tags`); may not override the
    platform tags nor use keys Karpenter reserves."""

    region: str | None = None
    """Region of the cluster, put on the objects as the `topology.kubernetes.io/region` label so
    that a policy check can tell which region's interruption path serves the pools."""

    def __post_init__(self) -> None:
        require_name("cluster_name", self.cluster_name, max_length=100)
        require_name("environment", self.environment)
        if self.region is not None:
            require_region("region", self.region)
        _require_plain_non_empty(
            "instance_profile_name", self.instance_profile_name, max_length=128
        )
        _require_tag_value("discovery_tag_value", self.discovery_tag_value)
        if isinstance(self.volume_kms_key_arn, str) and not _KMS_ARN.match(self.volume_kms_key_arn):
            raise ComponentArgsError(
                "volume_kms_key_arn",
                f"{self.volume_kms_key_arn!r} is not a KMS key or alias ARN",
            )
        if self.team is not None:
            require_name("team", self.team)
        _require_int("spot_gpu_limit", self.spot_gpu_limit, minimum=1)
        _require_int("on_demand_gpu_limit", self.on_demand_gpu_limit, minimum=0)
        self._check_ami_alias()
        self._check_families()
        _require_int("min_instance_types", self.min_instance_types, 1, _MAX_MIN_VALUES)
        require_name(
            "name_prefix", self.name_prefix, max_length=_LABEL_VALUE_MAX - len("-on-demand")
        )
        _require_int("spot_weight", self.spot_weight, 1, _MAX_WEIGHT)
        _require_int("on_demand_weight", self.on_demand_weight, 1, _MAX_WEIGHT)
        self._check_cpu_pool()
        if self.spot_weight <= self.on_demand_weight:
            raise ComponentArgsError(
                "spot_weight", "must be above on_demand_weight so spot is tried first"
            )
        _require_taint_key("spot_taint_key", self.spot_taint_key)
        if self.spot_taint_key in (GPU_RESOURCE, TEAM_LABEL):
            raise ComponentArgsError(
                "spot_taint_key", f"must differ from {GPU_RESOURCE!r} and {TEAM_LABEL!r}"
            )
        _require_int("max_cpu_per_gpu", self.max_cpu_per_gpu, minimum=1)
        _require_int("max_memory_gi_per_gpu", self.max_memory_gi_per_gpu, minimum=1)
        _require_int("metadata_hop_limit", self.metadata_hop_limit, *_HOP_LIMIT)
        _require_int("data_volume_size_gi", self.data_volume_size_gi, *_DATA_VOLUME_GI)
        _require_pattern("consolidate_after", self.consolidate_after, _DURATION, "a duration")
        _require_pattern("expire_after", self.expire_after, _DURATION, "a duration")
        _require_pattern(
            "termination_grace_period", self.termination_grace_period, _GRACE_PERIOD, "a duration"
        )
        self._check_budgets()
        _check_node_labels("node_labels", self.node_labels)
        self._check_tags()
        for capacity_type in ("spot", "on-demand"):
            _check_requirements(_requirements(self, capacity_type))

    def _check_ami_alias(self) -> None:
        alias = self.ami_alias
        if (
            not isinstance(alias, str)
            or len(alias) > _AMI_ALIAS_MAX
            or not AMI_ALIAS_PATTERN.match(alias)
        ):
            raise ComponentArgsError(
                "ami_alias",
                f"{alias!r} must be a pinned Bottlerocket alias 'bottlerocket@vX.Y.Z' of at most "
                f"{_AMI_ALIAS_MAX} characters (no @latest; the GPU pools need its NVIDIA variants)",
            )

    def _check_cpu_pool(self) -> None:
        families = self.cpu_instance_families
        if isinstance(families, str):
            raise ComponentArgsError("cpu_instance_families", "must be a list, not a string")
        if len(set(families)) != len(families):
            raise ComponentArgsError("cpu_instance_families", "must not repeat a family")
        for family in families:
            if not isinstance(family, str) or not _FAMILY.match(family):
                raise ComponentArgsError(
                    "cpu_instance_families", f"{family!r} is not an instance family name"
                )
            if family in GPU_INSTANCE_FAMILIES:
                raise ComponentArgsError("cpu_instance_families", f"{family!r} is a GPU family")
        _require_int("cpu_vcpu_limit", self.cpu_vcpu_limit, minimum=0)
        if bool(families) != (self.cpu_vcpu_limit > 0):
            raise ComponentArgsError(
                "cpu_vcpu_limit", "give both cpu_instance_families and a positive cpu_vcpu_limit"
            )
        _require_int("cpu_weight", self.cpu_weight, 1, _MAX_WEIGHT)
        if families and self.cpu_weight <= self.spot_weight:
            raise ComponentArgsError(
                "cpu_weight", "must be above spot_weight so CPU-only pods try the CPU pool first"
            )

    def _check_families(self) -> None:
        families = self.gpu_instance_families
        if isinstance(families, str):
            raise ComponentArgsError("gpu_instance_families", "must be a list, not a string")
        require_non_empty("gpu_instance_families", families)
        if len(set(families)) != len(families):
            raise ComponentArgsError("gpu_instance_families", "must not repeat a family")
        for family in families:
            if (
                not isinstance(family, str)
                or not _FAMILY.match(family)
                or len(family) > _LABEL_VALUE_MAX
            ):
                raise ComponentArgsError(
                    "gpu_instance_families", f"{family!r} is not an instance family name"
                )
            if family in _INCOMPATIBLE_FAMILIES:
                raise ComponentArgsError(
                    "gpu_instance_families", f"{family!r} {_INCOMPATIBLE_FAMILIES[family]}"
                )
        if self.min_instance_families is not None:
            _require_int(
                "min_instance_families",
                self.min_instance_families,
                1,
                min(_MAX_MIN_VALUES, len(families)),
            )

    def _check_budgets(self) -> None:
        budgets = self.disruption_budgets
        require_non_empty("disruption_budgets", budgets)
        if len(budgets) > _MAX_BUDGETS:
            raise ComponentArgsError("disruption_budgets", f"at most {_MAX_BUDGETS} budgets")
        for index, budget in enumerate(budgets):
            where = f"disruption_budgets[{index}]"
            if not isinstance(budget, DisruptionBudget):
                raise ComponentArgsError(where, "must be a DisruptionBudget")
            _require_pattern(f"{where}.nodes", budget.nodes, _BUDGET_NODES, "a count or 0-100%")
            reasons = list(budget.reasons)
            if len(set(reasons)) != len(reasons) or not set(reasons) <= set(_BUDGET_REASONS):
                raise ComponentArgsError(
                    f"{where}.reasons",
                    f"{reasons!r} must be distinct values of {', '.join(_BUDGET_REASONS)}",
                )
            if (budget.schedule is None) != (budget.duration is None):
                raise ComponentArgsError(where, "'schedule' must be set with 'duration'")
            if budget.schedule is not None:
                _require_pattern(
                    f"{where}.schedule", budget.schedule, _BUDGET_SCHEDULE, "a cron schedule"
                )
            if budget.duration is not None:
                _require_pattern(
                    f"{where}.duration", budget.duration, _BUDGET_DURATION, "a duration in h/m"
                )

    def _check_tags(self) -> None:
        for key, value in self.node_tags.items():
            if not isinstance(key, str) or not key or len(key) > 128 or key.startswith("aws:"):
                raise ComponentArgsError("node_tags", f"{key!r} is not a valid EC2 tag key")
            if key in _RESTRICTED_TAG_KEYS or key.startswith("kubernetes.io/cluster"):
                raise ComponentArgsError("node_tags", f"{key!r} is reserved by EKS/Karpenter")
            if key in (PLATFORM_TAG, ENVIRONMENT_TAG, TEAM_TAG, "cluster"):
                raise ComponentArgsError("node_tags", f"{key!r} is set by the platform")
            _require_tag_value("node_tags", value)


class GpuCapacity(pulumi.ComponentResource):
    """An EC2NodeClass plus a spot-then-on-demand ladder of GPU NodePools for Karpenter."""

    node_class_name: pulumi.Output[str]
    """Name of the EC2NodeClass both pools launch from."""

    spot_pool_name: pulumi.Output[str]
    """Name of the spot NodePool (also the `karpenter.sh/nodepool` label of its nodes)."""

    on_demand_pool_name: pulumi.Output[str]
    """Name of the on-demand NodePool (also the `karpenter.sh/nodepool` label of its nodes)."""

    spot_taint_key: pulumi.Output[str]
    """Key of the NoSchedule taint on spot nodes (value "true")."""

    def __init__(
        self, name: str, args: GpuCapacityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:karpenter:GpuCapacity", name, None, opts)
        node_class_name = args.name_prefix
        spot_pool = f"{args.name_prefix}-spot"
        on_demand_pool = f"{args.name_prefix}-on-demand"

        node_class = k8s.apiextensions.CustomResource(
            f"{name}-node-class",
            api_version=EC2NODECLASS_API_VERSION,
            kind="EC2NodeClass",
            metadata={"name": node_class_name, "labels": _object_labels(args)},
            spec=node_class_spec(args),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for suffix, pool_name, capacity_type in (
            ("spot", spot_pool, "spot"),
            ("on-demand", on_demand_pool, "on-demand"),
        ):
            k8s.apiextensions.CustomResource(
                f"{name}-{suffix}",
                api_version=NODEPOOL_API_VERSION,
                kind="NodePool",
                metadata={"name": pool_name, "labels": _object_labels(args)},
                spec=node_pool_spec(args, capacity_type, node_class_name),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[node_class]),
            )

        if args.cpu_instance_families:
            k8s.apiextensions.CustomResource(
                f"{name}-cpu",
                api_version=NODEPOOL_API_VERSION,
                kind="NodePool",
                metadata={"name": f"{args.name_prefix}-cpu", "labels": _object_labels(args)},
                spec=cpu_pool_spec(args, node_class_name),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[node_class]),
            )

        self.node_class_name = pulumi.Output.from_input(node_class_name)
        self.spot_pool_name = pulumi.Output.from_input(spot_pool)
        self.on_demand_pool_name = pulumi.Output.from_input(on_demand_pool)
        self.spot_taint_key = pulumi.Output.from_input(args.spot_taint_key)
        self.register_outputs(
            {
                "node_class_name": self.node_class_name,
                "spot_pool_name": self.spot_pool_name,
                "on_demand_pool_name": self.on_demand_pool_name,
                "spot_taint_key": self.spot_taint_key,
            }
        )


def node_class_spec(args: GpuCapacityArgs) -> dict[str, Any]:
    """The EC2NodeClass `spec` for `args`: pinned Bottlerocket release, private subnets, IMDSv2
    with a hop limit pods cannot reach, OS and data volumes encrypted with the volume key."""
    discovery = {"tags": {DISCOVERY_TAG: args.discovery_tag_value}}
    return {
        "amiSelectorTerms": [{"alias": args.ami_alias}],
        "instanceProfile": args.instance_profile_name,
        "subnetSelectorTerms": (
            [discovery]
            if args.subnet_ids is None
            else pulumi.Output.from_input(args.subnet_ids).apply(
                lambda ids: [{"id": subnet} for subnet in ids]
            )
        ),
        "securityGroupSelectorTerms": [discovery],
        "associatePublicIPAddress": False,
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": args.metadata_hop_limit,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [
            {
                "deviceName": device,
                "ebs": {
                    "volumeSize": f"{size_gi}Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "kmsKeyID": args.volume_kms_key_arn,
                    "deleteOnTermination": True,
                },
            }
            for device, size_gi in (
                (OS_DEVICE_NAME, OS_VOLUME_GI),
                (DATA_DEVICE_NAME, args.data_volume_size_gi),
            )
        ],
        "tags": {
            **args.node_tags,
            **platform_tags(args.environment, cluster=args.cluster_name),
            **({TEAM_TAG: args.team} if args.team else {}),
        },
    }


def node_pool_spec(args: GpuCapacityArgs, capacity_type: str, node_class: str) -> dict[str, Any]:
    """The NodePool `spec` of the `spot` or `on-demand` rung of the ladder."""
    spot = capacity_type == "spot"
    gpu_limit = args.spot_gpu_limit if spot else args.on_demand_gpu_limit
    taints = [{"key": GPU_RESOURCE, "value": "true", "effect": "NoSchedule"}]
    if spot:
        taints.insert(0, {"key": args.spot_taint_key, "value": "true", "effect": "NoSchedule"})
    limits = {
        GPU_RESOURCE: str(gpu_limit),
        "cpu": str(gpu_limit * args.max_cpu_per_gpu),
        "memory": f"{gpu_limit * args.max_memory_gi_per_gpu}Gi",
    }
    weight = args.spot_weight if spot else args.on_demand_weight
    return _pool_spec(
        args, weight, limits, capacity_type, _requirements(args, capacity_type), taints, node_class
    )


def cpu_pool_spec(args: GpuCapacityArgs, node_class: str) -> dict[str, Any]:
    """The NodePool `spec` of the spot CPU pool: CPU families only, the spot taint and no GPU
    taint, weighted above the GPU pools."""
    families = list(args.cpu_instance_families)
    family: dict[str, Any] = {
        "key": "karpenter.k8s.aws/instance-family",
        "operator": "In",
        "values": families,
    }
    if len(families) > 1:
        family["minValues"] = 2
    requirements = [
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        family,
        {
            "key": "node.kubernetes.io/instance-type",
            "operator": "Exists",
            "minValues": args.min_instance_types,
        },
    ]
    taints = [{"key": args.spot_taint_key, "value": "true", "effect": "NoSchedule"}]
    limits = {"cpu": str(args.cpu_vcpu_limit), "memory": f"{args.cpu_vcpu_limit * 8}Gi"}
    return _pool_spec(args, args.cpu_weight, limits, "cpu", requirements, taints, node_class)


def _pool_spec(
    args: GpuCapacityArgs,
    weight: int,
    limits: dict[str, str],
    tier: str,
    requirements: list[dict[str, Any]],
    taints: list[dict[str, str]],
    node_class: str,
) -> dict[str, Any]:
    if args.team:
        taints = [*taints, {"key": TEAM_LABEL, "value": args.team, "effect": "NoSchedule"}]
    return {
        "weight": weight,
        "limits": limits,
        "disruption": {
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": args.consolidate_after,
            "budgets": [_budget(b) for b in args.disruption_budgets],
        },
        "template": {
            "metadata": {
                "labels": {
                    **args.node_labels,
                    CAPACITY_TIER_LABEL: tier,
                    **({TEAM_LABEL: args.team} if args.team else {}),
                }
            },
            "spec": {
                "nodeClassRef": {
                    "group": EC2NODECLASS_API_VERSION.split("/")[0],
                    "kind": "EC2NodeClass",
                    "name": node_class,
                },
                "requirements": requirements,
                "taints": taints,
                "expireAfter": args.expire_after,
                "terminationGracePeriod": args.termination_grace_period,
            },
        },
    }


def _requirements(args: GpuCapacityArgs, capacity_type: str) -> list[dict[str, Any]]:
    families = list(args.gpu_instance_families)
    min_families = (
        args.min_instance_families
        if args.min_instance_families is not None
        else min(2, len(families))
    )
    family: dict[str, Any] = {
        "key": "karpenter.k8s.aws/instance-family",
        "operator": "In",
        "values": families,
    }
    if min_families > 1:
        family["minValues"] = min_families
    return [
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [capacity_type]},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        family,
        {
            "key": "karpenter.k8s.aws/instance-gpu-manufacturer",
            "operator": "In",
            "values": ["nvidia"],
        },
        {
            "key": "node.kubernetes.io/instance-type",
            "operator": "Exists",
            "minValues": args.min_instance_types,
        },
    ]


def _budget(budget: DisruptionBudget) -> dict[str, Any]:
    out: dict[str, Any] = {"nodes": budget.nodes}
    if budget.reasons:
        out["reasons"] = list(budget.reasons)
    if budget.schedule is not None:
        out["schedule"] = budget.schedule
        out["duration"] = budget.duration
    return out


def _object_labels(args: GpuCapacityArgs) -> dict[str, str]:
    labels = {PLATFORM_TAG: PLATFORM_NAME, ENVIRONMENT_TAG: args.environment}
    if args.region is not None:
        labels[REGION_LABEL] = args.region
    return labels


def _check_requirements(requirements: list[dict[str, Any]]) -> None:
    """Apply the NodePool CRD's requirement rules to the list the args produce."""
    field_of_key = {
        "karpenter.k8s.aws/instance-family": "gpu_instance_families",
        "node.kubernetes.io/instance-type": "min_instance_types",
    }
    if len(requirements) > _MAX_REQUIREMENTS:
        raise ComponentArgsError("gpu_instance_families", "more than 100 requirements")
    for requirement in requirements:
        key, values = requirement["key"], requirement.get("values", [])
        where = field_of_key.get(key, "gpu_instance_families")
        _require_label_key(where, key)
        if key in ("karpenter.sh/nodepool", "kubernetes.io/hostname"):
            raise ComponentArgsError(where, f"requirement key {key!r} is restricted")
        for value in values:
            _require_label_value(where, value)
        min_values = requirement.get("minValues")
        if requirement["operator"] == "In":
            if not values:
                raise ComponentArgsError(where, f"requirement {key!r} has no values")
            if min_values is not None and len(values) < min_values:
                raise ComponentArgsError(
                    where, f"minValues {min_values} exceeds the {len(values)} values of {key!r}"
                )
        if min_values is not None and not 1 <= min_values <= _MAX_MIN_VALUES:
            raise ComponentArgsError(where, f"minValues {min_values} is outside 1..50")


def _check_node_labels(field_name: str, labels: Mapping[str, str]) -> None:
    if len(labels) > _MAX_LABELS - 1:
        raise ComponentArgsError(field_name, f"at most {_MAX_LABELS - 1} labels")
    for key, value in labels.items():
        _require_label_key(field_name, key)
        _require_label_value(field_name, value)
        domain = key.split("/", 1)[0] if "/" in key else ""
        if key in (CAPACITY_TIER_LABEL, TEAM_LABEL):
            raise ComponentArgsError(field_name, f"{key!r} is set by the component")
        if domain.endswith("karpenter.sh") or (
            domain.endswith("karpenter.k8s.aws") and key not in _KARPENTER_AWS_LABELS
        ):
            raise ComponentArgsError(field_name, f"label domain of {key!r} is restricted")
        if domain.endswith(("kubernetes.io", "k8s.io")) and not domain.endswith(
            "node-restriction.kubernetes.io"
        ):
            raise ComponentArgsError(field_name, f"label domain of {key!r} is restricted")


def _require_label_key(field_name: str, key: object) -> None:
    if not isinstance(key, str) or not _QUALIFIED_KEY.match(key):
        raise ComponentArgsError(field_name, f"{key!r} is not a valid label key")
    prefix, _, label = key.rpartition("/")
    if len(label) > _LABEL_NAME_MAX or len(prefix) > _LABEL_PREFIX_MAX:
        raise ComponentArgsError(field_name, f"{key!r} is too long for a label key")


def _require_label_value(field_name: str, value: object) -> None:
    if not isinstance(value, str) or len(value) > _LABEL_VALUE_MAX or not _LABEL_VALUE.match(value):
        raise ComponentArgsError(field_name, f"{value!r} is not a valid label value")


def _require_taint_key(field_name: str, key: object) -> None:
    _require_label_key(field_name, key)


def _require_tag_value(field_name: str, value: object) -> None:
    if not isinstance(value, str) or not value or len(value) > 256:
        raise ComponentArgsError(field_name, f"{value!r} must be a non-empty tag value")


def _require_plain_non_empty(field_name: str, value: object, max_length: int) -> None:
    if isinstance(value, str) and (not value or len(value) > max_length):
        raise ComponentArgsError(field_name, f"must be 1..{max_length} characters")


def _require_int(field_name: str, value: object, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ComponentArgsError(field_name, f"{value!r} is not an integer")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"{minimum}..{maximum}" if maximum is not None else f"at least {minimum}"
        raise ComponentArgsError(field_name, f"{value} is outside {bound}")


def _require_pattern(field_name: str, value: object, pattern: re.Pattern[str], what: str) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise ComponentArgsError(field_name, f"{value!r} is not {what} ({pattern.pattern})")

"""Stack configuration of the burst layer: read, validate, and turn into typed settings.

The same loader serves `pulumi up` (values from `pulumi.Config`) and `burst plan` (values from
`Pulumi.<stack>.yaml`), so a stack that plans offline deploys with the same meaning. Validation
collects every problem before failing, one line per problem naming the config key, because a
pull request with three typos should not need three CI runs.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burst_platform.components.alerts import EMAIL_PATTERN
from burst_platform.components.conventions import (
    ACCOUNT_ID_PATTERN,
    GPU_INSTANCE_FAMILIES,
    REGION_PATTERN,
    ROLE_ARN_PATTERN,
)
from burst_platform.components.gpu_capacity import AMI_ALIAS_PATTERN, DEFAULT_AMI_ALIAS
from burst_platform.documents import is_finite_number, key_hint, read_yaml
from burst_platform.errors import BurstError

PROJECT = "burst-platform"
"""Pulumi project name; stack config keys are `burst-platform:<key>`."""

DEFAULT_ALLOWED_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1")
DEFAULT_GPU_FAMILIES = ("g5", "g6", "g6e", "p4d", "p5")
DEFAULT_CPU_FAMILIES = ("c6i", "c7i", "m6i", "m7i", "r6i", "r7i")
"""Families of the spot CPU pools, where CPU-only work (backtests) runs instead of on GPU nodes."""
ANY_REGION = "*"
DEFAULT_CHECKPOINT_MINUTES = 5.0
"""Minutes a team's job takes to write one checkpoint, unless `teams[].checkpointMinutes` says:
a few GB of model and optimiser state to S3 through the gateway endpoint."""
DEFAULT_RESTART_MINUTES = 10.0
"""Minutes from a spot interruption to the job working again, unless `teams[].restartMinutes`
says: Karpenter launches a replacement node (1-2), it boots and joins (1-2), the multi-GB GPU
image comes through the pull-through cache (3-5), the checkpoint is restored (1-2)."""
MAX_JOB_MINUTES = 7 * 24 * 60
"""Longest checkpoint or restart a team may declare (a week); `burst cost` refuses more too."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
_FAMILY = re.compile(r"^[a-z][a-z0-9-]*$")
_TGW = re.compile(r"^tgw-[0-9a-f]{8,17}$")

SCALAR_KEYS = ("environment", "accountId", "bucketPrefix")
STRUCTURED_KEYS = (
    "regions",
    "allowedRegions",
    "teams",
    "dataClasses",
    "cluster",
    "gpu",
    "cpu",
    "network",
    "storage",
    "budgets",
    "alerts",
)
KNOWN_KEYS = frozenset(SCALAR_KEYS + STRUCTURED_KEYS)


@dataclass(frozen=True)
class Team:
    """A team that bursts work: its GPU quota per region and its monthly budget."""

    name: str
    gpu_quota: int
    on_demand_gpus: int
    gpu_borrowing_limit: int
    monthly_budget_usd: float
    budget_emails: tuple[str, ...]
    checkpoint_minutes: float = DEFAULT_CHECKPOINT_MINUTES
    """Minutes the team's jobs take to write one checkpoint (`burst cost`)."""
    restart_minutes: float = DEFAULT_RESTART_MINUTES
    """Minutes from an interruption to the team's job working again (`burst cost`)."""


@dataclass(frozen=True)
class DatasetConfig:
    """A dataset owned by a team, stored only where its data class may live."""

    name: str
    team: str
    classification: str
    object_lock_days: int


@dataclass(frozen=True)
class DataClass:
    """A data classification and the regions its data may live in (`*` = any allowed region)."""

    name: str
    regions: tuple[str, ...]

    def allows(self, region: str) -> bool:
        """Whether data of this class may be stored in `region`."""
        return ANY_REGION in self.regions or region in self.regions


@dataclass(frozen=True)
class OnPremConfig:
    """Private link of one region to on-prem (exactly one of Transit Gateway or VPN)."""

    cidrs: tuple[str, ...]
    transit_gateway_id: str | None
    customer_gateway_ip: str | None
    customer_gateway_bgp_asn: int


@dataclass(frozen=True)
class StackConfig:
    """Validated settings of one stack."""

    environment: str
    account_id: str
    regions: tuple[str, ...]
    allowed_regions: tuple[str, ...]
    teams: tuple[Team, ...]
    data_classes: dict[str, DataClass]
    datasets: tuple[DatasetConfig, ...]
    cluster_mode: str
    cluster_name: str
    admin_role_arns: tuple[str, ...]
    api_access_cidrs: tuple[str, ...]
    create_spot_service_linked_role: bool
    gpu_families: tuple[str, ...]
    ami_alias: str
    cpu_families: tuple[str, ...]
    min_instance_types: int
    on_demand_gpu_limit: int
    vpc_cidrs: dict[str, str]
    availability_zone_count: int
    on_prem: dict[str, OnPremConfig]
    bucket_prefix: str
    checkpoint_class: str
    checkpoint_expiry_days: int
    circuit_breaker: bool
    activate_cost_allocation_tags: bool
    anomaly_threshold_usd: float
    alert_emails: tuple[str, ...]

    def team(self, name: str) -> Team:
        """The team called `name`."""
        return next(team for team in self.teams if team.name == name)

    def spot_gpu_limit(self) -> int:
        """GPUs the spot pool of one region may hold: every team's quota plus borrowing."""
        return sum(team.gpu_quota + team.gpu_borrowing_limit for team in self.teams)


class _Problems:
    """Collects config problems as `burst-platform:<path>: <problem>` lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, problem: str) -> None:
        line = f"{PROJECT}:{path}: {problem}"
        self.lines.append(line if line.isprintable() else line.encode("unicode_escape").decode())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_is_number = is_finite_number  # YAML's .nan and .inf are not amounts

PRIVATE_NETWORKS = tuple(
    ipaddress.IPv4Network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
"""RFC 1918 private and RFC 6598 shared address space: where a VPC without egress lives."""


class _Reader:
    """Typed accessors over raw config that record a problem instead of raising."""

    def __init__(self, problems: _Problems) -> None:
        self.problems = problems

    def mapping(self, value: Any, path: str, required: bool = False) -> Mapping[str, Any]:
        if value is None:
            if required:
                self.problems.add(path, "required")
            return {}
        if not isinstance(value, Mapping):
            self.problems.add(path, f"must be a mapping, got {type(value).__name__}")
            return {}
        return value

    def sequence(self, value: Any, path: str, required: bool = False) -> Sequence[Any]:
        if value is None:
            if required:
                self.problems.add(path, "required")
            return []
        if not isinstance(value, list | tuple):
            self.problems.add(path, f"must be a list, got {type(value).__name__}")
            return []
        return value

    def string(
        self,
        value: Any,
        path: str,
        default: str | None = None,
        pattern: re.Pattern[str] | None = None,
        what: str = "",
    ) -> str:
        if value is None:
            if default is None:
                self.problems.add(path, "required")
                return ""
            return default
        if not isinstance(value, str):
            self.problems.add(path, f"must be a string, got {type(value).__name__}")
            return default or ""
        if pattern is not None and not pattern.fullmatch(value):
            self.problems.add(path, f"{value!r} is not {what}")
        return value

    def integer(
        self,
        value: Any,
        path: str,
        default: int | None = None,
        minimum: int = 0,
        maximum: int | None = None,
    ) -> int:
        if value is None:
            if default is None:
                self.problems.add(path, "required")
                return minimum
            return default
        if not _is_int(value):
            self.problems.add(path, f"must be a whole number, got {value!r}")
            return minimum
        if value < minimum or (maximum is not None and value > maximum):
            bound = (
                f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            )
            self.problems.add(path, f"must be {bound}, got {value}")
            return minimum
        return int(value)

    def number(
        self,
        value: Any,
        path: str,
        default: float | None = None,
        allow_zero: bool = False,
        maximum: float | None = None,
    ) -> float:
        if value is None:
            if default is None:
                self.problems.add(path, "required")
                return 0.0
            return default
        if not _is_number(value):
            self.problems.add(path, f"must be a number, got {value!r}")
            return 0.0
        if value < 0 or (value == 0 and not allow_zero):
            self.problems.add(
                path, f"must be {'at least' if allow_zero else 'above'} 0, got {value}"
            )
            return 0.0
        if maximum is not None and value > maximum:
            self.problems.add(path, f"must be at most {maximum:g}, got {value}")
            return 0.0
        return float(value)

    def boolean(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problems.add(path, f"must be true or false, got {value!r}")
            return default
        return value

    def unknown_keys(self, value: Mapping[str, Any], path: str, known: Sequence[str]) -> None:
        for key in value:
            if key not in known:
                where = f"{path}.{key}" if path else str(key)
                self.problems.add(where, f"unknown key{key_hint(key, known)}")


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate raw stack config (keys without the project prefix) into a `StackConfig`.

    Raises `BurstError` with one line per problem, each naming the config key.
    """
    problems = _Problems()
    read = _Reader(problems)
    read.unknown_keys(raw, "", sorted(KNOWN_KEYS))

    environment = read.string(
        raw.get("environment"), "environment", pattern=_DNS_LABEL, what="a DNS label"
    )
    account_id = read.string(
        raw.get("accountId"), "accountId", pattern=ACCOUNT_ID_PATTERN, what="a 12-digit account ID"
    )

    allowed = _regions(
        read, raw.get("allowedRegions"), "allowedRegions", list(DEFAULT_ALLOWED_REGIONS)
    )
    regions = _regions(read, raw.get("regions"), "regions", None)
    for i, region in enumerate(regions):
        if allowed and region not in allowed:
            problems.add(
                f"regions[{i}]", f"{region} is outside allowedRegions ({', '.join(allowed)})"
            )

    teams = _teams(read, raw.get("teams"))
    team_names = {team.name for team in teams}
    data_classes, datasets = _data_classes(
        read, raw.get("dataClasses"), allowed, team_names, regions
    )

    cluster = read.mapping(raw.get("cluster"), "cluster")
    read.unknown_keys(
        cluster,
        "cluster",
        ("mode", "name", "adminRoleArns", "apiAccessCidrs", "createSpotServiceLinkedRole"),
    )
    create_spot_role = read.boolean(
        cluster.get("createSpotServiceLinkedRole"), "cluster.createSpotServiceLinkedRole", False
    )
    cluster_mode = read.string(cluster.get("mode"), "cluster.mode", default="create")
    if cluster_mode not in ("create", "attach"):
        problems.add("cluster.mode", f"{cluster_mode!r} must be 'create' or 'attach'")
    cluster_name = read.string(
        cluster.get("name"),
        "cluster.name",
        default=f"burst-{environment}",
        pattern=_DNS_LABEL,
        what="a DNS label",
    )
    admin_roles = tuple(
        read.string(
            arn, f"cluster.adminRoleArns[{i}]", pattern=ROLE_ARN_PATTERN, what="an IAM role ARN"
        )
        for i, arn in enumerate(
            read.sequence(cluster.get("adminRoleArns"), "cluster.adminRoleArns")
        )
    )
    for i, arn in enumerate(admin_roles):
        valid = ROLE_ARN_PATTERN.fullmatch(arn) and ACCOUNT_ID_PATTERN.fullmatch(account_id)
        if valid and arn.split(":")[4] != account_id:
            problems.add(
                f"cluster.adminRoleArns[{i}]",
                f"role of account {arn.split(':')[4]}, not of accountId {account_id}",
            )

    api_cidrs = []
    for i, cidr in enumerate(
        read.sequence(cluster.get("apiAccessCidrs"), "cluster.apiAccessCidrs")
    ):
        try:
            block = ipaddress.IPv4Network(cidr)
        except (ValueError, TypeError):
            problems.add(f"cluster.apiAccessCidrs[{i}]", f"{cidr!r} is not an IPv4 CIDR block")
            continue
        if block.prefixlen < 8:
            problems.add(f"cluster.apiAccessCidrs[{i}]", f"{block} is wider than a /8")
        api_cidrs.append(str(block))

    gpu = read.mapping(raw.get("gpu"), "gpu")
    read.unknown_keys(
        gpu, "gpu", ("amiAlias", "instanceFamilies", "minInstanceTypes", "onDemandGpuLimit")
    )
    ami_alias = read.string(
        gpu.get("amiAlias"),
        "gpu.amiAlias",
        default=DEFAULT_AMI_ALIAS,
        pattern=AMI_ALIAS_PATTERN,
        what="a pinned Bottlerocket release such as bottlerocket@v1.64.0",
    )
    families_raw = gpu.get("instanceFamilies", list(DEFAULT_GPU_FAMILIES))
    families = tuple(
        read.string(f, f"gpu.instanceFamilies[{i}]", pattern=_FAMILY, what="an instance family")
        for i, f in enumerate(read.sequence(families_raw, "gpu.instanceFamilies"))
    )
    for i, family in enumerate(families):
        if _FAMILY.fullmatch(family) and family not in GPU_INSTANCE_FAMILIES:
            problems.add(
                f"gpu.instanceFamilies[{i}]",
                f"{family!r} is not an NVIDIA GPU instance family (known: "
                f"{', '.join(sorted(GPU_INSTANCE_FAMILIES))})",
            )
    if isinstance(families_raw, list) and not families_raw:
        problems.add("gpu.instanceFamilies", "must list at least one GPU instance family")
    elif len(set(families)) != len(families):
        problems.add("gpu.instanceFamilies", "lists a family twice")
    min_types = read.integer(
        gpu.get("minInstanceTypes"), "gpu.minInstanceTypes", default=3, minimum=1, maximum=50
    )
    on_demand_limit = read.integer(gpu.get("onDemandGpuLimit"), "gpu.onDemandGpuLimit", default=8)

    cpu = read.mapping(raw.get("cpu"), "cpu")
    read.unknown_keys(cpu, "cpu", ("instanceFamilies",))
    cpu_families = tuple(
        read.string(f, f"cpu.instanceFamilies[{i}]", pattern=_FAMILY, what="an instance family")
        for i, f in enumerate(
            read.sequence(
                cpu.get("instanceFamilies", list(DEFAULT_CPU_FAMILIES)), "cpu.instanceFamilies"
            )
        )
    )
    for i, family in enumerate(cpu_families):
        if family in GPU_INSTANCE_FAMILIES:
            problems.add(f"cpu.instanceFamilies[{i}]", f"{family!r} is a GPU family")
    if len(set(cpu_families)) != len(cpu_families):
        problems.add("cpu.instanceFamilies", "lists a family twice")

    network = read.mapping(raw.get("network"), "network")
    read.unknown_keys(network, "network", ("cidrs", "availabilityZoneCount", "onPrem"))
    vpc_cidrs = _vpc_cidrs(read, network.get("cidrs"), regions)
    az_count = read.integer(
        network.get("availabilityZoneCount"),
        "network.availabilityZoneCount",
        default=3,
        minimum=2,
        maximum=6,
    )
    on_prem = {
        region: link
        for region, value in read.mapping(network.get("onPrem"), "network.onPrem").items()
        if (link := _on_prem(read, value, f"network.onPrem.{region}", list(vpc_cidrs.values())))
    }
    for region in on_prem:
        if regions and region not in regions:
            problems.add(f"network.onPrem.{region}", "is not one of the stack's regions")

    storage = read.mapping(raw.get("storage"), "storage")
    read.unknown_keys(storage, "storage", ("checkpointClass", "checkpointExpiryDays"))
    checkpoint_class = read.string(
        storage.get("checkpointClass"), "storage.checkpointClass", default="internal"
    )
    if data_classes and checkpoint_class not in data_classes:
        problems.add("storage.checkpointClass", f"{checkpoint_class!r} is not a data class")
    elif checkpoint_class in data_classes:
        for i, region in enumerate(regions):
            if not data_classes[checkpoint_class].allows(region):
                problems.add(
                    "storage.checkpointClass",
                    f"class {checkpoint_class!r} may not live in regions[{i}] ({region})",
                )
    expiry = read.integer(
        storage.get("checkpointExpiryDays"),
        "storage.checkpointExpiryDays",
        default=14,
        minimum=1,
        maximum=3650,
    )
    bucket_prefix = read.string(
        raw.get("bucketPrefix"),
        "bucketPrefix",
        default="burst",
        pattern=re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$"),
        what="a lower-case prefix of at most 20 characters",
    )

    alerts = read.mapping(raw.get("alerts"), "alerts")
    read.unknown_keys(alerts, "alerts", ("emails",))
    alert_emails = tuple(
        read.string(e, f"alerts.emails[{j}]", pattern=EMAIL_PATTERN, what="an email address")
        for j, e in enumerate(read.sequence(alerts.get("emails"), "alerts.emails", required=True))
    )
    if isinstance(alerts.get("emails"), list) and not alert_emails:
        problems.add("alerts.emails", "must name at least one address for the platform's alarms")

    budgets = read.mapping(raw.get("budgets"), "budgets")
    read.unknown_keys(
        budgets, "budgets", ("circuitBreaker", "anomalyThresholdUsd", "activateCostAllocationTags")
    )
    circuit_breaker = read.boolean(
        budgets.get("circuitBreaker"), "budgets.circuitBreaker", default=True
    )
    anomaly = read.number(
        budgets.get("anomalyThresholdUsd"), "budgets.anomalyThresholdUsd", default=100.0
    )
    activate_tags = read.boolean(
        budgets.get("activateCostAllocationTags"),
        "budgets.activateCostAllocationTags",
        default=False,
    )

    if problems.lines:
        raise BurstError(problems.lines)
    return StackConfig(
        environment=environment,
        account_id=account_id,
        regions=tuple(regions),
        allowed_regions=tuple(allowed),
        teams=tuple(teams),
        data_classes=data_classes,
        datasets=tuple(datasets),
        cluster_mode=cluster_mode,
        cluster_name=cluster_name,
        admin_role_arns=admin_roles,
        api_access_cidrs=tuple(api_cidrs),
        create_spot_service_linked_role=create_spot_role,
        gpu_families=families,
        ami_alias=ami_alias,
        cpu_families=cpu_families,
        min_instance_types=min_types,
        on_demand_gpu_limit=on_demand_limit,
        vpc_cidrs=vpc_cidrs,
        availability_zone_count=az_count,
        on_prem=on_prem,
        bucket_prefix=bucket_prefix,
        checkpoint_class=checkpoint_class,
        checkpoint_expiry_days=expiry,
        circuit_breaker=circuit_breaker,
        activate_cost_allocation_tags=activate_tags,
        anomaly_threshold_usd=anomaly,
        alert_emails=alert_emails,
    )


def _regions(read: _Reader, value: Any, path: str, default: list[str] | None) -> list[str]:
    if value is None and default is not None:
        return default
    items = read.sequence(value, path, required=True)
    if value is not None and isinstance(value, list) and not value:
        read.problems.add(path, "must list at least one region")
    regions = [
        read.string(r, f"{path}[{i}]", pattern=REGION_PATTERN, what="an AWS region")
        for i, r in enumerate(items)
    ]
    seen: set[str] = set()
    for i, region in enumerate(regions):
        if region in seen:
            read.problems.add(f"{path}[{i}]", f"{region} is listed twice")
        seen.add(region)
    return regions


def _teams(read: _Reader, value: Any) -> list[Team]:
    teams: list[Team] = []
    items = read.sequence(value, "teams", required=True)
    if isinstance(value, list) and not value:
        read.problems.add("teams", "must list at least one team")
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = f"teams[{i}]"
        entry = read.mapping(item, path, required=True)
        read.unknown_keys(
            entry,
            path,
            (
                "name",
                "gpuQuota",
                "onDemandGpus",
                "gpuBorrowingLimit",
                "monthlyBudgetUsd",
                "budgetEmails",
                "checkpointMinutes",
                "restartMinutes",
            ),
        )
        name = read.string(
            entry.get("name"), f"{path}.name", pattern=_DNS_LABEL, what="a DNS label"
        )
        if name in seen:
            read.problems.add(f"{path}.name", f"duplicate team {name!r}")
        seen.add(name)
        quota = read.integer(entry.get("gpuQuota"), f"{path}.gpuQuota")
        on_demand = read.integer(entry.get("onDemandGpus"), f"{path}.onDemandGpus", default=0)
        if on_demand > quota:
            read.problems.add(f"{path}.onDemandGpus", f"{on_demand} exceeds gpuQuota {quota}")
        borrowing = read.integer(
            entry.get("gpuBorrowingLimit"), f"{path}.gpuBorrowingLimit", default=0
        )
        budget = read.number(entry.get("monthlyBudgetUsd"), f"{path}.monthlyBudgetUsd")
        emails = tuple(
            read.string(
                e, f"{path}.budgetEmails[{j}]", pattern=EMAIL_PATTERN, what="an email address"
            )
            for j, e in enumerate(
                read.sequence(entry.get("budgetEmails"), f"{path}.budgetEmails", required=True)
            )
        )
        if isinstance(entry.get("budgetEmails"), list) and not emails:
            read.problems.add(
                f"{path}.budgetEmails", "must name at least one address for the budget's alerts"
            )
        checkpoint = read.number(
            entry.get("checkpointMinutes"),
            f"{path}.checkpointMinutes",
            default=DEFAULT_CHECKPOINT_MINUTES,
            maximum=MAX_JOB_MINUTES,
        )
        restart = read.number(
            entry.get("restartMinutes"),
            f"{path}.restartMinutes",
            default=DEFAULT_RESTART_MINUTES,
            allow_zero=True,
            maximum=MAX_JOB_MINUTES,
        )
        teams.append(Team(name, quota, on_demand, borrowing, budget, emails, checkpoint, restart))
    return teams


def _data_classes(
    read: _Reader, value: Any, allowed: list[str], teams: set[str], regions: list[str]
) -> tuple[dict[str, DataClass], list[DatasetConfig]]:
    classes: dict[str, DataClass] = {}
    datasets: list[DatasetConfig] = []
    dataset_names: set[str] = set()
    entries = read.mapping(value, "dataClasses", required=True)
    for class_name, item in entries.items():
        path = f"dataClasses.{class_name}"
        if not isinstance(class_name, str) or not _DNS_LABEL.fullmatch(class_name):
            read.problems.add(path, "class names must be DNS labels")
            continue
        entry = read.mapping(item, path, required=True)
        read.unknown_keys(entry, path, ("regions", "datasets"))
        class_regions = []
        for i, region in enumerate(
            read.sequence(entry.get("regions"), f"{path}.regions", required=True)
        ):
            if region == ANY_REGION:
                class_regions.append(region)
                continue
            region = read.string(
                region, f"{path}.regions[{i}]", pattern=REGION_PATTERN, what="an AWS region or '*'"
            )
            if allowed and region and region not in allowed:
                read.problems.add(f"{path}.regions[{i}]", f"{region} is outside allowedRegions")
            class_regions.append(region)
        data_class = DataClass(class_name, tuple(class_regions))
        classes[class_name] = data_class
        for i, dataset in enumerate(read.sequence(entry.get("datasets"), f"{path}.datasets")):
            dpath = f"{path}.datasets[{i}]"
            spec = read.mapping(dataset, dpath, required=True)
            read.unknown_keys(spec, dpath, ("name", "team", "objectLockDays"))
            name = read.string(
                spec.get("name"), f"{dpath}.name", pattern=_DNS_LABEL, what="a DNS label"
            )
            team = read.string(spec.get("team"), f"{dpath}.team")
            if team and team not in teams:
                read.problems.add(
                    f"{dpath}.team", f"unknown team {team!r} (teams: {', '.join(sorted(teams))})"
                )
            if name in dataset_names:
                read.problems.add(f"{dpath}.name", f"duplicate dataset {name!r}")
            dataset_names.add(name)
            lock_days = read.integer(
                spec.get("objectLockDays"),
                f"{dpath}.objectLockDays",
                default=365,
                minimum=1,
                maximum=36500,
            )
            if regions and not any(data_class.allows(r) for r in regions):
                read.problems.add(
                    f"{dpath}", f"class {class_name!r} may live in none of the stack's regions"
                )
            datasets.append(DatasetConfig(name, team, class_name, lock_days))
    return classes, datasets


def _vpc_cidrs(read: _Reader, value: Any, regions: list[str]) -> dict[str, str]:
    given = read.mapping(value, "network.cidrs")
    cidrs: dict[str, str] = {}
    for i, region in enumerate(regions):
        cidr = given.get(region, f"10.{64 + i}.0.0/16")
        try:
            network = ipaddress.IPv4Network(cidr)
        except (ValueError, TypeError):
            read.problems.add(f"network.cidrs.{region}", f"{cidr!r} is not an IPv4 CIDR block")
            continue
        if network.prefixlen > 20:
            read.problems.add(f"network.cidrs.{region}", "must be a /20 or larger")
        if not any(network.subnet_of(private) for private in PRIVATE_NETWORKS):
            read.problems.add(
                f"network.cidrs.{region}",
                f"{network} is not private address space (RFC 1918, or RFC 6598 100.64.0.0/10)",
            )
        for other_region, other in cidrs.items():
            if ipaddress.IPv4Network(other).overlaps(network):
                read.problems.add(f"network.cidrs.{region}", f"overlaps the CIDR of {other_region}")
        cidrs[region] = str(network)
    for region in given:
        if regions and region not in regions:
            read.problems.add(f"network.cidrs.{region}", "is not one of the stack's regions")
    return cidrs


def _on_prem(read: _Reader, value: Any, path: str, vpc_cidrs: list[str]) -> OnPremConfig | None:
    if value is None:
        return None
    entry = read.mapping(value, path)
    read.unknown_keys(
        entry, path, ("cidrs", "transitGatewayId", "customerGatewayIp", "customerGatewayBgpAsn")
    )
    cidrs = []
    for i, cidr in enumerate(read.sequence(entry.get("cidrs"), f"{path}.cidrs", required=True)):
        try:
            network = ipaddress.IPv4Network(cidr)
        except (ValueError, TypeError):
            read.problems.add(f"{path}.cidrs[{i}]", f"{cidr!r} is not an IPv4 CIDR block")
            continue
        if any(network.overlaps(ipaddress.IPv4Network(v)) for v in vpc_cidrs):
            read.problems.add(f"{path}.cidrs[{i}]", f"{cidr} overlaps a VPC CIDR")
        cidrs.append(str(network))
    tgw = entry.get("transitGatewayId")
    vpn_ip = entry.get("customerGatewayIp")
    if (tgw is None) == (vpn_ip is None):
        read.problems.add(path, "set exactly one of transitGatewayId or customerGatewayIp")
    if tgw is not None:
        read.string(tgw, f"{path}.transitGatewayId", pattern=_TGW, what="a Transit Gateway ID")
    if vpn_ip is not None:
        try:
            ipaddress.IPv4Address(vpn_ip)
        except (ValueError, TypeError):
            read.problems.add(f"{path}.customerGatewayIp", f"{vpn_ip!r} is not an IPv4 address")
    asn = read.integer(
        entry.get("customerGatewayBgpAsn"),
        f"{path}.customerGatewayBgpAsn",
        default=65000,
        minimum=1,
        maximum=4294967294,
    )
    return OnPremConfig(tuple(cidrs), tgw, vpn_ip, asn)


def read_stack_file(path: Path) -> dict[str, Any]:
    """Read the `burst-platform:` keys of a `Pulumi.<stack>.yaml` file (prefix removed).

    Keys of other namespaces (`aws:`, `pulumi:`) are ignored; a missing or malformed file is a
    `BurstError` naming the file.
    """
    if not path.is_file():
        raise BurstError(f"{path}: stack file not found")
    document = read_yaml(path)
    if document is None:
        document = {}
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise BurstError(f"{path}: expected a mapping with a 'config' mapping")
    prefix = f"{PROJECT}:"
    return {
        key.removeprefix(prefix): value
        for key, value in (document.get("config") or {}).items()
        if isinstance(key, str) and key.startswith(prefix)
    }


def read_pulumi_config(get: Callable[[str], str | None]) -> dict[str, Any]:
    """Read the known keys through `pulumi.Config().get`, decoding structured values from JSON."""
    raw: dict[str, Any] = {}
    for key in SCALAR_KEYS:
        value = get(key)
        if value is not None:
            raw[key] = value
    for key in STRUCTURED_KEYS:
        value = get(key)
        if value is None:
            continue
        try:
            raw[key] = json.loads(value)
        except json.JSONDecodeError:
            raise BurstError(f"{PROJECT}:{key}: must be structured YAML/JSON") from None
    return raw


def to_pulumi_config(raw: Mapping[str, Any]) -> dict[str, str]:
    """Encode raw config the way the Pulumi CLI hands it to a program (JSON for structured keys)."""
    return {
        f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in raw.items()
    }

"""Stack configuration of the burst layer: read, validate, and turn into typed settings.

The same loader serves `pulumi up` (values from `pulumi.Config`) and `burst plan` (values from
`Pulumi.<stack>.yaml`), so a stack that plans offline deploys with the same meaning.

The shape of the config (keys, types, ranges, patterns, required keys, defaults) is declared by
the pydantic models below, `StackSettings` at the root; the rules between sections (a region
inside `allowedRegions`, a dataset's team, overlapping CIDRs) are its validator, and read the
sections that are valid when others are not. Every problem is one line naming the config key
(`problem_lines`, the one place a pydantic `ValidationError` becomes words), all collected
before failing, because a pull request with three typos should not need three CI runs."""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from burst_platform.components.alerts import EMAIL_PATTERN
from burst_platform.components.conventions import (
    ACCOUNT_ID_PATTERN,
    GPU_INSTANCE_FAMILIES,
    REGION_PATTERN,
    ROLE_ARN_PATTERN,
)
from burst_platform.components.gpu_capacity import AMI_ALIAS_PATTERN, DEFAULT_AMI_ALIAS
from burst_platform.documents import key_hint, read_yaml
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

PRIVATE_NETWORKS = tuple(
    ipaddress.IPv4Network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
"""RFC 1918 private and RFC 6598 shared address space: where a VPC without egress lives."""


def _whole(pattern: str) -> str:
    """`pattern` matching the whole value (pydantic's Rust regex searches; `$` is end of text)."""
    return f"^(?:{pattern})$"


_DNS_LABEL = _whole(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")
_FAMILY = _whole(r"[a-z][a-z0-9-]*")
_TGW = _whole(r"tgw-[0-9a-f]{8,17}")
_REGION = _whole(REGION_PATTERN.pattern)
_CLASS_REGION = _whole(rf"\*|{REGION_PATTERN.pattern}")
_ACCOUNT_ID = _whole(ACCOUNT_ID_PATTERN.pattern)
_ROLE_ARN = _whole(ROLE_ARN_PATTERN.pattern)
_EMAIL = _whole(EMAIL_PATTERN.pattern)
_AMI_ALIAS = _whole(AMI_ALIAS_PATTERN.pattern)
_BUCKET_PREFIX = _whole(r"[a-z0-9][a-z0-9-]{0,19}")

_PATTERN_NAMES = {
    _DNS_LABEL: "a DNS label",
    _FAMILY: "an instance family",
    _TGW: "a Transit Gateway ID",
    _REGION: "an AWS region",
    _CLASS_REGION: "an AWS region or '*'",
    _ACCOUNT_ID: "a 12-digit account ID",
    _ROLE_ARN: "an IAM role ARN",
    _EMAIL: "an email address",
    _AMI_ALIAS: "a pinned Bottlerocket release such as bottlerocket@v1.64.0",
    _BUCKET_PREFIX: "a lower-case prefix of at most 20 characters",
}
"""What a value that does not match each pattern is not (`'x' is not a DNS label`)."""


@dataclass(frozen=True)
class IfEmpty:
    """The problem of an empty list, for a field declared with `min_length=1`."""

    message: str


Problem = tuple[tuple[str | int, ...], str]
"""Where a problem is (keys and list indexes from the value validated) and what it is."""


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("burst", message)


def _fail(problems: Iterable[Problem]) -> None:
    """Raise the problems, each at its location relative to the value being validated."""
    details = [InitErrorDetails(type=_problem(m), loc=loc, input=None) for loc, m in problems]
    if details:
        raise ValidationError.from_exception_data("StackSettings", details)


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.IPv4Network(value))
    except ValueError:
        raise _problem(f"{value!r} is not an IPv4 CIDR block") from None


def _api_cidr(value: str) -> str:
    if ipaddress.IPv4Network(value).prefixlen < 8:
        raise _problem(f"{value} is wider than a /8")
    return value


def _vpc_cidr(value: str) -> str:
    network = ipaddress.IPv4Network(value)
    problems = []
    if network.prefixlen > 20:
        problems.append(((), "must be a /20 or larger"))
    if not any(network.subnet_of(private) for private in PRIVATE_NETWORKS):
        private = "private address space (RFC 1918, or RFC 6598 100.64.0.0/10)"
        problems.append(((), f"{network} is not {private}"))
    _fail(problems)
    return value


def _ipv4_address(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise _problem(f"{value!r} is not an IPv4 address") from None
    return value


def _gpu_family(value: str) -> str:
    if value not in GPU_INSTANCE_FAMILIES:
        known = ", ".join(sorted(GPU_INSTANCE_FAMILIES))
        raise _problem(f"{value!r} is not an NVIDIA GPU instance family (known: {known})")
    return value


def _cpu_family(value: str) -> str:
    if value in GPU_INSTANCE_FAMILIES:
        raise _problem(f"{value!r} is a GPU family")
    return value


def _each_family_once(families: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(families)) != len(families):
        raise _problem("lists a family twice")
    return families


def _each_region_once(regions: tuple[str, ...]) -> tuple[str, ...]:
    _fail(
        ((i,), f"{region} is listed twice")
        for i, region in enumerate(regions)
        if region in regions[:i]
    )
    return regions


def _text(pattern: str) -> StringConstraints:
    return StringConstraints(strict=True, pattern=pattern)


DnsLabel = Annotated[str, _text(_DNS_LABEL)]
Region = Annotated[str, _text(_REGION)]
Email = Annotated[str, _text(_EMAIL)]
Family = Annotated[str, _text(_FAMILY)]
Cidr = Annotated[StrictStr, AfterValidator(_cidr)]
Amount = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]
"""A positive, finite number (YAML's .nan and .inf are not amounts)."""
Regions = Annotated[
    tuple[Region, ...],
    Field(min_length=1),
    IfEmpty("must list at least one region"),
    AfterValidator(_each_region_once),
]


def _without_nulls(data: Any) -> Any:
    """A mapping without its null values (a null value is an absent key)."""
    if isinstance(data, Mapping):
        return {key: value for key, value in data.items() if value is not None}
    return data


class _Section(BaseModel):
    """A mapping of the stack config: camelCase keys, nothing else; a key set to null is absent
    (an unknown key is refused whatever its value)."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        keys = {field.alias for field in cls.model_fields.values()}
        return {k: v for k, v in data.items() if v is not None or k not in keys}


class Team(_Section):
    """A team that bursts work: its GPU quota per region and its monthly budget."""

    name: DnsLabel = Field(description="team name (namespaces, queues, tags)")
    gpu_quota: StrictInt = Field(ge=0, description="nominal GPUs of the team per region")
    on_demand_gpus: StrictInt = Field(
        0, ge=0, description="part of the quota admitted on on-demand capacity"
    )
    gpu_borrowing_limit: StrictInt = Field(
        0, ge=0, description="GPUs the team may borrow beyond its quota, per region"
    )
    monthly_budget_usd: Amount = Field(description="monthly budget of the team, USD")
    budget_emails: Annotated[
        tuple[Email, ...],
        Field(min_length=1),
        IfEmpty("must name at least one address for the budget's alerts"),
    ] = Field(description="addresses the budget's alerts go to")
    checkpoint_minutes: float = Field(
        DEFAULT_CHECKPOINT_MINUTES,
        strict=True,
        gt=0,
        le=MAX_JOB_MINUTES,
        allow_inf_nan=False,
        description="minutes one checkpoint of the team's jobs takes (`burst cost`)",
    )
    restart_minutes: float = Field(
        DEFAULT_RESTART_MINUTES,
        strict=True,
        ge=0,
        le=MAX_JOB_MINUTES,
        allow_inf_nan=False,
        description="minutes from a spot interruption to the job working again (`burst cost`)",
    )

    @model_validator(mode="after")
    def _on_demand_within_quota(self) -> Self:
        if self.on_demand_gpus > self.gpu_quota:
            _fail([(("onDemandGpus",), f"{self.on_demand_gpus} exceeds gpuQuota {self.gpu_quota}")])
        return self


class DatasetSpec(_Section):
    """A dataset of a data class, as configured."""

    name: DnsLabel = Field(description="dataset name (bucket names)")
    team: StrictStr = Field(description="the team that owns the dataset")
    object_lock_days: StrictInt = Field(
        365, ge=1, le=36500, description="object-lock retention of the dataset's bucket, days"
    )


class DataClassSpec(_Section):
    """A data classification, as configured."""

    regions: tuple[Annotated[str, _text(_CLASS_REGION)], ...] = Field(
        description='regions data of the class may live in ("*" = any allowed region)'
    )
    datasets: tuple[DatasetSpec, ...] = Field((), description="datasets of the class")


class ClusterSpec(_Section):
    """The EKS cluster of each region."""

    mode: Literal["create", "attach"] = Field(
        "create", description="`create` a cluster, or `attach` to an existing one"
    )
    name: DnsLabel | None = Field(None, description="cluster name (default burst-<environment>)")
    admin_role_arns: tuple[Annotated[str, _text(_ROLE_ARN)], ...] = Field(
        (), description="IAM roles of accountId given cluster admin access"
    )
    api_access_cidrs: tuple[Annotated[Cidr, AfterValidator(_api_cidr)], ...] = Field(
        (), description="networks (CI runners) that reach the private API endpoint"
    )
    create_spot_service_linked_role: StrictBool = Field(
        False, description="create EC2 Spot's service-linked role (once per account)"
    )


class GpuSpec(_Section):
    """The spot GPU pools."""

    ami_alias: Annotated[str, _text(_AMI_ALIAS)] = Field(
        DEFAULT_AMI_ALIAS, description="pinned Bottlerocket release of GPU nodes"
    )
    instance_families: Annotated[
        tuple[Annotated[Family, AfterValidator(_gpu_family)], ...],
        Field(min_length=1),
        IfEmpty("must list at least one GPU instance family"),
        AfterValidator(_each_family_once),
    ] = Field(DEFAULT_GPU_FAMILIES, description="NVIDIA GPU instance families of the pools")
    min_instance_types: StrictInt = Field(
        3, ge=1, le=50, description="instance types a pool must span (spot diversification)"
    )
    on_demand_gpu_limit: StrictInt = Field(
        8, ge=0, description="GPUs the on-demand fallback pool of a region may hold"
    )


class CpuSpec(_Section):
    """The spot CPU pools."""

    instance_families: Annotated[
        tuple[Annotated[Family, AfterValidator(_cpu_family)], ...],
        AfterValidator(_each_family_once),
    ] = Field(DEFAULT_CPU_FAMILIES, description="families of each team's spot CPU pool")


class OnPremConfig(_Section):
    """Private link of one region to on-prem (exactly one of Transit Gateway or VPN)."""

    cidrs: tuple[Cidr, ...] = Field(description="on-prem networks reached over the link")
    transit_gateway_id: Annotated[str, _text(_TGW)] | None = Field(
        None, description="Transit Gateway to attach the VPC to"
    )
    customer_gateway_ip: Annotated[StrictStr, AfterValidator(_ipv4_address)] | None = Field(
        None, description="public IPv4 address of the on-prem VPN device"
    )
    customer_gateway_bgp_asn: StrictInt = Field(
        65000, ge=1, le=4294967294, description="BGP ASN of the on-prem VPN device"
    )

    @model_validator(mode="after")
    def _one_link(self) -> Self:
        if (self.transit_gateway_id is None) == (self.customer_gateway_ip is None):
            _fail([((), "set exactly one of transitGatewayId or customerGatewayIp")])
        return self


class NetworkSpec(_Section):
    """The VPC of each region and its link to on-prem."""

    cidrs: dict[str, Annotated[Cidr, AfterValidator(_vpc_cidr)]] = Field(
        default_factory=dict, description="VPC CIDR of each region (default 10.64.0.0/16, ...)"
    )
    availability_zone_count: StrictInt = Field(
        3, ge=2, le=6, description="availability zones of each VPC"
    )
    on_prem: Annotated[dict[str, OnPremConfig], BeforeValidator(_without_nulls)] = Field(
        default_factory=dict, description="private link of each region to on-prem (null: none)"
    )


class StorageSpec(_Section):
    """The checkpoint bucket of each region."""

    checkpoint_class: StrictStr = Field(
        "internal", description="data class of the checkpoint buckets"
    )
    checkpoint_expiry_days: StrictInt = Field(
        14, ge=1, le=3650, description="days after which checkpoints expire"
    )


class BudgetsSpec(_Section):
    """Budgets, their actions and cost anomaly detection."""

    circuit_breaker: StrictBool = Field(True, description="budget action on the Karpenter roles")
    anomaly_threshold_usd: Amount = Field(100.0, description="cost anomaly that alerts, USD")
    activate_cost_allocation_tags: StrictBool = Field(
        False, description="activate the team/environment cost allocation tags"
    )


class AlertsSpec(_Section):
    """Where the platform's alarms go."""

    emails: Annotated[
        tuple[Email, ...],
        Field(min_length=1),
        IfEmpty("must name at least one address for the platform's alarms"),
    ] = Field(description="the platform on-call")


class StackSettings(_Section):
    """The `burst-platform:` keys of a stack, as written in `Pulumi.<stack>.yaml`.

    The field descriptions are the README's stack configuration table (`config_table`).
    """

    environment: DnsLabel = Field(description="environment name (tags, names) — required")
    account_id: Annotated[str, _text(_ACCOUNT_ID)] = Field(
        description="AWS account ID, quoted — required; providers refuse any other account"
    )
    regions: Regions = Field(
        description="regions to deploy the burst layer to — required, each inside `allowedRegions`"
    )
    allowed_regions: Regions = Field(
        DEFAULT_ALLOWED_REGIONS,
        description="regions the stack may use (default us-east-1, us-west-2, eu-west-1, "
        "eu-central-1)",
    )
    teams: Annotated[
        tuple[Team, ...],
        Field(min_length=1),
        IfEmpty("must list at least one team"),
    ] = Field(
        description="`name`, `gpuQuota` (nominal GPUs per region), `onDemandGpus` (part of the "
        "quota admitted on on-demand), `gpuBorrowingLimit`, `monthlyBudgetUsd`, `budgetEmails` "
        "(at least one: the budget's alerts go there), `checkpointMinutes` (minutes to write one "
        "checkpoint, above 0, default 5) and `restartMinutes` (minutes from an interruption to "
        "work again: replacement node, image pull, restore; at least 0, default 10), both at "
        "most a week, for `burst cost`"
    )
    data_classes: dict[DnsLabel, DataClassSpec] = Field(
        description='`regions` the class may live in (`"*"` = any allowed region) and its '
        "`datasets[]` (`name`, `team`, `objectLockDays`)",
        json_schema_extra={"tableKey": "dataClasses.<class>"},
    )
    cluster: ClusterSpec = Field(
        ClusterSpec(),
        description="`mode` (`create`, or `attach` to an existing cluster: the program then uses "
        "that cluster's VPC and subnets and builds no network of its own; see the "
        "preconditions), `name`, `adminRoleArns` (roles of `accountId`), `apiAccessCidrs` (CI "
        "runners that reach the private API endpoint; the region's `network.onPrem` CIDRs "
        "always do), `createSpotServiceLinkedRole` (default false: create EC2 Spot's "
        "service-linked role, once per account; see below)",
    )
    alerts: AlertsSpec = Field(
        description="`emails` (required, at least one): the platform on-call, subscribed to "
        "every region's alert topic (each address confirms once)"
    )
    cpu: CpuSpec = Field(
        CpuSpec(),
        description="`instanceFamilies` (default c6i, c7i, m6i, m7i, r6i, r7i; `[]` for no CPU "
        "pools): families of each team's spot CPU pool, sized to the team's Kueue CPU quota",
    )
    gpu: GpuSpec = Field(
        GpuSpec(),
        description="`amiAlias` (the pinned Bottlerocket release of GPU nodes, "
        '`bottlerocket@vX.Y.Z`; see "Upgrading the node image"), `instanceFamilies` '
        "(non-empty, NVIDIA GPU families from `components/conventions.py` "
        "`GPU_INSTANCE_FAMILIES`), `minInstanceTypes` (spot diversification), "
        "`onDemandGpuLimit`",
    )
    network: NetworkSpec = Field(
        NetworkSpec(),
        description="`cidrs.<region>` (private: RFC 1918 or 100.64.0.0/10), "
        "`availabilityZoneCount`, `onPrem.<region>` (`transitGatewayId` or `customerGatewayIp` "
        "+ `customerGatewayBgpAsn`, and `cidrs`)",
    )
    storage: StorageSpec = Field(
        StorageSpec(), description="`checkpointClass`, `checkpointExpiryDays`"
    )
    budgets: BudgetsSpec = Field(
        BudgetsSpec(),
        description="`circuitBreaker` (budget action on the Karpenter roles), "
        "`anomalyThresholdUsd`, `activateCostAllocationTags` (default false: set it true in a "
        "second `pulumi up`, once AWS Billing knows the `team`/`environment` tag keys, about a "
        'day after the first tagged resources; activating them earlier fails with "tag not '
        'found")',
    )
    bucket_prefix: Annotated[str, _text(_BUCKET_PREFIX)] = Field(
        "burst", description="prefix of bucket names (globally unique)"
    )

    def vpc_cidrs(self) -> dict[str, str]:
        """The VPC CIDR of each region: the configured one, else 10.64.0.0/16, 10.65.0.0/16, ..."""
        return _vpc_cidrs(self.network, self.regions)

    @model_validator(mode="wrap")
    @classmethod
    def _sections_agree(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Check the rules between sections: those that validated, when some did not."""
        try:
            settings = handler(data)
        except ValidationError as error:
            if not isinstance(data, Mapping):
                raise
            problems = _cross_section_problems(_Valid.of_raw(data))
            raise _with_problems(error, problems) from None
        _fail(_cross_section_problems(_Valid.of_settings(settings)))
        return settings


def _with_problems(error: ValidationError, problems: Iterable[Problem]) -> ValidationError:
    """`error` with `problems` after its own errors (same types, messages and context)."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError(e["type"], e["msg"], e.get("ctx")),
            loc=e["loc"],
            input=e["input"],
        )
        for e in error.errors(include_url=False)
    ]
    details += [InitErrorDetails(type=_problem(m), loc=loc, input=None) for loc, m in problems]
    return ValidationError.from_exception_data(error.title, details)


@functools.cache
def _section_adapter(name: str) -> TypeAdapter[Any]:
    field = StackSettings.model_fields[name]
    annotation: Any = field.annotation
    if field.metadata:  # the constraints and validators of the field
        annotation = Annotated[(annotation, *field.metadata)]
    return TypeAdapter(annotation)


def _section(raw: Mapping[str, Any], name: str) -> Any:
    """Section `name` of `raw` validated on its own; None if missing or invalid."""
    field = StackSettings.model_fields[name]
    value = raw.get(field.alias or name)
    if value is None:
        return None if field.is_required() else field.get_default(call_default_factory=True)
    try:
        return _section_adapter(name).validate_python(value)
    except ValidationError:
        return None


_TEAM_NAME: TypeAdapter[str] = TypeAdapter(DnsLabel)


@dataclass(frozen=True)
class _Valid:
    """The sections the cross-section rules read; None where a section is missing or invalid."""

    regions: tuple[str, ...] | None
    allowed_regions: tuple[str, ...] | None
    team_names: tuple[tuple[int, str], ...]
    """(index, name) of each team entry whose name is valid, even if the rest of it is not."""
    every_team_named: bool
    data_classes: dict[str, DataClassSpec] | None
    account_id: str | None
    cluster: ClusterSpec | None
    network: NetworkSpec | None
    storage: StorageSpec | None

    @classmethod
    def of_settings(cls, settings: StackSettings) -> _Valid:
        return cls(
            regions=settings.regions,
            allowed_regions=settings.allowed_regions,
            team_names=tuple(enumerate(team.name for team in settings.teams)),
            every_team_named=True,
            data_classes=settings.data_classes,
            account_id=settings.account_id,
            cluster=settings.cluster,
            network=settings.network,
            storage=settings.storage,
        )

    @classmethod
    def of_raw(cls, data: Mapping[str, Any]) -> _Valid:
        raw = _without_nulls(data)
        teams = raw.get("teams")
        names = []
        for i, team in enumerate(teams if isinstance(teams, list | tuple) else ()):
            with contextlib.suppress(ValidationError):
                if isinstance(team, Mapping):
                    names.append((i, _TEAM_NAME.validate_python(team.get("name"))))
        return cls(
            regions=_section(raw, "regions"),
            allowed_regions=_section(raw, "allowed_regions"),
            team_names=tuple(names),
            every_team_named=isinstance(teams, list | tuple) and len(names) == len(teams),
            data_classes=_section(raw, "data_classes"),
            account_id=_section(raw, "account_id"),
            cluster=_section(raw, "cluster"),
            network=_section(raw, "network"),
            storage=_section(raw, "storage"),
        )


def _vpc_cidrs(network: NetworkSpec, regions: tuple[str, ...]) -> dict[str, str]:
    return {
        region: network.cidrs.get(region, f"10.{64 + i}.0.0/16") for i, region in enumerate(regions)
    }


def _cross_section_problems(valid: _Valid) -> list[Problem]:
    """Problems of rules between sections, over the sections that are valid."""
    problems: list[Problem] = []
    regions, allowed = valid.regions, valid.allowed_regions
    if regions is not None and allowed is not None:
        for i, region in enumerate(regions):
            if region not in allowed:
                where = f"outside allowedRegions ({', '.join(allowed)})"
                problems.append((("regions", i), f"{region} is {where}"))
    names: set[str] = set()
    for i, name in valid.team_names:
        if name in names:
            problems.append((("teams", i, "name"), f"duplicate team {name!r}"))
        names.add(name)
    if valid.data_classes is not None:
        problems += _data_class_problems(valid, valid.data_classes, names)
    if valid.cluster is not None and valid.account_id is not None:
        for i, arn in enumerate(valid.cluster.admin_role_arns):
            if (account := arn.split(":")[4]) != valid.account_id:
                message = f"role of account {account}, not of accountId {valid.account_id}"
                problems.append((("cluster", "adminRoleArns", i), message))
    if valid.network is not None and regions is not None:
        problems += _network_problems(valid.network, regions)
    if valid.storage is not None and valid.data_classes is not None:
        classes, checkpoint_class = valid.data_classes, valid.storage.checkpoint_class
        if classes and checkpoint_class not in classes:
            message = f"{checkpoint_class!r} is not a data class"
            problems.append((("storage", "checkpointClass"), message))
        elif checkpoint_class in classes:
            data_class = DataClass(checkpoint_class, classes[checkpoint_class].regions)
            for i, region in enumerate(regions or ()):
                if not data_class.allows(region):
                    message = f"class {checkpoint_class!r} may not live in regions[{i}] ({region})"
                    problems.append((("storage", "checkpointClass"), message))
    return problems


def _data_class_problems(
    valid: _Valid, classes: dict[str, DataClassSpec], teams: set[str]
) -> Iterable[Problem]:
    datasets: set[str] = set()
    for class_name, spec in classes.items():
        where: tuple[str | int, ...] = ("dataClasses", class_name)
        for i, region in enumerate(spec.regions):
            if valid.allowed_regions is not None and region not in (
                ANY_REGION,
                *valid.allowed_regions,
            ):
                yield (*where, "regions", i), f"{region} is outside allowedRegions"
        data_class = DataClass(class_name, spec.regions)
        for i, dataset in enumerate(spec.datasets):
            at = (*where, "datasets", i)
            if valid.every_team_named and dataset.team not in teams:
                known = ", ".join(sorted(teams))
                yield (*at, "team"), f"unknown team {dataset.team!r} (teams: {known})"
            if dataset.name in datasets:
                yield (*at, "name"), f"duplicate dataset {dataset.name!r}"
            datasets.add(dataset.name)
            if valid.regions is not None and not any(data_class.allows(r) for r in valid.regions):
                yield at, f"class {class_name!r} may live in none of the stack's regions"


def _network_problems(network: NetworkSpec, regions: tuple[str, ...]) -> Iterable[Problem]:
    vpcs: dict[str, ipaddress.IPv4Network] = {}
    for region, cidr in _vpc_cidrs(network, regions).items():
        try:
            block = ipaddress.IPv4Network(cidr)
        except ValueError:  # a default beyond 10.255.0.0/16: more regions than defaults
            yield ("network", "cidrs", region), "required (no default CIDR left)"
            continue
        for other_region, other in vpcs.items():
            if other.overlaps(block):
                yield ("network", "cidrs", region), f"overlaps the CIDR of {other_region}"
        vpcs[region] = block
    for region in network.cidrs:
        if region not in regions:
            yield ("network", "cidrs", region), "is not one of the stack's regions"
    for region, link in network.on_prem.items():
        for i, cidr in enumerate(link.cidrs):
            if any(ipaddress.IPv4Network(cidr).overlaps(vpc) for vpc in vpcs.values()):
                yield ("network", "onPrem", region, "cidrs", i), f"{cidr} overlaps a VPC CIDR"
        if region not in regions:
            yield ("network", "onPrem", region), "is not one of the stack's regions"


def _unwrap(annotation: Any) -> Any:
    """`X` of `Annotated[X, ...]` and of `X | None`."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _field_at(loc: tuple[str | int, ...]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model whose key ends `loc`, and that key's field (None for a key it does not have)."""
    annotation: Any = StackSettings
    model: type[BaseModel] | None = None
    field: FieldInfo | None = None
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            field = next(
                (f for name, f in model.model_fields.items() if (f.alias or name) == part), None
            )
            if field is None:
                return model, None
            annotation = field.annotation
        else:
            model, field = None, None
            args = get_args(annotation)
            annotation = args[-1] if get_origin(annotation) is dict else (args or (None,))[0]
    return model, field


def _keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _message(error: Mapping[str, Any], loc: tuple[str | int, ...]) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        model, _ = _field_at(loc)
        return f"unknown key{key_hint(loc[-1], _keys(model) if model else [])}"
    if kind == "missing" or (value is None and kind != "burst"):
        return "required"
    if kind == "string_type":
        return f"must be a string, got {type(value).__name__}"
    if kind == "string_pattern_mismatch":
        what = _PATTERN_NAMES.get(error["ctx"]["pattern"], "of the expected form")
        return f"{value!r} is not {what}"
    if kind == "int_type":
        return f"must be a whole number, got {value!r}"
    if kind == "less_than_equal":
        return f"must be at most {error['ctx']['le']:g}, got {value}"
    if kind == "greater_than_equal":
        _, field = _field_at(loc)
        metadata = field.metadata if field else []
        low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), 0)
        high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        return f"must be {bound}, got {value}"
    if kind in ("float_type", "finite_number"):
        return f"must be a number, got {value!r}"
    if kind == "greater_than":
        return f"must be above {error['ctx']['gt']:g}, got {value}"
    if kind == "bool_type":
        return f"must be true or false, got {value!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping, got {type(value).__name__}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, got {type(value).__name__}"
    if kind == "literal_error":
        return f"{value!r} must be {error['ctx']['expected']}"
    if kind == "too_short":
        _, field = _field_at(loc)
        empty = next((m for m in (field.metadata if field else []) if isinstance(m, IfEmpty)), None)
        return empty.message if empty else "must not be empty"
    return str(error["msg"])


def problem_lines(error: ValidationError) -> list[str]:
    """One `burst-platform:<key path>: <problem>` line per problem of a stack config."""
    errors = error.errors(include_url=False)
    failed_items = {
        tuple(e["loc"][:i]) for e in errors for i, p in enumerate(e["loc"]) if isinstance(p, int)
    }
    lines = []
    for item in errors:
        loc = tuple(item["loc"])
        if item["type"] == "too_short" and loc in failed_items:
            continue  # pydantic counts the valid items only; the invalid ones have their lines
        if loc[-1:] == ("[key]",):  # the key of a mapping, not its value
            loc = loc[:-1]
        line = f"{PROJECT}:{_path(loc) or 'config'}: {_message(item, loc)}"
        lines.append(line if line.isprintable() else line.encode("unicode_escape").decode())
    return lines


def config_table() -> str:
    """The README's stack configuration table: one row per key, its meaning the description."""
    rows = ["| key | meaning |", "| --- | --- |"]
    for name, field in StackSettings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        key = str(extra.get("tableKey", field.alias or name))
        items = get_args(field.annotation)[:1] if get_origin(field.annotation) is tuple else ()
        if (
            items
            and isinstance(_unwrap(items[0]), type)
            and issubclass(_unwrap(items[0]), _Section)
        ):
            key += "[]"  # a list of mappings
        rows.append(f"| `{key}` | {field.description} |")
    return "\n".join(rows) + "\n"


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


SCALAR_KEYS = tuple(
    field.alias or name
    for name, field in StackSettings.model_fields.items()
    if _unwrap(field.annotation) is str
)
"""Keys Pulumi hands to the program as plain strings."""
STRUCTURED_KEYS = tuple(key for key in _keys(StackSettings) if key not in SCALAR_KEYS)
"""Keys Pulumi hands to the program as JSON."""
KNOWN_KEYS = frozenset(SCALAR_KEYS + STRUCTURED_KEYS)


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate raw stack config (keys without the project prefix) into a `StackConfig`.

    Raises `BurstError` with one line per problem, each naming the config key.
    """
    try:
        settings = StackSettings.model_validate(raw)
    except ValidationError as error:
        raise BurstError(problem_lines(error)) from None
    return StackConfig(
        environment=settings.environment,
        account_id=settings.account_id,
        regions=settings.regions,
        allowed_regions=settings.allowed_regions,
        teams=settings.teams,
        data_classes={
            name: DataClass(name, spec.regions) for name, spec in settings.data_classes.items()
        },
        datasets=tuple(
            DatasetConfig(dataset.name, dataset.team, name, dataset.object_lock_days)
            for name, spec in settings.data_classes.items()
            for dataset in spec.datasets
        ),
        cluster_mode=settings.cluster.mode,
        cluster_name=settings.cluster.name or f"burst-{settings.environment}",
        admin_role_arns=settings.cluster.admin_role_arns,
        api_access_cidrs=settings.cluster.api_access_cidrs,
        create_spot_service_linked_role=settings.cluster.create_spot_service_linked_role,
        gpu_families=settings.gpu.instance_families,
        ami_alias=settings.gpu.ami_alias,
        cpu_families=settings.cpu.instance_families,
        min_instance_types=settings.gpu.min_instance_types,
        on_demand_gpu_limit=settings.gpu.on_demand_gpu_limit,
        vpc_cidrs=settings.vpc_cidrs(),
        availability_zone_count=settings.network.availability_zone_count,
        on_prem=dict(settings.network.on_prem),
        bucket_prefix=settings.bucket_prefix,
        checkpoint_class=settings.storage.checkpoint_class,
        checkpoint_expiry_days=settings.storage.checkpoint_expiry_days,
        circuit_breaker=settings.budgets.circuit_breaker,
        activate_cost_allocation_tags=settings.budgets.activate_cost_allocation_tags,
        anomaly_threshold_usd=settings.budgets.anomaly_threshold_usd,
        alert_emails=settings.alerts.emails,
    )


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

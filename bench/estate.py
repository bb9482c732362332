"""Synthetic estates: the real burst program under the mock runtime, scaled by regions x teams.

An estate is a stack config built programmatically (validated by `parse_stack_config`) with
`regions` real AWS regions and `teams` teams, planned offline exactly as `burst plan` does
(`run_program(build_platform)` then `preview_document`), plus a guardrails file with the keys of
`policies/data/guardrails.yaml` whose teams, regions and quotas match the estate, so that every
rule of the pack is evaluated on a realistic plan that mostly passes.

Resources grow as about `74*R + 28*R*T + 12*T` custom resources (R regions, T teams): every region
has its network, cluster, Karpenter, interruption queue, GPU pools and queues; every team has
storage and a workload identity in every region and a budget once per stack.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from burst_platform.infra.config import PROJECT, StackConfig, parse_stack_config, to_pulumi_config
from burst_platform.mock_runtime import Registration

REGIONS: tuple[str, ...] = (
    "eu-west-1",
    "us-east-1",
    "us-west-2",
    "eu-central-1",
    "us-east-2",
    "eu-west-2",
    "ap-northeast-1",
    "ap-southeast-2",
    "eu-north-1",
    "us-west-1",
    "ca-central-1",
    "eu-west-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-northeast-2",
    "sa-east-1",
    "eu-south-1",
    "eu-central-2",
    "ap-northeast-3",
    "me-central-1",
)
"""Real AWS region names, in the order estates take them (the EU regions host restricted data)."""

RESTRICTED_REGIONS: tuple[str, ...] = ("eu-west-1", "eu-central-1")
"""Where restricted data may live (as in the production guardrails)."""

ACCOUNT_ID = "111122223333"
ENVIRONMENT = "bench"

# (gpuQuota, onDemandGpus, gpuBorrowingLimit, monthlyBudgetUsd): a mix of small and large teams.
_TEAM_PROFILES: tuple[tuple[int, int, int, int], ...] = (
    (12, 2, 4, 20000),
    (24, 4, 8, 45000),
    (8, 0, 0, 8000),
    (16, 2, 4, 15000),
)


@dataclass(frozen=True)
class EstateShape:
    """The size of a synthetic estate: how many regions and teams."""

    regions: int
    teams: int

    def __post_init__(self) -> None:
        if not 1 <= self.regions <= len(REGIONS):
            raise ValueError(f"regions must be between 1 and {len(REGIONS)}, got {self.regions}")
        if self.teams < 1:
            raise ValueError(f"teams must be at least 1, got {self.teams}")

    @property
    def label(self) -> str:
        """A short name, e.g. `r4-t6`."""
        return f"r{self.regions}-t{self.teams}"

    @property
    def stack(self) -> str:
        """The stack name the estate is planned as."""
        return f"bench-{self.label}"


SHAPES: tuple[EstateShape, ...] = (
    EstateShape(regions=4, teams=6),
    EstateShape(regions=8, teams=15),
    EstateShape(regions=16, teams=34),
)
"""The benchmark sizes: about 1k, 4k and 16k resources."""


def team_name(index: int) -> str:
    """Name of team `index` (a DNS label)."""
    return f"team-{index:02d}"


def _team_profile(index: int) -> tuple[int, int, int, int]:
    return _TEAM_PROFILES[index % len(_TEAM_PROFILES)]


def _dataset_class(index: int) -> str:
    return ("internal", "public", "restricted")[index % 3]


def raw_config(shape: EstateShape) -> dict[str, Any]:
    """Raw stack config (keys without the `burst-platform:` prefix) of an estate of `shape`."""
    regions = list(REGIONS[: shape.regions])
    restricted = [r for r in RESTRICTED_REGIONS if r in regions] or regions[:1]
    teams = []
    datasets: dict[str, list[dict[str, Any]]] = {"public": [], "internal": [], "restricted": []}
    for i in range(shape.teams):
        quota, on_demand, borrowing, budget = _team_profile(i)
        name = team_name(i)
        teams.append(
            {
                "name": name,
                "gpuQuota": quota,
                "onDemandGpus": on_demand,
                "gpuBorrowingLimit": borrowing,
                "monthlyBudgetUsd": budget,
                "budgetEmails": [f"{name}-leads@example.com"],
            }
        )
        entry: dict[str, Any] = {"name": f"{name}-data", "team": name}
        if _dataset_class(i) == "restricted":
            entry["objectLockDays"] = 2555
        datasets[_dataset_class(i)].append(entry)
    on_demand_limit = sum(_team_profile(i)[1] for i in range(shape.teams))
    return {
        "environment": ENVIRONMENT,
        "accountId": ACCOUNT_ID,
        "bucketPrefix": "bench",
        "regions": regions,
        "allowedRegions": regions,
        "teams": teams,
        "dataClasses": {
            "public": {"regions": ["*"], "datasets": datasets["public"]},
            "internal": {"regions": regions, "datasets": datasets["internal"]},
            "restricted": {"regions": restricted, "datasets": datasets["restricted"]},
        },
        "cluster": {
            "mode": "create",
            "name": f"burst-{ENVIRONMENT}",
            "adminRoleArns": [f"arn:aws:iam::{ACCOUNT_ID}:role/platform-admin"],
        },
        "gpu": {
            "instanceFamilies": ["g5", "g6", "g6e", "p4d", "p5"],
            "minInstanceTypes": 3,
            "onDemandGpuLimit": max(on_demand_limit, 1),
        },
        "network": {"availabilityZoneCount": 3},
        "storage": {"checkpointClass": "internal", "checkpointExpiryDays": 14},
        "budgets": {"circuitBreaker": True, "anomalyThresholdUsd": 250},
        "alerts": {"emails": ["platform-oncall@example.com"]},
    }


def stack_config(shape: EstateShape) -> tuple[dict[str, Any], StackConfig]:
    """The raw config of `shape` and its validated `StackConfig`."""
    raw = raw_config(shape)
    return raw, parse_stack_config(raw)


def guardrails(config: StackConfig) -> dict[str, Any]:
    """Guardrails matching the estate (same keys as `policies/data/guardrails.yaml`).

    Regions are those of the estate; every team's GPU quota is what its ClusterQueues grant over
    all regions (quota plus borrowing, per region) and its budget is the configured one.
    """
    regions = list(config.allowed_regions)
    return {
        "allowed_regions": regions,
        "data_classifications": {
            name: list(data_class.regions) for name, data_class in config.data_classes.items()
        },
        "teams": {
            team.name: {
                "gpu_quota": len(config.regions) * (team.gpu_quota + team.gpu_borrowing_limit),
                "monthly_budget_usd": team.monthly_budget_usd,
            }
            for team in config.teams
        },
        "iam": {"max_session_seconds": 3600},
        "spot": {"taint_key": "spot", "min_instance_types": config.min_instance_types},
    }


def plan(shape: EstateShape) -> tuple[list[Registration], dict[str, Any]]:
    """Plan an estate of `shape` offline; returns the registrations and the preview document.

    Does what `burst plan` does for a stack file (`burst_platform.plan.plan_registrations`), from a
    generated config instead.
    """
    from burst_platform.infra.program import build_platform
    from burst_platform.mock_runtime import run_program
    from burst_platform.plan import preview_document

    raw, config = stack_config(shape)
    pulumi_config = to_pulumi_config(raw)
    registrations = run_program(
        lambda: build_platform(config),
        project=PROJECT,
        stack=shape.stack,
        config=pulumi_config,
        account_id=config.account_id,
        default_region=config.regions[0],
    )
    document = preview_document(registrations, {**pulumi_config, "aws:region": config.regions[0]})
    return registrations, document


@dataclass(frozen=True)
class Estate:
    """A generated estate on disk."""

    shape: EstateShape
    plan_path: Path
    guardrails_path: Path
    steps: int
    resources: int
    """Custom resources (steps minus component resources and the stack)."""


def resource_count(registrations: Sequence[Registration]) -> int:
    """Custom resources (providers included, components and the stack excluded)."""
    return sum(1 for r in registrations if r.custom)


def write_estate(
    shape: EstateShape,
    registrations: Sequence[Registration],
    document: dict[str, Any],
    out_dir: Path,
) -> Estate:
    """Write the plan (`<label>-preview.json`) and its guardrails (`<label>-guardrails.yaml`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _, config = stack_config(shape)
    plan_path = out_dir / f"{shape.label}-preview.json"
    plan_path.write_text(json.dumps(document, indent=1) + "\n")
    guardrails_path = out_dir / f"{shape.label}-guardrails.yaml"
    header = (
        f"# Guardrails of the synthetic estate {shape.label} ({shape.regions} regions x "
        f"{shape.teams} teams), generated by bench/estate.py.\n"
    )
    guardrails_path.write_text(header + yaml.safe_dump(guardrails(config), sort_keys=False))
    return Estate(
        shape=shape,
        plan_path=plan_path,
        guardrails_path=guardrails_path,
        steps=len(document["steps"]),
        resources=resource_count(registrations),
    )

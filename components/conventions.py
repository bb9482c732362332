"""Conventions every burst component shares: tags, resource names and argument validation.

Keeping these in one place is what makes the components interchangeable across regions and teams:
the policy pack relies on the tag keys, and the name helpers keep names unique per cluster and
region and inside AWS length limits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

TEAM_TAG = "team"
"""Tag naming the team that owns (and pays for) a resource."""

PLATFORM_TAG = "platform"
"""Tag on shared platform resources that belong to no single team."""

ENVIRONMENT_TAG = "environment"
"""Tag naming the deployment environment (dev, prod, ...)."""

DATA_CLASSIFICATION_TAG = "data-classification"
"""Tag on storage naming the data class that decides where the data may live."""

DISCOVERY_TAG = "karpenter.sh/discovery"
"""Tag on subnets and security groups by which Karpenter's EC2NodeClass selects them."""

PLATFORM_NAME = "burst-platform"
"""Value of the `platform` tag on shared resources."""

REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ACCOUNT_ID_PATTERN = re.compile(r"\d{12}")
ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

GPU_INSTANCE_FAMILIES = frozenset(
    {
        "g4dn", "g5", "g5g", "g6", "g6e", "g6f", "gr6", "gr6f",
        "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6e-gb200",
    }
)  # fmt: skip
"""EC2 instance families with NVIDIA GPUs (the accelerated-computing families the NVIDIA device
plugin advertises as `nvidia.com/gpu`), pinned from the EC2 instance-type list of 2026-12. A GPU
pool may only name these; add a family here when AWS launches one."""


class ComponentArgsError(ValueError):
    """An argument of a burst component is invalid; the message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def team_tags(team: str, environment: str, **extra: str) -> dict[str, str]:
    """Tags for a resource owned by `team` in `environment`."""
    return {TEAM_TAG: team, ENVIRONMENT_TAG: environment, **extra}


def platform_tags(environment: str, **extra: str) -> dict[str, str]:
    """Tags for a shared platform resource in `environment`."""
    return {PLATFORM_TAG: PLATFORM_NAME, ENVIRONMENT_TAG: environment, **extra}


def bounded_name(*parts: str, max_length: int, separator: str = "-") -> str:
    """Join `parts` into a name of at most `max_length` characters.

    Names that fit are returned as they are. Longer ones are shortened and end in a hash of the full
    name, so two long names that differ only at the end stay distinct (AWS rule and queue names
    collide otherwise: terraform-aws-eks#2311).
    """
    full = separator.join(p for p in parts if p)
    if len(full) <= max_length:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: max_length - len(digest) - 1].rstrip(separator)}{separator}{digest}"


def require_name(field: str, value: str, max_length: int = 63) -> None:
    """Check that `value` is a lower-case DNS-style name (also a valid Kubernetes name)."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value) or len(value) > max_length:
        raise ComponentArgsError(
            field,
            f"{value!r} must be lower-case letters, digits and '-', at most {max_length} long",
        )


def require_region(field: str, value: str) -> None:
    """Check that `value` looks like an AWS region name such as `eu-west-1`."""
    if not isinstance(value, str) or not REGION_PATTERN.fullmatch(value):
        raise ComponentArgsError(field, f"{value!r} is not an AWS region name")


def require_positive(field: str, value: float, allow_zero: bool = False) -> None:
    """Check that `value` is a number above zero (or at least zero)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ComponentArgsError(field, f"{value!r} is not a number")
    if value < 0 or (value == 0 and not allow_zero):
        raise ComponentArgsError(field, f"must be {'at least' if allow_zero else 'above'} 0")


def require_non_empty(field: str, values: Iterable[object]) -> None:
    """Check that a list argument has at least one element."""
    if not list(values):
        raise ComponentArgsError(field, "must not be empty")


def require_tags(field: str, tags: Mapping[str, str], *required: str) -> None:
    """Check that `tags` carries every key in `required`."""
    missing = [key for key in required if not tags.get(key)]
    if missing:
        raise ComponentArgsError(field, f"missing tag(s) {', '.join(missing)}")


def require_account_id(field: str, value: str) -> None:
    """Check that `value` is a 12-digit AWS account ID."""
    if not isinstance(value, str) or not ACCOUNT_ID_PATTERN.fullmatch(value):
        raise ComponentArgsError(field, f"{value!r} is not a 12-digit AWS account ID")


def key_policy(account_id: str, *statements: Mapping[str, Any]) -> dict[str, Any]:
    """An explicit KMS key policy: the account administers and uses the key through IAM (the
    statement AWS would add by default, so IAM policies and boundaries decide), plus `statements`
    for the services that use the key on the account's behalf. Explicit, so that who may use a
    key is reviewed with the code (`guards.kms_key_without_policy`)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            *statements,
        ],
    }


def ebs_key_statements(account_id: str, region: str) -> list[dict[str, Any]]:
    """Key policy statements that let EBS use a key for volumes EC2 creates in `region`.

    The pattern of AWS's own `aws/ebs` key: any principal of the account, but only through EC2
    (`kms:ViaService`), and grants only for AWS resources. It covers the service-linked roles that
    launch instances on the account's behalf (EC2 Spot, EC2 Fleet, Auto Scaling), which need not
    exist yet when the key is created (a key policy naming a missing role is refused), and whose
    own policies grant no use of a customer-managed key; without it a spot launch with an
    encrypted volume fails with `Client.InvalidKMSKey.InvalidState`.
    """
    through_ec2 = {"kms:CallerAccount": account_id, "kms:ViaService": f"ec2.{region}.amazonaws.com"}
    return [
        {
            "Sid": "VolumesThroughEc2",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": through_ec2},
        },
        {
            "Sid": "GrantsForVolumesThroughEc2",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {
                "StringEquals": through_ec2,
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
        },
    ]

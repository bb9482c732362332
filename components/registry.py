"""Image mirror for a VPC without internet egress: ECR pull-through cache rules.

Karpenter's image lives on ECR Public and Kueue's on registry.k8s.io, neither reachable from a
private-only VPC. A pull-through cache rule lets ECR fetch them on the first pull, and the nodes
pull from the account's own registry through the ecr.api / ecr.dkr / S3 endpoints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from burst_platform.components.conventions import (
    ComponentArgsError,
    require_account_id,
    require_region,
)

DEFAULT_UPSTREAMS: Mapping[str, str] = {"ecr-public": "public.ecr.aws", "k8s": "registry.k8s.io"}
"""Repository prefix in the account's registry, by the upstream registry it mirrors."""

_PREFIX = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")


def registry_host(account_id: str, region: str) -> str:
    """Host name of the account's private ECR registry in `region`."""
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com"


def first_pull_policy(account_id: str, region: str, prefixes: list[str]) -> dict[str, Any]:
    """What a node needs to pull an image through the cache the first time."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PullThroughCache",
                "Effect": "Allow",
                "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                "Resource": [
                    f"arn:aws:ecr:{region}:{account_id}:repository/{prefix}/*"
                    for prefix in prefixes
                ],
            }
        ],
    }


@dataclass(frozen=True)
class ImageMirrorArgs:
    """Arguments of `ImageMirror`."""

    region: str
    """Region the provider deploys to (the registry host names it)."""

    account_id: str
    """AWS account ID of the registry."""

    node_role_names: Sequence[pulumi.Input[str]]
    """Roles of the nodes (system and Karpenter's); each gets what a first pull through the
    cache needs."""

    upstreams: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_UPSTREAMS))
    """Repository prefix -> upstream registry (registries ECR caches without credentials)."""

    def __post_init__(self) -> None:
        require_region("region", self.region)
        require_account_id("account_id", self.account_id)
        if not self.upstreams:
            raise ComponentArgsError("upstreams", "must not be empty")
        for prefix, upstream in self.upstreams.items():
            if not _PREFIX.fullmatch(prefix) or len(prefix) > 30:
                raise ComponentArgsError(f"upstreams.{prefix}", "not a valid repository prefix")
            if upstream not in DEFAULT_UPSTREAMS.values():
                supported = ", ".join(DEFAULT_UPSTREAMS.values())
                raise ComponentArgsError(
                    f"upstreams.{prefix}", f"{upstream!r} needs credentials; supported: {supported}"
                )


class ImageMirror(pulumi.ComponentResource):
    """ECR pull-through cache rules for the upstream registries of the platform's controllers."""

    registry: str
    """Host of the account's registry in this region."""

    def __init__(
        self, name: str, args: ImageMirrorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:registry:ImageMirror", name, None, opts)
        for prefix, upstream in args.upstreams.items():
            aws.ecr.PullThroughCacheRule(
                f"{name}-{prefix}",
                ecr_repository_prefix=prefix,
                upstream_registry_url=upstream,
                opts=pulumi.ResourceOptions(parent=self),
            )
        policy = json.dumps(first_pull_policy(args.account_id, args.region, list(args.upstreams)))
        for index, role in enumerate(args.node_role_names):
            aws.iam.RolePolicy(
                f"{name}-first-pull" if index == 0 else f"{name}-first-pull-{index}",
                role=role,
                policy=policy,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.registry = registry_host(args.account_id, args.region)
        self._prefixes = {upstream: prefix for prefix, upstream in args.upstreams.items()}
        self.register_outputs({"registry": self.registry})

    def mirror_of(self, upstream: str) -> str:
        """Registry path that mirrors `upstream` (e.g. `public.ecr.aws`)."""
        return f"{self.registry}/{self._prefixes[upstream]}"

"""ImageMirror: pull-through cache rules, first-pull permissions, and the mirror paths."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from burst_platform.components.conventions import ComponentArgsError
from burst_platform.components.registry import ImageMirror, ImageMirrorArgs
from burst_platform.mock_runtime import Registration
from tests.conftest import Run, assert_children_of, of_type

ACCOUNT = "111122223333"


def build(run: Run, mirrors: dict[str, str]) -> list[Registration]:
    def program() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        mirror = ImageMirror(
            "images",
            ImageMirrorArgs(region="eu-west-1", account_id=ACCOUNT, node_role_names=["burst-node"]),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        mirrors.update(
            karpenter=mirror.mirror_of("public.ecr.aws"), kueue=mirror.mirror_of("registry.k8s.io")
        )

    return run(program)


def test_cache_rules_and_mirror_paths(run: Run) -> None:
    mirrors: dict[str, str] = {}
    regs = build(run, mirrors)
    rules = {
        r.inputs["ecrRepositoryPrefix"]: r.inputs
        for r in of_type(regs, "aws:ecr/pullThroughCacheRule:PullThroughCacheRule")
    }
    assert {p: r["upstreamRegistryUrl"] for p, r in rules.items()} == {
        "ecr-public": "public.ecr.aws",
        "k8s": "registry.k8s.io",
    }
    assert mirrors == {
        "karpenter": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/ecr-public",
        "kueue": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/k8s",
    }
    assert_children_of(regs, "burst:registry:ImageMirror", "images-")


def test_nodes_may_import_only_into_the_mirrored_prefixes(run: Run) -> None:
    (policy,) = of_type(build(run, {}), "aws:iam/rolePolicy:RolePolicy")
    assert policy.inputs["role"] == "burst-node"
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert sorted(statement["Action"]) == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    assert statement["Resource"] == [
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/ecr-public/*",
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/k8s/*",
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"upstreams": {}}, "upstreams"),
        ({"upstreams": {"hub": "registry-1.docker.io"}}, "upstreams.hub"),
        ({"upstreams": {"Bad Prefix": "public.ecr.aws"}}, "upstreams.Bad Prefix"),
        ({"region": "mars-1"}, "region"),
    ],
)
def test_bad_arguments_name_the_field(overrides: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {
        "region": "eu-west-1",
        "account_id": ACCOUNT,
        "node_role_names": ["n"],
    }
    values.update(overrides)
    with pytest.raises(ComponentArgsError) as error:
        ImageMirrorArgs(**values)
    assert error.value.field == field

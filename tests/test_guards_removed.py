"""Removing a guard fails the check: every guard resource of the prod plan, deleted one at a
time (and every NodePool's limits), yields a deny that the unchanged plan does not have."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from burst_platform.check.normalise import normalise_preview
from burst_platform.plan import plan_stack
from tests.conftest import opa_eval

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parents[1]

GUARD_TYPES = {
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:kms/key:Key",
    "aws:iam/policy:Policy",
    "aws:budgets/budgetAction:BudgetAction",
    "aws:sns/topic:Topic",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:sqs/queue:Queue",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
}
"""Resources whose only job is to make another one safe, or that others rely on to be safe."""


def without(document: dict[str, Any], urn: str) -> dict[str, Any]:
    mutated = copy.deepcopy(document)
    mutated["steps"] = [s for s in mutated["steps"] if s["urn"] != urn]
    mutated["changeSummary"] = {"create": len(mutated["steps"])}
    return mutated


def without_limits(document: dict[str, Any], urn: str) -> dict[str, Any]:
    mutated = copy.deepcopy(document)
    step = next(s for s in mutated["steps"] if s["urn"] == urn)
    del step["newState"]["inputs"]["spec"]["limits"]
    return mutated


def denies(cases: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Rules that deny, per case, from one `opa eval` over all normalised inputs."""
    query = (
        '{name: sort({f.rule | some f in report.findings; f.severity == "deny"}) |'
        " some name, doc in input; report := data.burst.main.report with input as doc}"
    )
    value: dict[str, list[str]] = opa_eval(query, cases)
    assert set(value) == set(cases)
    return value


def test_removing_any_guard_denies() -> None:
    plan = plan_stack("prod", ROOT)
    cases = {"unchanged": normalise_preview(plan).document}
    for step in plan["steps"]:
        resource_type = step["newState"]["type"]
        if resource_type in GUARD_TYPES:
            cases[f"without {step['urn']}"] = normalise_preview(without(plan, step["urn"])).document
        if resource_type == "kubernetes:karpenter.sh/v1:NodePool":
            mutated = without_limits(plan, step["urn"])
            cases[f"limits of {step['urn']}"] = normalise_preview(mutated).document
    verdicts = denies(cases)
    assert verdicts.pop("unchanged") == []
    assert len(verdicts) > 60
    passed = sorted(name for name, rules in verdicts.items() if not rules)
    assert not passed, f"{len(passed)} of {len(verdicts)} removals pass:\n" + "\n".join(passed)

"""Removing a guard fails the check: every guard resource of the prod plan, deleted one at a
time (and every NodePool's limits), yields a deny that the unchanged plan does not have."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from burst import policy_pack
from burst.check.normalise import normalise_preview
from burst.plan import plan_stack

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


def denies(cases: dict[str, dict[str, Any]], tmp_path: Path) -> dict[str, list[str]]:
    """Rules that deny, per case, from one `opa eval` over all normalised inputs."""
    combined = tmp_path / "cases.json"
    combined.write_text(json.dumps(cases))
    query = (
        '{name: sort({f.rule | some f in report.findings; f.severity == "deny"}) |'
        " some name, doc in input; report := data.burst.main.report with input as doc}"
    )
    command = [str(policy_pack.opa_binary()), "eval", *policy_pack.opa_eval_args(ROOT / "policies"),
               "--input", str(combined), "--format", "json", query]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    value: dict[str, list[str]] = json.loads(result.stdout)["result"][0]["expressions"][0]["value"]
    assert set(value) == set(cases)
    return value


def test_removing_any_guard_denies(tmp_path: Path) -> None:
    plan = plan_stack("prod", ROOT)
    cases = {"unchanged": normalise_preview(plan).document}
    for step in plan["steps"]:
        resource_type = step["newState"]["type"]
        if resource_type in GUARD_TYPES:
            cases[f"without {step['urn']}"] = normalise_preview(without(plan, step["urn"])).document
        if resource_type == "kubernetes:karpenter.sh/v1:NodePool":
            mutated = without_limits(plan, step["urn"])
            cases[f"limits of {step['urn']}"] = normalise_preview(mutated).document
    verdicts = denies(cases, tmp_path)
    assert verdicts.pop("unchanged") == []
    assert len(verdicts) > 60
    passed = sorted(name for name, rules in verdicts.items() if not rules)
    assert not passed, f"{len(passed)} of {len(verdicts)} removals pass:\n" + "\n".join(passed)

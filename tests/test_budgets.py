"""TeamBudget and CostAllocationTags under the mock runtime."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from hypothesis import given
from hypothesis import strategies as st

from burst_platform.components.budgets import (
    CostAllocationTags,
    CostAllocationTagsArgs,
    TeamBudget,
    TeamBudgetArgs,
    format_amount,
)
from burst_platform.components.conventions import ComponentArgsError
from burst_platform.mock_runtime import Registration, run_program

ACCOUNT = "111122223333"
ARGS = TeamBudgetArgs(
    team="ml",
    environment="dev",
    account_id=ACCOUNT,
    monthly_limit_usd=5000,
    alert_emails=("ml-leads@example.com",),
)
KARPENTER_ROLES = ("KarpenterController-burst-eu", "KarpenterController-burst-us")
TAGGABLE = {
    "aws:kms/key:Key",
    "aws:sns/topic:Topic",
    "aws:budgets/budget:Budget",
    "aws:budgets/budgetAction:BudgetAction",
    "aws:costexplorer/anomalyMonitor:AnomalyMonitor",
    "aws:costexplorer/anomalySubscription:AnomalySubscription",
    "aws:iam/policy:Policy",
    "aws:iam/role:Role",
}


def run(*budgets: tuple[str, TeamBudgetArgs]) -> list[Registration]:
    """Create each (name, args) TeamBudget with an eu-west-1 provider."""

    def program() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        for name, args in budgets:
            TeamBudget(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return run_program(program, project="burst-platform", stack="test")


def children(registrations: list[Registration]) -> list[Registration]:
    return [r for r in registrations if r.type.startswith("aws:")]


def one(registrations: list[Registration], resource_type: str) -> Registration:
    matches = [r for r in registrations if r.type == resource_type]
    assert len(matches) == 1, f"{len(matches)} {resource_type}"
    return matches[0]


def counts(registrations: list[Registration]) -> Counter[str]:
    return Counter(r.type for r in children(registrations))


def test_default_creates_alerting_but_no_circuit_breaker() -> None:
    assert counts(run(("ml", ARGS))) == {
        "aws:kms/key:Key": 1,
        "aws:kms/alias:Alias": 1,
        "aws:sns/topic:Topic": 1,
        "aws:sns/topicPolicy:TopicPolicy": 1,
        "aws:sns/topicSubscription:TopicSubscription": 1,
        "aws:budgets/budget:Budget": 1,
        "aws:costexplorer/anomalyMonitor:AnomalyMonitor": 1,
        "aws:costexplorer/anomalySubscription:AnomalySubscription": 1,
    }


def test_children_belong_to_the_component_and_its_provider() -> None:
    registrations = run(("ml", dataclasses.replace(ARGS, circuit_breaker_role_names=("k",))))
    component = one(registrations, "burst:budgets:TeamBudget")
    provider = one(registrations, "pulumi:providers:aws")
    for child in children(registrations):
        assert child.parent == component.urn, child.name
        assert child.provider.startswith(provider.urn), child.name
        assert child.name.startswith("ml-"), child.name
        assert "region" not in child.inputs, child.name


def test_every_taggable_resource_carries_team_tags() -> None:
    registrations = run(("ml", dataclasses.replace(ARGS, circuit_breaker_role_names=("k",))))
    taggable = [r for r in children(registrations) if r.type in TAGGABLE]
    assert {r.type for r in taggable} == TAGGABLE
    for resource in taggable:
        assert resource.inputs["tags"] == {"team": "ml", "environment": "dev"}, resource.name


def test_budget_is_a_monthly_usd_cost_budget_on_the_team_tag() -> None:
    budget = one(run(("ml", ARGS)), "aws:budgets/budget:Budget").inputs
    assert budget["budgetType"] == "COST"
    assert budget["timeUnit"] == "MONTHLY"
    assert budget["limitAmount"] == "5000"
    assert budget["limitUnit"] == "USD"
    assert budget["accountId"] == ACCOUNT
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:team$ml"]}]


def test_default_notifications_alert_topic_and_emails() -> None:
    registrations = run(("ml", ARGS))
    topic_arn = one(registrations, "aws:sns/topicPolicy:TopicPolicy").inputs["arn"]
    notifications = one(registrations, "aws:budgets/budget:Budget").inputs["notifications"]
    assert sorted((n["notificationType"], n["threshold"]) for n in notifications) == [
        ("ACTUAL", 80),
        ("ACTUAL", 100),
        ("FORECASTED", 100),
    ]
    for notification in notifications:
        assert notification["comparisonOperator"] == "GREATER_THAN"
        assert notification["thresholdType"] == "PERCENTAGE"
        assert notification["subscriberSnsTopicArns"] == [topic_arn]
        assert notification["subscriberEmailAddresses"] == ["ml-leads@example.com"]


def test_custom_thresholds_and_limit() -> None:
    args = dataclasses.replace(
        ARGS,
        monthly_limit_usd=1234.5,
        actual_thresholds_percent=(50, 90, 120),
        forecast_thresholds_percent=(80, 110),
    )
    budget = one(run(("ml", args)), "aws:budgets/budget:Budget").inputs
    assert budget["limitAmount"] == "1234.5"
    assert sorted((n["notificationType"], n["threshold"]) for n in budget["notifications"]) == [
        ("ACTUAL", 50),
        ("ACTUAL", 90),
        ("ACTUAL", 120),
        ("FORECASTED", 80),
        ("FORECASTED", 110),
    ]


def test_without_emails_the_topic_is_the_only_subscriber() -> None:
    registrations = run(("ml", dataclasses.replace(ARGS, alert_emails=())))
    assert "aws:sns/topicSubscription:TopicSubscription" not in counts(registrations)
    for notification in one(registrations, "aws:budgets/budget:Budget").inputs["notifications"]:
        assert not notification.get("subscriberEmailAddresses")
        assert len(notification["subscriberSnsTopicArns"]) == 1


def test_each_email_is_subscribed_to_the_topic() -> None:
    emails = ("a@example.com", "b.c+alerts@example.org")
    registrations = run(("ml", dataclasses.replace(ARGS, alert_emails=emails)))
    subscriptions = [
        r.inputs for r in registrations if r.type == "aws:sns/topicSubscription:TopicSubscription"
    ]
    assert sorted(s["endpoint"] for s in subscriptions) == sorted(emails)
    assert {s["protocol"] for s in subscriptions} == {"email"}


def test_topic_is_encrypted_with_a_rotating_key_the_billing_services_may_use() -> None:
    registrations = run(("ml", ARGS))
    key = one(registrations, "aws:kms/key:Key")
    topic = one(registrations, "aws:sns/topic:Topic").inputs
    assert key.inputs["enableKeyRotation"] is True
    assert topic["kmsMasterKeyId"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key.id}"
    statements = json.loads(key.inputs["policy"])["Statement"]
    root = next(s for s in statements if s["Principal"].get("AWS"))
    assert root["Principal"]["AWS"] == f"arn:aws:iam::{ACCOUNT}:root"
    services = next(s for s in statements if s["Principal"].get("Service"))
    assert sorted(services["Principal"]["Service"]) == [
        "budgets.amazonaws.com",
        "costalerts.amazonaws.com",
    ]
    assert sorted(services["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    alias = one(registrations, "aws:kms/alias:Alias").inputs
    assert alias["targetKeyId"] == key.id
    assert alias["name"].startswith("alias/")


def test_topic_policy_lets_only_the_billing_services_publish_for_this_account() -> None:
    registrations = run(("ml", ARGS))
    policy = one(registrations, "aws:sns/topicPolicy:TopicPolicy").inputs
    statements = json.loads(policy["policy"])["Statement"]
    assert [s["Effect"] for s in statements] == ["Allow"]
    (statement,) = statements
    assert sorted(statement["Principal"]["Service"]) == [
        "budgets.amazonaws.com",
        "costalerts.amazonaws.com",
    ]
    assert statement["Action"] == "SNS:Publish"
    assert statement["Resource"] == policy["arn"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_anomaly_detection_watches_the_team_tag_and_alerts_immediately() -> None:
    registrations = run(("ml", dataclasses.replace(ARGS, anomaly_threshold_usd=250)))
    monitor = one(registrations, "aws:costexplorer/anomalyMonitor:AnomalyMonitor").inputs
    assert monitor["monitorType"] == "CUSTOM"
    specification = json.loads(monitor["monitorSpecification"])
    assert specification["Tags"]["Key"] == "team"
    assert specification["Tags"]["Values"] == ["ml"]
    subscription = one(
        registrations, "aws:costexplorer/anomalySubscription:AnomalySubscription"
    ).inputs
    topic_arn = one(registrations, "aws:sns/topicPolicy:TopicPolicy").inputs["arn"]
    assert subscription["frequency"] == "IMMEDIATE"
    assert subscription["subscribers"] == [{"type": "SNS", "address": topic_arn}]
    assert len(subscription["monitorArnLists"]) == 1
    assert subscription["thresholdExpression"] == {
        "dimension": {
            "key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE",
            "matchOptions": ["GREATER_THAN_OR_EQUAL"],
            "values": ["250"],
        }
    }


def _policy(registrations: list[Registration], suffix: str) -> dict[str, Any]:
    (policy,) = [
        r.inputs
        for r in registrations
        if r.type == "aws:iam/policy:Policy" and r.name.endswith(suffix)
    ]
    return policy


def _circuit_breaker(registrations: list[Registration]) -> dict[str, Any]:
    return {
        "deny": _policy(registrations, "-circuit-breaker"),
        "boundary": _policy(registrations, "-budget-action-boundary"),
        "role": one(registrations, "aws:iam/role:Role").inputs,
        "permissions": one(registrations, "aws:iam/rolePolicy:RolePolicy").inputs,
        "action": one(registrations, "aws:budgets/budgetAction:BudgetAction").inputs,
        "topic_arn": one(registrations, "aws:sns/topicPolicy:TopicPolicy").inputs["arn"],
    }


def test_circuit_breaker_denies_new_ec2_capacity_to_karpenter() -> None:
    args = dataclasses.replace(
        ARGS, circuit_breaker_role_names=KARPENTER_ROLES, circuit_breaker_threshold_percent=110
    )
    breaker = _circuit_breaker(run(("ml", args)))
    (deny,) = json.loads(breaker["deny"]["policy"])["Statement"]
    assert deny["Effect"] == "Deny"
    assert sorted(deny["Action"]) == ["ec2:CreateFleet", "ec2:RunInstances"]
    assert deny["Resource"] == "*"
    # Only the team's own launches: the controller roles launch every team's capacity.
    assert deny["Condition"] == {"StringEquals": {"aws:RequestTag/team": "ml"}}

    action = breaker["action"]
    policy_arn = f"arn:aws:iam::{ACCOUNT}:policy/{breaker['deny']['name']}"
    assert action["actionType"] == "APPLY_IAM_POLICY"
    assert action["approvalModel"] == "AUTOMATIC"
    assert action["notificationType"] == "ACTUAL"
    assert action["actionThreshold"] == {
        "actionThresholdType": "PERCENTAGE",
        "actionThresholdValue": 110,
    }
    assert action["definition"] == {
        "iamActionDefinition": {"policyArn": policy_arn, "roles": list(KARPENTER_ROLES)}
    }
    assert action["budgetName"] == "burst-ml-dev-monthly"
    assert action["subscribers"] == [{"address": breaker["topic_arn"], "subscriptionType": "SNS"}]
    assert action["executionRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{breaker['role']['name']}"


def test_execution_role_is_short_lived_and_can_only_toggle_the_deny() -> None:
    args = dataclasses.replace(ARGS, circuit_breaker_role_names=KARPENTER_ROLES)
    breaker = _circuit_breaker(run(("ml", args)))
    role = breaker["role"]
    assert role["maxSessionDuration"] == 3600
    boundary_arn = f"arn:aws:iam::{ACCOUNT}:policy/{breaker['boundary']['name']}"
    assert role["permissionsBoundary"] == boundary_arn
    (bound,) = json.loads(breaker["boundary"]["policy"])["Statement"]
    assert sorted(bound["Action"]) == ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}

    (grant,) = json.loads(breaker["permissions"]["policy"])["Statement"]
    assert grant["Effect"] == "Allow"
    assert sorted(grant["Action"]) == ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    assert grant["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in KARPENTER_ROLES]
    policy_arn = f"arn:aws:iam::{ACCOUNT}:policy/{breaker['deny']['name']}"
    assert grant["Condition"] == {"ArnEquals": {"iam:PolicyARN": policy_arn}}


def test_circuit_breaker_accepts_role_names_from_other_resources() -> None:
    args = dataclasses.replace(
        ARGS, circuit_breaker_role_names=(pulumi.Output.from_input("KarpenterController-x"),)
    )
    breaker = _circuit_breaker(run(("ml", args)))
    assert breaker["action"]["definition"]["iamActionDefinition"]["roles"] == [
        "KarpenterController-x"
    ]
    (grant,) = json.loads(breaker["permissions"]["policy"])["Statement"]
    assert grant["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/KarpenterController-x"]


def test_names_are_unique_per_team_and_environment() -> None:
    budgets = [
        ("ml-dev", ARGS),
        ("ml-prod", dataclasses.replace(ARGS, environment="prod")),
        ("quant-dev", dataclasses.replace(ARGS, team="quant")),
    ]
    registrations = run(
        *[(n, dataclasses.replace(a, circuit_breaker_role_names=("k",))) for n, a in budgets]
    )
    for resource_type in (
        "aws:budgets/budget:Budget",
        "aws:sns/topic:Topic",
        "aws:kms/alias:Alias",
        "aws:costexplorer/anomalyMonitor:AnomalyMonitor",
        "aws:costexplorer/anomalySubscription:AnomalySubscription",
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
    ):
        names = [r.inputs["name"] for r in registrations if r.type == resource_type]
        expected = 6 if resource_type == "aws:iam/policy:Policy" else 3
        assert len(names) == expected, resource_type
        assert len(set(names)) == expected, resource_type


def test_long_team_and_environment_names_stay_inside_aws_limits() -> None:
    args = dataclasses.replace(
        ARGS, team="t" * 63, environment="e" * 63, circuit_breaker_role_names=("k",)
    )
    registrations = run(("long", args))
    assert len(one(registrations, "aws:iam/role:Role").inputs["name"]) <= 64
    assert all(
        len(r.inputs["name"]) <= 128 for r in registrations if r.type == "aws:iam/policy:Policy"
    )
    assert len(one(registrations, "aws:budgets/budget:Budget").inputs["name"]) <= 100


def test_outputs_name_the_budget_topic_and_monitor() -> None:
    resolved: dict[str, str] = {}

    def program() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        budget = TeamBudget("ml", ARGS, opts=pulumi.ResourceOptions(providers=[provider]))
        for attribute in ("budget_name", "topic_arn", "anomaly_monitor_arn"):
            getattr(budget, attribute).apply(
                lambda value, a=attribute: resolved.__setitem__(a, value)
            )

    run_program(program, project="burst-platform", stack="test")
    assert resolved["budget_name"] == "burst-ml-dev-monthly"
    assert resolved["topic_arn"].startswith("arn:aws:sns:eu-west-1:")
    assert "anomalyMonitor/burst-ml-dev-anomalies" in resolved["anomaly_monitor_arn"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"team": "ML"}, "team"),
        ({"environment": ""}, "environment"),
        ({"account_id": "12345"}, "account_id"),
        ({"account_id": "111122223333\n"}, "account_id"),
        ({"monthly_limit_usd": 0}, "monthly_limit_usd"),
        ({"monthly_limit_usd": -5}, "monthly_limit_usd"),
        ({"alert_emails": ("not-an-address",)}, "alert_emails[0]"),
        ({"alert_emails": ("a@example.com", "a@b")}, "alert_emails[1]"),
        ({"alert_emails": "a@example.com"}, "alert_emails"),
        ({"alert_emails": ("a@example.com\n",)}, "alert_emails[0]"),
        ({"alert_emails": ("a@example.com", "a@example.com")}, "alert_emails"),
        ({"alert_emails": tuple(f"u{i}@example.com" for i in range(11))}, "alert_emails"),
        ({"actual_thresholds_percent": (80, 0)}, "actual_thresholds_percent[1]"),
        ({"actual_thresholds_percent": (80, 80)}, "actual_thresholds_percent"),
        ({"forecast_thresholds_percent": (-1,)}, "forecast_thresholds_percent[0]"),
        (
            {"actual_thresholds_percent": (), "forecast_thresholds_percent": ()},
            "actual_thresholds_percent",
        ),
        ({"actual_thresholds_percent": tuple(range(1, 11))}, "forecast_thresholds_percent"),
        ({"anomaly_threshold_usd": 0}, "anomaly_threshold_usd"),
        ({"circuit_breaker_threshold_percent": 0}, "circuit_breaker_threshold_percent"),
        ({"circuit_breaker_role_names": ("bad name",)}, "circuit_breaker_role_names[0]"),
        ({"circuit_breaker_role_names": "KarpenterController"}, "circuit_breaker_role_names"),
        ({"circuit_breaker_role_names": ("k", "k")}, "circuit_breaker_role_names"),
    ],
)
def test_bad_arguments_are_rejected_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        dataclasses.replace(ARGS, **changes)
    assert error.value.field == field


def test_ten_notifications_are_allowed() -> None:
    args = dataclasses.replace(
        ARGS,
        actual_thresholds_percent=tuple(range(10, 90, 10)),
        forecast_thresholds_percent=(90, 100),
    )
    notifications = one(run(("ml", args)), "aws:budgets/budget:Budget").inputs["notifications"]
    assert len(notifications) == 10


@given(st.decimals(min_value="0.01", max_value="1000000", places=2))
def test_amounts_keep_their_value_without_trailing_zeros(amount: Any) -> None:
    text = format_amount(float(amount))
    assert float(text) == pytest.approx(float(amount))
    assert not text.endswith((".0", ".", ".00"))


def run_tags(args: CostAllocationTagsArgs) -> list[Registration]:
    def program() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        CostAllocationTags("tags", args, opts=pulumi.ResourceOptions(providers=[provider]))

    return run_program(program, project="burst-platform", stack="test")


def test_cost_allocation_tags_activate_team_and_environment_by_default() -> None:
    registrations = run_tags(CostAllocationTagsArgs())
    component = one(registrations, "burst:budgets:CostAllocationTags")
    tags = [r for r in children(registrations)]
    assert {r.type for r in tags} == {"aws:costexplorer/costAllocationTag:CostAllocationTag"}
    assert sorted(r.inputs["tagKey"] for r in tags) == ["environment", "team"]
    assert {r.inputs["status"] for r in tags} == {"Active"}
    assert {r.parent for r in tags} == {component.urn}


def test_cost_allocation_tags_take_custom_keys() -> None:
    keys = ("team", "karpenter.sh/nodepool", "cost-center")
    registrations = run_tags(CostAllocationTagsArgs(tag_keys=keys))
    assert sorted(r.inputs["tagKey"] for r in children(registrations)) == sorted(keys)


@pytest.mark.parametrize(
    ("tag_keys", "field"),
    [
        ((), "tag_keys"),
        ("team", "tag_keys"),
        (("team", "team"), "tag_keys"),
        (("team", "aws:createdBy"), "tag_keys[1]"),
        (("bad\nkey",), "tag_keys[0]"),
        (("team\n",), "tag_keys[0]"),
    ],
)
def test_bad_cost_allocation_tags_are_rejected(tag_keys: Any, field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        CostAllocationTagsArgs(tag_keys=tag_keys)
    assert error.value.field == field

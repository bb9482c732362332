"""Per-team cost guard rails: an AWS Budget, Cost Anomaly Detection and a budget circuit breaker.

Budgets data refreshes a few times a day, so everything here is a backstop rather than a real-time
cap. The circuit breaker is an `APPLY_IAM_POLICY` budget action that attaches a deny on
`ec2:RunInstances`/`ec2:CreateFleet` to the Karpenter controller roles: Karpenter stops launching
new burst capacity while the nodes that already run keep running. (`STOP_EC2_INSTANCES` needs
static instance IDs, which Karpenter does not have.)

Budgets, anomaly monitors and cost allocation tags are account-level objects: create one
`TeamBudget` per team and environment, and one `CostAllocationTags` per account, in a single
region's stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from burst_platform.components.alerts import SNS_TOPIC_NAME_MAX, alert_topic, require_emails
from burst_platform.components.conventions import (
    TEAM_TAG,
    ComponentArgsError,
    bounded_name,
    require_account_id,
    require_name,
    require_positive,
    team_tags,
)

BILLING_SERVICE_PRINCIPALS = ("budgets.amazonaws.com", "costalerts.amazonaws.com")
"""Services that publish budget alerts (Budgets) and anomaly alerts (Cost Anomaly Detection)."""

CIRCUIT_BREAKER_DENIED_ACTIONS = ("ec2:RunInstances", "ec2:CreateFleet")
"""The two EC2 calls Karpenter launches capacity with; denying them stops new burst nodes."""

MAX_NOTIFICATIONS = 10
"""AWS Budgets allows at most ten notifications per budget."""

MAX_EMAIL_SUBSCRIBERS = 10
"""AWS Budgets allows one SNS and at most ten email subscribers per notification."""

BUDGET_NAME_MAX = 100
IAM_ROLE_NAME_MAX = 64
IAM_POLICY_NAME_MAX = 128
EXECUTION_ROLE_SESSION_SECONDS = 3600

IAM_ROLE_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{1,64}$")
TAG_KEY_PATTERN = re.compile(r"^[\w .:/=+@-]{1,128}$")


def _require_percentages(field: str, values: Sequence[float]) -> None:
    for index, value in enumerate(values):
        require_positive(f"{field}[{index}]", value)
    if len(set(values)) != len(values):
        raise ComponentArgsError(field, "thresholds must be unique")


def format_amount(value: float) -> str:
    """Render a USD amount the way AWS returns it, without a trailing `.0` (`100`, `99.5`)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def budget_name(team: str, environment: str) -> str:
    """Name of a team's monthly budget; budget names are unique per account."""
    return bounded_name("burst", team, environment, "monthly", max_length=BUDGET_NAME_MAX)


def anomaly_monitor_specification(team: str) -> str:
    """Cost Explorer expression selecting the costs tagged `team=<team>`, as the JSON AWS stores.

    Every top-level key is spelled out, with `null` where unused, because that is the form the
    API returns; a shorter document shows a diff on every refresh.
    """
    return json.dumps(
        {
            "And": None,
            "CostCategories": None,
            "Dimensions": None,
            "Not": None,
            "Or": None,
            "Tags": {"Key": TEAM_TAG, "MatchOptions": None, "Values": [team]},
        },
        sort_keys=True,
    )


def circuit_breaker_deny_policy(team: str) -> dict[str, Any]:
    """The policy the budget action attaches: no new EC2 capacity for `team`, existing nodes and
    other teams untouched.

    The controller roles launch every team's capacity; a launch is the team's when its request
    tags the instances `team=<team>` (the team's EC2NodeClass does), so the deny keys on
    `aws:RequestTag/team`.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyNewCapacityOfTheTeam",
                "Effect": "Deny",
                "Action": list(CIRCUIT_BREAKER_DENIED_ACTIONS),
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:RequestTag/{TEAM_TAG}": team}},
            }
        ],
    }


def budgets_execution_trust_policy(account_id: str) -> dict[str, Any]:
    """Trust policy of the budget action's execution role: AWS Budgets, for this account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BudgetsAssumesRole",
                "Effect": "Allow",
                "Principal": {"Service": "budgets.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{account_id}:budget/*"},
                },
            }
        ],
    }


def budgets_execution_policy(deny_policy_arn: str, role_arns: Sequence[str]) -> dict[str, Any]:
    """Permissions of the execution role: attach and detach the one deny policy on these roles."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ToggleCircuitBreaker",
                "Effect": "Allow",
                "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                "Resource": list(role_arns),
                "Condition": {"ArnEquals": {"iam:PolicyARN": deny_policy_arn}},
            }
        ],
    }


def budgets_execution_boundary(account_id: str) -> dict[str, Any]:
    """Permissions boundary of the execution role: role policy attachment in this account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RolePolicyAttachmentOnly",
                "Effect": "Allow",
                "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                "Resource": f"arn:aws:iam::{account_id}:role/*",
            }
        ],
    }


@dataclass(frozen=True)
class TeamBudgetArgs:
    """Arguments of `TeamBudget`."""

    team: str
    """Team whose spend is tracked: the value of the `team` cost allocation tag."""

    environment: str
    """Environment tag value; part of every name, so one team has one budget per environment."""

    account_id: str
    """12-digit ID of the account that owns the budget (and the source of the alerts)."""

    monthly_limit_usd: float
    """Monthly budget in USD, above zero."""

    alert_emails: Sequence[str] = ()
    """Addresses subscribed to the alert topic and notified directly by each budget notification
    (direct budget emails need no confirmation; the topic subscription, which also carries the
    anomaly alerts, must be confirmed). At most ten; may be empty, since the topic always
    subscribes."""

    actual_thresholds_percent: Sequence[float] = (80, 100)
    """Percentages of the limit at which actual spend notifies."""

    forecast_thresholds_percent: Sequence[float] = (100,)
    """Percentages of the limit at which forecast spend notifies."""

    anomaly_threshold_usd: float = 100
    """Total impact in USD from which a cost anomaly alerts immediately."""

    circuit_breaker_role_names: Sequence[pulumi.Input[str]] = ()
    """Names (not ARNs, no path) of the Karpenter controller roles the circuit breaker denies
    EC2 launches to; empty creates no budget action."""

    circuit_breaker_threshold_percent: float = 100
    """Percentage of the limit, in actual spend, at which the circuit breaker trips."""

    def __post_init__(self) -> None:
        require_name("team", self.team)
        require_name("environment", self.environment)
        require_account_id("account_id", self.account_id)
        require_positive("monthly_limit_usd", self.monthly_limit_usd)
        require_emails("alert_emails", self.alert_emails)
        if len(set(self.alert_emails)) != len(self.alert_emails):
            raise ComponentArgsError("alert_emails", "addresses must be unique")
        if len(self.alert_emails) > MAX_EMAIL_SUBSCRIBERS:
            raise ComponentArgsError(
                "alert_emails", f"at most {MAX_EMAIL_SUBSCRIBERS} addresses per notification"
            )
        _require_percentages("actual_thresholds_percent", self.actual_thresholds_percent)
        _require_percentages("forecast_thresholds_percent", self.forecast_thresholds_percent)
        notifications = len(self.actual_thresholds_percent) + len(self.forecast_thresholds_percent)
        if notifications == 0:
            raise ComponentArgsError("actual_thresholds_percent", "the budget needs a threshold")
        if notifications > MAX_NOTIFICATIONS:
            raise ComponentArgsError(
                "forecast_thresholds_percent",
                f"{notifications} thresholds; a budget has at most {MAX_NOTIFICATIONS}",
            )
        require_positive("anomaly_threshold_usd", self.anomaly_threshold_usd)
        require_positive(
            "circuit_breaker_threshold_percent", self.circuit_breaker_threshold_percent
        )
        if isinstance(self.circuit_breaker_role_names, str):
            raise ComponentArgsError("circuit_breaker_role_names", "must be a list of role names")
        plain_roles = [r for r in self.circuit_breaker_role_names if isinstance(r, str)]
        for index, role in enumerate(self.circuit_breaker_role_names):
            if isinstance(role, str) and not IAM_ROLE_NAME_PATTERN.fullmatch(role):
                raise ComponentArgsError(
                    f"circuit_breaker_role_names[{index}]", f"{role!r} is not an IAM role name"
                )
        if len(set(plain_roles)) != len(plain_roles):
            raise ComponentArgsError("circuit_breaker_role_names", "role names must be unique")


class TeamBudget(pulumi.ComponentResource):
    """A team's monthly cost budget with alerts, anomaly detection and an optional circuit breaker.

    Children: a KMS key and alias, an encrypted SNS topic with its policy and email
    subscriptions, the budget (filtered on the `team` cost allocation tag), a Cost Anomaly
    Detection monitor and subscription and, when circuit breaker roles are given, the deny
    policy, the budget action's execution role and the budget action.
    """

    budget_name: pulumi.Output[str]
    """Name of the budget."""

    topic_arn: pulumi.Output[str]
    """ARN of the encrypted SNS topic every budget and anomaly alert is published to."""

    anomaly_monitor_arn: pulumi.Output[str]
    """ARN of the team's Cost Anomaly Detection monitor."""

    def __init__(
        self, name: str, args: TeamBudgetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:budgets:TeamBudget", name, None, opts)
        tags = team_tags(args.team, args.environment)
        prefix = bounded_name("burst", args.team, args.environment, max_length=40)

        alerts = alert_topic(
            name,
            parent=self,
            description=f"Budget and anomaly alerts of {args.team}/{args.environment}",
            alias=f"alias/{prefix}-budget-alerts",
            topic_name=bounded_name(prefix, "budget-alerts", max_length=SNS_TOPIC_NAME_MAX),
            account_id=args.account_id,
            publishers=BILLING_SERVICE_PRINCIPALS,
            emails=args.alert_emails,
            tags=tags,
        )
        topic, topic_policy = alerts.topic, alerts.policy

        notifications = [
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                notification_type=kind,
                threshold=threshold,
                threshold_type="PERCENTAGE",
                subscriber_sns_topic_arns=[topic.arn],
                subscriber_email_addresses=list(args.alert_emails),
            )
            for kind, thresholds in (
                ("ACTUAL", args.actual_thresholds_percent),
                ("FORECASTED", args.forecast_thresholds_percent),
            )
            for threshold in thresholds
        ]
        budget = aws.budgets.Budget(
            f"{name}-budget",
            name=budget_name(args.team, args.environment),
            account_id=args.account_id,
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=format_amount(args.monthly_limit_usd),
            limit_unit="USD",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[f"user:{TEAM_TAG}${args.team}"]
                )
            ],
            notifications=notifications,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[topic_policy]),
        )

        monitor = aws.costexplorer.AnomalyMonitor(
            f"{name}-anomaly-monitor",
            name=bounded_name(prefix, "anomalies", max_length=1024),
            monitor_type="CUSTOM",
            monitor_specification=anomaly_monitor_specification(args.team),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.costexplorer.AnomalySubscription(
            f"{name}-anomaly-alerts",
            name=bounded_name(prefix, "anomaly-alerts", max_length=1024),
            account_id=args.account_id,
            frequency="IMMEDIATE",
            monitor_arn_lists=[monitor.arn],
            subscribers=[
                aws.costexplorer.AnomalySubscriptionSubscriberArgs(type="SNS", address=topic.arn)
            ],
            threshold_expression=aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
                dimension=aws.costexplorer.AnomalySubscriptionThresholdExpressionDimensionArgs(
                    key="ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                    match_options=["GREATER_THAN_OR_EQUAL"],
                    values=[format_amount(args.anomaly_threshold_usd)],
                )
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[topic_policy]),
        )

        if args.circuit_breaker_role_names:
            self._circuit_breaker(name, args, prefix, tags, budget, topic)

        self.budget_name = budget.name
        self.topic_arn = topic.arn
        self.anomaly_monitor_arn = monitor.arn
        self.register_outputs(
            {
                "budget_name": self.budget_name,
                "topic_arn": self.topic_arn,
                "anomaly_monitor_arn": self.anomaly_monitor_arn,
            }
        )

    def _circuit_breaker(
        self,
        name: str,
        args: TeamBudgetArgs,
        prefix: str,
        tags: dict[str, str],
        budget: aws.budgets.Budget,
        topic: aws.sns.Topic,
    ) -> None:
        deny = aws.iam.Policy(
            f"{name}-circuit-breaker",
            name=bounded_name(prefix, "circuit-breaker", max_length=IAM_POLICY_NAME_MAX),
            description=f"Budget circuit breaker of {args.team}/{args.environment}: no new EC2",
            policy=json.dumps(circuit_breaker_deny_policy(args.team)),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        boundary = aws.iam.Policy(
            f"{name}-budget-action-boundary",
            name=bounded_name(prefix, "budget-action-boundary", max_length=IAM_POLICY_NAME_MAX),
            description=f"Boundary of the budget action role of {args.team}/{args.environment}",
            policy=json.dumps(budgets_execution_boundary(args.account_id)),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        role = aws.iam.Role(
            f"{name}-budget-action-role",
            name=bounded_name(prefix, "budget-action", max_length=IAM_ROLE_NAME_MAX),
            assume_role_policy=json.dumps(budgets_execution_trust_policy(args.account_id)),
            max_session_duration=EXECUTION_ROLE_SESSION_SECONDS,
            permissions_boundary=boundary.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        role_arns = pulumi.Output.all(*args.circuit_breaker_role_names).apply(
            lambda names: [f"arn:aws:iam::{args.account_id}:role/{n}" for n in names]
        )
        permissions = aws.iam.RolePolicy(
            f"{name}-budget-action-policy",
            name="toggle-circuit-breaker",
            role=role.id,
            policy=pulumi.Output.all(deny.arn, role_arns).apply(
                lambda values: json.dumps(budgets_execution_policy(values[0], values[1]))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.budgets.BudgetAction(
            f"{name}-circuit-breaker-action",
            account_id=args.account_id,
            budget_name=budget.name,
            action_type="APPLY_IAM_POLICY",
            approval_model="AUTOMATIC",
            notification_type="ACTUAL",
            action_threshold=aws.budgets.BudgetActionActionThresholdArgs(
                action_threshold_type="PERCENTAGE",
                action_threshold_value=args.circuit_breaker_threshold_percent,
            ),
            definition=aws.budgets.BudgetActionDefinitionArgs(
                iam_action_definition=aws.budgets.BudgetActionDefinitionIamActionDefinitionArgs(
                    policy_arn=deny.arn,
                    roles=list(args.circuit_breaker_role_names),
                )
            ),
            execution_role_arn=role.arn,
            subscribers=[
                aws.budgets.BudgetActionSubscriberArgs(address=topic.arn, subscription_type="SNS")
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permissions]),
        )


@dataclass(frozen=True)
class CostAllocationTagsArgs:
    """Arguments of `CostAllocationTags`."""

    tag_keys: Sequence[str] = ("team", "environment")
    """User-defined tag keys to activate for cost allocation (budgets filter on `team`)."""

    def __post_init__(self) -> None:
        if isinstance(self.tag_keys, str):
            raise ComponentArgsError("tag_keys", "must be a list of tag keys, not a string")
        if not self.tag_keys:
            raise ComponentArgsError("tag_keys", "must not be empty")
        for index, key in enumerate(self.tag_keys):
            if not isinstance(key, str) or not TAG_KEY_PATTERN.fullmatch(key):
                raise ComponentArgsError(f"tag_keys[{index}]", f"{key!r} is not a tag key")
            if key.lower().startswith("aws:"):
                raise ComponentArgsError(
                    f"tag_keys[{index}]", f"{key!r} is an AWS-generated tag, not a user tag"
                )
        if len(set(self.tag_keys)) != len(self.tag_keys):
            raise ComponentArgsError("tag_keys", "tag keys must be unique")


class CostAllocationTags(pulumi.ComponentResource):
    """Activates user-defined tags as cost allocation tags (account-level: one per account).

    A tag can only be activated once it appears in billing data, and costs are allocated to it
    only from activation onwards, so activate before the first burst, not after the first bill.
    """

    tag_keys: pulumi.Output[list[str]]
    """The activated tag keys."""

    def __init__(
        self, name: str, args: CostAllocationTagsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:budgets:CostAllocationTags", name, None, opts)
        activated = [
            aws.costexplorer.CostAllocationTag(
                f"{name}-{key}",
                tag_key=key,
                status="Active",
                opts=pulumi.ResourceOptions(parent=self),
            )
            for key in args.tag_keys
        ]
        self.tag_keys = pulumi.Output.all(*[tag.tag_key for tag in activated]).apply(list)
        self.register_outputs({"tag_keys": self.tag_keys})

"""A CloudWatch dashboard per burst region: what spot interruptions, the interruption path, the
on-demand fallback and the spend look like in operation, from metrics CloudWatch actually has.

Widgets (top to bottom) and what each can and cannot show:

* **Interruption warnings and rebalance recommendations**: `AWS/Events` `MatchedEvents`,
  `Invocations` and `FailedInvocations` of the interruption component's `spot-interruption` and
  `rebalance` rules, by `RuleName`. EventBridge matches every such event of the account in the
  region, so spot instances outside the cluster count too; a `FailedInvocations` above 0 means
  the queue did not receive a notice Karpenter needed.
* **Interruption queue**: `AWS/SQS` `ApproximateNumberOfMessagesVisible` and
  `ApproximateAgeOfOldestMessage` of the queue, with the stale-message alarm's threshold.
* **GPU vCPUs, spot and on-demand**: `AWS/Usage` `ResourceCount` (EC2 vCPUs) of the NVIDIA usage
  classes `G` and `P`, `/Spot` and `/OnDemand`. On-demand GPU vCPUs above 0 are the fallback
  pools launching (the alarm of `PlatformAlerts` watches the same metric). What CloudWatch
  cannot say: which NodePool or team launched them (Karpenter's own metrics, such as
  `karpenter_nodeclaims_created_total` by `nodepool` and `capacity_type`, are Prometheus, not
  CloudWatch), and instances rather than vCPUs. EventBridge's EC2 state-change events carry no
  tags and no purchase option, so a rule cannot single out the fallback pool's launches either.
* **Interruption warnings per 1,000 spot GPU vCPU-hours**: metric math over the two above, the
  observed rate to feed back into `burst cost --rate-per-hour` (see the README).
* **Estimated charges**: `AWS/Billing` `EstimatedCharges` (USD, month to date, the whole
  account) from us-east-1, where AWS publishes it (billing alerts must be enabled in the account's
  billing preferences), against the sum of the team budgets. It is not per team.
* **Team budgets**: a text table of each team's AWS Budget and monthly limit, with a link to
  the Budgets console. Budgets' actual and forecast spend are not CloudWatch metrics; the
  budgets notify their SNS topics at the ACTUAL and FORECASTED thresholds instead.
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
    bounded_name,
    require_name,
    require_region,
)

BILLING_REGION = "us-east-1"
"""The only region AWS publishes `AWS/Billing` metrics in."""

BUDGETS_CONSOLE = "https://console.aws.amazon.com/billing/home#/budgets"
"""Where the team budgets' actual and forecast spend are shown."""

DASHBOARD_NAME_MAX = 255
EVENT_RULES = ("spot-interruption", "rebalance")
"""Interruption rules (`components.interruption.INTERRUPTION_EVENT_PATTERNS` keys) whose
deliveries the dashboard shows."""

GPU_USAGE_CLASSES = ("G", "P")
"""EC2 usage classes of NVIDIA GPU instances (`AWS/Usage` `Class` `<class>/Spot|OnDemand`)."""

PERIOD_SECONDS = 300
BILLING_PERIOD_SECONDS = 21600
"""AWS/Billing publishes a few times a day."""

WIDTH = 24
"""A dashboard row is 24 units wide."""

_BUDGET_NAME = re.compile(r"^[^:\\]{1,100}$")


@dataclass(frozen=True)
class BudgetView:
    """A team's AWS Budget as the dashboard lists it."""

    team: str
    budget_name: str
    monthly_limit_usd: float

    def __post_init__(self) -> None:
        require_name("team", self.team)
        if not isinstance(self.budget_name, str) or not _BUDGET_NAME.fullmatch(self.budget_name):
            raise ComponentArgsError("budget_name", "must be an AWS Budget name")
        if isinstance(self.monthly_limit_usd, bool) or not isinstance(
            self.monthly_limit_usd, int | float
        ):
            raise ComponentArgsError("monthly_limit_usd", "must be a number")
        if not self.monthly_limit_usd > 0:
            raise ComponentArgsError("monthly_limit_usd", "must be above 0")


@dataclass(frozen=True)
class SpotDashboardArgs:
    """Arguments of `SpotDashboard`."""

    cluster_name: str
    """Cluster of the region (part of the dashboard's name)."""

    region: str
    """Region the provider deploys to; the widgets' metrics are this region's."""

    interruption_rule_names: pulumi.Input[Mapping[str, str]]
    """EventBridge rule names by pattern (`InterruptionQueue.rule_names_by_pattern`); must have
    `spot-interruption` and `rebalance`."""

    interruption_queue_name: pulumi.Input[str]
    """The interruption queue's name (`InterruptionQueue.queue_name`)."""

    stale_message_seconds: int = 120
    """The interruption queue alarm's threshold, drawn on the queue widget."""

    budgets: Sequence[BudgetView] = field(default_factory=tuple)
    """The team budgets to list (and whose limits the charges widget sums)."""

    def __post_init__(self) -> None:
        require_name("cluster_name", self.cluster_name, max_length=100)
        require_region("region", self.region)
        seconds = self.stale_message_seconds
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 300:
            raise ComponentArgsError("stale_message_seconds", "must be 1 to 300 seconds")
        if isinstance(self.budgets, str | BudgetView):
            raise ComponentArgsError("budgets", "must be a list of BudgetView")
        for index, budget in enumerate(self.budgets):
            if not isinstance(budget, BudgetView):
                raise ComponentArgsError(f"budgets[{index}]", "must be a BudgetView")
        teams = [b.team for b in self.budgets]
        if len(set(teams)) != len(teams):
            raise ComponentArgsError("budgets", "one budget per team")


def dashboard_name(cluster_name: str, region: str) -> str:
    """The dashboard's name (at most 255 characters: letters, digits, `-` and `_`)."""
    return bounded_name(cluster_name, region, "spot", max_length=DASHBOARD_NAME_MAX)


def _metric_widget(y: int, height: int, x: int, width: int, **properties: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": height,
        "properties": {"view": "timeSeries", "stacked": False, **properties},
    }


def _text_widget(y: int, height: int, markdown: str) -> dict[str, Any]:
    return {
        "type": "text",
        "x": 0,
        "y": y,
        "width": WIDTH,
        "height": height,
        "properties": {"markdown": markdown},
    }


def _usage(usage_class: str, option: str, metric_id: str | None = None) -> list[Any]:
    options: dict[str, Any] = {"label": f"{usage_class} {option} vCPUs"}
    if metric_id is not None:  # a hidden input of metric math: the period's mean vCPU count
        options = {"id": metric_id, "visible": False, "stat": "Average"}
    return [
        "AWS/Usage",
        "ResourceCount",
        "Service",
        "EC2",
        "Type",
        "Resource",
        "Resource",
        "vCPU",
        "Class",
        f"{usage_class}/{option}",
        options,
    ]


def dashboard_body(
    region: str,
    rule_names: Mapping[str, str],
    queue_name: str,
    stale_message_seconds: int,
    budgets: Sequence[BudgetView],
) -> dict[str, Any]:
    """The dashboard's body (CloudWatch's dashboard body structure) for resolved names."""
    missing = [p for p in EVENT_RULES if p not in rule_names]
    if missing:
        raise ComponentArgsError("interruption_rule_names", f"has no {', '.join(missing)} rule")
    events = [
        [
            "AWS/Events",
            metric,
            "RuleName",
            rule_names[pattern],
            {"label": f"{pattern} {metric}"},
        ]
        for pattern in EVENT_RULES
        for metric in ("MatchedEvents", "Invocations", "FailedInvocations")
    ]
    queue = [
        [
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            queue_name,
            {"label": "messages visible", "stat": "Maximum"},
        ],
        [
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            "QueueName",
            queue_name,
            {"label": "age of oldest message (s)", "stat": "Maximum", "yAxis": "right"},
        ],
    ]
    usage = [_usage(c, o) for o in ("Spot", "OnDemand") for c in GPU_USAGE_CLASSES]
    warnings = rule_names["spot-interruption"]
    rate = [
        [
            {
                "expression": "1000 * FILL(warnings, 0) / ((FILL(gspot, 0) + FILL(pspot, 0)) * "
                "PERIOD(gspot) / 3600)",
                "label": "interruption warnings per 1,000 spot GPU vCPU-hours",
                "id": "rate",
            }
        ],
        ["AWS/Events", "MatchedEvents", "RuleName", warnings, {"id": "warnings", "visible": False}],
        _usage("G", "Spot", "gspot"),
        _usage("P", "Spot", "pspot"),
    ]
    limit = sum(b.monthly_limit_usd for b in budgets)
    charges: dict[str, Any] = {
        "title": f"Estimated charges, whole account, month to date (AWS/Billing, {BILLING_REGION})",
        "region": BILLING_REGION,
        "metrics": [
            ["AWS/Billing", "EstimatedCharges", "Currency", "USD", {"label": "estimated charges"}]
        ],
        "stat": "Maximum",
        "period": BILLING_PERIOD_SECONDS,
    }
    if budgets:
        charges["annotations"] = {
            "horizontal": [{"label": "sum of the team budgets", "value": limit}]
        }
    budget_rows = [f"| {b.team} | {b.budget_name} | {b.monthly_limit_usd:,.0f} |" for b in budgets]
    budget_text = "\n".join(
        [
            "### Team budgets",
            "Actual and forecast spend per team live in AWS Budgets, not in CloudWatch: each "
            "budget notifies its SNS topic at its ACTUAL and FORECASTED thresholds (and stops "
            "the team's launches at 100 % with the circuit breaker). The charges widget is the "
            f"whole account. [AWS Budgets]({BUDGETS_CONSOLE})",
            "",
            "| team | budget | monthly limit (USD) |",
            "| --- | --- | ---: |",
            *budget_rows,
        ]
    )
    header = (
        f"## Spot capacity in {region}\n"
        "Interruption notices EventBridge delivered to Karpenter's queue, the queue itself, GPU "
        "vCPUs on spot and on-demand (on-demand above 0: the fallback pools are launching; "
        "account-wide, not per pool or team) and the spend. Feed the observed rate back with "
        "`burst cost --rate-per-hour` (README: Cost per useful GPU-hour)."
    )
    widgets = [
        _text_widget(0, 2, header),
        _metric_widget(
            2,
            6,
            0,
            12,
            title="Spot interruption warnings and rebalance recommendations (EventBridge)",
            region=region,
            metrics=events,
            stat="Sum",
            period=PERIOD_SECONDS,
        ),
        _metric_widget(
            2,
            6,
            12,
            12,
            title="Interruption queue",
            region=region,
            metrics=queue,
            period=60,
            annotations={
                "horizontal": [
                    {"label": "stale alarm", "value": stale_message_seconds, "yAxis": "right"}
                ]
            },
        ),
        _metric_widget(
            8,
            6,
            0,
            12,
            title="GPU vCPUs, spot and on-demand (AWS/Usage; on-demand: fallback)",
            region=region,
            metrics=usage,
            stat="Maximum",
            period=PERIOD_SECONDS,
        ),
        _metric_widget(
            8,
            6,
            12,
            12,
            title="Interruption warnings per 1,000 spot GPU vCPU-hours",
            region=region,
            metrics=rate,
            stat="Sum",
            period=3600,
        ),
        _metric_widget(14, 6, 0, 12, **charges),
        {
            **_text_widget(14, 6, budget_text),
            "x": 12,
            "width": 12,
        },
    ]
    return {"widgets": widgets}


class SpotDashboard(pulumi.ComponentResource):
    """The region's CloudWatch dashboard of spot interruptions, fallback and spend."""

    dashboard_name: pulumi.Output[str]
    """The dashboard's name."""

    dashboard_arn: pulumi.Output[str]
    """The dashboard's ARN."""

    def __init__(
        self, name: str, args: SpotDashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:aws:SpotDashboard", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        body = pulumi.Output.all(args.interruption_rule_names, args.interruption_queue_name).apply(
            lambda resolved: json.dumps(
                dashboard_body(
                    args.region,
                    resolved[0],
                    resolved[1],
                    args.stale_message_seconds,
                    args.budgets,
                ),
                sort_keys=True,
            )
        )
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name(args.cluster_name, args.region),
            dashboard_body=body,
            opts=child,
        )
        self.dashboard_name = dashboard.dashboard_name
        self.dashboard_arn = dashboard.dashboard_arn
        self.register_outputs(
            {"dashboard_name": self.dashboard_name, "dashboard_arn": self.dashboard_arn}
        )

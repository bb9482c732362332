"""SpotDashboard: one CloudWatch dashboard per region whose widgets name the region's real
interruption rules and queue, the AWS/Usage GPU classes and the budgets; valid JSON, a layout
that fits, validated arguments."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from burst_platform.components.budgets import budget_name
from burst_platform.components.conventions import ComponentArgsError
from burst_platform.components.interruption import (
    INTERRUPTION_EVENT_PATTERNS,
    InterruptionQueue,
    InterruptionQueueArgs,
)
from burst_platform.components.observability import (
    BILLING_REGION,
    BudgetView,
    SpotDashboard,
    SpotDashboardArgs,
    dashboard_body,
    dashboard_name,
)
from tests.conftest import Run, assert_children_of, of_type
from tests.test_platform import planned

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
BUDGETS = [BudgetView("quant", "burst-quant-prod-monthly", 20000), BudgetView("ml", "b-ml", 45000)]


def args(**overrides: Any) -> SpotDashboardArgs:
    values: dict[str, Any] = {
        "cluster_name": "burst-prod",
        "region": "eu-west-1",
        "interruption_rule_names": {p: f"rule-{p}" for p in INTERRUPTION_EVENT_PATTERNS},
        "interruption_queue_name": "queue",
        "budgets": BUDGETS,
    }
    return SpotDashboardArgs(**{**values, **overrides})


def build(run: Run, region: str = "eu-west-1") -> list[Any]:
    def program() -> None:
        provider = aws.Provider(f"aws-{region}", region=region)
        opts = pulumi.ResourceOptions(providers=[provider])
        queue = InterruptionQueue(
            f"iq-{region}",
            InterruptionQueueArgs(cluster_name="burst-prod", region=region, environment="prod"),
            opts=opts,
        )
        SpotDashboard(
            f"dashboard-{region}",
            args(
                region=region,
                interruption_rule_names=queue.rule_names_by_pattern,
                interruption_queue_name=queue.queue_name,
            ),
            opts=opts,
        )

    return run(program)


def metric_rows(body: dict[str, Any]) -> list[list[Any]]:
    return [
        row
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for row in widget["properties"]["metrics"]
    ]


def dimensions(row: list[Any], name: str) -> str | None:
    """The value of dimension `name` in a metric row `[namespace, metric, k, v, ..., {opts}]`."""
    pairs = [x for x in row[2:] if not isinstance(x, dict)]
    found = dict(zip(pairs[::2], pairs[1::2], strict=True))
    value = found.get(name)
    return None if value is None else str(value)


def test_the_widgets_name_the_regions_real_rules_and_queue(run: Run) -> None:
    regs = build(run)
    (dashboard,) = of_type(regs, DASHBOARD)
    assert dashboard.inputs["dashboardName"] == "burst-prod-eu-west-1-spot"
    body = json.loads(dashboard.inputs["dashboardBody"])  # valid JSON
    rules = {r.inputs["name"]: r.name for r in of_type(regs, "aws:cloudwatch/eventRule:EventRule")}
    (queue,) = of_type(regs, "aws:sqs/queue:Queue")
    rows = metric_rows(body)
    events = {dimensions(r, "RuleName") for r in rows if r[0] == "AWS/Events"}
    assert events == {
        "karpenter-burst-prod-eu-west-1-spot-interruption",
        "karpenter-burst-prod-eu-west-1-rebalance",
    }
    assert events <= set(rules)
    assert {r[1] for r in rows if r[0] == "AWS/Events"} == {
        "MatchedEvents",
        "Invocations",
        "FailedInvocations",
    }
    sqs = [r for r in rows if r[0] == "AWS/SQS"]
    assert {r[1] for r in sqs} == {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
    }
    assert {dimensions(r, "QueueName") for r in sqs} == {queue.inputs["name"]}
    usage = {dimensions(r, "Class") for r in rows if r[0] == "AWS/Usage"}
    assert usage == {"G/Spot", "P/Spot", "G/OnDemand", "P/OnDemand"}
    # the on-demand classes are the ones PlatformAlerts alarms on
    assert all(
        dimensions(r, k) == v
        for r in rows
        if r[0] == "AWS/Usage"
        for k, v in {"Service": "EC2", "Type": "Resource", "Resource": "vCPU"}.items()
    )


def test_children_parent_provider_and_outputs(run: Run) -> None:
    regs = build(run)
    component = next(r for r in regs if r.type == "burst:aws:SpotDashboard")
    (provider,) = of_type(regs, "pulumi:providers:aws")
    (dashboard,) = of_type(regs, DASHBOARD)
    assert dashboard.parent == component.urn
    assert dashboard.provider.startswith(provider.urn)
    assert dashboard.name.startswith("dashboard-eu-west-1")
    assert "region" not in dashboard.inputs
    assert_children_of(
        [r for r in regs if r.type in (DASHBOARD, "burst:aws:SpotDashboard") or r is provider],
        "burst:aws:SpotDashboard",
        "dashboard-eu-west-1",
    )


def test_metric_widgets_have_a_region_and_billing_is_us_east_1() -> None:
    body = dashboard_body(
        "ap-southeast-2", {p: p for p in INTERRUPTION_EVENT_PATTERNS}, "q", 120, BUDGETS
    )
    metrics = [w for w in body["widgets"] if w["type"] == "metric"]
    assert len(metrics) == 5
    regions = {w["properties"]["title"]: w["properties"]["region"] for w in metrics}
    billing = [t for t in regions if "AWS/Billing" in t]
    assert len(billing) == 1 and regions[billing[0]] == BILLING_REGION
    assert {r for t, r in regions.items() if t not in billing} == {"ap-southeast-2"}
    (charges,) = (w for w in metrics if w["properties"]["region"] == BILLING_REGION)
    assert charges["properties"]["metrics"] == [
        ["AWS/Billing", "EstimatedCharges", "Currency", "USD", {"label": "estimated charges"}]
    ]
    assert charges["properties"]["annotations"]["horizontal"][0]["value"] == 65000
    (queue,) = (w for w in metrics if w["properties"]["title"] == "Interruption queue")
    assert queue["properties"]["annotations"]["horizontal"][0]["value"] == 120


def test_the_observed_rate_is_metric_math_over_real_metrics() -> None:
    body = dashboard_body(
        "eu-west-1", {p: f"r-{p}" for p in INTERRUPTION_EVENT_PATTERNS}, "q", 120, ()
    )
    (rate,) = (w for w in body["widgets"] if "vCPU-hours" in w["properties"].get("title", ""))
    rows = rate["properties"]["metrics"]
    expression = rows[0][0]
    ids = {row[-1]["id"] for row in rows[1:]}
    assert ids == {"warnings", "gspot", "pspot"}
    assert all(name in expression["expression"] for name in ids)
    assert all(row[-1]["visible"] is False for row in rows[1:])
    assert dimensions(rows[1], "RuleName") == "r-spot-interruption"
    (charges,) = (w for w in body["widgets"] if "AWS/Billing" in w["properties"].get("title", ""))
    assert "annotations" not in charges["properties"]  # no budgets, nothing to draw


def test_the_budget_table_lists_every_team() -> None:
    body = dashboard_body(
        "eu-west-1", {p: p for p in INTERRUPTION_EVENT_PATTERNS}, "q", 120, BUDGETS
    )
    text = "\n".join(w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text")
    assert "| quant | burst-quant-prod-monthly | 20,000 |" in text
    assert "| ml | b-ml | 45,000 |" in text
    assert "not in CloudWatch" in text


def test_the_layout_fits_the_grid_without_overlaps() -> None:
    body = dashboard_body(
        "eu-west-1", {p: p for p in INTERRUPTION_EVENT_PATTERNS}, "q", 120, BUDGETS
    )
    cells: set[tuple[int, int]] = set()
    for w in body["widgets"]:
        assert w["x"] >= 0, w
        assert w["x"] + w["width"] <= 24, w
        own = {
            (x, y)
            for x in range(w["x"], w["x"] + w["width"])
            for y in range(w["y"], w["y"] + w["height"])
        }
        assert not cells & own, w
        cells |= own


def test_a_missing_rule_is_refused() -> None:
    with pytest.raises(ComponentArgsError, match="interruption_rule_names: has no rebalance rule"):
        dashboard_body("eu-west-1", {"spot-interruption": "x"}, "q", 120, ())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cluster_name": "Bad_Name"}, "cluster_name"),
        ({"region": "moon-1"}, "region"),
        ({"stale_message_seconds": 0}, "stale_message_seconds"),
        ({"stale_message_seconds": True}, "stale_message_seconds"),
        ({"budgets": BUDGETS[0]}, "budgets"),
        ({"budgets": ["quant"]}, "budgets[0]"),
        ({"budgets": [BUDGETS[0], BUDGETS[0]]}, "budgets"),
    ],
)
def test_bad_arguments_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        args(**overrides)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (("Quant", "b", 1), "team"),
        (("quant", "a:b", 1), "budget_name"),
        (("quant", "b", 0), "monthly_limit_usd"),
        (("quant", "b", "1"), "monthly_limit_usd"),
    ],
)
def test_bad_budget_views_name_the_field(values: tuple[Any, ...], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        BudgetView(*values)
    assert error.value.field == field


def test_the_program_has_one_dashboard_per_region() -> None:
    registrations = planned("prod")[0]
    dashboards = of_type(registrations, DASHBOARD)
    by_urn = {r.urn: r for r in registrations}
    assert sorted(d.inputs["dashboardName"] for d in dashboards) == [
        dashboard_name("burst-prod", region) for region in ("eu-west-1", "us-east-1")
    ]
    providers = {r.urn: r for r in of_type(registrations, "pulumi:providers:aws")}
    for dashboard in dashboards:
        region = dashboard.name.removeprefix("dashboard-").removesuffix("-dashboard")
        assert providers[dashboard.provider.rsplit("::", 1)[0]].inputs["region"] == region
        assert by_urn[dashboard.parent].type == "burst:aws:SpotDashboard"
        body = json.loads(dashboard.inputs["dashboardBody"])
        rows = metric_rows(body)
        queues = {dimensions(r, "QueueName") for r in rows if r[0] == "AWS/SQS"}
        assert queues == {f"karpenter-burst-prod-{region}"}
        rules = {dimensions(r, "RuleName") for r in rows if r[0] == "AWS/Events"}
        assert rules == {
            f"karpenter-burst-prod-{region}-spot-interruption",
            f"karpenter-burst-prod-{region}-rebalance",
        }
        text = "\n".join(
            w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"
        )
        for team in ("quant", "ml", "research"):
            assert f"| {team} | {budget_name(team, 'prod')} |" in text

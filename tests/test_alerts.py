"""PlatformAlerts: an encrypted topic only CloudWatch publishes to, and the on-demand GPU alarm."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from burst_platform.components.alerts import PlatformAlerts, PlatformAlertsArgs
from burst_platform.components.conventions import ComponentArgsError
from tests.conftest import Run, of_type
from tests.test_platform import planned

ACCOUNT = "111122223333"


def args(**overrides: Any) -> PlatformAlertsArgs:
    values: dict[str, Any] = {
        "cluster_name": "burst-dev",
        "region": "eu-west-1",
        "environment": "dev",
        "account_id": ACCOUNT,
        "emails": ["oncall@example.com"],
    }
    return PlatformAlertsArgs(**{**values, **overrides})


def build(run: Run, alert_args: PlatformAlertsArgs) -> list[Any]:
    def program() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        PlatformAlerts("alerts", alert_args, opts=pulumi.ResourceOptions(providers=[provider]))

    return run(program)


def test_the_topic_is_encrypted_and_only_cloudwatch_publishes(run: Run) -> None:
    regs = build(run, args())
    (topic,) = of_type(regs, "aws:sns/topic:Topic")
    (key,) = of_type(regs, "aws:kms/key:Key")
    assert topic.inputs["kmsMasterKeyId"].startswith(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/")
    assert key.inputs["enableKeyRotation"] is True
    use = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}["PublishersUseKey"]
    assert use["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    assert use["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    (policy,) = of_type(regs, "aws:sns/topicPolicy:TopicPolicy")
    (publish,) = json.loads(policy.inputs["policy"])["Statement"]
    assert publish["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    (subscription,) = of_type(regs, "aws:sns/topicSubscription:TopicSubscription")
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == (
        "email",
        "oncall@example.com",
    )


def test_gpu_instances_running_on_demand_raise_an_alarm(run: Run) -> None:
    regs = build(run, args(on_demand_gpu_minutes=30))
    alarms = {
        a.inputs["dimensions"]["Class"]: a.inputs
        for a in of_type(regs, "aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == {"G/OnDemand", "P/OnDemand"}  # the NVIDIA GPU usage classes
    (topic,) = of_type(regs, "aws:sns/topic:Topic")
    for alarm in alarms.values():
        assert (alarm["namespace"], alarm["metricName"]) == ("AWS/Usage", "ResourceCount")
        assert alarm["dimensions"]["Service"] == "EC2" and alarm["dimensions"]["Resource"] == "vCPU"
        assert alarm["threshold"] == 0 and alarm["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm["period"] * alarm["evaluationPeriods"] == 30 * 60
    for alarm in of_type(regs, "aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert alarm.property_dependencies["alarmActions"] == [topic.urn]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"emails": "oncall@example.com"}, "emails"),
        ({"emails": ["not an address"]}, "emails[0]"),
        ({"on_demand_gpu_minutes": 7}, "on_demand_gpu_minutes"),
        ({"account_id": "12"}, "account_id"),
    ],
)
def test_bad_arguments_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        args(**overrides)
    assert error.value.field == field


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_alarm_of_the_program_notifies_its_regions_alert_topic(stack: str) -> None:
    registrations, _ = planned(stack)
    topics = {
        r.provider: r.urn
        for r in registrations
        if r.type == "aws:sns/topic:Topic" and r.name.startswith("alerts-")
    }
    alarms = [r for r in registrations if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"]
    assert len(alarms) == 3 * len(topics)  # on-demand G and P, stale interruption queue
    for alarm in alarms:
        assert alarm.property_dependencies["alarmActions"] == [topics[alarm.provider]], alarm.urn

"""InterruptionQueue: the five Karpenter patterns, queue settings, names unique across regions."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from burst_platform.components.conventions import ComponentArgsError
from burst_platform.components.interruption import (
    INTERRUPTION_EVENT_PATTERNS,
    InterruptionQueue,
    InterruptionQueueArgs,
    queue_name,
    rule_name,
)
from tests.conftest import Run, of_type

KARPENTER_PATTERNS = [
    {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
    },
]


def build(run: Run, regions: list[str], cluster: str = "burst-prod") -> list[Any]:
    def program() -> None:
        for region in regions:
            provider = aws.Provider(f"aws-{region}", region=region)
            InterruptionQueue(
                f"iq-{region}",
                InterruptionQueueArgs(cluster_name=cluster, region=region, environment="prod"),
                opts=pulumi.ResourceOptions(providers=[provider]),
            )

    return run(program)


def test_all_five_patterns_target_the_queue(run: Run) -> None:
    regs = build(run, ["eu-west-1"])
    rules = of_type(regs, "aws:cloudwatch/eventRule:EventRule")
    emitted = sorted(
        json.dumps(json.loads(r.inputs["eventPattern"]), sort_keys=True) for r in rules
    )
    assert emitted == sorted(json.dumps(p, sort_keys=True) for p in KARPENTER_PATTERNS)
    (queue,) = of_type(regs, "aws:sqs/queue:Queue")
    targets = of_type(regs, "aws:cloudwatch/eventTarget:EventTarget")
    assert sorted(t.inputs["rule"] for t in targets) == sorted(r.inputs["name"] for r in rules)
    assert {t.inputs["arn"] for t in targets} == {
        f"arn:aws:sqs:eu-west-1:111122223333:{queue.inputs['name']}"
    }


def test_queue_is_encrypted_short_lived_and_tls_only(run: Run) -> None:
    regs = build(run, ["eu-west-1"])
    (queue,) = of_type(regs, "aws:sqs/queue:Queue")
    assert queue.inputs["messageRetentionSeconds"] == 300
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert "kmsMasterKeyId" not in queue.inputs
    (policy,) = of_type(regs, "aws:sqs/queuePolicy:QueuePolicy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    send = statements["AllowEventBridgeSend"]
    assert send["Principal"]["Service"] == "events.amazonaws.com"
    rule_arns = send["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert len(rule_arns) == 5 and all(":events:eu-west-1:" in arn for arn in rule_arns)
    assert statements["AllowSqsSend"]["Principal"]["Service"] == "sqs.amazonaws.com"
    assert statements["DenyHTTP"]["Effect"] == "Deny"
    assert statements["DenyHTTP"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (alarm,) = of_type(regs, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["metricName"] == "ApproximateAgeOfOldestMessage"


def test_names_are_unique_across_regions_and_within_limits(run: Run) -> None:
    regs = build(run, ["eu-west-1", "us-east-1"])
    rule_names = [r.inputs["name"] for r in of_type(regs, "aws:cloudwatch/eventRule:EventRule")]
    queue_names = [r.inputs["name"] for r in of_type(regs, "aws:sqs/queue:Queue")]
    assert len(rule_names) == 10 and len(set(rule_names)) == 10
    assert len(set(queue_names)) == 2
    assert all(len(n) <= 64 for n in rule_names)
    assert all(len(n) <= 80 for n in queue_names)


def test_long_cluster_names_are_shortened_but_stay_distinct() -> None:
    long_a = "research-gpu-burst-cluster-with-a-really-long-descriptive-name-a"
    long_b = "research-gpu-burst-cluster-with-a-really-long-descriptive-name-b"
    names = {
        rule_name(c, "ap-southeast-2", p)
        for c in (long_a, long_b)
        for p in INTERRUPTION_EVENT_PATTERNS
    }
    assert len(names) == 10
    assert all(len(n) <= 64 for n in names)
    assert queue_name(long_a, "eu-west-1") != queue_name(long_b, "eu-west-1")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cluster_name": "Bad_Name"}, "cluster_name"),
        ({"region": "moon-1"}, "region"),
        ({"oldest_message_alarm_seconds": 10}, "oldest_message_alarm_seconds"),
    ],
)
def test_bad_arguments_name_the_field(overrides: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {"cluster_name": "burst", "region": "eu-west-1", "environment": "dev"}
    values.update(overrides)
    with pytest.raises(ComponentArgsError) as error:
        InterruptionQueueArgs(**values)
    assert error.value.field == field

"""Spot interruption path for Karpenter: one SQS queue per cluster and region, fed by EventBridge.

Karpenter drains a node as soon as it reads a spot interruption warning, a scheduled EC2 health
event or a state change from this queue, which turns AWS's two-minute notice into a graceful
checkpoint instead of lost work. The five event patterns are the ones Karpenter's parsers accept
(`pkg/controllers/interruption/messages/*/parser.go`); missing one means that kind of event is
never handled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from burst_platform.components.conventions import (
    ComponentArgsError,
    bounded_name,
    platform_tags,
    require_name,
    require_region,
)

INTERRUPTION_EVENT_PATTERNS: dict[str, dict[str, list[str]]] = {
    "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Spot Instance Interruption Warning"],
    },
    "rebalance": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance Rebalance Recommendation"],
    },
    "state-change": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
    },
    "capacity-reservation": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
    },
}
"""The five EventBridge patterns Karpenter's interruption controller understands, by short name."""

QUEUE_NAME_MAX = 80
RULE_NAME_MAX = 64
MESSAGE_RETENTION_SECONDS = 300


@dataclass(frozen=True)
class InterruptionQueueArgs:
    """Arguments of `InterruptionQueue`."""

    cluster_name: str
    """Name of the EKS cluster whose Karpenter reads the queue (one queue per cluster)."""

    region: str
    """Region the provider deploys to; part of every name so regions never collide."""

    environment: str
    """Environment tag value."""

    oldest_message_alarm_seconds: int = 120
    """Alarm when a message waits longer than this: the controller has stopped reading."""

    alarm_topic_arn: pulumi.Input[str] | None = None
    """SNS topic notified by the alarm; None creates the alarm without actions."""

    def __post_init__(self) -> None:
        require_name("cluster_name", self.cluster_name, max_length=100)
        require_region("region", self.region)
        require_name("environment", self.environment)
        if not 60 <= self.oldest_message_alarm_seconds <= MESSAGE_RETENTION_SECONDS:
            raise ComponentArgsError(
                "oldest_message_alarm_seconds",
                f"must be between 60 and the {MESSAGE_RETENTION_SECONDS} s retention",
            )


def queue_name(cluster_name: str, region: str) -> str:
    """Name of the interruption queue for a cluster in a region (at most 80 characters)."""
    return bounded_name("karpenter", cluster_name, region, max_length=QUEUE_NAME_MAX)


def rule_name(cluster_name: str, region: str, pattern: str) -> str:
    """Name of one EventBridge rule (at most 64 characters, unique per cluster and region)."""
    return bounded_name("karpenter", cluster_name, region, pattern, max_length=RULE_NAME_MAX)


def queue_policy_document(queue_arn: str, rule_arns: Sequence[str]) -> dict[str, object]:
    """Queue policy: only our EventBridge rules send (aws:SourceArn), SQS itself as in
    Karpenter's reference template; every non-TLS request is denied."""
    return {
        "Version": "2012-10-17",
        "Id": "KarpenterInterruptionQueue",
        "Statement": [
            {
                "Sid": "AllowEventBridgeSend",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
            },
            {
                "Sid": "AllowSqsSend",
                "Effect": "Allow",
                "Principal": {"Service": "sqs.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            },
            {
                "Sid": "DenyHTTP",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


class InterruptionQueue(pulumi.ComponentResource):
    """SQS queue (SSE-SQS, 300 s retention, TLS-only) and the five EventBridge rules feeding it.

    SSE-SQS is deliberate: a queue encrypted with the AWS-managed `alias/aws/sqs` key silently
    drops EventBridge deliveries (aws/karpenter-provider-aws#7209).
    """

    queue_name: pulumi.Output[str]
    """Queue *name*, the value of Karpenter's `settings.interruptionQueue` (not the ARN, #6024)."""

    queue_arn: pulumi.Output[str]
    """Queue ARN, for the controller's IAM policy."""

    rule_names: pulumi.Output[list[str]]
    """Names of the five EventBridge rules."""

    rule_names_by_pattern: pulumi.Output[dict[str, str]]
    """The same names by pattern (`INTERRUPTION_EVENT_PATTERNS` keys), for the dashboard."""

    def __init__(
        self, name: str, args: InterruptionQueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:karpenter:InterruptionQueue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = platform_tags(args.environment, ClusterName=args.cluster_name)

        queue = aws.sqs.Queue(
            f"{name}-queue",
            name=queue_name(args.cluster_name, args.region),
            message_retention_seconds=MESSAGE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        rules = []
        for pattern_name, pattern in INTERRUPTION_EVENT_PATTERNS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{pattern_name}",
                name=rule_name(args.cluster_name, args.region, pattern_name),
                description=f"Karpenter {pattern_name} events for {args.cluster_name}",
                event_pattern=json.dumps(pattern),
                tags=tags,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{pattern_name}-target",
                rule=rule.name,
                target_id="KarpenterInterruptionQueueTarget",
                arn=queue.arn,
                opts=child,
            )
            rules.append(rule)
        aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, *(rule.arn for rule in rules)).apply(
                lambda arns: json.dumps(queue_policy_document(arns[0], arns[1:]))
            ),
            opts=child,
        )

        aws.cloudwatch.MetricAlarm(
            f"{name}-oldest-message",
            name=bounded_name("karpenter", args.cluster_name, args.region, "stale", max_length=255),
            alarm_description="Karpenter is not consuming spot interruption messages",
            namespace="AWS/SQS",
            metric_name="ApproximateAgeOfOldestMessage",
            dimensions={"QueueName": queue.name},
            statistic="Maximum",
            period=60,
            evaluation_periods=2,
            threshold=args.oldest_message_alarm_seconds,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[args.alarm_topic_arn] if args.alarm_topic_arn is not None else [],
            tags=tags,
            opts=child,
        )

        self.queue_name = queue.name
        self.queue_arn = queue.arn
        self.rule_names = pulumi.Output.all(*[rule.name for rule in rules]).apply(list)
        self.rule_names_by_pattern = self.rule_names.apply(
            lambda names: dict(zip(INTERRUPTION_EVENT_PATTERNS, names, strict=True))
        )
        self.register_outputs(
            {
                "queue_name": self.queue_name,
                "queue_arn": self.queue_arn,
                "rule_names": self.rule_names,
                "rule_names_by_pattern": self.rule_names_by_pattern,
            }
        )

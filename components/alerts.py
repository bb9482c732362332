"""Platform alerts of a burst region: an encrypted SNS topic for the on-call, and the alarms that
say the burst layer is not doing what it should.

The topic is KMS-encrypted, and only CloudWatch alarms of this account may publish to it. The
component also raises an alarm when GPU instances run on-demand in the region: the spot-first
ladder fell back (spot quota exhausted or no spot capacity), which costs several times more and
should be seen the day it starts, not on the bill. Other components point their alarms at
`topic_arn` (the interruption queue's unread-messages alarm does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from burst_platform.components.conventions import (
    ComponentArgsError,
    bounded_name,
    key_policy,
    platform_tags,
    require_account_id,
    require_name,
    require_region,
)

CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
"""The service that publishes alarm notifications."""

ON_DEMAND_GPU_CLASSES = {"G": "G and VT", "P": "P"}
"""EC2 usage classes of NVIDIA GPU instances (`AWS/Usage` `Class` `<class>/OnDemand`)."""

SNS_TOPIC_NAME_MAX = 256
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
"""What an alert e-mail address must look like."""


def publisher_key_policy(account_id: str, services: Sequence[str]) -> dict[str, Any]:
    """Key policy of an encrypted topic's key: the account administers it, and `services` may
    create and read data keys on this account's behalf, which they need to publish."""
    return key_policy(
        account_id,
        {
            "Sid": "PublishersUseKey",
            "Effect": "Allow",
            "Principal": {"Service": list(services)},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    )


def publisher_topic_policy(
    topic_arn: str, account_id: str, services: Sequence[str]
) -> dict[str, Any]:
    """Topic policy: only `services`, on behalf of this account, publish."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublishersPublish",
                "Effect": "Allow",
                "Principal": {"Service": list(services)},
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


def require_emails(field: str, emails: Sequence[str]) -> None:
    """`emails` is a list of e-mail addresses; the error names `field` (or the entry)."""
    if isinstance(emails, str):
        raise ComponentArgsError(field, "must be a list of addresses, not a string")
    for index, email in enumerate(emails):
        if not isinstance(email, str) or not EMAIL_PATTERN.fullmatch(email):
            raise ComponentArgsError(f"{field}[{index}]", f"{email!r} is not an address")


@dataclass(frozen=True)
class AlertTopic:
    """An encrypted alert topic and the topic policy that lets its publishers in (what
    publishers must wait for)."""

    topic: aws.sns.Topic
    policy: aws.sns.TopicPolicy


def alert_topic(
    name: str,
    *,
    parent: pulumi.Resource,
    description: str,
    alias: str,
    topic_name: str,
    account_id: str,
    publishers: Sequence[str],
    emails: Sequence[str],
    tags: dict[str, str],
) -> AlertTopic:
    """A KMS-encrypted SNS topic (its own rotating key and alias) that only `publishers`, for
    this account, may publish to, with an e-mail subscription per address; children of
    `parent`, named `<name>-alerts*`."""
    child = pulumi.ResourceOptions(parent=parent)
    key = aws.kms.Key(
        f"{name}-alerts-key",
        description=description,
        enable_key_rotation=True,
        policy=json.dumps(publisher_key_policy(account_id, publishers)),
        tags=tags,
        opts=child,
    )
    aws.kms.Alias(f"{name}-alerts-key-alias", name=alias, target_key_id=key.key_id, opts=child)
    topic = aws.sns.Topic(
        f"{name}-alerts",
        name=topic_name,
        kms_master_key_id=key.arn,
        tags=tags,
        opts=child,
    )
    policy = aws.sns.TopicPolicy(
        f"{name}-alerts-policy",
        arn=topic.arn,
        policy=topic.arn.apply(
            lambda arn: json.dumps(publisher_topic_policy(arn, account_id, publishers))
        ),
        opts=child,
    )
    for index, email in enumerate(emails):
        aws.sns.TopicSubscription(
            f"{name}-alerts-email-{index}",
            topic=topic.arn,
            protocol="email",
            endpoint=email,
            opts=child,
        )
    return AlertTopic(topic=topic, policy=policy)


@dataclass(frozen=True)
class PlatformAlertsArgs:
    """Arguments of `PlatformAlerts`."""

    cluster_name: str
    """Cluster of the region (part of every name)."""

    region: str
    """Region the provider deploys to."""

    environment: str
    """Environment tag value."""

    account_id: str
    """AWS account ID (key and topic policies)."""

    emails: Sequence[str] = ()
    """Addresses subscribed to the topic (each confirms by e-mail once)."""

    on_demand_gpu_minutes: int = 15
    """Alarm once GPU instances have run on-demand for this long (5..1440, whole 5 minutes)."""

    def __post_init__(self) -> None:
        require_name("cluster_name", self.cluster_name, max_length=100)
        require_region("region", self.region)
        require_name("environment", self.environment)
        require_account_id("account_id", self.account_id)
        require_emails("emails", self.emails)
        minutes = self.on_demand_gpu_minutes
        if not isinstance(minutes, int) or not 5 <= minutes <= 1440 or minutes % 5:
            raise ComponentArgsError(
                "on_demand_gpu_minutes", "must be a multiple of 5 between 5 and 1440"
            )


class PlatformAlerts(pulumi.ComponentResource):
    """The region's encrypted alert topic and the on-demand GPU fallback alarms."""

    topic_arn: pulumi.Output[str]
    """Topic the burst layer's alarms notify."""

    def __init__(
        self, name: str, args: PlatformAlertsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:alerts:PlatformAlerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = platform_tags(args.environment, ClusterName=args.cluster_name)
        prefix = bounded_name(args.cluster_name, args.region, max_length=200)
        topic = alert_topic(
            name,
            parent=self,
            description=f"Platform alerts of {args.cluster_name} in {args.region}",
            alias=f"alias/{prefix}-alerts",
            topic_name=bounded_name(prefix, "alerts", max_length=SNS_TOPIC_NAME_MAX),
            account_id=args.account_id,
            publishers=[CLOUDWATCH_PRINCIPAL],
            emails=args.emails,
            tags=tags,
        ).topic
        for usage_class, family_names in ON_DEMAND_GPU_CLASSES.items():
            aws.cloudwatch.MetricAlarm(
                f"{name}-on-demand-{usage_class.lower()}",
                name=bounded_name(prefix, f"on-demand-{usage_class.lower()}-gpus", max_length=255),
                alarm_description=(
                    f"{family_names} GPU instances run on-demand in {args.region}: spot quota is "
                    "used up or spot capacity is unavailable, at several times the spot price"
                ),
                namespace="AWS/Usage",
                metric_name="ResourceCount",
                dimensions={
                    "Service": "EC2",
                    "Type": "Resource",
                    "Resource": "vCPU",
                    "Class": f"{usage_class}/OnDemand",
                },
                statistic="Maximum",
                period=300,
                evaluation_periods=args.on_demand_gpu_minutes // 5,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[topic.arn],
                tags=tags,
                opts=child,
            )
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})

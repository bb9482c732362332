package burst.guards_test

import data.burst.lib.testing as t
import data.burst.main

fired(resources) := fs if {
	fs := main.report.findings with input as t.plan(resources)
}

tags := {"team": "quant", "data-classification": "restricted"}

bucket := t.res("aws:s3/bucket:Bucket", "b", {"bucket": "acme-b", "tags": tags})

public_bucket := t.res("aws:s3/bucket:Bucket", "p", {"bucket": "acme-p", "tags": {"data-classification": "public"}})

# A companion of bucket b that names it by its bucket name (no dependency record).
companion(type, name, inputs) := t.res(type, name, object.union({"bucket": "acme-b"}, inputs))

# The same, linked by the engine's dependency record while its bucket name is unknown.
linked(type, name, inputs) := object.union(
	t.res(type, name, object.union({"bucket": t.unknown}, inputs)),
	{"propertyDependencies": {"bucket": [bucket.urn]}},
)

pab_type := "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"

all_blocked := {"blockPublicAcls": true, "blockPublicPolicy": true, "ignorePublicAcls": true, "restrictPublicBuckets": true}

test_public_access_block_by_name_or_dependency if {
	t.severities(fired([bucket, companion(pab_type, "x", all_blocked)]), "guards.bucket_public_access_not_blocked") == set()
	t.severities(fired([bucket, linked(pab_type, "x", all_blocked)]), "guards.bucket_public_access_not_blocked") == set()
	t.severities(fired([bucket]), "guards.bucket_public_access_not_blocked") == {"deny"}
}

test_public_access_block_with_a_flag_off_or_unknown if {
	off := object.union(all_blocked, {"ignorePublicAcls": false})
	t.severities(fired([bucket, companion(pab_type, "x", off)]), "guards.bucket_public_access_not_blocked") == {"deny"}
	unknown := object.union(all_blocked, {"ignorePublicAcls": t.unknown})
	t.severities(fired([bucket, companion(pab_type, "x", unknown)]), "guards.bucket_public_access_not_blocked") == {"unknown"}
}

sse_type := "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"

sse(algorithm) := {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}]}

test_encryption_by_class if {
	t.severities(fired([bucket, companion(sse_type, "e", sse("aws:kms"))]), "guards.bucket_not_kms_encrypted") == set()
	t.severities(fired([bucket, companion(sse_type, "e", sse("AES256"))]), "guards.bucket_not_kms_encrypted") == {"deny"}
	public_sse := object.union(t.res(sse_type, "e", sse("AES256")), {"inputs": {"bucket": "acme-p", "rules": sse("AES256").rules}})
	t.severities(fired([public_bucket, public_sse]), "guards.bucket_not_kms_encrypted") == set()
	t.severities(fired([public_bucket]), "guards.bucket_not_kms_encrypted") == {"deny"}
	t.severities(fired([bucket, companion(sse_type, "e", {"rules": t.unknown})]), "guards.bucket_not_kms_encrypted") == {"unknown"}
}

test_encryption_with_unknown_class if {
	b := t.res("aws:s3/bucket:Bucket", "b", {"bucket": "acme-b", "tags": {"data-classification": t.unknown}})
	t.severities(fired([b, companion(sse_type, "e", sse("aws:kms"))]), "guards.bucket_not_kms_encrypted") == set()
	t.severities(fired([b, companion(sse_type, "e", sse("AES256"))]), "guards.bucket_not_kms_encrypted") == {"unknown"}
	t.severities(fired([b]), "guards.bucket_not_kms_encrypted") == {"deny"}
}

policy_type := "aws:s3/bucketPolicy:BucketPolicy"

tls_only := json.marshal({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": false}}}]})

test_tls_only_policy if {
	t.severities(fired([bucket, companion(policy_type, "p", {"policy": tls_only})]), "guards.bucket_allows_insecure_transport") == set()
	t.severities(fired([bucket, companion(policy_type, "p", {"policy": "{}"})]), "guards.bucket_allows_insecure_transport") == {"deny"}
	t.severities(fired([bucket, companion(policy_type, "p", {"policy": t.unknown})]), "guards.bucket_allows_insecure_transport") == {"unknown"}
}

versioning_type := "aws:s3/bucketVersioning:BucketVersioning"

test_versioning if {
	on := {"versioningConfiguration": {"status": "Enabled"}}
	t.severities(fired([bucket, companion(versioning_type, "v", on)]), "guards.bucket_unversioned") == set()
	t.severities(fired([bucket]), "guards.bucket_unversioned") == {"deny"}
	unknown := {"versioningConfiguration": {"status": t.unknown}}
	t.severities(fired([bucket, companion(versioning_type, "v", unknown)]), "guards.bucket_unversioned") == {"unknown"}
	t.severities(fired([public_bucket]), "guards.bucket_unversioned") == set()
}

lock_type := "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"

test_object_lock if {
	lock := {"objectLockEnabled": "Enabled", "rule": {"defaultRetention": {"days": 30, "mode": "GOVERNANCE"}}}
	t.severities(fired([bucket, companion(lock_type, "l", lock)]), "guards.bucket_without_object_lock") == set()
	t.severities(fired([bucket, companion(lock_type, "l", {"objectLockEnabled": "Enabled"})]), "guards.bucket_without_object_lock") == {"deny"}
	t.severities(fired([bucket, companion(lock_type, "l", {"rule": t.unknown})]), "guards.bucket_without_object_lock") == {"unknown"}
	internal := t.res("aws:s3/bucket:Bucket", "i", {"bucket": "acme-i", "tags": {"data-classification": "internal"}})
	t.severities(fired([internal]), "guards.bucket_without_object_lock") == set()
	locked := t.res("aws:s3/bucket:Bucket", "i", {"bucket": "acme-i", "objectLockEnabled": true, "tags": {"data-classification": "internal"}})
	t.severities(fired([locked]), "guards.bucket_without_object_lock") == {"deny"}
	maybe := t.res("aws:s3/bucket:Bucket", "i", {"bucket": "acme-i", "objectLockEnabled": t.unknown, "tags": {"data-classification": "internal"}})
	t.severities(fired([maybe]), "guards.bucket_without_object_lock") == {"unknown"}
}

test_kms_key_policy if {
	t.severities(fired([t.res("aws:kms/key:Key", "k", {"policy": "{}"})]), "guards.kms_key_without_policy") == set()
	t.severities(fired([t.res("aws:kms/key:Key", "k", {})]), "guards.kms_key_without_policy") == {"deny"}
}

test_dangling_dependency_only_on_a_complete_preview if {
	orphan := object.union(t.res("aws:sqs/queue:Queue", "q", {}), {"dependencies": ["urn:pulumi:test::burst::aws:kms/key:Key::gone"]})
	t.severities(fired([orphan]), "guards.dangling_dependency") == {"deny"}
	partial := main.report.findings with input as t.partial([orphan], [])
	t.severities(partial, "guards.dangling_dependency") == set()
	external := object.union(t.plan([orphan]), {"external": ["urn:pulumi:test::burst::aws:kms/key:Key::gone"]})
	read := main.report.findings with input as external
	t.severities(read, "guards.dangling_dependency") == set()
}

budget := t.res("aws:budgets/budget:Budget", "quant", {
	"name": "quant-monthly",
	"costFilters": [{"name": "TagKeyValue", "values": ["user:team$quant"]}],
	"notifications": [{"notificationType": "ACTUAL", "subscriberSnsTopicArns": ["arn:aws:sns:eu-west-1:1:quant-alerts"]}],
})

test_budget_action if {
	action := t.res("aws:budgets/budgetAction:BudgetAction", "a", {"budgetName": "quant-monthly"})
	t.severities(fired([budget, action]), "guards.budget_without_action") == set()
	t.severities(fired([budget]), "guards.budget_without_action") == {"deny"}
	maybe := t.res("aws:budgets/budgetAction:BudgetAction", "a", {"budgetName": t.unknown})
	t.severities(fired([budget, maybe]), "guards.budget_without_action") == {"unknown"}
	t.severities(fired([budget]), "guards.budget_without_action") == set() with data.burst.guardrails.budgets.require_action as false
}

test_budget_scoped_by_filter_expression_needs_an_action if {
	b := t.res("aws:budgets/budget:Budget", "q", {"filterExpression": {"tags": {"key": "user:team", "values": ["quant"]}}})
	t.severities(fired([b]), "guards.budget_without_action") == {"deny"}
}

topic := t.res("aws:sns/topic:Topic", "quant-alerts", {"name": "quant-alerts"})

topic_policy := object.union(t.res("aws:sns/topicPolicy:TopicPolicy", "tp", {}), {"propertyDependencies": {"arn": [topic.urn]}})

subscription := object.union(t.res("aws:sns/topicSubscription:TopicSubscription", "s", {}), {"propertyDependencies": {"topic": [topic.urn]}})

test_alert_path if {
	t.severities(fired([budget, topic, topic_policy, subscription]), "guards.budget_alert_path_incomplete") == set()
	fs := fired([budget, topic, topic_policy])
	t.severities(fs, "guards.budget_alert_path_incomplete") == {"deny"}
	contains(t.of_rule(fs, "guards.budget_alert_path_incomplete")[0].message, "which has no subscription")
	t.severities(fired([budget, topic]), "guards.budget_alert_path_incomplete") == {"deny"}
}

alarm := object.union(
	t.res("aws:cloudwatch/metricAlarm:MetricAlarm", "on-demand-g", {"alarmActions": [t.unknown]}),
	{"propertyDependencies": {"alarmActions": [topic.urn]}},
)

alarm_by_arn := t.res("aws:cloudwatch/metricAlarm:MetricAlarm", "stale", {"alarmActions": ["arn:aws:sns:eu-west-1:111122223333:quant-alerts"]})

test_alarm_alert_path if {
	t.severities(fired([alarm, topic, topic_policy, subscription]), "guards.alarm_alert_path_incomplete") == set()
	fs := fired([alarm, topic, subscription])
	t.severities(fs, "guards.alarm_alert_path_incomplete") == {"deny"}
	contains(t.of_rule(fs, "guards.alarm_alert_path_incomplete")[0].message, "which has no topic policy")
	t.severities(fired([alarm_by_arn, topic, topic_policy]), "guards.alarm_alert_path_incomplete") == {"deny"}
	t.severities(fired([alarm_by_arn, topic, topic_policy, subscription]), "guards.alarm_alert_path_incomplete") == set()
}

test_alarm_without_actions_names_no_topic if {
	silent := t.res("aws:cloudwatch/metricAlarm:MetricAlarm", "quiet", {})
	t.severities(fired([silent, topic]), "guards.alarm_alert_path_incomplete") == set()
}

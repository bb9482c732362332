# METADATA
# title: Companion guards
# description: >-
#   The resources that make another resource safe must be in the stack: a bucket's public-access
#   block, encryption, TLS-only policy, versioning and object lock, a KMS key's explicit policy,
#   a budget's circuit breaker and alert path, an alarm's alert path, and every resource another
#   one depends on.
#   Removing one of them from the program must fail the check, not pass it.
package burst.guards

import data.burst.lib

bucket_types := {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}

budget_type := "aws:budgets/budget:Budget"

alarm_type := "aws:cloudwatch/metricAlarm:MetricAlarm"

buckets := lib.of_types(bucket_types)

# Input paths each rule judges its subjects on (see burst.main).
reads := {
	"guards.bucket_public_access_not_blocked": {t: [["bucket"]] | some t in bucket_types},
	"guards.bucket_not_kms_encrypted": {t: [["bucket"], ["tags"]] | some t in bucket_types},
	"guards.bucket_allows_insecure_transport": {t: [["bucket"]] | some t in bucket_types},
	"guards.bucket_unversioned": {t: [["bucket"], ["tags"]] | some t in bucket_types},
	"guards.bucket_without_object_lock": {t: [["bucket"], ["tags"], ["objectLockEnabled"]] | some t in bucket_types},
	"guards.kms_key_without_policy": {"aws:kms/key:Key": [["policy"]]},
	"guards.dangling_dependency": {},
	"guards.budget_without_action": {budget_type: [["name"], ["costFilters"], ["filterExpression"]]},
	"guards.budget_alert_path_incomplete": {budget_type: [["notifications"]]},
	"guards.alarm_alert_path_incomplete": {alarm_type: [["alarmActions"]]},
}

# On a preview that leaves unchanged resources out, a shown bucket's companions or a shown
# budget's action and topic may be among the hidden ones.
_storage_types := bucket_types | {
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
	"aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
	"aws:s3/bucketPolicy:BucketPolicy",
	"aws:s3/bucketVersioning:BucketVersioning",
	"aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
}

_budget_types := {
	budget_type,
	"aws:budgets/budgetAction:BudgetAction",
	"aws:sns/topic:Topic",
	"aws:sns/topicPolicy:TopicPolicy",
	"aws:sns/topicSubscription:TopicSubscription",
}

partial_undecided contains rule if {
	lib.touches(_storage_types)
	some rule in {
		"guards.bucket_public_access_not_blocked", "guards.bucket_not_kms_encrypted",
		"guards.bucket_allows_insecure_transport", "guards.bucket_unversioned",
		"guards.bucket_without_object_lock",
	}
}

partial_undecided contains rule if {
	lib.touches(_budget_types)
	some rule in {"guards.budget_without_action", "guards.budget_alert_path_incomplete"}
}

partial_undecided contains "guards.alarm_alert_path_incomplete" if {
	lib.touches(((_budget_types - {budget_type, "aws:budgets/budgetAction:BudgetAction"}) | {alarm_type}))
}

# ---------------------------------------------------------------------------------------------
# Linking a companion to its bucket
# ---------------------------------------------------------------------------------------------

_companion_types := _storage_types - bucket_types

# A companion's links to its bucket: the URNs its `bucket` input was computed from (the engine's
# dependency record), else the bucket name it gives.
_links(c) := {u | some u in lib.property_sources(c, "bucket")} if {
	count(lib.property_sources(c, "bucket")) > 0
} else := {name |
	name := object.get(lib.inputs(c), "bucket", null)
	is_string(name)
	not lib.is_unknown(name)
}

_companion_entries := [[concat("|", [t, link]), c] |
	some t in _companion_types
	some c in lib.of_type(t)
	some link in _links(c)
]

_companion_keys := {e[0] | some e in _companion_entries}

# _companion_index["<type>|<bucket URN or name>"] is the list of companions linked so (a
# complete rule, built once; the inner comparison with the outer key is indexed).
_companion_index := {key: cs |
	some key in _companion_keys
	cs := [e[1] | some e in _companion_entries; e[0] == key]
}

# The companions of type t of a bucket: linked by its URN, or by its name.
companions(b, t) := array.concat(
	object.get(_companion_index, concat("|", [t, b.urn]), []),
	object.get(_companion_index, concat("|", [t, _bucket_name(b)]), []),
)

_bucket_name(b) := name if {
	name := object.get(lib.inputs(b), "bucket", null)
	is_string(name)
	not lib.is_unknown(name)
} else := ""

# True if a companion holds an unknown or secret value (or is wholly unknown): when none of them
# is known to satisfy the rule, that value might.
_any_unknown(companions) if {
	some c in companions
	lib.contains_unknown(lib.inputs(c))
}

_classified(b) if {
	c := lib.classification(b)
	c != "public"
}

_true(x) if x == true

_true(x) if x == "true"

# METADATA
# title: Bucket without a public access block
# description: >-
#   An S3 bucket has no BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy,
#   ignorePublicAcls and restrictPublicBuckets all true, so a later ACL or bucket policy can make
#   its data public.
# custom:
#   id: guards.bucket_public_access_not_blocked
#   severity: deny
#   remediation: >-
#     Add an aws.s3.BucketPublicAccessBlock for the bucket with all four settings true (the burst
#     DatasetStorage component creates one for every bucket).
findings contains lib.finding(rego.metadata.rule(), b.urn, state, msg) if {
	some b in buckets
	blocks := companions(b, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
	state := _block_state(blocks)
	state != "no"
	msg := sprintf("bucket %s has no public access block with all four settings true", [b.name])
}

_block_flags := ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]

_block_state(blocks) := "no" if {
	some c in blocks
	every flag in _block_flags {
		_true(object.get(lib.inputs(c), flag, false))
	}
} else := "unknown" if {
	_any_unknown(blocks)
} else := "yes"

# METADATA
# title: Bucket without its default encryption
# description: >-
#   An S3 bucket has no BucketServerSideEncryptionConfiguration, or one holding non-public data
#   (data-classification other than public) has none whose default is SSE-KMS (aws:kms or
#   aws:kms:dsse), so its data is not under a key the team's policies control.
# custom:
#   id: guards.bucket_not_kms_encrypted
#   severity: deny
#   remediation: >-
#     Add an aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm aws:kms and the
#     team's KMS key, with bucket keys enabled (AES256 is enough only for public data).
findings contains lib.finding(rego.metadata.rule(), b.urn, state, msg) if {
	some b in buckets
	configs := array.concat(
		companions(b, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"),
		companions(b, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"),
	)
	state := _encryption_state(_classified_state(b), configs)
	state != "no"
	msg := sprintf("bucket %s has no default encryption configuration %s", [b.name, _required(b)])
}

_required(b) := "with SSE-KMS (it holds non-public data)" if {
	_classified(b)
} else := "(SSE-KMS, or AES256 for public data)"

_classified_state(b) := "unknown" if {
	lib.classification_unknown(b)
} else := "yes" if {
	_classified(b)
} else := "no"

_encryption_state(classified, configs) := _algorithm_state(configs, {"aws:kms", "aws:kms:dsse"}) if {
	classified == "yes"
} else := _algorithm_state(configs, {"aws:kms", "aws:kms:dsse", "AES256"}) if {
	classified == "no"
} else := "no" if {
	_algorithm_state(configs, {"aws:kms", "aws:kms:dsse"}) == "no"
} else := lib.tri_or("unknown", _algorithm_state(configs, {"aws:kms", "aws:kms:dsse", "AES256"}))

_algorithm_state(configs, algorithms) := "no" if {
	some c in configs
	some rule in lib.as_list(object.get(lib.inputs(c), "rules", []))
	object.get(rule, ["applyServerSideEncryptionByDefault", "sseAlgorithm"], "") in algorithms
} else := "unknown" if {
	_any_unknown(configs)
} else := "yes"

# METADATA
# title: Bucket policy does not deny plain HTTP
# description: >-
#   An S3 bucket has no BucketPolicy with a Deny statement on requests where aws:SecureTransport
#   is false, so clients can read or write its data without TLS.
# custom:
#   id: guards.bucket_allows_insecure_transport
#   severity: deny
#   remediation: >-
#     Add a bucket policy statement {Effect: Deny, Principal: "*", Action: "s3:*", Resource: [bucket,
#     bucket/*], Condition: {Bool: {aws:SecureTransport: "false"}}}.
findings contains lib.finding(rego.metadata.rule(), b.urn, state, msg) if {
	some b in buckets
	state := _tls_state(companions(b, "aws:s3/bucketPolicy:BucketPolicy"))
	state != "no"
	msg := sprintf("bucket %s has no policy denying requests without TLS", [b.name])
}

_tls_state(policies) := "no" if {
	some p in policies
	parsed := lib.parse_json(object.get(lib.inputs(p), "policy", null))
	parsed.ok
	some s in lib.as_list(object.get(parsed.value, "Statement", []))
	_denies_plain_http(s)
} else := "unknown" if {
	_any_unknown(policies)
} else := "yes"

_denies_plain_http(s) if {
	s.Effect == "Deny"
	some action in lib.as_list(s.Action)
	action in {"s3:*", "*"}
	object.get(s, ["Condition", "Bool", "aws:SecureTransport"], null) in {false, "false"}
}

# METADATA
# title: Classified bucket without versioning
# description: >-
#   An S3 bucket holding non-public data has no BucketVersioning with status Enabled, so an
#   overwrite or delete (a bug, a compromised job) loses the data.
# custom:
#   id: guards.bucket_unversioned
#   severity: deny
#   remediation: Add an aws.s3.BucketVersioning for the bucket with status Enabled.
findings contains lib.finding(rego.metadata.rule(), b.urn, state, msg) if {
	some b in buckets
	classified := _classified_state(b)
	classified != "no"
	state := lib.tri_and(classified, _versioning_state(companions(b, "aws:s3/bucketVersioning:BucketVersioning")))
	state != "no"
	msg := sprintf("bucket %s holds non-public data without versioning", [b.name])
}

_versioning_state(configs) := "no" if {
	some c in configs
	object.get(lib.inputs(c), ["versioningConfiguration", "status"], "") == "Enabled"
} else := "unknown" if {
	_any_unknown(configs)
} else := "yes"

# METADATA
# title: Bucket without its object lock
# description: >-
#   An S3 bucket that is created with object lock enabled, or holds restricted data, has no
#   BucketObjectLockConfiguration enabled with a default retention, so its objects can be deleted
#   or overwritten before their retention ends.
# custom:
#   id: guards.bucket_without_object_lock
#   severity: deny
#   remediation: >-
#     Create the bucket with object_lock_enabled and add an aws.s3.BucketObjectLockConfiguration
#     with a default retention (the DatasetStorage component sets objectLockDays per dataset).
findings contains lib.finding(rego.metadata.rule(), b.urn, state, msg) if {
	some b in buckets
	needs := _needs_lock(b)
	needs != "no"
	state := lib.tri_and(needs, _lock_state(companions(b, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")))
	state != "no"
	msg := sprintf("bucket %s needs object lock but has no enabled object lock configuration with a default retention", [b.name])
}

_needs_lock(b) := "yes" if {
	_true(object.get(lib.inputs(b), "objectLockEnabled", false))
} else := "yes" if {
	lib.classification(b) == "restricted"
} else := "unknown" if {
	lib.is_unknown(object.get(lib.inputs(b), "objectLockEnabled", false))
} else := "unknown" if {
	lib.classification_unknown(b)
} else := "no"

_lock_state(configs) := "no" if {
	some c in configs
	object.get(lib.inputs(c), "objectLockEnabled", "Enabled") == "Enabled"
	object.get(lib.inputs(c), ["rule", "defaultRetention"], null) != null
} else := "unknown" if {
	_any_unknown(configs)
} else := "yes"

# METADATA
# title: KMS key without an explicit key policy
# description: >-
#   A KMS key has no policy input, so AWS gives it the default policy and who may use or
#   administer the key is not reviewed with the code.
# custom:
#   id: guards.kms_key_without_policy
#   severity: deny
#   remediation: >-
#     Give the key an explicit policy: the account administers the key through IAM, and only the
#     services that use the key (with aws:SourceAccount or kms:ViaService conditions) are named.
findings contains lib.finding(rego.metadata.rule(), k.urn, "yes", msg) if {
	some k in lib.of_type("aws:kms/key:Key")
	object.get(lib.inputs(k), "policy", "") in {"", null}
	msg := sprintf("KMS key %s has no explicit key policy", [k.name])
}

# ---------------------------------------------------------------------------------------------
# Dependencies
# ---------------------------------------------------------------------------------------------

_present := {r.urn | some r in lib.resources} | {u | some u in lib.external}

# METADATA
# title: Dependency missing from the stack
# description: >-
#   A resource depends on a resource (a key, a boundary policy, a topic, a queue, ...) that the
#   preview neither creates, keeps nor reads: the guard it relies on was removed from the program.
#   Judged only on a preview that shows the whole stack.
# custom:
#   id: guards.dangling_dependency
#   severity: deny
#   remediation: >-
#     Put the resource back, or change the dependent resource so that it no longer needs it.
findings contains lib.finding(rego.metadata.rule(), r.urn, "yes", msg) if {
	lib.complete
	some r in lib.resources
	missing := {u | some u in object.get(r, "dependencies", []); not u in _present}
	count(missing) > 0
	msg := sprintf("%s depends on %s, which the stack does not contain", [r.name, concat(", ", sort([lib.urn_name(u) | some u in missing]))])
}

# ---------------------------------------------------------------------------------------------
# Budgets
# ---------------------------------------------------------------------------------------------

team_budgets := [b |
	some b in lib.of_type(budget_type)
	count(lib.budget_teams(b)) > 0
]

# Budgets whose scope cannot be read: they may be a team's.
_maybe_team_budgets := [b |
	some b in lib.of_type(budget_type)
	count(lib.budget_teams(b)) == 0
	lib.budget_scope_unknown(b)
]

_actions_of(b) := [a |
	some a in lib.of_type("aws:budgets/budgetAction:BudgetAction")
	_action_of(a, b)
]

_action_of(a, b) if b.urn in lib.property_sources(a, "budgetName")

_action_of(a, b) if {
	name := object.get(lib.inputs(b), "name", null)
	is_string(name)
	not lib.is_unknown(name)
	object.get(lib.inputs(a), "budgetName", null) == name
}

# A budget action whose budget cannot be told may be any budget's.
_action_unknown if {
	some a in lib.of_type("aws:budgets/budgetAction:BudgetAction")
	lib.is_unknown(object.get(lib.inputs(a), "budgetName", null))
	count(lib.property_sources(a, "budgetName")) == 0
}

# METADATA
# title: Team budget without its circuit breaker
# description: >-
#   Guardrails budgets.require_action is true, but a team's AWS Budget has no BudgetAction: when
#   the team overspends nothing stops new capacity.
# custom:
#   id: guards.budget_without_action
#   severity: deny
#   remediation: >-
#     Enable the circuit breaker (stack config budgets.circuitBreaker: true creates the budget
#     action), or set budgets.require_action false in guardrails after approval.
findings contains lib.finding(rego.metadata.rule(), b.urn, state, msg) if {
	object.get(lib.guardrails, ["budgets", "require_action"], false) == true
	some [b, scoped] in array.concat([[b, "yes"] | some b in team_budgets], [[b, "unknown"] | some b in _maybe_team_budgets])
	count(_actions_of(b)) == 0
	state := lib.tri_and(scoped, _missing_action_state)
	msg := sprintf("team budget %s has no budget action (circuit breaker)", [b.name])
}

_missing_action_state := "unknown" if {
	_action_unknown
} else := "yes"

# SNS topics a resource notifies: those its `key` input was computed from (the dependency
# record), else those whose name ends one of the topic ARNs it gives.
_notified_topics(r, key, arns) := {t.urn |
	some t in lib.of_type("aws:sns/topic:Topic")
	t.urn in lib.property_sources(r, key)
} | {t.urn |
	some arn in arns
	is_string(arn)
	some t in lib.of_type("aws:sns/topic:Topic")
	endswith(arn, concat("", [":", object.get(lib.inputs(t), "name", t.name)]))
}

# SNS topics a budget's notifications publish to.
_alert_topics(b) := _notified_topics(b, "notifications", [arn |
	some n in lib.as_list(object.get(lib.inputs(b), "notifications", []))
	some arn in lib.as_list(object.get(n, "subscriberSnsTopicArns", []))
])

# What an alert topic lacks of its path to people: its own policy, a subscription.
_missing_path(topic) := [what |
	some [what, linked] in [["topic policy", _topics_with_policy], ["subscription", _topics_with_subscription]]
	not topic in linked
]

_topic_links(type, key) := {u |
	some r in lib.of_type(type)
	some u in lib.property_sources(r, key)
}

_topics_with_policy := _topic_links("aws:sns/topicPolicy:TopicPolicy", "arn")

_topics_with_subscription := _topic_links("aws:sns/topicSubscription:TopicSubscription", "topic")

# METADATA
# title: Budget alerts that reach nobody
# description: >-
#   An SNS topic a budget notifies has no topic policy (so AWS Budgets cannot publish to it) or
#   no subscription (so nobody receives the alert).
# custom:
#   id: guards.budget_alert_path_incomplete
#   severity: deny
#   remediation: >-
#     Give the topic a policy that lets budgets.amazonaws.com (and costalerts.amazonaws.com)
#     publish on behalf of the account, and at least one subscription (the team's budgetEmails).
findings contains lib.finding(rego.metadata.rule(), b.urn, "yes", msg) if {
	some b in lib.of_type(budget_type)
	some topic in _alert_topics(b)
	missing := _missing_path(topic)
	count(missing) > 0
	msg := sprintf("budget %s alerts SNS topic %s, which has no %s", [b.name, lib.urn_name(topic), concat(" and no ", missing)])
}

# METADATA
# title: Alarm that reaches nobody
# description: >-
#   An SNS topic a CloudWatch alarm notifies has no topic policy of its own (the default policy
#   lets every principal of the account publish, so alerts can be forged or drowned out) or no
#   subscription (nobody receives the alarm).
# custom:
#   id: guards.alarm_alert_path_incomplete
#   severity: deny
#   remediation: >-
#     Give the topic a policy that lets cloudwatch.amazonaws.com publish on behalf of the account
#     only, and at least one subscription (the PlatformAlerts component does both; stack config
#     alerts.emails lists the subscribers).
findings contains lib.finding(rego.metadata.rule(), a.urn, "yes", msg) if {
	some a in lib.of_type(alarm_type)
	some topic in _notified_topics(a, "alarmActions", lib.as_list(object.get(lib.inputs(a), "alarmActions", [])))
	missing := _missing_path(topic)
	count(missing) > 0
	msg := sprintf("alarm %s notifies SNS topic %s, which has no %s", [a.name, lib.urn_name(topic), concat(" and no ", missing)])
}

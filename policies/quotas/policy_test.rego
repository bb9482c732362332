package burst.quotas_test

import data.burst.lib.testing as t
import data.burst.quotas

findings(resources) := fs if {
	fs := quotas.findings with input as t.plan(resources)
}

manifest_findings(resources) := fs if {
	fs := quotas.findings with input as t.manifests(resources)
}

spot_reqs := {"requirements": [t.req("karpenter.sh/capacity-type", "In", ["spot"])]}

nodepool(name, team, limits) := t.nodepool(name, {"team": team}, spot_reqs, limits)

cluster_queue(name, team, nominal, borrowing) := t.res("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", name, {
	"metadata": {"name": name, "labels": {"team": team}},
	"spec": {
		"cohortName": "burst",
		"resourceGroups": [{
			"coveredResources": ["cpu", "nvidia.com/gpu"],
			"flavors": [
				{"name": "spot", "resources": [{"name": "cpu", "nominalQuota": 64}, {"name": "nvidia.com/gpu", "nominalQuota": nominal, "borrowingLimit": borrowing}]},
				{"name": "on-demand", "resources": [{"name": "cpu", "nominalQuota": 32}, {"name": "nvidia.com/gpu", "nominalQuota": "4", "borrowingLimit": "0"}]},
			],
		}],
	},
})

notifications := [
	{"notificationType": "ACTUAL", "comparisonOperator": "GREATER_THAN", "threshold": 100, "thresholdType": "PERCENTAGE", "subscriberEmailAddresses": ["quant-leads@example.com"]},
	{"notificationType": "FORECASTED", "comparisonOperator": "GREATER_THAN", "threshold": 80, "thresholdType": "PERCENTAGE", "subscriberSnsTopicArns": ["arn:aws:sns:us-east-1:123456789012:budgets"]},
]

budget(name, team, amount, unit) := t.res_in(
	"aws:budgets/budget:Budget", name, {
		"budgetType": "COST",
		"limitAmount": amount,
		"limitUnit": "USD",
		"timeUnit": unit,
		"costFilters": [{"name": "TagKeyValue", "values": [sprintf("user:team$%s", [team])]}],
		"notifications": notifications,
	},
	null,
)

# quotas.nodepool_without_limits

test_nodepool_without_limits_denied if {
	fs := findings([t.nodepool("np", {"team": "ml"}, spot_reqs, {})])
	t.severities(fs, "quotas.nodepool_without_limits") == {"deny"}
}

test_nodepool_missing_limits_field_denied if {
	np := t.res("kubernetes:karpenter.sh/v1:NodePool", "np", {"spec": {"template": {"spec": spot_reqs}}})
	t.severities(findings([np]), "quotas.nodepool_without_limits") == {"deny"}
}

test_nodepool_with_limits_allowed if {
	fs := findings([nodepool("np", "ml", {"cpu": "1000", "nvidia.com/gpu": 8})])
	t.severities(fs, "quotas.nodepool_without_limits") == set()
}

test_static_nodepool_allowed if {
	np := t.res("kubernetes:karpenter.sh/v1:NodePool", "np", {"spec": {"replicas": 2, "template": {"spec": spot_reqs}}})
	t.severities(findings([np]), "quotas.nodepool_without_limits") == set()
}

test_nodepool_unknown_limits if {
	fs := findings([t.nodepool("np", {"team": "ml"}, spot_reqs, t.unknown)])
	t.severities(fs, "quotas.nodepool_without_limits") == {"unknown"}
}

# quotas.team_gpu_over_quota

test_gpu_over_quota_denied_on_each_contributor if {
	# quant: 16 + 8 borrowing + 4 on-demand (queue) + 8 (NodePool) = 36 > 32
	fs := findings([
		cluster_queue("quant", "quant", "16", 8),
		nodepool("quant-gpu", "quant", {"nvidia.com/gpu": "8"}),
		nodepool("quant-cpu", "quant", {"cpu": "100"}),
	])
	found := t.of_rule(fs, "quotas.team_gpu_over_quota")
	{f.resource | some f in found} == {
		t.urn("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", "quant"),
		t.urn("kubernetes:karpenter.sh/v1:NodePool", "quant-gpu"),
	}
	{f.severity | some f in found} == {"deny"}
	contains(found[0].message, "36 in total, above the quota of 32")
}

test_gpu_unbounded_borrowing_denied if {
	cq := json.patch(cluster_queue("cq-quant", "quant", "4", "0"), [{
		"op": "remove",
		"path": "/inputs/spec/resourceGroups/0/flavors/1/resources/1/borrowingLimit",
	}])
	fs := findings([cq])
	found := t.of_rule(fs, "quotas.team_gpu_over_quota")
	count(found) == 1
	some f in found
	f.severity == "deny"
	contains(f.message, "without bound")
}

test_gpu_missing_borrowing_limit_without_cohort_allowed if {
	cq := json.patch(cluster_queue("cq-quant", "quant", "4", "0"), [
		{"op": "remove", "path": "/inputs/spec/resourceGroups/0/flavors/1/resources/1/borrowingLimit"},
		{"op": "remove", "path": "/inputs/spec/cohortName"},
	])
	t.severities(findings([cq]), "quotas.team_gpu_over_quota") == set()
}

test_gpu_within_quota_allowed if {
	fs := findings([cluster_queue("quant", "quant", 16, "0"), nodepool("quant-gpu", "quant", {"nvidia.com/gpu": 8})])
	t.severities(fs, "quotas.team_gpu_over_quota") == set()
}

test_gpu_nodepool_template_label if {
	np := t.res("kubernetes:karpenter.sh/v1:NodePool", "np", {
		"metadata": {"name": "np"},
		"spec": {"limits": {"nvidia.com/gpu": "20"}, "template": {"metadata": {"labels": {"team": "research"}}, "spec": spot_reqs}},
	})
	t.severities(findings([np]), "quotas.team_gpu_over_quota") == {"deny"}
}

test_gpu_quantity_suffix if {
	fs := findings([nodepool("np", "research", {"nvidia.com/gpu": "1k"})])
	t.severities(fs, "quotas.team_gpu_over_quota") == {"deny"}
}

test_gpu_unknown_quantity if {
	fs := findings([cluster_queue("ml", "ml", t.unknown, 0), nodepool("ml-gpu", "ml", {"nvidia.com/gpu": 8})])
	found := t.of_rule(fs, "quotas.team_gpu_over_quota")
	{[f.resource, f.severity] | some f in found} == {
		[t.urn("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", "ml"), "unknown"],
		[t.urn("kubernetes:karpenter.sh/v1:NodePool", "ml-gpu"), "unknown"],
	}
}

test_gpu_unknown_quantity_but_known_excess_denied if {
	fs := findings([cluster_queue("ml", "ml", t.unknown, 0), nodepool("ml-gpu", "ml", {"nvidia.com/gpu": 100})])
	t.severities(fs, "quotas.team_gpu_over_quota") == {"deny"}
}

test_gpu_unknown_resource_groups if {
	cq := t.res("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", "cq", {"metadata": {"labels": {"team": "quant"}}, "spec": {"resourceGroups": t.unknown}})
	t.severities(findings([cq]), "quotas.team_gpu_over_quota") == {"unknown"}
}

test_gpu_unknown_flavor_list if {
	cq := t.res("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", "cq", {
		"metadata": {"labels": {"team": "quant"}},
		"spec": {"resourceGroups": [{"coveredResources": ["nvidia.com/gpu"], "flavors": [t.unknown]}]},
	})
	t.severities(findings([cq]), "quotas.team_gpu_over_quota") == {"unknown"}
}

test_gpu_unknown_limits if {
	fs := findings([t.nodepool("np", {"team": "quant"}, spot_reqs, t.unknown)])
	t.severities(fs, "quotas.team_gpu_over_quota") == {"unknown"}
}

test_gpu_other_team_quota_from_guardrails if {
	fs := quotas.findings with input as t.plan([nodepool("np", "ml", {"nvidia.com/gpu": 8})])
		with data.burst.guardrails.teams.ml.gpu_quota as 4
	t.severities(fs, "quotas.team_gpu_over_quota") == {"deny"}
}

# quotas.unknown_team

test_unknown_team_tag_denied if {
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"tags": {"team": "marketing"}})])
	t.severities(fs, "quotas.unknown_team") == {"deny"}
}

test_unknown_team_label_denied if {
	fs := findings([nodepool("np", "hft", {"cpu": 10})])
	t.severities(fs, "quotas.unknown_team") == {"deny"}
}

test_known_team_allowed if {
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"tagsAll": {"team": "quant"}}), nodepool("np", "ml", {"cpu": 1})])
	t.severities(fs, "quotas.unknown_team") == set()
}

test_team_value_unknown if {
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"tags": {"team": t.unknown}})])
	t.severities(fs, "quotas.unknown_team") == {"unknown"}
}

test_platform_resources_have_no_team if {
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"tags": {"platform": "burst-platform"}}), t.res("pulumi:providers:aws", "p", {})])
	t.severities(fs, "quotas.unknown_team") == set()
}

# quotas.team_without_budget

test_team_without_budget_denied if {
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"tags": {"team": "quant"}}), budget("ml", "ml", "1000", "MONTHLY")])
	found := t.of_rule(fs, "quotas.team_without_budget")
	count(found) == 1
	found[0].resource == "stack"
	found[0].severity == "deny"
	contains(found[0].message, "team quant owns 1 resources")
}

test_team_with_budget_allowed if {
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"tags": {"team": "quant"}}), budget("quant", "quant", "1000", "MONTHLY")])
	t.severities(fs, "quotas.team_without_budget") == set()
}

test_team_budget_by_filter_expression if {
	b := t.res("aws:budgets/budget:Budget", "b", {
		"budgetType": "COST", "limitAmount": "100", "timeUnit": "MONTHLY", "notifications": notifications,
		"filterExpression": {"ands": [{"tags": {"key": "user:team", "values": ["quant"]}}, {"dimensions": {"key": "REGION", "values": ["eu-west-1"]}}]},
	})
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"tags": {"team": "quant"}}), b])
	t.severities(fs, "quotas.team_without_budget") == set()
}

test_negated_filter_does_not_cover if {
	b := t.res("aws:budgets/budget:Budget", "b", {
		"budgetType": "COST", "limitAmount": "100", "timeUnit": "MONTHLY", "notifications": notifications,
		"filterExpression": {"not": {"tags": {"key": "team", "values": ["quant"]}}},
	})
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"tags": {"team": "quant"}}), b])
	t.severities(fs, "quotas.team_without_budget") == {"deny"}
}

test_team_without_budget_unknown_scope if {
	b := t.res("aws:budgets/budget:Budget", "b", {"costFilters": [{"name": "TagKeyValue", "values": [t.unknown]}]})
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"tags": {"team": "quant"}}), b])
	t.severities(fs, "quotas.team_without_budget") == {"unknown"}
}

test_team_without_budget_skipped_for_manifests if {
	fs := manifest_findings([nodepool("np", "quant", {"cpu": 1})])
	t.severities(fs, "quotas.team_without_budget") == set()
}

# quotas.budget_over_limit

test_budget_with_unknown_unit_or_bad_amount_is_unknown if {
	every b in [budget("b", "quant", "999999", "CUSTOM"), budget("b", "quant", "9e9x", "MONTHLY")] {
		t.severities(findings([b]), "quotas.budget_over_limit") == {"unknown"}
	}
}

test_budget_over_limit_denied if {
	fs := findings([budget("quant", "quant", "25000", "MONTHLY")])
	t.severities(fs, "quotas.budget_over_limit") == {"deny"}
}

test_budget_within_limit_allowed if {
	fs := findings([budget("quant", "quant", "20000.0", "MONTHLY")])
	t.severities(fs, "quotas.budget_over_limit") == set()
}

test_budget_time_units if {
	fs := findings([
		budget("a", "quant", "250000", "ANNUALLY"), # 20833/month
		budget("q", "ml", "120000", "QUARTERLY"), # 40000/month
		budget("d", "research", "300", "DAILY"), # 9000/month
	])
	{f.resource | some f in t.of_rule(fs, "quotas.budget_over_limit")} == {
		t.urn("aws:budgets/budget:Budget", "a"),
		t.urn("aws:budgets/budget:Budget", "d"),
	}
}

test_budget_multiple_teams_sum if {
	b := t.res("aws:budgets/budget:Budget", "b", {
		"limitAmount": "60000", "timeUnit": "MONTHLY", "notifications": notifications,
		"costFilters": [{"name": "TagKeyValue", "values": ["user:team$quant", "team$ml"]}],
	})
	t.severities(findings([b]), "quotas.budget_over_limit") == set()
}

test_budget_unknown_amount if {
	fs := findings([budget("quant", "quant", t.unknown, "MONTHLY")])
	t.severities(fs, "quotas.budget_over_limit") == {"unknown"}
}

test_budget_unknown_time_unit if {
	fs := findings([budget("quant", "quant", "100", t.unknown)])
	t.severities(fs, "quotas.budget_over_limit") == {"unknown"}
}

test_budget_unknown_team_skipped if {
	fs := findings([budget("x", "marketing", "999999", "MONTHLY")])
	t.severities(fs, "quotas.budget_over_limit") == set()
}

# quotas.budget_missing_notifications

test_budget_without_notifications_denied if {
	b := budget("quant", "quant", "100", "MONTHLY")
	fs := findings([object.union(b, {"inputs": {"notifications": []}})])
	found := t.of_rule(fs, "quotas.budget_missing_notifications")
	found[0].severity == "deny"
	contains(found[0].message, "ACTUAL or FORECASTED")
}

test_budget_without_forecast_denied if {
	b := budget("quant", "quant", "100", "MONTHLY")
	fs := findings([object.union(b, {"inputs": {"notifications": [notifications[0]]}})])
	t.severities(fs, "quotas.budget_missing_notifications") == {"deny"}
}

test_budget_notification_without_subscriber_denied if {
	b := budget("quant", "quant", "100", "MONTHLY")
	silent := object.remove(notifications[1], ["subscriberSnsTopicArns"])
	fs := findings([object.union(b, {"inputs": {"notifications": [notifications[0], silent]}})])
	t.severities(fs, "quotas.budget_missing_notifications") == {"deny"}
}

test_budget_with_both_alerts_allowed if {
	t.severities(findings([budget("quant", "quant", "100", "MONTHLY")]), "quotas.budget_missing_notifications") == set()
}

test_budget_unknown_topic_counts_as_subscriber if {
	b := budget("quant", "quant", "100", "MONTHLY")
	n := object.union(notifications[1], {"subscriberSnsTopicArns": [t.unknown]})
	fs := findings([object.union(b, {"inputs": {"notifications": [notifications[0], n]}})])
	t.severities(fs, "quotas.budget_missing_notifications") == set()
}

test_budget_unknown_notifications if {
	b := budget("quant", "quant", "100", "MONTHLY")
	fs := findings([object.union(b, {"inputs": {"notifications": t.unknown}})])
	t.severities(fs, "quotas.budget_missing_notifications") == {"unknown"}
}

test_budget_unknown_notification_type if {
	b := budget("quant", "quant", "100", "MONTHLY")
	n := object.union(notifications[1], {"notificationType": t.unknown})
	fs := findings([object.union(b, {"inputs": {"notifications": [notifications[0], n]}})])
	t.severities(fs, "quotas.budget_missing_notifications") == {"unknown"}
}

test_gpu_unknown_resource_list if {
	cq := t.res("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", "cq", {
		"metadata": {"labels": {"team": "quant"}},
		"spec": {"resourceGroups": [{"coveredResources": ["nvidia.com/gpu"], "flavors": [{"name": "spot", "resources": t.unknown}]}]},
	})
	t.severities(findings([cq]), "quotas.team_gpu_over_quota") == {"unknown"}
}

test_gpu_unknown_covered_resources_ignored if {
	cq := t.res("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", "cq", {
		"metadata": {"labels": {"team": "quant"}},
		"spec": {"resourceGroups": [{"coveredResources": [t.unknown], "flavors": [{"name": "spot", "resources": [{"name": "nvidia.com/gpu", "nominalQuota": 8}]}]}]},
	})
	t.severities(findings([cq]), "quotas.team_gpu_over_quota") == set()
}

test_team_without_budget_unknown_filter_expression if {
	b := t.res("aws:budgets/budget:Budget", "b", {"filterExpression": t.unknown})
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"tags": {"team": "quant"}}), b])
	t.severities(fs, "quotas.team_without_budget") == {"unknown"}
}

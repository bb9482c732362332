package burst.interruption_test

import data.burst.interruption
import data.burst.lib.testing as t

findings(resources) := fs if {
	fs := interruption.findings with input as t.plan(resources)
}

spot_pool(name, region) := t.res_in(
	"kubernetes:karpenter.sh/v1:NodePool", name, {
		"metadata": {"name": name},
		"spec": {"limits": {"cpu": 100}, "template": {"spec": {"requirements": [t.req("karpenter.sh/capacity-type", "In", ["spot"])]}}},
	},
	region,
)

# The queue, five rules and five targets of a complete interruption path in a region.
path(region, queue) := array.concat(
	[t.res_in("aws:sqs/queue:Queue", queue, {"name": queue, "messageRetentionSeconds": 300}, region)],
	array.concat(
		[t.res_in("aws:cloudwatch/eventRule:EventRule", rule_name(queue, i), {"name": rule_name(queue, i), "eventPattern": json.marshal(p)}, region) |
			some i, p in interruption.patterns
		],
		[t.res_in(
			"aws:cloudwatch/eventTarget:EventTarget", sprintf("%s-target-%d", [queue, i]), {
				"rule": rule_name(queue, i),
				"arn": sprintf("arn:aws:sqs:%s:123456789012:%s", [region, queue]),
			},
			region,
		) |
			some i, _ in interruption.patterns
		],
	),
)

rule_name(queue, i) := sprintf("%s-rule-%d", [queue, i])

# Replace the resource with the given name.
replace(resources, name, inputs) := [r |
	some r0 in resources
	r := _replaced(r0, name, inputs)
]

_replaced(r, name, inputs) := object.union(r, {"inputs": inputs}) if r.name == name

else := r

test_complete_path_allowed if {
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], path("eu-west-1", "karpenter")))
	count(fs) == 0
}

test_no_path_denied if {
	fs := findings([spot_pool("gpu", "eu-west-1")])
	found := t.of_rule(fs, "interruption.missing_path")
	found[0].severity == "deny"
	contains(found[0].message, "missing: AWS Health Event, EC2 Spot Instance Interruption Warning")
}

test_path_in_other_region_denied if {
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], path("us-east-1", "karpenter")))
	t.severities(fs, "interruption.missing_path") == {"deny"}
}

test_path_anywhere_for_unknown_region if {
	fs := findings(array.concat([spot_pool("gpu", null)], path("us-east-1", "karpenter")))
	count(fs) == 0
}

test_no_path_for_unknown_region_denied if {
	fs := findings([spot_pool("gpu", null)])
	contains(t.of_rule(fs, "interruption.missing_path")[0].message, "(region unknown)")
}

test_missing_capacity_reservation_rule_denied if {
	resources := [r | some r in path("eu-west-1", "karpenter"); not endswith(r.name, "-4")]
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	found := t.of_rule(fs, "interruption.missing_path")
	found[0].severity == "deny"
	endswith(found[0].message, "missing: EC2 Capacity Reservation Instance Interruption Warning")
}

test_rules_split_across_queues_denied if {
	a := [r | some r in path("eu-west-1", "a"); not endswith(r.name, "-4")]
	b := [r | some r in path("eu-west-1", "b"); endswith(r.name, "-4")]
	fs := findings(array.concat(array.concat([spot_pool("gpu", "eu-west-1")], a), b))
	t.severities(fs, "interruption.missing_path") == {"deny"}
}

test_widened_pattern_does_not_match if {
	widened := {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation"]}
	resources := replace(path("eu-west-1", "karpenter"), "karpenter-rule-1", {"name": "karpenter-rule-1", "eventPattern": json.marshal(widened)})
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	t.severities(fs, "interruption.missing_path") == {"deny"}
}

test_decoded_pattern_object_accepted if {
	resources := replace(path("eu-west-1", "karpenter"), "karpenter-rule-0", {"name": "karpenter-rule-0", "eventPattern": interruption.patterns[0]})
	count(findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))) == 0
}

test_target_to_other_queue_denied if {
	resources := replace(path("eu-west-1", "karpenter"), "karpenter-target-2", {"rule": "karpenter-rule-2", "arn": "arn:aws:sqs:eu-west-1:123456789012:other"})
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	t.severities(fs, "interruption.missing_path") == {"deny"}
}

test_unknown_target_arn if {
	resources := replace(path("eu-west-1", "karpenter"), "karpenter-target-2", {"rule": "karpenter-rule-2", "arn": t.unknown})
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	t.severities(fs, "interruption.missing_path") == {"unknown"}
}

test_unknown_event_pattern if {
	resources := replace(path("eu-west-1", "karpenter"), "karpenter-rule-3", {"name": "karpenter-rule-3", "eventPattern": t.unknown})
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	t.severities(fs, "interruption.missing_path") == {"unknown"}
}

test_invalid_event_pattern if {
	resources := replace(path("eu-west-1", "karpenter"), "karpenter-rule-3", {"name": "karpenter-rule-3", "eventPattern": "{"})
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	t.severities(fs, "interruption.missing_path") == {"unknown"}
}

test_unknown_queue_name if {
	resources := replace(path("eu-west-1", "karpenter"), "karpenter", {"name": t.unknown})
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	t.severities(fs, "interruption.missing_path") == {"unknown"}
}

test_unknown_parts_in_other_region_do_not_hide_deny if {
	resources := replace(path("us-east-1", "karpenter"), "karpenter", {"name": t.unknown})
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	t.severities(fs, "interruption.missing_path") == {"deny"}
}

test_unknown_spot_state if {
	np := t.res_in("kubernetes:karpenter.sh/v1:NodePool", "np", {"spec": {"template": {"spec": {"requirements": t.unknown}}}}, "eu-west-1")
	t.severities(findings([np]), "interruption.missing_path") == {"unknown"}
}

test_on_demand_pool_allowed if {
	np := t.res_in("kubernetes:karpenter.sh/v1:NodePool", "np", {"spec": {"template": {"spec": {"requirements": [t.req("karpenter.sh/capacity-type", "In", ["on-demand"])]}}}}, "eu-west-1")
	count(findings([np])) == 0
}

test_manifests_skipped if {
	fs := interruption.findings with input as t.manifests([spot_pool("gpu", "eu-west-1")])
	count(fs) == 0
}

test_unknown_rule_name if {
	resources := replace(path("eu-west-1", "karpenter"), "karpenter-rule-3", {"name": t.unknown, "eventPattern": json.marshal(interruption.patterns[3])})
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	t.severities(fs, "interruption.missing_path") == {"unknown"}
}

test_resources_without_region_match_any if {
	resources := [object.union(r, {"region": null}) | some r in path("eu-west-1", "karpenter")]
	count(findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))) == 0
}

test_targets_without_region_match if {
	resources := [_target_region_null(r) | some r in path("eu-west-1", "karpenter")]
	count(findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))) == 0
}

_target_region_null(r) := object.union(r, {"region": null}) if r.type == "aws:cloudwatch/eventTarget:EventTarget"

else := r

test_unknown_parts_anywhere_for_pool_without_region if {
	resources := replace(path("us-east-1", "karpenter"), "karpenter", {"name": t.unknown})
	fs := findings(array.concat([spot_pool("gpu", null)], resources))
	t.severities(fs, "interruption.missing_path") == {"unknown"}
}

test_unknown_arns_do_not_hide_a_missing_rule if {
	resources := [r |
		some r0 in path("eu-west-1", "karpenter")
		not endswith(r0.name, "-rule-4")
		r := _unknown_arn(r0)
	]
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	t.severities(fs, "interruption.missing_path") == {"deny"}
}

test_unknown_arns_with_all_rules_are_unknown if {
	resources := [_unknown_arn(r) | some r in path("eu-west-1", "karpenter")]
	fs := findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))
	t.severities(fs, "interruption.missing_path") == {"unknown"}
}

_unknown_arn(r) := object.union(r, {"inputs": {"arn": t.unknown}}) if {
	r.type == "aws:cloudwatch/eventTarget:EventTarget"
} else := r

test_disabled_or_custom_bus_rules_do_not_count if {
	every change in [{"state": "DISABLED"}, {"isEnabled": false}, {"eventBusName": "custom"}] {
		t.severities(_with_rules_changed(change), "interruption.missing_path") == {"deny"}
	}
}

_with_rules_changed(change) := findings(array.concat(
	[spot_pool("gpu", "eu-west-1")],
	[_rule_with(r, change) | some r in path("eu-west-1", "karpenter")],
))

test_default_bus_by_arn_counts if {
	change := {"eventBusName": "arn:aws:events:eu-west-1:123456789012:event-bus/default"}
	resources := [_rule_with(r, change) | some r in path("eu-west-1", "karpenter")]
	count(findings(array.concat([spot_pool("gpu", "eu-west-1")], resources))) == 0
}

_rule_with(r, change) := object.union(r, {"inputs": change}) if {
	r.type == "aws:cloudwatch/eventRule:EventRule"
} else := r

test_pool_without_region_in_a_multi_region_stack_is_unknown if {
	resources := array.concat(path("us-east-1", "karpenter"), path("eu-west-1", "karpenter-eu"))
	incomplete := [r | some r in resources; not r.name == "karpenter-eu-rule-0"]
	fs := findings(array.concat([spot_pool("gpu", null)], incomplete))
	t.severities(fs, "interruption.missing_path") == {"unknown"}
}

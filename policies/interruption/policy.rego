# METADATA
# title: Spot interruption handling
# description: >-
#   Karpenter drains spot nodes before they are reclaimed only if an SQS interruption queue
#   receives the five EventBridge event types it parses. Every region with spot NodePools needs
#   that path.
package burst.interruption

import data.burst.lib

# Input paths each rule judges its subjects on (see burst.main).
reads := {"interruption.missing_path": {"kubernetes:karpenter.sh:NodePool": [["spec", "template", "spec", "requirements"]]}}

# On a preview that leaves unchanged resources out, the rule needs the whole stack as soon as the
# shown part touches a NodePool or any part of an interruption path.
partial_undecided contains "interruption.missing_path" if lib.touches({
	"kubernetes:karpenter.sh:NodePool",
	"aws:sqs/queue:Queue",
	"aws:cloudwatch/eventRule:EventRule",
	"aws:cloudwatch/eventTarget:EventTarget",
})

# The exact event patterns Karpenter's interruption controller parses.
patterns := [
	{"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
	{"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
	{"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
	{"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
	{"source": ["aws.ec2"], "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"]},
]

queues := lib.of_type("aws:sqs/queue:Queue")

event_rules := lib.of_type("aws:cloudwatch/eventRule:EventRule")

event_targets := lib.of_type("aws:cloudwatch/eventTarget:EventTarget")

_known_string(x) if {
	is_string(x)
	not lib.is_unknown(x)
}

_queue_entries := [[name, _region_or_blank(q)] |
	some q in queues
	name := lib.inputs(q).name
	_known_string(name)
]

# queue_regions[name] is the set of regions of the queues with that name ("" when not known).
queue_regions := {name: regions |
	some entry in _queue_entries
	name := entry[0]
	regions := {r | some e in _queue_entries; e[0] == name; r := e[1]}
}

# Index of the pattern (0-4) an event rule matches (source and detail-type exactly).
_pattern_index(rule) := i if {
	parsed := lib.parse_json(object.get(lib.inputs(rule), "eventPattern", null))
	parsed.ok
	some i, p in patterns
	object.get(parsed.value, "source", null) == p.source
	object.get(parsed.value, "detail-type", null) == p["detail-type"]
}

# Rules that can deliver: enabled and on the default event bus (AWS events reach no other bus).
active_rules := [rule |
	some rule in event_rules
	object.get(lib.inputs(rule), "state", "ENABLED") != "DISABLED"
	object.get(lib.inputs(rule), "isEnabled", true) != false
	_default_bus(object.get(lib.inputs(rule), "eventBusName", null))
]

_default_bus(null)

_default_bus("")

_default_bus("default")

_default_bus(bus) if {
	is_string(bus)
	endswith(bus, ":event-bus/default")
}

_region_or_blank(r) := region if {
	region := lib.region(r)
	_known_string(region)
} else := ""

# Regions match when equal or when either is not known ("").
_same_region(a, b) if a == b

_same_region("", _)

_same_region(_, "")

# Parse arn:aws:sqs:<region>:<account>:<name> into [region, name].
_sqs_arn(arn) := [parts[3], parts[5]] if {
	_known_string(arn)
	parts := split(arn, ":")
	count(parts) == 6
	parts[2] == "sqs"
}

# Queues an event target delivers to: the queues its `arn` was computed from (the engine's
# dependency record), else the queue whose name and region its ARN names.
_target_queues(t) := qs if {
	qs := [q | some q in queues; q.urn in lib.property_sources(t, "arn")]
	count(qs) > 0
} else := [q |
	[region, name] := _sqs_arn(lib.inputs(t).arn)
	some q in queues
	lib.inputs(q).name == name
	_same_region(_region_or_blank(q), region)
]

# Active rules an event target belongs to: by its dependency record, else by rule name.
_target_rules(t) := rs if {
	rs := [rule | some rule in active_rules; rule.urn in lib.property_sources(t, "rule")]
	count(rs) > 0
} else := [rule |
	name := lib.inputs(t).rule
	_known_string(name)
	some rule in active_rules
	lib.inputs(rule).name == name
]

# True if the target's link (arn or rule) is neither known nor recorded as a dependency.
_link_unknown(t, key) if {
	lib.is_unknown(object.get(lib.inputs(t), key, null))
	count(lib.property_sources(t, key)) == 0
}

# [region, queue URN, pattern index] delivered by an event target to a queue in the plan.
covered contains [_first_known([_region_or_blank(q), _arn_region(t), _region_or_blank(rule), _region_or_blank(t)]), q.urn, i] if {
	some t in event_targets
	some q in _target_queues(t)
	some rule in _target_rules(t)
	i := _pattern_index(rule)
	_same_region(_region_or_blank(rule), _region_or_blank(q))
	_same_region(_region_or_blank(rule), _region_or_blank(t))
}

_arn_region(t) := _sqs_arn(lib.inputs(t).arn)[0] if {
	_sqs_arn(lib.inputs(t).arn)
} else := ""

# The first known region of a list ("" if none is known).
_first_known(regions) := known[0] if {
	known := [r | some r in regions; r != ""]
	count(known) > 0
} else := ""

_covered_entries := [[concat("|", [region, queue_name]), region, i] | some [region, queue_name, i] in covered]

# pattern_counts["region|queue"] is the number of distinct patterns delivered to that queue.
pattern_counts := {key: n |
	some entry in _covered_entries
	key := entry[0]
	n := count({i | some e in _covered_entries; e[0] == key; i := e[2]})
}

# Regions in which one queue receives all five patterns.
complete_regions contains split(key, "|")[0] if {
	some key, n in pattern_counts
	n == count(patterns)
}

# covered_by_region[region] is the set of pattern indexes delivered to any queue there.
covered_by_region := {region: indexes |
	some entry in _covered_entries
	region := entry[1]
	indexes := {i | some e in _covered_entries; e[1] == region; i := e[2]}
}

# [region, pattern index] that a target whose queue is not known may deliver (its rule is known).
maybe_covered contains [_region_or_blank(t), _pattern_index(rule)] if {
	some t in event_targets
	_link_unknown(t, "arn")
	some rule in _target_rules(t)
}

# Regions ("" = any) with a queue, rule or target whose unknown values may complete any pattern.
unknown_regions contains _region_or_blank(q) if {
	some q in queues
	not _known_string(object.get(lib.inputs(q), "name", null))
}

unknown_regions contains _region_or_blank(x) if {
	some x in array.concat(array.concat(queues, event_rules), event_targets)
	lib.is_unknown(lib.inputs(x))
}

unknown_regions contains _region_or_blank(rule) if {
	some rule in event_rules
	_rule_unknown(rule)
}

unknown_regions contains _region_or_blank(t) if {
	some t in event_targets
	_link_unknown(t, "rule")
}

_rule_unknown(rule) if lib.is_unknown(object.get(lib.inputs(rule), "name", null))

_rule_unknown(rule) if not lib.parse_json(object.get(lib.inputs(rule), "eventPattern", null)).ok

# Known regions of the interruption queues in the stack.
_queue_region_set := {r | some regions in queue_regions; some r in regions; r != ""}

# "no" if the NodePool's region has a complete path. A NodePool of unknown region ("") passes
# when the stack's only queue region is complete, and is unknown when there are several.
_path_missing(region) := "no" if {
	region in complete_regions
} else := "no" if {
	region == ""
	count(complete_regions) > 0
	count(_queue_region_set) <= 1
} else := "unknown" if {
	region == ""
	count(complete_regions) > 0
} else := "unknown" if {
	some u in unknown_regions
	_same_region(u, region)
} else := "unknown" if {
	every i, _ in patterns {
		_maybe(region, i)
	}
} else := "yes"

# Pattern i is delivered in region, or may be by a target whose queue ARN is not known yet.
_maybe(region, i) if i in _covered_in(region)

_maybe(region, i) if {
	some pair in maybe_covered
	pair[1] == i
	_same_region(pair[0], region)
}

_missing_patterns(region) := [p["detail-type"][0] |
	some i, p in patterns
	not i in _covered_in(region)
]

_covered_in("") := {i | some indexes in covered_by_region; some i in indexes}

_covered_in(region) := object.get(covered_by_region, region, set()) if region != ""

_region_label("") := "(region unknown)"

_region_label(region) := lib.shown_region(region) if region != ""

# METADATA
# title: Spot NodePool without interruption path
# description: >-
#   A spot NodePool is in a region (or, when its region is not known, a stack) without an SQS
#   queue that EventBridge rules for all five Karpenter patterns (AWS Health Event, EC2 Spot
#   Instance Interruption Warning, EC2 Instance Rebalance Recommendation, EC2 Instance
#   State-change Notification, EC2 Capacity Reservation Instance Interruption Warning) target.
#   Event targets are matched to rules by rule name and to queues by the queue name and region
#   in their ARN. Checked on previews only.
# custom:
#   id: interruption.missing_path
#   severity: deny
#   remediation: >-
#     Create the interruption queue, the five EventBridge rules and their SQS targets in the
#     NodePool's region (the burst interruption component does this) and set Karpenter's
#     settings.interruptionQueue to the queue name.
findings contains lib.finding(rego.metadata.rule(), np.urn, state, msg) if {
	lib.stack_source == "preview"
	some np in lib.nodepools
	spot := lib.spot_state(np)
	spot != "no"
	region := _region_or_blank(np)
	state := lib.tri_and(spot, _path_missing(region))
	state != "no"
	msg := sprintf("spot NodePool %s in %s has no SQS interruption queue receiving all Karpenter events; missing: %s", [np.name, _region_label(region), concat(", ", _missing_patterns(region))])
}

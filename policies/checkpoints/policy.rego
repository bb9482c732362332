# METADATA
# title: Checkpoint intervals
# description: >-
#   Spot workloads checkpoint at an interval near the optimum of the cost model (burst cost):
#   the declared burst.io/checkpoint-interval is compared with the team's optimal interval τ* in
#   guardrails checkpoints, which `burst cost --stack S --guardrails` computes.
package burst.checkpoints

import data.burst.lib

# Input paths each rule judges its subjects on (see burst.main).
reads := {"checkpoints.interval_far_from_optimal": lib.pod_template_reads}

checkpoint_annotation := "burst.io/checkpoint-interval"

team_selector := "burst.io/team"

gpu := "nvidia.com/gpu"

# The band around τ* within which an interval passes: [τ*/2, 2·τ*].
factor := 2

# Each team's τ* (minutes): team-wide and per region, as `burst cost` wrote them.
optimum := object.get(lib.guardrails, ["checkpoints", "teams"], {})

# Pod templates of GPU workloads that tolerate spot ("yes") or may ("unknown"), with that state.
_spot_gpu_templates := [[w, tpl, state] |
	some w in lib.workloads
	some tpl in lib.pod_templates(w)
	state := lib.tri_and(lib.tolerates_spot(tpl.spec), _requests_gpu(tpl.spec))
	state != "no"
]

# "yes" if a container of the pod spec requests or limits nvidia.com/gpu.
_requests_gpu(spec) := "unknown" if {
	not is_object(spec)
} else := "unknown" if {
	lib.is_unknown(object.get(spec, "containers", []))
} else := "yes" if {
	some c in lib.as_list(object.get(spec, "containers", []))
	some kind in ["limits", "requests"]
	object.get(c, ["resources", kind, gpu], null) != null
} else := "unknown" if {
	some c in lib.as_list(object.get(spec, "containers", []))
	_resources_unknown(c)
} else := "no"

_resources_unknown(c) if {
	some path in [[], ["resources"], ["resources", "limits"], ["resources", "requests"]]
	lib.is_unknown(object.get({"c": c}, array.concat(["c"], path), null))
}

# The teams a pod template runs for, as the other rules see them: the team's NodePools it selects
# (nodeSelector burst.io/team), the label team on the workload or its template, and the team
# namespace it is in. Only teams with a τ* in guardrails.
_teams(w, tpl) := {t |
	some t in array.concat(
		array.concat(
			[object.get(tpl.spec, ["nodeSelector", team_selector], null)],
			lib.meta_value(tpl.metas, "labels", "team"),
		),
		[object.get(lib.inputs(w), ["metadata", "namespace"], null)],
	)
	is_string(t)
	optimum[t]
}

# [τ* in minutes, where it is for] of a team for a workload in a region: the region's own when
# the team has one there, else the team-wide one (the worst bucket over its regions).
_tau(team, region) := [entry.optimal_interval_minutes, sprintf("bucket %s in %s", [entry.frequency_bucket, region])] if {
	is_string(region)
	entry := optimum[team].regions[region]
} else := [optimum[team].optimal_interval_minutes, sprintf("bucket %s in %s, the worst of its regions", [optimum[team].frequency_bucket, optimum[team].region])]

# [state, message] of one declared interval against [τ*, where τ* is for].
_verdict(value, optimal) := ["unknown", "its value is unknown at preview"] if {
	lib.is_unknown(value)
} else := ["yes", "it is not a duration such as 45m or 8h"] if {
	not _duration(value)
} else := ["yes", sprintf("%v min is more than %d× τ* (%v min; %s)", [_minutes(value), factor, tau, where])] if {
	[tau, where] := optimal
	_minutes(value) > factor * tau
} else := ["yes", sprintf("%v min is less than 1/%d of τ* (%v min; %s)", [_minutes(value), factor, tau, where])] if {
	[tau, where] := optimal
	_minutes(value) < tau / factor
} else := ["no", ""]

_duration(value) if is_number(_minutes(value))

# A Go duration ("15m", "1h30m", "90s") in minutes; undefined when it is not one.
_minutes(value) := time.parse_duration_ns(value) / 60e9 if is_string(value)

# METADATA
# title: Checkpoint interval far from the optimum
# description: >-
#   A GPU workload that tolerates spot declares burst.io/checkpoint-interval (a duration:
#   15m, 1h30m; on the workload or its pod template) more than 2× or less than 1/2 of its team's
#   optimal interval τ* in guardrails checkpoints.teams: Daly's optimum for the team's
#   checkpointMinutes at the highest-rate Spot Instance Advisor bucket of its GPU pools, in the
#   workload's region when the plan knows it, else the worst over the team's regions. Too
#   long an interval redoes more work per interruption, too short a one spends more time
#   writing checkpoints; both cost more per useful GPU-hour (burst cost shows how much: the
#   curve is flat near τ*). A value that is not a duration is reported too. The team is the
#   one whose NodePools the pod selects (nodeSelector burst.io/team), its label team or its
#   namespace. A spot workload without the annotation is not judged here: it is denied by
#   taints.spot_workload_not_interruption_ready.
# custom:
#   id: checkpoints.interval_far_from_optimal
#   config_key: teams
#   severity: warn
#   remediation: >-
#     Checkpoint at about the team's τ* (`burst cost --stack S` lists it per pool) and declare
#     it in burst.io/checkpoint-interval; when the team's checkpointMinutes or restartMinutes
#     changed, update the stack config and rerun `burst cost --stack S --guardrails`.
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some [w, tpl, spot_gpu] in _spot_gpu_templates
	some [team, team_state] in _candidates(w, tpl)
	some [value, value_state] in _intervals(tpl)
	[verdict, why] := _verdict(value, _tau(team, lib.region(w)))
	state := lib.tri_and(lib.tri_and(spot_gpu, team_state), lib.tri_and(value_state, verdict))
	state != "no"
	msg := sprintf("%s %s (team %s) checkpoints every %s: %s", [w.type, w.name, team, lib.shown_name(value), why])
}

# [team, state] pairs to judge a pod template for: its teams ("yes"), else, when what names its
# team cannot be read, every team with a τ* ("unknown": it may be any of them).
_candidates(w, tpl) := [[t, "yes"] | some t in _teams(w, tpl)] if {
	count(_teams(w, tpl)) > 0
} else := [[t, "unknown"] | some t, _ in optimum] if {
	_team_unknown(w, tpl)
} else := []

_team_unknown(_, tpl) if lib.meta_unknown(tpl.metas, "labels")

_team_unknown(_, tpl) if lib.is_unknown(object.get(tpl.spec, "nodeSelector", {}))

_team_unknown(_, tpl) if lib.is_unknown(object.get(tpl.spec, ["nodeSelector", team_selector], ""))

_team_unknown(w, _) if lib.is_unknown(object.get(lib.inputs(w), ["metadata", "namespace"], ""))

# [value, state] of the declared intervals: each value, or an unknown one when the annotations
# cannot be read; none when the workload declares none (the taints rule's case).
_intervals(tpl) := [[v, "yes"] | some v in _declared(tpl)] if {
	count(_declared(tpl)) > 0
} else := [[lib.unknown_sentinel, "unknown"]] if {
	lib.meta_unknown(tpl.metas, "annotations")
} else := []

_declared(tpl) := [v |
	some v in lib.meta_value(tpl.metas, "annotations", checkpoint_annotation)
	v != ""
]

# METADATA
# title: Quotas and budgets
# description: >-
#   Cost guardrails per team: bounded NodePools, GPU quota per team across Kueue ClusterQueues
#   and Karpenter NodePools, known teams only, and an AWS Budget with actual and forecast alerts
#   for every team that owns resources.
package burst.quotas

import data.burst.lib

_team_label := ["metadata", "labels", "team"]

# Input paths each rule judges its subjects on (see burst.main).
reads := {
	"quotas.nodepool_without_limits": {"kubernetes:karpenter.sh:NodePool": [["spec", "limits"], ["spec", "replicas"]]},
	"quotas.team_gpu_over_quota": {
		"kubernetes:kueue.x-k8s.io:ClusterQueue": [["spec", "resourceGroups"], ["spec", "cohortName"], _team_label],
		"kubernetes:karpenter.sh:NodePool": [["spec", "limits"], _team_label, ["spec", "template", "metadata", "labels", "team"]],
	},
	"quotas.unknown_team": {
		"aws:*": [["tags", "team"], ["tagsAll", "team"]],
		"kubernetes:*": [_team_label],
	},
	"quotas.team_without_budget": {},
	"quotas.budget_over_limit": {budget_type: [["limitAmount"], ["limitUnit"], ["timeUnit"], ["budgetType"], ["costFilters"], ["filterExpression"]]},
	"quotas.budget_missing_notifications": {budget_type: [["notifications"]]},
}

# On a preview that leaves unchanged resources out: a team's GPU total needs every queue and
# pool of the team; budget coverage needs the whole stack when a budget changes (it may stop
# covering a team whose resources are not shown) or a shown resource belongs to a team.
partial_undecided contains "quotas.team_gpu_over_quota" if {
	lib.touches({"kubernetes:kueue.x-k8s.io:ClusterQueue", "kubernetes:karpenter.sh:NodePool"})
}

partial_undecided contains "quotas.team_without_budget" if lib.touches({budget_type})

partial_undecided contains "quotas.team_without_budget" if {
	some _, _ in owning_teams
}

partial_undecided contains "quotas.team_without_budget" if _unknown_owner

gpu := "nvidia.com/gpu"

budget_type := "aws:budgets/budget:Budget"

cluster_queues := lib.of_type("kubernetes:kueue.x-k8s.io:ClusterQueue")

budgets := lib.of_type(budget_type)

# ---------------------------------------------------------------------------------------------
# quotas.nodepool_without_limits
# ---------------------------------------------------------------------------------------------

_limits_state(np) := "unknown" if {
	lib.is_unknown(object.get(lib.inputs(np), ["spec", "limits"], {}))
} else := "no" if {
	object.get(lib.inputs(np), ["spec", "replicas"], null) != null
} else := "no" if {
	count(lib.as_object(object.get(lib.inputs(np), ["spec", "limits"], {}))) > 0
} else := "yes"

# METADATA
# title: NodePool without limits
# description: >-
#   A Karpenter NodePool has no spec.limits, so it can launch capacity without bound (a stuck
#   job or a bad deployment can buy hundreds of GPU instances). Static NodePools (spec.replicas)
#   are bounded by their replica count and pass.
# custom:
#   id: quotas.nodepool_without_limits
#   config_key: gpu
#   severity: deny
#   remediation: >-
#     Set spec.limits on the NodePool (cpu, memory and nvidia.com/gpu for GPU pools), sized from
#     the team's quota in guardrails.
findings contains lib.finding(rego.metadata.rule(), np.urn, state, msg) if {
	some np in lib.nodepools
	state := _limits_state(np)
	state != "no"
	msg := sprintf("NodePool %s has no spec.limits", [np.name])
}

# ---------------------------------------------------------------------------------------------
# quotas.team_gpu_over_quota
# ---------------------------------------------------------------------------------------------

_resource_groups(cq) := object.get(lib.inputs(cq), ["spec", "resourceGroups"], [])

# nominalQuota and borrowingLimit values of nvidia.com/gpu over all flavors of a ClusterQueue.
_cq_gpu_values(cq) := [v |
	some res in _cq_gpu_resources(cq)
	some k in ["nominalQuota", "borrowingLimit"]
	v := res[k]
]

# GPU resources of a ClusterQueue over all flavors.
_cq_gpu_resources(cq) := [res |
	some g in lib.as_list(_resource_groups(cq))
	some f in lib.as_list(object.get(g, "flavors", []))
	some res in lib.as_list(object.get(f, "resources", []))
	object.get(res, "name", "") == gpu
]

# In a cohort, a GPU resource without borrowingLimit may borrow every idle GPU of the cohort.
_cq_unbounded(cq) if {
	object.get(lib.inputs(cq), ["spec", "cohortName"], "") != ""
	some res in _cq_gpu_resources(cq)
	not "borrowingLimit" in object.keys(res)
} else := false

# True if the list structure of the resource groups (not just a quantity) is unknown.
_cq_structure_unknown(cq) if {
	walk(_resource_groups(cq), [path, v])
	lib.is_unknown(v)
	_structural(path)
}

_structural(path) if count(path) < 2

_structural(path) if path[count(path) - 1] in {"flavors", "resources", "name"}

_structural(path) if {
	is_number(path[count(path) - 1])
	path[count(path) - 2] in {"flavors", "resources"}
}

_np_gpu_values(np) := [lib.unknown_sentinel] if {
	lib.is_unknown(object.get(lib.inputs(np), ["spec", "limits"], {}))
} else := [v | v := lib.inputs(np).spec.limits[gpu]]

# One contribution to a team's GPU total per ClusterQueue and NodePool with a team.
contributions contains {"team": team, "urn": r.urn, "kind": kind, "amount": sum(nums), "unknown": unknown, "unbounded": unbounded} if {
	some [kind, r, values, structure_unknown, unbounded] in _gpu_sources
	some team in lib.teams_of(r)
	not lib.is_unknown(team)
	nums := [n | some v in values; n := lib.quantity(v)]
	unknown := _any([structure_unknown, count(nums) < count(values)])
}

# [kind, resource, GPU quantities, structure unknown, unbounded borrowing] (a list: resources
# are not hashed).
_gpu_sources := array.concat(
	[["ClusterQueue", cq, _cq_gpu_values(cq), _structure_unknown(cq), _cq_unbounded(cq)] | some cq in cluster_queues],
	[["NodePool", np, _np_gpu_values(np), false, false] | some np in lib.nodepools],
)

_structure_unknown(cq) if {
	_cq_structure_unknown(cq)
} else := false

_any(xs) if true in xs

_any(xs) := false if not true in xs

# Per-team totals for the teams in guardrails (each team's contributions gathered once).
team_totals[team] := {
	"ClusterQueue": sum([c.amount | some c in cs; c.kind == "ClusterQueue"]),
	"NodePool": sum([c.amount | some c in cs; c.kind == "NodePool"]),
	"unknown": _any(array.concat([c.unknown | some c in cs], [_team_unknown_source])),
	"unbounded": _any([c.unbounded | some c in cs]),
} if {
	some team, _ in lib.guardrails.teams
	cs := [c | some c in contributions; c.team == team]
}

# True if a ClusterQueue or NodePool may belong to any team: its team label cannot be read.
_team_unknown_source if {
	some r in array.concat(cluster_queues, lib.nodepools)
	some path in [["metadata", "labels", "team"], ["spec", "template", "metadata", "labels", "team"]]
	lib.unknown_at(r, path)
} else := false

_gpu_state(totals, quota) := "yes" if {
	totals.unbounded
} else := "yes" if {
	totals.ClusterQueue + totals.NodePool > quota
} else := "unknown" if {
	totals.unknown
}

# METADATA
# title: Team GPU quota exceeded
# description: >-
#   The GPUs a team can hold, the sum over its ClusterQueues (label team) of nvidia.com/gpu
#   nominalQuota plus borrowingLimit over all flavors plus spec.limits nvidia.com/gpu of its
#   NodePools (label team on the NodePool or its node template), are above the team's
#   gpu_quota in guardrails. In a cohort, a GPU resource without borrowingLimit may borrow
#   without bound, which always exceeds the quota. Reported on every contributing resource.
# custom:
#   id: quotas.team_gpu_over_quota
#   config_key: teams
#   severity: deny
#   remediation: >-
#     Lower the ClusterQueue quotas/borrowing limits or the NodePool GPU limits of the team, or
#     raise gpu_quota for the team in policies/data/guardrails.yaml after approval.
findings contains lib.finding(rego.metadata.rule(), c.urn, state, msg) if {
	some c in contributions
	quota := lib.guardrails.teams[c.team].gpu_quota
	totals := team_totals[c.team]
	_contributes(c)
	state := _gpu_state(totals, quota)
	msg := _gpu_message(c.team, totals, quota)
}

_gpu_message(team, totals, quota) := sprintf(
	"team %s: a ClusterQueue in a cohort has no nvidia.com/gpu borrowingLimit, so it may borrow without bound (quota %v)",
	[team, quota],
) if {
	totals.unbounded
} else := sprintf(
	"team %s: ClusterQueues grant %v GPUs (nominal + borrowing) and NodePools allow %v, %v in total, above the quota of %v",
	[team, totals.ClusterQueue, totals.NodePool, totals.ClusterQueue + totals.NodePool, quota],
)

_contributes(c) if c.amount > 0

_contributes(c) if c.unbounded

_contributes(c) if c.unknown

# ---------------------------------------------------------------------------------------------
# quotas.unknown_team
# ---------------------------------------------------------------------------------------------

# [team, urn, type] for every resource that names a team (computed once, per type group).
team_claims := array.concat(
	[[t, r.urn, type] |
		some type in lib.raw_types
		startswith(type, "aws:")
		some r in lib.by_raw_type[type]
		some t in lib.aws_teams(r)
	],
	[[t, r.urn, type] |
		some type in lib.raw_types
		startswith(type, "kubernetes:")
		some r in lib.by_raw_type[type]
		some t in lib.k8s_teams(r)
	],
)

# METADATA
# title: Unknown team
# description: >-
#   A resource is tagged (AWS tag team) or labelled (Kubernetes label team, also on a NodePool's
#   node template) with a team that is not in guardrails teams, so no quota or budget applies.
# custom:
#   id: quotas.unknown_team
#   config_key: teams
#   severity: deny
#   remediation: >-
#     Use one of the teams in policies/data/guardrails.yaml, or add the team there with its GPU
#     quota and monthly budget.
findings contains lib.finding(rego.metadata.rule(), urn, state, msg) if {
	some [team, urn, _] in team_claims
	state := _team_state(team)
	state != "no"
	msg := sprintf("team %v is not in guardrails (known: %v)", [lib.shown_name(team), sort(object.keys(lib.guardrails.teams))])
}

_team_state(team) := "unknown" if {
	lib.is_unknown(team)
} else := "no" if {
	lib.guardrails.teams[team]
} else := "yes"

# ---------------------------------------------------------------------------------------------
# Budgets
# ---------------------------------------------------------------------------------------------

covered_teams contains t if {
	some b in budgets
	some t in lib.budget_teams(b)
}

_any_budget_scope_unknown if {
	some b in budgets
	lib.budget_scope_unknown(b)
}

_owner_claims := [claim |
	some claim in team_claims
	claim[2] != budget_type
	not lib.is_unknown(claim[0])
]

# Teams that own at least one resource other than a budget, with their resource counts.
_owners contains claim[0] if some claim in _owner_claims

owning_teams := {team: n |
	some team in _owners
	n := count([1 | some c in _owner_claims; c[0] == team])
}

# METADATA
# title: Team without a budget
# description: >-
#   A team owns resources in the stack but no AWS Budget is scoped to it (cost filter
#   TagKeyValue user:team$<team> or filter expression on tag team). Checked on previews only:
#   manifests-only input carries no budgets.
# custom:
#   id: quotas.team_without_budget
#   config_key: teams
#   severity: deny
#   remediation: >-
#     Add an aws.budgets.Budget for the team with a TagKeyValue cost filter user:team$<team>,
#     a MONTHLY limit within the team's monthly_budget_usd and ACTUAL and FORECASTED alerts.
findings contains lib.finding(rego.metadata.rule(), "stack", state, msg) if {
	lib.stack_source == "preview"
	some [state, msg] in _budget_verdicts
}

_budget_verdicts contains [_budget_state, msg] if {
	some team, n in owning_teams
	not team in covered_teams
	msg := sprintf("team %s owns %d resources but no AWS Budget is scoped to it", [team, n])
}

# A resource whose team cannot be read may belong to a team that has no budget.
_budget_verdicts contains ["unknown", msg] if {
	_unknown_owner
	uncovered := sort([t | some t, _ in lib.guardrails.teams; not t in covered_teams])
	count(uncovered) > 0
	msg := sprintf("a resource's team is unknown at preview; teams without an AWS Budget: %v", [uncovered])
}

_team_paths := {
	"aws": [["tags", "team"], ["tagsAll", "team"]],
	"kubernetes": [["metadata", "labels", "team"], ["spec", "template", "metadata", "labels", "team"]],
}

_unknown_owner if {
	some r in lib.resources
	r.urn in lib.urns_with_unknowns
	r.type != budget_type
	some path in object.get(_team_paths, split(r.type, ":")[0], [])
	lib.unknown_at(r, path)
}

_budget_state := "unknown" if {
	_any_budget_scope_unknown
} else := "yes"

# Factor from a budget's time unit to a month (DAILY counts 30 days).
_monthly_factor := {"MONTHLY": 1, "QUARTERLY": 1 / 3, "ANNUALLY": 1 / 12, "DAILY": 30}

_budget_limit_state(amount, unit, cap) := "unknown" if {
	lib.is_unknown(amount)
} else := "unknown" if {
	lib.is_unknown(unit)
} else := "yes" if {
	to_number(amount) * _monthly_factor[unit] > cap
} else := "no" if {
	_monthly_factor[unit]
	to_number(amount)
} else := "unknown"

# METADATA
# title: Budget above the team's monthly budget
# description: >-
#   A COST budget scoped to known teams has a limit above the sum of their monthly_budget_usd.
#   Limits are converted to a month: QUARTERLY / 3, ANNUALLY / 12, DAILY * 30; another time unit
#   or a limit that is not a number cannot be compared and is reported as unknown. Budgets without
#   a limitAmount (auto-adjusting or planned limits) or in another currency are not checked.
# custom:
#   id: quotas.budget_over_limit
#   config_key: teams
#   severity: deny
#   remediation: >-
#     Lower limit_amount to the team's monthly_budget_usd (converted to the budget's time unit),
#     or raise the team's budget in policies/data/guardrails.yaml after approval.
findings contains lib.finding(rego.metadata.rule(), urn, state, msg) if {
	some [urn, state, msg] in _limit_verdicts
}

_limit_verdicts contains [b.urn, "unknown", msg] if {
	some b in budgets
	count(lib.budget_teams(b)) == 0
	lib.budget_scope_unknown(b)
	msg := sprintf("budget %s: the teams it is scoped to are unknown at preview", [b.name])
}

_limit_verdicts contains [b.urn, state, msg] if {
	some b in budgets
	teams := lib.budget_teams(b)
	count(teams) > 0
	every t in teams {
		lib.guardrails.teams[t]
	}
	object.get(lib.inputs(b), "budgetType", "COST") == "COST"
	object.get(lib.inputs(b), "limitUnit", "USD") in {"USD", lib.unknown_sentinel}
	amount := lib.inputs(b).limitAmount
	unit := object.get(lib.inputs(b), "timeUnit", "MONTHLY")
	cap := sum([lib.guardrails.teams[t].monthly_budget_usd | some t in teams])
	state := _budget_limit_state(amount, unit, cap)
	state != "no"
	msg := sprintf("budget %s limits %v USD %v for teams %v, above their monthly budget of %v USD", [b.name, _shown(amount), _shown(unit), sort([t | some t in teams]), cap])
}

_shown(x) := "(unknown)" if {
	lib.is_unknown(x)
} else := x

# Notifications of a budget.
_notifications(b) := object.get(lib.inputs(b), "notifications", [])

_alert_types := ["ACTUAL", "FORECASTED"]

# An unknown subscriber value (an SNS topic ARN not yet created) still counts as a subscriber.
_has_subscriber(n) if count(lib.as_list(object.get(n, "subscriberEmailAddresses", []))) > 0

_has_subscriber(n) if count(lib.as_list(object.get(n, "subscriberSnsTopicArns", []))) > 0

_has_alert(b, type) if {
	some n in lib.as_list(_notifications(b))
	object.get(n, "notificationType", "") == type
	_has_subscriber(n)
}

_notifications_state(b, missing) := "unknown" if {
	lib.is_unknown(_notifications(b))
} else := "no" if {
	count(missing) == 0
} else := "unknown" if {
	lib.contains_unknown(_notifications(b))
} else := "yes"

# METADATA
# title: Budget without actual and forecast alerts
# description: >-
#   An AWS Budget lacks an ACTUAL or a FORECASTED notification with at least one subscriber
#   (e-mail address or SNS topic), so nobody hears about an overrun before or when it happens.
# custom:
#   id: quotas.budget_missing_notifications
#   config_key: teams
#   severity: deny
#   remediation: >-
#     Add two notifications to the budget, notification_type ACTUAL and FORECASTED (for example
#     at 80 and 100 PERCENTAGE), each with subscriber e-mail addresses or an SNS topic.
findings contains lib.finding(rego.metadata.rule(), b.urn, state, msg) if {
	some b in budgets
	missing := [t | some t in _alert_types; not _has_alert(b, t)]
	state := _notifications_state(b, missing)
	state != "no"
	msg := sprintf("budget %s has no %v notification with a subscriber", [b.name, concat(" or ", missing)])
}

# METADATA
# title: Spot and GPU isolation
# description: >-
#   Spot and GPU capacity is opt-in: spot and GPU NodePools and spot Kueue flavors are tainted,
#   spot pools are diversified across instance types, and only interruption-ready, queued,
#   non-critical workloads tolerate spot.
package burst.taints

import data.burst.lib

# Input paths each rule judges its subjects on (see burst.main).
reads := {
	"taints.spot_without_taint": {"kubernetes:karpenter.sh:NodePool": [["spec", "template", "spec", "requirements"], ["spec", "template", "spec", "taints"]]},
	"taints.gpu_without_taint": {"kubernetes:karpenter.sh:NodePool": [["spec", "template", "spec", "requirements"], ["spec", "template", "spec", "taints"]]},
	"taints.spot_not_diversified": {"kubernetes:karpenter.sh:NodePool": [["spec", "template", "spec", "requirements"]]},
	"taints.flavor_without_spot_taint": {"kubernetes:kueue.x-k8s.io:ResourceFlavor": [["spec", "nodeLabels"], ["spec", "nodeTaints"], ["spec", "tolerations"]]},
	"taints.spot_workload_not_interruption_ready": lib.pod_template_reads,
	"taints.spot_workload_without_queue": lib.pod_template_reads,
	"taints.critical_on_spot": lib.pod_template_reads,
	"taints.gpu_workload_off_team_pool": lib.pod_template_reads,
	"taints.foreign_local_queue": lib.pod_template_reads,
}

gpu_taint_key := "nvidia.com/gpu"

min_types := lib.guardrails.spot.min_instance_types

# ---------------------------------------------------------------------------------------------
# NodePools
# ---------------------------------------------------------------------------------------------

# METADATA
# title: Spot NodePool without spot taint
# description: >-
#   A NodePool whose requirements allow spot capacity (no karpenter.sh/capacity-type
#   requirement, In containing spot, or NotIn without spot) has no NoSchedule/NoExecute taint
#   with the guardrails spot.taint_key, so any pod can land on interruptible nodes.
# custom:
#   id: taints.spot_without_taint
#   severity: deny
#   remediation: >-
#     Add the taint {key: spot, value: "true", effect: NoSchedule} to spec.template.spec.taints,
#     or restrict karpenter.sh/capacity-type to on-demand.
findings contains lib.finding(rego.metadata.rule(), np.urn, state, msg) if {
	some np in lib.nodepools
	state := lib.tri_and(lib.spot_state(np), lib.tri_not(lib.taint_state(np, lib.spot_taint_key)))
	state != "no"
	msg := sprintf("NodePool %s allows spot capacity but has no NoSchedule/NoExecute taint %s", [np.name, lib.spot_taint_key])
}

_gpu_keys := {
	"karpenter.k8s.aws/instance-gpu-count",
	"karpenter.k8s.aws/instance-gpu-name",
	"karpenter.k8s.aws/instance-gpu-manufacturer",
	"karpenter.k8s.aws/instance-gpu-memory",
}

_gpu_prefix(v) if startswith(v, "g")

_gpu_prefix(v) if startswith(v, "p")

# True if a requirement selects (or admits only) GPU instances.
_gpu_requirement(q) if {
	q.key in _gpu_keys
	q.operator in {"In", "Exists", "Gt", "Gte"}
	not _only_zero_gpus(q)
}

_gpu_requirement(q) if {
	q.key == "karpenter.k8s.aws/instance-category"
	q.operator == "In"
	some v in q.values
	v in {"g", "p"}
}

_gpu_requirement(q) if {
	q.key in {"karpenter.k8s.aws/instance-family", "node.kubernetes.io/instance-type"}
	q.operator == "In"
	some v in q.values
	_gpu_prefix(v)
}

_only_zero_gpus(q) if {
	q.key == "karpenter.k8s.aws/instance-gpu-count"
	q.operator == "In"
	every v in q.values {
		v == "0"
	}
}

# "yes" if the NodePool can launch GPU instances.
gpu_state(np) := "unknown" if {
	lib.is_unknown(lib.requirements(np))
} else := "yes" if {
	some q in lib.requirements(np)
	_gpu_requirement(q)
} else := "unknown" if {
	some q in lib.requirements(np)
	lib.contains_unknown(q)
} else := "no"

# METADATA
# title: GPU NodePool without GPU taint
# description: >-
#   A NodePool that can launch GPU instances (requirements on instance-gpu-count, -name,
#   -manufacturer or -memory, instance-category g or p, or a g*/p* instance family or type) has
#   no NoSchedule/NoExecute taint nvidia.com/gpu, so CPU pods can occupy expensive GPU nodes.
# custom:
#   id: taints.gpu_without_taint
#   severity: deny
#   remediation: >-
#     Add the taint {key: nvidia.com/gpu, effect: NoSchedule} to spec.template.spec.taints.
findings contains lib.finding(rego.metadata.rule(), np.urn, state, msg) if {
	some np in lib.nodepools
	state := lib.tri_and(gpu_state(np), lib.tri_not(lib.taint_state(np, gpu_taint_key)))
	state != "no"
	msg := sprintf("NodePool %s can launch GPU instances but has no NoSchedule/NoExecute taint %s", [np.name, gpu_taint_key])
}

_instance_type_key := "node.kubernetes.io/instance-type"

_family_key := "karpenter.k8s.aws/instance-family"

_narrow(q, _) := sprintf("%s In %v has fewer than %d values", [q.key, q.values, min_types]) if {
	q.key == _instance_type_key
	q.operator == "In"
	not lib.contains_unknown(q.values)
	count(q.values) < min_types
}

_narrow(q, reqs) := sprintf("%s In %v is a single family and no requirement sets minValues >= %d", [q.key, q.values, min_types]) if {
	q.key == _family_key
	q.operator == "In"
	not lib.contains_unknown(q.values)
	count(q.values) == 1
	not _min_values_diversified(reqs)
}

_min_values_diversified(reqs) if {
	some q in reqs
	is_number(q.minValues)
	q.minValues >= min_types
}

# [state, reason] of a NodePool's instance diversification.
_diversification(np) := ["unknown", "requirements are unknown"] if {
	lib.is_unknown(lib.requirements(np))
} else := ["yes", concat("; ", reasons)] if {
	reasons := [reason | some q in lib.requirements(np); reason := _narrow(q, lib.requirements(np))]
	count(reasons) > 0
} else := ["unknown", "instance requirements are unknown"] if {
	some q in lib.requirements(np)
	lib.contains_unknown(q)
	_maybe_instance_key(_key(q))
} else := ["no", ""]

# The key of a requirement; unknown when the requirement itself is.
_key(q) := object.get(q, "key", lib.unknown_sentinel) if {
	is_object(q)
} else := lib.unknown_sentinel

_maybe_instance_key(key) if key in {_instance_type_key, _family_key}

_maybe_instance_key(key) if lib.is_unknown(key)

# METADATA
# title: Spot NodePool not diversified
# description: >-
#   A spot NodePool pins too few instance types to survive spot capacity shortages: a
#   node.kubernetes.io/instance-type In list shorter than guardrails spot.min_instance_types,
#   or a single karpenter.k8s.aws/instance-family unless some requirement sets minValues >=
#   spot.min_instance_types (Karpenter then keeps that many distinct values in every launch).
# custom:
#   id: taints.spot_not_diversified
#   severity: deny
#   remediation: >-
#     Allow at least spot.min_instance_types instance types (several sizes and families, e.g.
#     g5, g6, g6e) and set minValues on the instance-type or instance-family requirement.
findings contains lib.finding(rego.metadata.rule(), np.urn, state, msg) if {
	some np in lib.nodepools
	[div_state, reason] := _diversification(np)
	state := lib.tri_and(lib.spot_state(np), div_state)
	state != "no"
	msg := sprintf("spot NodePool %s is not diversified: %s", [np.name, reason])
}

# ---------------------------------------------------------------------------------------------
# Kueue ResourceFlavors
# ---------------------------------------------------------------------------------------------

_flavor_spec(rf) := object.get(lib.inputs(rf), "spec", {})

_flavor_selects_spot(rf) := "yes" if {
	object.get(_flavor_spec(rf), ["nodeLabels", lib.capacity_type_key], "") == "spot"
} else := "unknown" if {
	lib.contains_unknown(object.get(_flavor_spec(rf), "nodeLabels", {}))
} else := "no"

_flavor_protected(rf) := "yes" if {
	some t in lib.as_list(object.get(_flavor_spec(rf), "nodeTaints", []))
	t.key == lib.spot_taint_key
	t.effect in {"NoSchedule", "NoExecute"}
} else := "yes" if {
	some tol in lib.as_list(object.get(_flavor_spec(rf), "tolerations", []))
	lib.tolerates_spot_toleration(tol)
} else := "unknown" if {
	lib.contains_unknown([object.get(_flavor_spec(rf), "nodeTaints", []), object.get(_flavor_spec(rf), "tolerations", [])])
} else := "no"

# METADATA
# title: Spot ResourceFlavor without spot taint
# description: >-
#   A Kueue ResourceFlavor selects spot nodes (nodeLabels karpenter.sh/capacity-type: spot) but
#   neither declares the spot taint in spec.nodeTaints nor a matching toleration in
#   spec.tolerations, so Kueue's view of the flavor does not match the tainted spot nodes.
# custom:
#   id: taints.flavor_without_spot_taint
#   severity: deny
#   remediation: >-
#     Add {key: spot, value: "true", effect: NoSchedule} to spec.nodeTaints (workloads opt in) or
#     a toleration for the spot taint to spec.tolerations (Kueue injects it on admission).
findings contains lib.finding(rego.metadata.rule(), rf.urn, state, msg) if {
	some rf in lib.of_type("kubernetes:kueue.x-k8s.io:ResourceFlavor")
	state := lib.tri_and(_flavor_selects_spot(rf), lib.tri_not(_flavor_protected(rf)))
	state != "no"
	msg := sprintf("ResourceFlavor %s selects spot nodes without the %s taint or toleration", [rf.name, lib.spot_taint_key])
}

# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------

checkpoint_annotation := "burst.io/checkpoint-interval"

queue_label := "kueue.x-k8s.io/queue-name"

priority_label := "kueue.x-k8s.io/priority-class"

min_grace_seconds := 60

# Pod templates of workloads that tolerate spot ("yes") or may ("unknown").
spot_templates := [[w, tpl, tol] |
	some w in lib.workloads
	some tpl in lib.pod_templates(w)
	tol := lib.tolerates_spot(tpl.spec)
	tol != "no"
]

_grace(spec) := ["unknown", []] if {
	lib.is_unknown(object.get(spec, "terminationGracePeriodSeconds", 30))
} else := ["no", []] if {
	grace := object.get(spec, "terminationGracePeriodSeconds", 30)
	is_number(grace)
	grace >= min_grace_seconds
} else := ["yes", [sprintf("terminationGracePeriodSeconds >= %d", [min_grace_seconds])]]

_annotation(tpl) := ["no", []] if {
	some v in lib.meta_value(tpl.metas, "annotations", checkpoint_annotation)
	v != ""
} else := ["unknown", []] if {
	lib.meta_unknown(tpl.metas, "annotations")
} else := ["yes", [sprintf("annotation %s", [checkpoint_annotation])]]

_prestop(spec) := ["unknown", []] if {
	lib.is_unknown(object.get(spec, "containers", []))
} else := ["yes", ["a preStop hook on every container"]] if {
	some c in object.get(spec, "containers", [])
	not _prestop_unknown(c)
	not c.lifecycle.preStop
} else := ["unknown", []] if {
	some c in object.get(spec, "containers", [])
	_prestop_unknown(c)
} else := ["no", []]

# True if whether the container has a preStop hook is unknown (it, or its lifecycle, is).
_prestop_unknown(c) if {
	some path in [[], ["lifecycle"], ["lifecycle", "preStop"]]
	lib.is_unknown(object.get({"c": c}, array.concat(["c"], path), null))
}

# [state, missing items] of a pod template's interruption readiness ("yes" = not ready).
_not_ready(tpl) := [state, missing] if {
	checks := [_grace(tpl.spec), _annotation(tpl), _prestop(tpl.spec)]
	missing := [m | some [_, ms] in checks; some m in ms]
	state := _combine([s | some [s, _] in checks])
}

_combine(states) := "yes" if {
	"yes" in states
} else := "unknown" if {
	"unknown" in states
} else := "no"

# METADATA
# title: Spot workload not interruption-ready
# description: >-
#   A workload (Pod, Job, CronJob, Deployment, StatefulSet, JobSet) tolerates the spot taint but
#   cannot survive a 2-minute interruption notice: it needs the annotation
#   burst.io/checkpoint-interval (on the workload or its pod template),
#   terminationGracePeriodSeconds of at least 60 and a preStop hook on every container.
# custom:
#   id: taints.spot_workload_not_interruption_ready
#   severity: deny
#   remediation: >-
#     Checkpoint periodically and declare the interval in burst.io/checkpoint-interval, set
#     terminationGracePeriodSeconds to 90-110 and add a preStop hook that flushes a final
#     checkpoint.
#   admission:
#     cel: >-
#       !variables.toleratesSpot ||
#       (variables.annotations.exists(a, 'burst.io/checkpoint-interval' in a &&
#       a['burst.io/checkpoint-interval'] != '') &&
#       has(variables.podSpec.terminationGracePeriodSeconds) &&
#       variables.podSpec.terminationGracePeriodSeconds >= 60 &&
#       variables.podSpec.containers.all(c, has(c.lifecycle) && has(c.lifecycle.preStop)))
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some [w, tpl, tol] in spot_templates
	[ready_state, missing] := _not_ready(tpl)
	state := lib.tri_and(tol, ready_state)
	state != "no"
	msg := sprintf("%s %s tolerates spot but lacks: %s", [w.type, w.name, _listed(missing)])
}

_listed(items) := concat(", ", items) if {
	count(items) > 0
} else := "values that are unknown"

# METADATA
# title: Spot workload without Kueue queue
# description: >-
#   A workload tolerates the spot taint but has no kueue.x-k8s.io/queue-name label, so it
#   bypasses Kueue quotas and fair sharing and can consume spot capacity unaccounted.
# custom:
#   id: taints.spot_workload_without_queue
#   severity: deny
#   remediation: >-
#     Label the workload (or its pod template) with kueue.x-k8s.io/queue-name naming the team's
#     LocalQueue.
#   admission:
#     cel: >-
#       !variables.toleratesSpot ||
#       variables.labels.exists(l, 'kueue.x-k8s.io/queue-name' in l &&
#       l['kueue.x-k8s.io/queue-name'] != '')
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some [w, tpl, tol] in spot_templates
	state := lib.tri_and(tol, _queue_missing(tpl))
	state != "no"
	msg := sprintf("%s %s tolerates spot but has no %s label", [w.type, w.name, queue_label])
}

_queue_missing(tpl) := "no" if {
	some v in lib.meta_value(tpl.metas, "labels", queue_label)
	v != ""
} else := "unknown" if {
	lib.meta_unknown(tpl.metas, "labels")
} else := "yes"

_critical_name(v) if {
	is_string(v)
	contains(lower(v), "critical")
}

# "yes" if a pod template names a critical priority class.
_critical(tpl) := "yes" if {
	_critical_name(object.get(tpl.spec, "priorityClassName", ""))
} else := "yes" if {
	some v in lib.meta_value(tpl.metas, "labels", priority_label)
	_critical_name(v)
} else := "unknown" if {
	lib.is_unknown(object.get(tpl.spec, "priorityClassName", ""))
} else := "unknown" if {
	some v in lib.meta_value(tpl.metas, "labels", priority_label)
	lib.is_unknown(v)
} else := "no"

# METADATA
# title: Critical workload on spot
# description: >-
#   A workload whose priorityClassName or kueue.x-k8s.io/priority-class label names a critical
#   class (the name contains "critical") tolerates the spot taint or selects
#   karpenter.sh/capacity-type spot. Critical work must not run on interruptible capacity.
# custom:
#   id: taints.critical_on_spot
#   severity: deny
#   remediation: >-
#     Remove the spot toleration and capacity-type selector (run on on-demand or reserved
#     capacity), or use a non-critical priority class for interruptible work.
#   admission:
#     cel: >-
#       !(variables.toleratesSpot || variables.selectsSpot) ||
#       !((has(variables.podSpec.priorityClassName) &&
#       variables.podSpec.priorityClassName.lowerAscii().contains('critical')) ||
#       variables.labels.exists(l, 'kueue.x-k8s.io/priority-class' in l &&
#       l['kueue.x-k8s.io/priority-class'].lowerAscii().contains('critical')))
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some w in lib.workloads
	some tpl in lib.pod_templates(w)
	crit := _critical(tpl)
	crit != "no"
	spot := lib.tri_or(lib.tolerates_spot(tpl.spec), lib.selects_spot(tpl.spec))
	state := lib.tri_and(crit, spot)
	state != "no"
	msg := sprintf("%s %s has a critical priority class and runs on spot", [w.type, w.name])
}

team_label := "burst.io/team"

# The team of a namespace (unknown_sentinel when it cannot be read): the `team` label of the
# input's Namespace of that name; when the input has none, the name itself if it is a guardrails
# team (team namespaces are named after the team); undefined for other namespaces.
namespace_team(ns) := lib.unknown_sentinel if {
	lib.is_unknown(ns)
} else := lib.unknown_sentinel if {
	some n in lib.of_type("kubernetes:core:Namespace")
	_names(n, ns)
	lib.meta_unknown([lib.inputs(n)], "labels")
} else := lib.unknown_sentinel if {
	some n in lib.of_type("kubernetes:core:Namespace")
	lib.meta_unknown([lib.inputs(n)], "name")
} else := team if {
	teams := {object.get(lib.inputs(n), ["metadata", "labels", "team"], null) |
		some n in lib.of_type("kubernetes:core:Namespace")
		_names(n, ns)
	}
	count(teams) == 1
	some team in teams
	team != null
} else := ns if {
	not _declared(ns)
	ns in object.keys(object.get(lib.guardrails, "teams", {}))
}

_declared(ns) if {
	some n in lib.of_type("kubernetes:core:Namespace")
	_names(n, ns)
}

# True if the Namespace resource n is the namespace ns.
_names(n, ns) if object.get(lib.inputs(n), ["metadata", "name"], "") == ns

# The namespace of a workload (unknown_sentinel when it cannot be read).
_namespace(w) := lib.unknown_sentinel if {
	lib.meta_unknown([lib.inputs(w)], "namespace")
} else := object.get(lib.inputs(w), ["metadata", "namespace"], "default")

_gpu_resource(c) if {
	some kind in ["limits", "requests"]
	gpu_taint_key in object.keys(lib.as_object(object.get(c, ["resources", kind], {})))
}

# "yes" if a pod spec's containers (init containers included) ask for GPUs.
_gpu_state(spec) := "yes" if {
	some key in ["containers", "initContainers"]
	some c in lib.as_list(object.get(lib.as_object(spec), key, []))
	_gpu_resource(c)
} else := "unknown" if {
	lib.contains_unknown([object.get(lib.as_object(spec), key, []) | some key in ["containers", "initContainers"]])
} else := "unknown" if {
	not is_object(spec)
} else := "no"

_tolerates_team(tol, _) if {
	object.get(tol, "effect", "") in {"", "NoSchedule"}
	tol.key == team_label
	object.get(tol, "operator", "Equal") == "Exists"
}

_tolerates_team(tol, team) if {
	object.get(tol, "effect", "") in {"", "NoSchedule"}
	tol.key == team_label
	object.get(tol, "operator", "Equal") == "Equal"
	object.get(tol, "value", "") == team
}

_tolerates_team(tol, _) if {
	object.get(tol, "effect", "") in {"", "NoSchedule"}
	tol.operator == "Exists"
	object.get(tol, "key", "") == ""
}

# "yes" if the pod spec does not select the team's nodes by nodeSelector burst.io/team.
_selector_off(spec, team) := "unknown" if {
	lib.is_unknown(team)
} else := "no" if {
	object.get(spec, ["nodeSelector", team_label], null) == team
} else := "unknown" if {
	lib.contains_unknown(object.get(spec, "nodeSelector", {}))
} else := "yes"

# "yes" if the pod spec does not tolerate the team's burst.io/team taint.
_toleration_off(spec, team) := "unknown" if {
	lib.is_unknown(team)
} else := "no" if {
	some tol in lib.as_list(object.get(spec, "tolerations", []))
	_tolerates_team(tol, team)
} else := "unknown" if {
	lib.contains_unknown(object.get(spec, "tolerations", []))
} else := "yes"

# METADATA
# title: GPU workload outside its team's capacity
# description: >-
#   A workload in a team namespace asks for nvidia.com/gpu (limits or requests of a container or
#   init container) but does not run on its team's tainted GPU NodePools: it needs the
#   nodeSelector burst.io/team=<team> and a toleration of the burst.io/team=<team> NoSchedule
#   taint. Without them no pool admits it (it stays Pending) or it lands on capacity no team's
#   budget sees. The team is the namespace's `team` label (a namespace named after a guardrails
#   team when the input has no Namespace object).
# custom:
#   id: taints.gpu_workload_off_team_pool
#   severity: deny
#   remediation: >-
#     Add nodeSelector burst.io/team: <team> and the toleration {key: burst.io/team, operator:
#     Equal, value: <team>, effect: NoSchedule} to the pod template (see "Submitting GPU work"
#     in the README).
#   admission:
#     cel: >-
#       !variables.containers.exists(c, has(c.resources) &&
#       ((has(c.resources.limits) && 'nvidia.com/gpu' in c.resources.limits) ||
#       (has(c.resources.requests) && 'nvidia.com/gpu' in c.resources.requests))) ||
#       (has(variables.podSpec.nodeSelector) &&
#       'burst.io/team' in variables.podSpec.nodeSelector &&
#       variables.podSpec.nodeSelector['burst.io/team'] == namespaceObject.metadata.labels.team &&
#       has(variables.podSpec.tolerations) && variables.podSpec.tolerations.exists(t,
#       (!has(t.effect) || t.effect == '' || t.effect == 'NoSchedule') &&
#       ((has(t.key) && t.key == 'burst.io/team' && ((has(t.operator) && t.operator == 'Exists') ||
#       ((!has(t.operator) || t.operator == 'Equal') && has(t.value) &&
#       t.value == namespaceObject.metadata.labels.team))) ||
#       (has(t.operator) && t.operator == 'Exists' && (!has(t.key) || t.key == '')))))
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some w in lib.workloads
	team := namespace_team(_namespace(w))
	some tpl in lib.pod_templates(w)
	off := lib.tri_or(_selector_off(tpl.spec, team), _toleration_off(tpl.spec, team))
	state := lib.tri_and(_gpu_state(tpl.spec), off)
	state != "no"
	msg := sprintf("%s %s asks for GPUs but does not select and tolerate its team's nodes (%s=%s)", [w.type, w.name, team_label, lib.shown_name(team)])
}

team_local_queue := "default"

# "yes" if a pod template's metadata names a queue other than the team's LocalQueue.
_foreign_queue(tpl) := "yes" if {
	some v in lib.meta_value(tpl.metas, "labels", queue_label)
	not lib.is_unknown(v)
	v != team_local_queue
} else := "unknown" if {
	lib.meta_unknown(tpl.metas, "labels")
} else := "unknown" if {
	some v in lib.meta_value(tpl.metas, "labels", queue_label)
	lib.is_unknown(v)
} else := "no"

_in_team(team) := "unknown" if lib.is_unknown(team)

_in_team(team) := "yes" if not lib.is_unknown(team)

# METADATA
# title: Workload outside its team's LocalQueue
# description: >-
#   A workload in a team namespace names in kueue.x-k8s.io/queue-name a queue other than its
#   team's LocalQueue `default`, the one TeamQueues makes in every team namespace and that feeds
#   the team's ClusterQueue. Kueue looks the name up in the workload's own namespace, so any other
#   name is a queue the platform did not make (one that may feed another team's quota) or none
#   (the workload never starts).
# custom:
#   id: taints.foreign_local_queue
#   severity: deny
#   remediation: Set the label kueue.x-k8s.io/queue-name to default, the team's LocalQueue.
#   admission:
#     cel: >-
#       variables.labels.all(l, !('kueue.x-k8s.io/queue-name' in l) ||
#       l['kueue.x-k8s.io/queue-name'] == 'default')
findings contains lib.finding(rego.metadata.rule(), w.urn, state, msg) if {
	some w in lib.workloads
	team := namespace_team(_namespace(w))
	some tpl in lib.pod_templates(w)
	state := lib.tri_and(_in_team(team), _foreign_queue(tpl))
	state != "no"
	msg := sprintf("%s %s in a team namespace does not use the team's LocalQueue %s", [w.type, w.name, team_local_queue])
}

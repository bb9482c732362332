# METADATA
# title: Shared helpers
# description: >-
#   Indexes over the plan (built once per evaluation), unknown-value handling, tri-state
#   logic and the finding constructor shared by every burst rule set.
package burst.lib

# ---------------------------------------------------------------------------------------------
# Guardrails and unknown values
# ---------------------------------------------------------------------------------------------

# Guardrails data (policies/data/guardrails.yaml), mounted at data.burst.guardrails.
guardrails := data.burst.guardrails

# True when the guardrails are loaded (a rule, so that `not guardrails_loaded` holds when absent).
guardrails_loaded if is_object(data.burst.guardrails)

# Pulumi's unknown-output sentinel and the placeholder for secret values.
unknown_sentinel := "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

unknown_values := {unknown_sentinel, "[secret]"}

# True if x is itself an unknown value.
is_unknown(x) if x in unknown_values

# True if x is, or contains at any depth, an unknown value. The walk runs only when x's JSON text
# holds a placeholder at all (a fast search that most values fail).
contains_unknown(x) if {
	_may_hold_placeholder(x)
	walk(x, [_, v])
	v in unknown_values
}

_may_hold_placeholder(x) if {
	text := json.marshal(x)
	some placeholder in unknown_values
	contains(text, json.marshal(placeholder))
}

# ---------------------------------------------------------------------------------------------
# Tri-state logic: "yes" (violation), "no" (fine), "unknown" (decision needs an unknown value)
# ---------------------------------------------------------------------------------------------

tri_and(a, b) := "no" if {
	"no" in [a, b]
} else := "yes" if {
	a == "yes"
	b == "yes"
} else := "unknown"

tri_or(a, b) := "yes" if {
	"yes" in [a, b]
} else := "no" if {
	a == "no"
	b == "no"
} else := "unknown"

tri_not("yes") := "no"

tri_not("no") := "yes"

tri_not("unknown") := "unknown"

# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------

# A finding for the rule whose METADATA is meta. state is "yes" (the rule's own severity) or
# "unknown" (severity unknown: the decision needs a value that is unknown at preview).
finding(meta, resource, state, message) := {
	"rule": meta.custom.id,
	"severity": severity(meta, state),
	"resource": resource,
	"message": message_for(state, message),
	"title": meta.title,
	"remediation": meta.custom.remediation,
}

severity(meta, "yes") := meta.custom.severity

severity(_, "unknown") := "unknown"

message_for("yes", message) := message

message_for("unknown", message) := sprintf("possible violation, depends on a value unknown at preview: %s", [message])

# ---------------------------------------------------------------------------------------------
# Resource indexes (linear: each is built once per evaluation)
# ---------------------------------------------------------------------------------------------

# The marker of a normalised policy input (burst.check.normalise.INPUT_FORMAT).
input_format := "burst.policy-input/v1"

normalised if input.format == input_format

resources := input.resources if {
	normalised
	is_array(input.resources)
} else := []

# Resources the update deletes ({urn, type, name, region}): gone for every rule.
removed := input.removed if {
	normalised
	is_array(input.removed)
} else := []

# URNs of resources the stack reads but does not manage (`get`): they exist for dependencies.
external := input.external if {
	normalised
	is_array(input.external)
} else := []

stack_source := object.get(object.get(input, "stack", {}), "source", "preview")

# True only when the input shows every resource of the stack (a preview with --show-sames, an
# offline plan, or manifests). Absent means incomplete: fail closed.
complete := object.get(input, ["stack", "complete"], false) == true

# Canonical types the input shows (the root stack aside) or deletes.
touched_types contains canonical_type(r.type) if {
	some r in array.concat(resources, removed)
	r.type != "pulumi:pulumi:Stack"
}

# True if the input shows or deletes a resource of one of the canonical types.
touches(types) if {
	some t in types
	t in touched_types
}

# URNs of the resources whose inputs may hold an unknown or secret value anywhere (computed once,
# by a search of their JSON text, which is much faster than walking them; a key spelt like a
# placeholder makes a false positive, which only costs the exact check): only these can have a
# value at some path that a rule cannot read.
urns_with_unknowns := {r.urn | some r in resources; _may_hold_placeholder(inputs(r))}

# True if the value at path (a list of keys) in the resource's inputs, or any value on the way
# to it (the whole inputs included), is unknown or secret: the rule cannot see what it reads.
unknown_at(r, path) if {
	r.urn in urns_with_unknowns
	some n in numbers.range(0, count(path))
	is_unknown(object.get(r, array.concat(["inputs"], array.slice(path, 0, n)), null))
}

# URNs a resource's input key was computed from (the engine's propertyDependencies), else [].
property_sources(r, key) := object.get(r, ["propertyDependencies", key], [])

# Kubernetes types lose their version ("kubernetes:karpenter.sh/v1:NodePool" becomes
# "kubernetes:karpenter.sh:NodePool"), so a rule matches every served version of a kind.
canonical_type(t) := sprintf("kubernetes:%s:%s", [split(parts[1], "/")[0], parts[2]]) if {
	startswith(t, "kubernetes:")
	parts := split(t, ":")
	count(parts) == 3
} else := t

raw_types contains r.type if some r in resources

# by_raw_type[t] is the list of resources of type t. A complete rule, built once: as a partial
# rule every lookup before the whole object exists would scan all resources again. The inner
# comprehension compares a reference to the outer t, so OPA indexes it (one pass over resources).
by_raw_type := {t: rs |
	some t in raw_types
	rs := [r | some r in resources; r.type == t]
}

types contains canonical_type(t) if some t in raw_types

# by_type[c] is the list of resources of canonical type c (a complete rule: built once). Only
# Kubernetes types are merged across versions; other types are by_raw_type as they are.
by_type := object.union(
	{t: rs | some t, rs in by_raw_type; not startswith(t, "kubernetes:")},
	{c: rs |
		some c in types
		startswith(c, "kubernetes:")
		rs := [r | some t in raw_types; canonical_type(t) == c; some r in by_raw_type[t]]
	},
)

# The resources of canonical type t, or an empty list.
of_type(t) := object.get(by_type, t, [])

# The resources whose canonical type is in ts.
of_types(ts) := [r | some t in ts; some r in of_type(t)]

# ---------------------------------------------------------------------------------------------
# Resource accessors
# ---------------------------------------------------------------------------------------------

inputs(r) := object.get(r, "inputs", {})

# Region of a resource: the engine's region, else a per-resource `region` input, else null.
region(r) := r.region if {
	is_string(r.region)
} else := inputs(r).region if {
	is_string(inputs(r).region)
} else := null

# Tags of an AWS resource (tagsAll merged under tags); an unknown tag map becomes {}.
tags(r) := object.union(as_object(object.get(inputs(r), "tagsAll", {})), as_object(object.get(inputs(r), "tags", {})))

as_object(x) := x if {
	is_object(x)
} else := {}

# Team values a resource claims: tag `team` (AWS; tags over tagsAll), label `team` (Kubernetes
# metadata and, for NodePools, the node template).
teams_of(r) := aws_teams(r) if {
	startswith(r.type, "aws:")
} else := k8s_teams(r) if {
	startswith(r.type, "kubernetes:")
} else := set()

aws_teams(r) := {t |
	t := object.get(r, ["inputs", "tags", "team"], object.get(r, ["inputs", "tagsAll", "team"], null))
	t != null
}

k8s_teams(r) := {t |
	some path in [["inputs", "metadata", "labels", "team"], ["inputs", "spec", "template", "metadata", "labels", "team"]]
	t := object.get(r, path, null)
	t != null
}

# Quantities (Kubernetes "16", "500m", "1k", or plain numbers). Undefined if unknown or invalid.
quantity(q) := q if is_number(q)

quantity(q) := units.parse(q) if {
	is_string(q)
	not is_unknown(q)
}

# Parse a JSON policy document (string) or accept an already decoded object.
# {"ok": true, "value": doc} or {"ok": false} (unknown or invalid JSON).
parse_json(x) := {"ok": true, "value": x} if {
	is_object(x)
} else := {"ok": true, "value": json.unmarshal(x)} if {
	is_string(x)
	not is_unknown(x)
	json.is_valid(x)
} else := {"ok": false}

# A value as a list (single values become a one-element list, absent values an empty list).
as_list(x) := x if {
	is_array(x)
} else := [] if {
	x == null
} else := [x]

# ---------------------------------------------------------------------------------------------
# Karpenter and Kubernetes helpers
# ---------------------------------------------------------------------------------------------

capacity_type_key := "karpenter.sh/capacity-type"

nodepools := of_type("kubernetes:karpenter.sh:NodePool")

node_template_spec(np) := object.get(inputs(np), ["spec", "template", "spec"], {})

requirements(np) := object.get(node_template_spec(np), "requirements", [])

node_taints(np) := object.get(node_template_spec(np), "taints", [])

# "yes" if a NodePool may launch spot capacity, "no" if not, "unknown" if undecidable.
# No capacity-type requirement counts as allowing spot (conservative).
spot_state(np) := "unknown" if {
	is_unknown(requirements(np))
} else := "no" if {
	some q in requirements(np)
	q.key == capacity_type_key
	_excludes_spot(q)
} else := "unknown" if {
	some q in requirements(np)
	_maybe_capacity_type(q)
	contains_unknown(q)
} else := "yes"

_maybe_capacity_type(q) if q.key == capacity_type_key

_maybe_capacity_type(q) if is_unknown(q.key)

_excludes_spot(q) if {
	q.operator == "In"
	not contains_unknown(q.values)
	not "spot" in object.get(q, "values", [])
}

_excludes_spot(q) if {
	q.operator == "NotIn"
	"spot" in object.get(q, "values", [])
}

_excludes_spot(q) if q.operator == "DoesNotExist"

# "yes" if the NodePool carries a NoSchedule/NoExecute taint with this key.
taint_state(np, key) := "unknown" if {
	is_unknown(node_taints(np))
} else := "yes" if {
	some t in node_taints(np)
	t.key == key
	t.effect in {"NoSchedule", "NoExecute"}
} else := "unknown" if {
	some t in node_taints(np)
	contains_unknown(t)
} else := "no"

spot_taint_key := guardrails.spot.taint_key

# Kubernetes workload kinds whose pod templates the taint rules inspect.
workload_types := {
	"kubernetes:core:Pod",
	"kubernetes:batch:Job",
	"kubernetes:batch:CronJob",
	"kubernetes:apps:Deployment",
	"kubernetes:apps:StatefulSet",
	"kubernetes:jobset.x-k8s.io:JobSet",
}

workloads := of_types(workload_types)

_template := ["spec", "template"]

_cron_template := ["spec", "jobTemplate", "spec", "template"]

# The input paths of each workload kind's pod template (spec and metadata) and its own metadata:
# what rules on workloads read (their `reads` in the shared unknown mechanism).
pod_template_reads := {
	"kubernetes:core:Pod": [["spec"], ["metadata"]],
	"kubernetes:batch:Job": [_template, array.concat(_template, ["spec"]), array.concat(_template, ["metadata"]), ["metadata"]],
	"kubernetes:batch:CronJob": [_cron_template, array.concat(_cron_template, ["spec"]), array.concat(_cron_template, ["metadata"]), ["spec", "jobTemplate", "metadata"], ["metadata"]],
	"kubernetes:apps:Deployment": [_template, array.concat(_template, ["spec"]), array.concat(_template, ["metadata"]), ["metadata"]],
	"kubernetes:apps:StatefulSet": [_template, array.concat(_template, ["spec"]), array.concat(_template, ["metadata"]), ["metadata"]],
	"kubernetes:jobset.x-k8s.io:JobSet": [["spec", "replicatedJobs"], ["metadata"]],
}

# Pod templates of a workload: [{"spec": podSpec, "metas": [objects whose metadata counts]}].
pod_templates(r) := [{"spec": object.get(inputs(r), "spec", {}), "metas": [inputs(r)]}] if {
	canonical_type(r.type) == "kubernetes:core:Pod"
}

pod_templates(r) := [{"spec": object.get(tpl, "spec", {}), "metas": [inputs(r), tpl]}] if {
	canonical_type(r.type) in {"kubernetes:batch:Job", "kubernetes:apps:Deployment", "kubernetes:apps:StatefulSet"}
	tpl := object.get(inputs(r), ["spec", "template"], {})
}

pod_templates(r) := [{"spec": object.get(tpl, "spec", {}), "metas": [inputs(r), job, tpl]}] if {
	canonical_type(r.type) == "kubernetes:batch:CronJob"
	job := object.get(inputs(r), ["spec", "jobTemplate"], {})
	tpl := object.get(job, ["spec", "template"], {})
}

pod_templates(r) := [{"spec": object.get(tpl, "spec", {}), "metas": [inputs(r), job, tpl]} |
	some rj in as_list(object.get(inputs(r), ["spec", "replicatedJobs"], []))
	job := object.get(rj, "template", {})
	tpl := object.get(job, ["spec", "template"], {})
] if {
	canonical_type(r.type) == "kubernetes:jobset.x-k8s.io:JobSet"
}

# "yes" if a pod spec tolerates the spot taint (key match, or operator Exists without a key).
tolerates_spot(spec) := "unknown" if {
	not is_object(spec)
} else := "unknown" if {
	is_unknown(object.get(spec, "tolerations", []))
} else := "yes" if {
	some tol in object.get(spec, "tolerations", [])
	tolerates_spot_toleration(tol)
} else := "unknown" if {
	some tol in object.get(spec, "tolerations", [])
	contains_unknown(tol)
} else := "no"

tolerates_spot_toleration(tol) if tol.key == spot_taint_key

tolerates_spot_toleration(tol) if {
	tol.operator == "Exists"
	object.get(tol, "key", "") == ""
}

# "yes" if a pod spec selects spot nodes (nodeSelector or required node affinity).
selects_spot(spec) := "unknown" if {
	not is_object(spec)
} else := "yes" if {
	object.get(spec, ["nodeSelector", capacity_type_key], "") == "spot"
} else := "yes" if {
	some term in object.get(spec, ["affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"], [])
	some e in object.get(term, "matchExpressions", [])
	e.key == capacity_type_key
	e.operator == "In"
	"spot" in e.values
} else := "unknown" if {
	contains_unknown(object.get(spec, "nodeSelector", {}))
} else := "no"

# True if the labels or annotations (kind) of one of the objects cannot be read: the object, its
# metadata or that map is unknown or secret.
meta_unknown(metas, kind) if {
	some obj in metas
	some path in [[], ["metadata"], ["metadata", kind]]
	is_unknown(object.get({"o": obj}, array.concat(["o"], path), null))
}

# The values of a label or annotation (kind "labels"/"annotations") on any of the objects.
meta_value(metas, kind, key) := [v |
	some obj in metas
	v := as_object(object.get(obj, ["metadata", kind], {}))[key]
]

# The resource name at the end of a URN (names may themselves contain "::").
urn_name(urn) := concat("::", array.slice(parts, 3, count(parts))) if {
	parts := split(urn, "::")
	count(parts) > 3
} else := urn

# A value from the checked document as a finding message may quote it: regions and names only
# when they look like one (reports escape and cut every text, but a message should not carry
# arbitrary input at all), "(unknown)" for unknown and secret values.
shown_region(x) := "(unknown)" if {
	is_unknown(x)
} else := "(none)" if {
	x == null
} else := x if {
	is_string(x)
	regex.match(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`, x)
} else := "(not a region name)"

shown_name(x) := "(unknown)" if {
	is_unknown(x)
} else := x if {
	is_string(x)
	regex.match(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`, x)
} else := "(not a valid name)"

# ---------------------------------------------------------------------------------------------
# Budgets
# ---------------------------------------------------------------------------------------------

_team_tag_keys := {"team", "user:team"}

# Teams an AWS Budget is scoped to, from costFilters TagKeyValue ("user:team$quant") or
# filterExpression tags ({key: team, values: [quant]}); negated (not) filters are ignored.
budget_teams(b) := {t |
	some cf in as_list(object.get(inputs(b), "costFilters", []))
	object.get(cf, "name", "") == "TagKeyValue"
	some v in as_list(object.get(cf, "values", []))
	parts := split(v, "$")
	count(parts) == 2
	parts[0] in _team_tag_keys
	t := parts[1]
} | {t |
	walk(object.get(inputs(b), "filterExpression", {}), [path, node])
	not "not" in path
	tag := node.tags
	object.get(tag, "key", "") in _team_tag_keys
	some t in as_list(object.get(tag, "values", []))
}

# True if what a budget is scoped to cannot be read (its inputs or filters are unknown).
budget_scope_unknown(b) if is_unknown(inputs(b))

budget_scope_unknown(b) if contains_unknown(object.get(inputs(b), "costFilters", []))

budget_scope_unknown(b) if contains_unknown(object.get(inputs(b), "filterExpression", {}))

# ---------------------------------------------------------------------------------------------
# Data classification
# ---------------------------------------------------------------------------------------------

classification_tag := "data-classification"

# The data class of a resource: its data-classification tag, undefined when untagged.
classification(r) := c if {
	c := tags(r)[classification_tag]
	c != ""
}

# True if the data class cannot be read: the tags, or the tag's value, are unknown or secret.
classification_unknown(r) if {
	some key in ["tags", "tagsAll"]
	is_unknown(object.get(inputs(r), key, {}))
}

classification_unknown(r) if is_unknown(classification(r))

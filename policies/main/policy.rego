# METADATA
# title: Report
# description: >-
#   The single entry point data.burst.main.report. It collects the findings of every rule set
#   (every package data.burst.<set> that defines `findings`) in one evaluation, and applies the
#   two mechanisms every rule shares: a rule that reads a value which is wholly unknown or secret
#   reports unknown for that resource, and a rule that needs the whole stack is not judged on a
#   preview that leaves resources out (it is listed in `undecided` instead).
package burst.main

import data.burst.lib

# Findings of every loaded rule set, as the rules give them.
raw contains f if {
	some name
	some f in data.burst[name].findings
}

# The rule-set packages that were loaded and evaluated.
packages contains sprintf("burst.%s", [name]) if {
	some name
	data.burst[name].findings
}

# ---------------------------------------------------------------------------------------------
# Unknown values: one mechanism for every rule
# ---------------------------------------------------------------------------------------------

# Every rule set declares, per rule id, the input paths its subjects are judged on:
# reads[rule_id][type] = [path, ...], where type is a canonical type or a prefix ending in "*".

# [rule id, URN, path] where a value the rule reads is wholly unknown or secret (or something on
# the way to it is): the rule cannot see the value at all. Only resources whose inputs hold such
# a value are looked at (usually few), each against the rules that read its type.
unread contains [id, r.urn, concat(".", path)] if {
	some r in lib.resources
	r.urn in lib.urns_with_unknowns
	type := lib.canonical_type(r.type)
	some name
	some id, per_type in data.burst[name].reads
	some t, paths in per_type
	_reads_type(t, type)
	some path in paths
	lib.unknown_at(r, path)
}

# A reads key names a canonical type, or a type prefix ending in "*".
_reads_type(t, type) if t == type

_reads_type(t, type) if {
	endswith(t, "*")
	startswith(type, trim_suffix(t, "*"))
}

_unread_pairs := {[id, urn] | some [id, urn, _] in unread}

_raw_pairs := {[f.rule, f.resource] | some f in raw}

_unknown_message(f) := lib.message_for("unknown", f.message) if {
	not startswith(f.message, "possible violation")
} else := f.message

# ---------------------------------------------------------------------------------------------
# Incomplete previews: rules that need the whole stack
# ---------------------------------------------------------------------------------------------

# Rules that need the whole stack and cannot be judged on this input: it leaves unchanged
# resources out and the rule's package says the shown part touches what the rule needs
# (data.burst.<set>.partial_undecided, evaluated on every input, used only on partial ones).
undecided contains id if {
	lib.normalised
	not lib.complete
	some name
	some id in data.burst[name].partial_undecided
}

# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

# Every finding of the report: the rules' own, turned unknown where they read a wholly unknown
# value, plus an unknown finding where a rule reads such a value and gave nothing. Below that
# level (one unknown element or leaf) the rules' own tri-state logic decides.
collected contains f if {
	some f in raw
	not f.rule in undecided
	not _downgraded(f)
}

collected contains object.union(f, {"severity": "unknown", "message": _unknown_message(f)}) if {
	some f in raw
	not f.rule in undecided
	_downgraded(f)
}

collected contains {
	"rule": id,
	"severity": "unknown",
	"resource": urn,
	"message": sprintf("possible violation, depends on a value unknown at preview: %s of %s is unknown or secret", [concat(", ", sort(paths)), lib.urn_name(urn)]),
	"title": "",
	"remediation": "",
} if {
	some [id, urn] in _unread_pairs
	not id in undecided
	not [id, urn] in _raw_pairs
	paths := {p | some [i, u, p] in unread; i == id; u == urn}
}

collected contains f if some f in input_findings

_downgraded(f) if {
	f.severity != "unknown"
	[f.rule, f.resource] in _unread_pairs
}

# METADATA
# title: Input is not a normalised burst policy input
# description: >-
#   The pack judges the document `burst check` sends (format burst.policy-input/v1), not a raw
#   `pulumi preview --json` or any other JSON: evaluated on those, every rule would see zero
#   resources and the check would pass. This finding makes such a run fail instead.
# custom:
#   id: main.input_not_normalised
#   severity: deny
#   remediation: >-
#     Run `burst check --preview preview.json` (it normalises the preview and evaluates this
#     pack), or give OPA/conftest the input `burst normalise --preview preview.json` writes.
input_findings contains lib.finding(rego.metadata.rule(), "input", "yes", msg) if {
	not lib.normalised
	msg := sprintf("input is not a normalised burst policy input (format %s); 0 resources were judged", [lib.input_format])
}

# Findings as a list, in OPA's (deterministic) set order; consumers sort for display.
ordered := [f | some f in collected]

# The report. Undefined (fail closed) when the guardrails data is not loaded.
report := {
	"findings": ordered,
	"packages": sort([p | some p in packages]),
	"resources": count(lib.resources),
	"undecided": sort([id | some id in undecided]),
	"complete": lib.complete,
} if {
	lib.guardrails_loaded
}

# ---------------------------------------------------------------------------------------------
# conftest and `opa eval` users: deny and warn messages (conftest's rule names)
# ---------------------------------------------------------------------------------------------

_message(f) := {"msg": sprintf("%s: %s: %s", [f.rule, f.resource, f.message]), "rule": f.rule, "resource": f.resource}

deny contains _message(f) if {
	some f in report.findings
	f.severity == "deny"
}

deny contains {"msg": "burst.main: the guardrails data is not loaded at data.burst.guardrails; the check cannot be made", "rule": "main.guardrails_missing", "resource": "input"} if {
	not lib.guardrails_loaded
}

deny contains {"msg": sprintf("%s: needs the whole stack, but the preview leaves unchanged resources out: rerun `pulumi preview --json --show-sames`", [id]), "rule": id, "resource": "stack"} if {
	some id in undecided
}

warn contains _message(f) if {
	some f in report.findings
	f.severity in {"warn", "unknown"}
}

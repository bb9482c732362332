# METADATA
# title: Report
# description: >-
#   The single entry point data.burst.main.report. It collects the findings of every rule set
#   (every package data.burst.<set> that defines `findings`) in one evaluation.
package burst.main

import data.burst.lib

# Every finding of every loaded rule set.
collected contains f if {
	some name
	some f in data.burst[name].findings
}

# The rule-set packages that were loaded and evaluated.
packages contains sprintf("burst.%s", [name]) if {
	some name
	data.burst[name].findings
}

# Findings as a list, in OPA's (deterministic) set order; consumers sort for display.
ordered := [f | some f in collected]

# The report. Undefined (fail closed) when the guardrails data is not loaded.
report := {
	"findings": ordered,
	"packages": sort([p | some p in packages]),
	"resources": count(lib.resources),
} if {
	is_object(lib.guardrails)
}

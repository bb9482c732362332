package burst.main_test

import data.burst.lib.testing as t
import data.burst.main

mixed := t.plan([
	t.res("aws:iam/accessKey:AccessKey", "key", {"user": "ci"}),
	t.res("aws:ec2/internetGateway:InternetGateway", "igw", {}),
	t.res("aws:ec2/subnet:Subnet", "subnet", {"mapPublicIpOnLaunch": t.unknown}),
	t.res("pulumi:providers:aws", "provider", {"region": "eu-west-1"}),
	t.res("pulumi:pulumi:Stack", "stack", {}),
])

test_report_shape if {
	report := main.report with input as mixed
	object.keys(report) == {"findings", "packages", "resources", "undecided", "complete"}
	report.undecided == []
	report.complete == true
	report.resources == 5
	report.packages == ["burst.checkpoints", "burst.guards", "burst.iam", "burst.interruption", "burst.locality", "burst.network", "burst.quotas", "burst.taints", "burst.workloads"]
	{[f.rule, f.severity] | some f in report.findings} == {
		["iam.long_lived_credentials", "deny"],
		["network.internet_egress", "warn"],
		["network.public_subnet", "unknown"],
	}
}

test_findings_carry_metadata if {
	report := main.report with input as mixed
	every f in report.findings {
		object.keys(f) == {"rule", "severity", "resource", "message", "title", "remediation"}
		f.title != ""
		f.remediation != ""
		startswith(f.resource, "urn:pulumi:")
	}
}

test_unknown_findings_say_so if {
	report := main.report with input as mixed
	some f in report.findings
	f.severity == "unknown"
	startswith(f.message, "possible violation, depends on a value unknown at preview")
}

test_empty_input if {
	report := main.report with input as t.plan([])
	report.findings == []
	report.resources == 0
}

# A raw `pulumi preview --json` (or any other document) is refused with one deny finding.
test_raw_preview_denied if {
	raw := {"steps": [{"op": "create", "urn": "urn:x", "newState": {"type": "aws:iam/accessKey:AccessKey", "inputs": {}}}]}
	report := main.report with input as raw
	[[f.rule, f.severity, f.resource] | some f in report.findings] == [["main.input_not_normalised", "deny", "input"]]
	report.resources == 0
	count(main.deny) == 1 with input as raw
}

test_empty_object_denied if {
	report := main.report with input as {}
	[f.rule | some f in report.findings] == ["main.input_not_normalised"]
}

np_spec_unknown := t.res("kubernetes:karpenter.sh/v1:NodePool", "np", {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "np"}, "spec": t.unknown})

# A NodePool whose whole spec is unknown is unknown for every rule that reads it, never denied.
test_wholly_unknown_spec_is_unknown_not_denied if {
	report := main.report with input as t.plan([np_spec_unknown])
	rules := {f.rule | some f in report.findings}
	every f in report.findings {
		f.severity == "unknown"
	}
	{"quotas.nodepool_without_limits", "taints.spot_without_taint", "taints.spot_not_diversified"} & rules == {"quotas.nodepool_without_limits", "taints.spot_without_taint", "taints.spot_not_diversified"}
}

# A secret whole inputs document: every rule that reads the type reports unknown.
test_secret_inputs_are_unknown if {
	role := t.res("aws:iam/role:Role", "r", "[secret]")
	report := main.report with input as t.plan([role])
	{f.rule | some f in report.findings; f.severity == "unknown"} == {
		"iam.session_too_long", "iam.trust_open", "iam.wildcard_admin",
		"iam.missing_permissions_boundary", "iam.platform_role_without_boundary",
		"locality.region_not_allowed", "quotas.unknown_team",
		"quotas.team_without_budget",
	}
	every f in report.findings {
		f.severity == "unknown"
	}
}

# A deny that a rule gives on a read value which is wholly unknown becomes unknown.
test_deny_on_unknown_value_is_downgraded if {
	f := {"rule": "quotas.nodepool_without_limits", "severity": "deny", "resource": np_spec_unknown.urn, "message": "m", "title": "x", "remediation": "y"}
	report := main.report with input as t.plan([np_spec_unknown]) with data.burst.quotas.findings as {f}
	some g in report.findings
	g.rule == "quotas.nodepool_without_limits"
	g.severity == "unknown"
	startswith(g.message, "possible violation")
}

spot_pool := t.nodepool("gpu", {}, {"requirements": [t.req("karpenter.sh/capacity-type", "In", ["spot"])], "taints": [t.spot_taint]}, {"cpu": "10"})

# On a preview without --show-sames, rules that need the whole stack are not judged.
test_partial_preview_leaves_estate_rules_undecided if {
	report := main.report with input as t.partial([spot_pool], [])
	"interruption.missing_path" in report.undecided
	"quotas.team_gpu_over_quota" in report.undecided
	not "quotas.team_without_budget" in report.undecided # no team owns what is shown
	not "interruption.missing_path" in {f.rule | some f in report.findings}
	report.complete == false
	some d in main.deny with input as t.partial([spot_pool], [])
	d.rule == "interruption.missing_path"
}

# Deleting the interruption queue in a partial preview leaves the rule undecided, not passed.
test_partial_preview_with_deleted_queue if {
	queue := {"urn": "urn:q", "type": "aws:sqs/queue:Queue", "name": "q", "region": "eu-west-1"}
	report := main.report with input as t.partial([], [queue])
	"interruption.missing_path" in report.undecided
	not "quotas.team_gpu_over_quota" in report.undecided
}

# Resource-local rules still run on a partial preview.
test_partial_preview_runs_local_rules if {
	key := t.res("aws:iam/accessKey:AccessKey", "key", {"user": "ci"})
	report := main.report with input as t.partial([key], [])
	"iam.long_lived_credentials" in {f.rule | some f in report.findings}
}

test_conftest_messages if {
	denies := main.deny with input as mixed
	warns := main.warn with input as mixed
	{d.rule | some d in denies} == {"iam.long_lived_credentials"}
	{w.rule | some w in warns} == {"network.internet_egress", "network.public_subnet"}
}

test_conftest_denies_without_guardrails if {
	denies := main.deny with input as mixed with data.burst.guardrails as "missing"
	{d.rule | some d in denies} == {"main.guardrails_missing"}
}

test_report_undefined_without_guardrails if {
	not main.report with input as mixed with data.burst.guardrails as "missing"
}

team_bucket := t.res("aws:s3/bucketV2:BucketV2", "data", {"tags": {"team": "quant", "data-classification": "internal"}})

quant_budget := t.res("aws:budgets/budget:Budget", "quant", {"costFilters": [{"name": "TagKeyValue", "values": ["user:team$quant"]}]})

# Budget coverage on a partial preview: undecided when a shown resource belongs to a team or a
# budget changes (it may stop covering a team whose resources are not shown).
test_partial_budget_coverage if {
	"quotas.team_without_budget" in main.report.undecided with input as t.partial([team_bucket], [])
	"quotas.team_without_budget" in main.report.undecided with input as t.partial([quant_budget], [])
	untagged := t.res("aws:sqs/queue:Queue", "q", {"name": "q"})
	not "quotas.team_without_budget" in main.report.undecided with input as t.partial([untagged], [])
	removed := {"urn": quant_budget.urn, "type": quant_budget.type, "name": "quant", "region": null}
	"quotas.team_without_budget" in main.report.undecided with input as t.partial([], [removed])
}

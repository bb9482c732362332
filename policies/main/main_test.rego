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
	object.keys(report) == {"findings", "packages", "resources"}
	report.resources == 5
	report.packages == ["burst.iam", "burst.interruption", "burst.locality", "burst.network", "burst.quotas", "burst.taints"]
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
	report := main.report with input as {}
	report.findings == []
	report.resources == 0
}

test_report_undefined_without_guardrails if {
	not main.report with input as mixed with data.burst.guardrails as "missing"
}

# METADATA
# title: Test helpers
# description: Builders for plan documents and finding queries shared by the policy tests.
package burst.lib.testing

unknown := "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

# A resource of the plan, in eu-west-1 unless a region is given with res_in.
res(type, name, inputs) := res_in(type, name, inputs, "eu-west-1")

res_in(type, name, inputs, region) := {
	"urn": urn(type, name),
	"type": type,
	"name": name,
	"region": region,
	"inputs": inputs,
	"parent": "",
}

urn(type, name) := sprintf("urn:pulumi:test::burst::%s::%s", [type, name])

# A preview plan and a manifests-only plan.
plan(resources) := {"format": "burst.policy-input/v1", "resources": resources, "stack": {"name": "test", "source": "preview", "complete": true}}

manifests(resources) := {"format": "burst.policy-input/v1", "resources": resources, "stack": {"name": "test", "source": "manifests", "complete": true}}

# A preview that leaves unchanged resources out (no --show-sames), and one that also deletes some.
partial(resources, removed) := {"format": "burst.policy-input/v1", "resources": resources, "removed": removed, "stack": {"name": "test", "source": "preview", "complete": false, "hidden": 10}}

# Severities with which a rule fired in a set of findings.
severities(findings, rule) := {f.severity | some f in findings; f.rule == rule}

# The findings of a rule.
of_rule(findings, rule) := [f | some f in findings; f.rule == rule]

# Kubernetes objects.
nodepool(name, labels, spec_template_spec, limits) := res(
	"kubernetes:karpenter.sh/v1:NodePool",
	name,
	{
		"apiVersion": "karpenter.sh/v1",
		"kind": "NodePool",
		"metadata": {"name": name, "labels": labels},
		"spec": {"limits": limits, "template": {"spec": spec_template_spec}},
	},
)

req(key, operator, values) := {"key": key, "operator": operator, "values": values}

spot_taint := {"key": "spot", "value": "true", "effect": "NoSchedule"}

gpu_taint := {"key": "nvidia.com/gpu", "effect": "NoSchedule"}

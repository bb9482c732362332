package burst.taints_test

import data.burst.lib.testing as t
import data.burst.taints

findings(resources) := fs if {
	fs := taints.findings with input as t.plan(resources)
}

ct := "karpenter.sh/capacity-type"

gpu_types := t.req("node.kubernetes.io/instance-type", "In", ["g5.xlarge", "g5.2xlarge", "g6.xlarge", "g6e.xlarge"])

pool(requirements, taints) := named_pool("np", requirements, taints)

named_pool(name, requirements, taints) := t.nodepool(name, {"team": "ml"}, {"requirements": requirements, "taints": taints}, {"nvidia.com/gpu": 8})

# taints.spot_without_taint

test_spot_pool_without_taint_denied if {
	fs := findings([pool([t.req(ct, "In", ["spot", "on-demand"])], [])])
	t.severities(fs, "taints.spot_without_taint") == {"deny"}
}

test_pool_without_capacity_requirement_counts_as_spot if {
	fs := findings([pool([], [])])
	t.severities(fs, "taints.spot_without_taint") == {"deny"}
}

test_notin_without_spot_counts_as_spot if {
	fs := findings([pool([t.req(ct, "NotIn", ["reserved"])], [])])
	t.severities(fs, "taints.spot_without_taint") == {"deny"}
}

test_on_demand_pools_allowed if {
	fs := findings([
		pool([t.req(ct, "In", ["on-demand"])], []),
		pool([t.req(ct, "NotIn", ["spot"])], []),
		pool([{"key": ct, "operator": "DoesNotExist"}], []),
	])
	t.severities(fs, "taints.spot_without_taint") == set()
}

test_spot_pool_with_taint_allowed if {
	fs := findings([pool([t.req(ct, "In", ["spot"])], [t.spot_taint])])
	t.severities(fs, "taints.spot_without_taint") == set()
}

test_prefer_no_schedule_is_not_enough if {
	fs := findings([pool([t.req(ct, "In", ["spot"])], [{"key": "spot", "effect": "PreferNoSchedule"}])])
	t.severities(fs, "taints.spot_without_taint") == {"deny"}
}

test_spot_unknown_requirements if {
	fs := findings([pool(t.unknown, [])])
	t.severities(fs, "taints.spot_without_taint") == {"unknown"}
}

test_spot_unknown_capacity_values if {
	fs := findings([pool([t.req(ct, "In", [t.unknown])], [])])
	t.severities(fs, "taints.spot_without_taint") == {"unknown"}
}

test_spot_unknown_taints if {
	fs := findings([pool([t.req(ct, "In", ["spot"])], t.unknown)])
	t.severities(fs, "taints.spot_without_taint") == {"unknown"}
}

test_spot_unknown_taint_entry if {
	fs := findings([pool([t.req(ct, "In", ["spot"])], [{"key": t.unknown, "effect": "NoSchedule"}])])
	t.severities(fs, "taints.spot_without_taint") == {"unknown"}
}

test_spot_taint_key_from_guardrails if {
	fs := taints.findings with input as t.plan([pool([t.req(ct, "In", ["spot"])], [t.spot_taint])])
		with data.burst.guardrails.spot.taint_key as "burst.io/spot"
	t.severities(fs, "taints.spot_without_taint") == {"deny"}
}

# taints.gpu_without_taint

on_demand := t.req(ct, "In", ["on-demand"])

test_gpu_requirements_without_taint_denied if {
	fs := findings([
		named_pool("count", [on_demand, t.req("karpenter.k8s.aws/instance-gpu-count", "Gt", ["0"])], []),
		named_pool("category", [on_demand, t.req("karpenter.k8s.aws/instance-category", "In", ["g", "p"])], []),
		named_pool("family", [on_demand, t.req("karpenter.k8s.aws/instance-family", "In", ["p5"])], []),
		named_pool("types", [on_demand, gpu_types], []),
		named_pool("vendor", [on_demand, {"key": "karpenter.k8s.aws/instance-gpu-manufacturer", "operator": "Exists"}], []),
	])
	count(t.of_rule(fs, "taints.gpu_without_taint")) == 5
}

test_cpu_pool_allowed if {
	fs := findings([
		pool([on_demand, t.req("karpenter.k8s.aws/instance-category", "In", ["c", "m"])], []),
		pool([on_demand, t.req("karpenter.k8s.aws/instance-gpu-count", "In", ["0"])], []),
		pool([on_demand, t.req("karpenter.k8s.aws/instance-family", "In", ["m7g", "c7g"])], []),
	])
	t.severities(fs, "taints.gpu_without_taint") == set()
}

test_gpu_pool_with_taint_allowed if {
	fs := findings([pool([on_demand, gpu_types], [t.gpu_taint])])
	t.severities(fs, "taints.gpu_without_taint") == set()
}

test_gpu_unknown_requirements if {
	t.severities(findings([pool(t.unknown, [])]), "taints.gpu_without_taint") == {"unknown"}
}

test_gpu_unknown_family if {
	fs := findings([pool([on_demand, t.req("karpenter.k8s.aws/instance-family", "In", [t.unknown])], [])])
	t.severities(fs, "taints.gpu_without_taint") == {"unknown"}
}

# taints.spot_not_diversified

spot := t.req(ct, "In", ["spot"])

test_few_instance_types_denied if {
	fs := findings([pool([spot, t.req("node.kubernetes.io/instance-type", "In", ["g5.xlarge", "g5.2xlarge"])], [t.spot_taint, t.gpu_taint])])
	t.severities(fs, "taints.spot_not_diversified") == {"deny"}
}

test_single_family_denied if {
	fs := findings([pool([spot, t.req("karpenter.k8s.aws/instance-family", "In", ["g5"])], [t.spot_taint, t.gpu_taint])])
	t.severities(fs, "taints.spot_not_diversified") == {"deny"}
}

test_single_family_with_min_values_allowed if {
	sizes := object.union(t.req("karpenter.k8s.aws/instance-size", "In", ["xlarge", "2xlarge", "4xlarge", "8xlarge"]), {"minValues": 3})
	fs := findings([pool([spot, t.req("karpenter.k8s.aws/instance-family", "In", ["g5"]), sizes], [t.spot_taint, t.gpu_taint])])
	t.severities(fs, "taints.spot_not_diversified") == set()
}

test_diversified_allowed if {
	fs := findings([pool([spot, gpu_types], [t.spot_taint, t.gpu_taint])])
	t.severities(fs, "taints.spot_not_diversified") == set()
}

test_narrow_on_demand_allowed if {
	fs := findings([pool([on_demand, t.req("node.kubernetes.io/instance-type", "In", ["p5.48xlarge"])], [t.gpu_taint])])
	t.severities(fs, "taints.spot_not_diversified") == set()
}

test_diversification_unknown_types if {
	fs := findings([pool([spot, t.req("node.kubernetes.io/instance-type", "In", t.unknown)], [t.spot_taint])])
	t.severities(fs, "taints.spot_not_diversified") == {"unknown"}
}

test_diversification_unknown_requirements if {
	t.severities(findings([pool(t.unknown, [])]), "taints.spot_not_diversified") == {"unknown"}
}

# taints.flavor_without_spot_taint

flavor(spec) := t.res("kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor", "spot", {"metadata": {"name": "spot"}, "spec": spec})

spot_labels := {"nodeLabels": {ct: "spot"}}

test_spot_flavor_without_taint_denied if {
	t.severities(findings([flavor(spot_labels)]), "taints.flavor_without_spot_taint") == {"deny"}
}

test_spot_flavor_with_taint_allowed if {
	fs := findings([flavor(object.union(spot_labels, {"nodeTaints": [t.spot_taint]}))])
	t.severities(fs, "taints.flavor_without_spot_taint") == set()
}

test_spot_flavor_with_toleration_allowed if {
	fs := findings([flavor(object.union(spot_labels, {"tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}]}))])
	t.severities(fs, "taints.flavor_without_spot_taint") == set()
}

test_on_demand_flavor_allowed if {
	fs := findings([flavor({"nodeLabels": {ct: "on-demand"}}), flavor({})])
	t.severities(fs, "taints.flavor_without_spot_taint") == set()
}

test_flavor_unknown_labels if {
	t.severities(findings([flavor({"nodeLabels": {ct: t.unknown}})]), "taints.flavor_without_spot_taint") == {"unknown"}
}

test_flavor_unknown_taints if {
	fs := findings([flavor(object.union(spot_labels, {"nodeTaints": t.unknown}))])
	t.severities(fs, "taints.flavor_without_spot_taint") == {"unknown"}
}

# Workloads

toleration := {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}

ready_spec := {
	"tolerations": [toleration],
	"terminationGracePeriodSeconds": 120,
	"containers": [{"name": "train", "image": "train:1", "lifecycle": {"preStop": {"exec": {"command": ["/bin/checkpoint"]}}}}],
}

ready_meta := {
	"labels": {"team": "ml", "kueue.x-k8s.io/queue-name": "ml"},
	"annotations": {"burst.io/checkpoint-interval": "15m"},
}

job(name, meta, spec) := t.res("kubernetes:batch/v1:Job", name, {
	"metadata": object.union({"name": name}, meta),
	"spec": {"template": {"metadata": {}, "spec": spec}},
})

test_ready_job_allowed if {
	fs := findings([job("train", ready_meta, ready_spec)])
	count(fs) == 0
}

# taints.spot_workload_not_interruption_ready

test_unready_job_denied if {
	spec := object.union(ready_spec, {"terminationGracePeriodSeconds": 30, "containers": [{"name": "train", "image": "x"}]})
	fs := findings([job("train", {"labels": ready_meta.labels}, spec)])
	found := t.of_rule(fs, "taints.spot_workload_not_interruption_ready")
	found[0].severity == "deny"
	contains(found[0].message, "terminationGracePeriodSeconds >= 60, annotation burst.io/checkpoint-interval, a preStop hook")
}

test_default_grace_period_denied if {
	fs := findings([job("train", ready_meta, object.remove(ready_spec, ["terminationGracePeriodSeconds"]))])
	t.severities(fs, "taints.spot_workload_not_interruption_ready") == {"deny"}
}

test_annotation_on_pod_template_counts if {
	r := t.res("kubernetes:batch/v1:Job", "train", {
		"metadata": {"name": "train", "labels": ready_meta.labels},
		"spec": {"template": {"metadata": {"annotations": ready_meta.annotations}, "spec": ready_spec}},
	})
	t.severities(findings([r]), "taints.spot_workload_not_interruption_ready") == set()
}

test_not_tolerating_spot_skipped if {
	fs := findings([job("train", {}, {"containers": [{"name": "c"}]})])
	count(fs) == 0
}

test_exists_without_key_tolerates_spot if {
	spec := object.union(ready_spec, {"tolerations": [{"operator": "Exists"}]})
	fs := findings([job("train", {"labels": ready_meta.labels}, spec)])
	t.severities(fs, "taints.spot_workload_not_interruption_ready") == {"deny"}
}

test_unknown_grace_period if {
	fs := findings([job("train", ready_meta, object.union(ready_spec, {"terminationGracePeriodSeconds": t.unknown}))])
	t.severities(fs, "taints.spot_workload_not_interruption_ready") == {"unknown"}
}

test_unknown_containers if {
	fs := findings([job("train", ready_meta, object.union(ready_spec, {"containers": t.unknown}))])
	t.severities(fs, "taints.spot_workload_not_interruption_ready") == {"unknown"}
}

test_unknown_tolerations if {
	fs := findings([job("train", {}, {"tolerations": t.unknown, "containers": [{"name": "c"}]})])
	t.severities(fs, "taints.spot_workload_not_interruption_ready") == {"unknown"}
	t.severities(fs, "taints.spot_workload_without_queue") == {"unknown"}
}

test_unknown_toleration_entry if {
	fs := findings([job("train", {}, {"tolerations": [{"key": t.unknown}], "containers": [{"name": "c"}]})])
	t.severities(fs, "taints.spot_workload_without_queue") == {"unknown"}
}

test_workload_kinds if {
	unready := {"tolerations": [toleration], "containers": [{"name": "c"}]}
	pod_template := {"metadata": {}, "spec": unready}
	fs := findings([
		t.res("kubernetes:core/v1:Pod", "pod", {"metadata": {"name": "pod"}, "spec": unready}),
		t.res("kubernetes:apps/v1:Deployment", "deploy", {"metadata": {"name": "deploy"}, "spec": {"template": pod_template}}),
		t.res("kubernetes:apps/v1:StatefulSet", "sts", {"metadata": {"name": "sts"}, "spec": {"template": pod_template}}),
		t.res("kubernetes:batch/v1:CronJob", "cron", {"metadata": {"name": "cron"}, "spec": {"jobTemplate": {"spec": {"template": pod_template}}}}),
		t.res("kubernetes:jobset.x-k8s.io/v1alpha2:JobSet", "js", {"metadata": {"name": "js"}, "spec": {"replicatedJobs": [{"name": "w", "template": {"spec": {"template": pod_template}}}]}}),
		t.res("kubernetes:apps/v1:DaemonSet", "ds", {"metadata": {"name": "ds"}, "spec": {"template": pod_template}}),
	])
	count(t.of_rule(fs, "taints.spot_workload_not_interruption_ready")) == 5
	count(t.of_rule(fs, "taints.spot_workload_without_queue")) == 5
}

# taints.spot_workload_without_queue

test_spot_job_without_queue_denied if {
	fs := findings([job("train", {"annotations": ready_meta.annotations}, ready_spec)])
	t.severities(fs, "taints.spot_workload_without_queue") == {"deny"}
}

test_queue_label_on_cron_job_template if {
	r := t.res("kubernetes:batch/v1:CronJob", "nightly", {
		"metadata": {"name": "nightly", "annotations": ready_meta.annotations},
		"spec": {"jobTemplate": {"metadata": {"labels": {"kueue.x-k8s.io/queue-name": "quant"}}, "spec": {"template": {"spec": ready_spec}}}},
	})
	count(findings([r])) == 0
}

# taints.critical_on_spot

test_critical_priority_class_on_spot_denied if {
	fs := findings([job("train", ready_meta, object.union(ready_spec, {"priorityClassName": "system-cluster-critical"}))])
	t.severities(fs, "taints.critical_on_spot") == {"deny"}
}

test_critical_kueue_label_selecting_spot_denied if {
	meta := {"labels": {"kueue.x-k8s.io/priority-class": "Critical-Backtest"}}
	spec := {"nodeSelector": {ct: "spot"}, "containers": [{"name": "c"}]}
	fs := findings([job("train", meta, spec)])
	t.severities(fs, "taints.critical_on_spot") == {"deny"}
}

test_critical_affinity_to_spot_denied if {
	affinity := {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [t.req(ct, "In", ["spot"])]}]}}}
	spec := {"priorityClassName": "critical", "affinity": affinity, "containers": [{"name": "c"}]}
	t.severities(findings([job("train", {}, spec)]), "taints.critical_on_spot") == {"deny"}
}

test_critical_on_demand_allowed if {
	spec := {"priorityClassName": "critical", "nodeSelector": {ct: "on-demand"}, "containers": [{"name": "c"}]}
	t.severities(findings([job("train", {}, spec)]), "taints.critical_on_spot") == set()
}

test_batch_on_spot_allowed if {
	fs := findings([job("train", ready_meta, object.union(ready_spec, {"priorityClassName": "batch-low"}))])
	t.severities(fs, "taints.critical_on_spot") == set()
}

test_unknown_priority_class_on_spot if {
	fs := findings([job("train", ready_meta, object.union(ready_spec, {"priorityClassName": t.unknown}))])
	t.severities(fs, "taints.critical_on_spot") == {"unknown"}
}

test_unknown_priority_label_on_spot if {
	meta := object.union(ready_meta, {"labels": {"kueue.x-k8s.io/priority-class": t.unknown}})
	t.severities(findings([job("train", meta, ready_spec)]), "taints.critical_on_spot") == {"unknown"}
}

test_critical_with_unknown_node_selector if {
	spec := {"priorityClassName": "critical", "nodeSelector": {ct: t.unknown}, "containers": [{"name": "c"}]}
	t.severities(findings([job("train", {}, spec)]), "taints.critical_on_spot") == {"unknown"}
}

test_spot_unknown_requirement_key if {
	fs := findings([pool([{"key": t.unknown, "operator": "In", "values": ["on-demand"]}], [])])
	t.severities(fs, "taints.spot_without_taint") == {"unknown"}
}

test_unknown_pod_spec_is_unknown if {
	pod := t.res("kubernetes:core/v1:Pod", "p", {
		"metadata": {"name": "p", "labels": {"kueue.x-k8s.io/queue-name": "default"}},
		"spec": t.unknown,
	})
	fs := taints.findings with input as t.manifests([pod])
	"unknown" in t.severities(fs, "taints.spot_workload_not_interruption_ready")
}

# taints.gpu_workload_off_team_pool

gpu_spec(extra) := object.union({"containers": [{"name": "train", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}, extra)

team_toleration(team) := {"key": "burst.io/team", "operator": "Equal", "value": team, "effect": "NoSchedule"}

on_pool(team) := {"nodeSelector": {"burst.io/team": team}, "tolerations": [team_toleration(team)]}

gpu_job(namespace, spec) := job("train", {"namespace": namespace}, spec)

namespace(name, labels) := t.res("kubernetes:core/v1:Namespace", name, {"metadata": {"name": name, "labels": labels}})

off_pool(resources) := t.severities(findings(resources), "taints.gpu_workload_off_team_pool")

test_gpu_job_off_team_pool_denied if {
	off_pool([gpu_job("quant", gpu_spec({}))]) == {"deny"}
}

test_gpu_job_on_team_pool_allowed if {
	off_pool([gpu_job("quant", gpu_spec(on_pool("quant")))]) == set()
}

test_gpu_request_without_limit_counts if {
	spec := {"containers": [{"name": "c", "resources": {"requests": {"nvidia.com/gpu": 1}}}]}
	off_pool([gpu_job("quant", spec)]) == {"deny"}
}

test_gpu_init_container_counts if {
	spec := {"containers": [{"name": "c"}], "initContainers": [{"name": "i", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}
	off_pool([gpu_job("quant", spec)]) == {"deny"}
}

test_other_teams_pool_denied if {
	off_pool([gpu_job("quant", gpu_spec(on_pool("ml")))]) == {"deny"}
}

test_selector_without_toleration_denied if {
	off_pool([gpu_job("quant", gpu_spec({"nodeSelector": {"burst.io/team": "quant"}}))]) == {"deny"}
}

test_toleration_exists_or_everything_allowed if {
	exists := {"nodeSelector": {"burst.io/team": "quant"}, "tolerations": [{"key": "burst.io/team", "operator": "Exists"}]}
	everything := {"nodeSelector": {"burst.io/team": "quant"}, "tolerations": [{"operator": "Exists"}]}
	off_pool([gpu_job("quant", gpu_spec(exists)), gpu_job("quant", gpu_spec(everything))]) == set()
}

test_no_execute_toleration_is_not_enough if {
	spec := {"nodeSelector": {"burst.io/team": "quant"}, "tolerations": [object.union(team_toleration("quant"), {"effect": "NoExecute"})]}
	off_pool([gpu_job("quant", gpu_spec(spec))]) == {"deny"}
}

test_cpu_job_and_other_namespaces_not_judged if {
	off_pool([gpu_job("quant", {"containers": [{"name": "c"}]}), gpu_job("batch", gpu_spec({})), job("train", {}, gpu_spec({}))]) == set()
}

test_team_from_the_namespace_label if {
	off_pool([namespace("research-gpu", {"team": "research"}), gpu_job("research-gpu", gpu_spec(on_pool("research")))]) == set()
	off_pool([namespace("research-gpu", {"team": "research"}), gpu_job("research-gpu", gpu_spec(on_pool("research-gpu")))]) == {"deny"}
	off_pool([namespace("quant", {}), gpu_job("quant", gpu_spec({}))]) == set()
}

test_gpu_job_unknowns if {
	off_pool([gpu_job(t.unknown, gpu_spec({}))]) == {"unknown"}
	off_pool([gpu_job("quant", gpu_spec({"nodeSelector": {"burst.io/team": t.unknown}, "tolerations": [team_toleration("quant")]}))]) == {"unknown"}
	off_pool([gpu_job("quant", gpu_spec({"nodeSelector": {"burst.io/team": "quant"}, "tolerations": t.unknown}))]) == {"unknown"}
	off_pool([gpu_job("quant", {"containers": t.unknown, "nodeSelector": {"burst.io/team": "ml"}})]) == {"unknown"}
	off_pool([gpu_job("quant", {"containers": t.unknown, "nodeSelector": {"burst.io/team": "quant"}, "tolerations": [team_toleration("quant")]})]) == set()
	off_pool([namespace("quant", {"team": t.unknown}), gpu_job("quant", gpu_spec({}))]) == {"unknown"}
}

# taints.foreign_local_queue

queue_job(namespace, job_labels, template_labels) := t.res("kubernetes:batch/v1:Job", "train", {
	"metadata": {"name": "train", "namespace": namespace, "labels": job_labels},
	"spec": {"template": {"metadata": {"labels": template_labels}, "spec": {"containers": [{"name": "c"}]}}},
})

foreign(resources) := t.severities(findings(resources), "taints.foreign_local_queue")

test_other_queue_in_team_namespace_denied if {
	foreign([queue_job("quant", {"kueue.x-k8s.io/queue-name": "ml"}, {})]) == {"deny"}
	foreign([queue_job("quant", {}, {"kueue.x-k8s.io/queue-name": ""})]) == {"deny"}
}

test_team_queue_or_none_allowed if {
	foreign([queue_job("quant", {"kueue.x-k8s.io/queue-name": "default"}, {}), queue_job("ml", {}, {})]) == set()
}

test_other_namespaces_not_judged if {
	foreign([queue_job("batch", {"kueue.x-k8s.io/queue-name": "ml"}, {}), namespace("quant", {}), queue_job("quant", {"kueue.x-k8s.io/queue-name": "x"}, {})]) == set()
}

test_foreign_queue_unknowns if {
	foreign([queue_job("quant", {"kueue.x-k8s.io/queue-name": t.unknown}, {})]) == {"unknown"}
	foreign([queue_job("quant", t.unknown, {})]) == {"unknown"}
	foreign([queue_job(t.unknown, {"kueue.x-k8s.io/queue-name": "ml"}, {})]) == {"unknown"}
	foreign([queue_job(t.unknown, {"kueue.x-k8s.io/queue-name": "default"}, {})]) == set()
}

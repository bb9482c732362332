package burst.checkpoints_test

import data.burst.checkpoints
import data.burst.lib.testing as t

rule := "checkpoints.interval_far_from_optimal"

toleration := {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}

# τ* of the tests: ml 200 min in eu-west-1, 100 in us-east-1 (the worst, so team-wide).
optimum := {
	"stack": "test",
	"prices_as_of": "2026-12-06",
	"teams": {"ml": {
		"checkpoint_minutes": 8,
		"restart_minutes": 15,
		"optimal_interval_minutes": 100,
		"region": "us-east-1",
		"frequency_bucket": ">20%",
		"regions": {
			"eu-west-1": {"optimal_interval_minutes": 200, "frequency_bucket": "15-20%", "instance_types": ["g5.xlarge"]},
			"us-east-1": {"optimal_interval_minutes": 100, "frequency_bucket": ">20%", "instance_types": ["g5.xlarge"]},
		},
	}},
}

# The shipped guardrails with the tests' checkpoints section instead of theirs.
guardrails := object.union(object.remove(data.burst.guardrails, ["checkpoints"]), {"checkpoints": optimum})

findings(resources) := fs if {
	fs := checkpoints.findings with input as t.plan(resources) with data.burst.guardrails as guardrails
}

gpu_container := {"name": "train", "image": "train:1", "resources": {"limits": {"nvidia.com/gpu": "1"}}}

spot_spec := {"tolerations": [toleration], "containers": [gpu_container]}

meta(interval) := {"labels": {"team": "ml"}, "annotations": {"burst.io/checkpoint-interval": interval}}

job_in(name, metadata, spec, region) := t.res_in(
	"kubernetes:batch/v1:Job", name, {
		"metadata": object.union({"name": name}, metadata),
		"spec": {"template": {"metadata": {}, "spec": spec}},
	},
	region,
)

job(name, metadata, spec) := job_in(name, metadata, spec, "eu-west-1")

verdicts(interval, region) := t.severities(findings([job_in("train", meta(interval), spot_spec, region)]), rule)

test_near_the_optimum_allowed if {
	verdicts("200m", "eu-west-1") == set()
	verdicts("3h20m", "eu-west-1") == set()
	verdicts("100m", "eu-west-1") == set() # exactly τ*/2
	verdicts("400m", "eu-west-1") == set() # exactly 2·τ*
}

test_too_long_warns if {
	verdicts("401m", "eu-west-1") == {"warn"}
	verdicts("7h", "eu-west-1") == {"warn"}
}

test_too_short_warns if {
	verdicts("99m", "eu-west-1") == {"warn"}
	verdicts("15m", "eu-west-1") == {"warn"}
}

test_message_names_the_optimum if {
	[f] := t.of_rule(findings([job("train", meta("15m"), spot_spec)]), rule)
	f.message == "kubernetes:batch/v1:Job train (team ml) checkpoints every 15m: 15 min is less than 1/2 of τ* (200 min; bucket 15-20% in eu-west-1)"
}

test_the_region_of_the_plan_counts if {
	# 300 min: within 2x of eu-west-1's 200, above 2x us-east-1's 100
	verdicts("300m", "eu-west-1") == set()
	verdicts("300m", "us-east-1") == {"warn"}
}

test_without_a_region_the_worst_bucket_counts if {
	verdicts("300m", null) == {"warn"}
	[f] := t.of_rule(findings([job_in("train", meta("300m"), spot_spec, null)]), rule)
	contains(f.message, "τ* (100 min; bucket >20% in us-east-1, the worst of its regions)")
	verdicts("150m", null) == set()
}

test_a_region_the_team_has_no_optimum_for_uses_the_worst if {
	verdicts("300m", "eu-central-1") == {"warn"}
}

test_not_a_duration_warns if {
	verdicts("often", "eu-west-1") == {"warn"}
	verdicts("15", "eu-west-1") == {"warn"}
	[f] := t.of_rule(findings([job("train", meta("every epoch"), spot_spec)]), rule)
	contains(f.message, "checkpoints every (not a valid name): it is not a duration")
}

test_unknown_annotations if {
	metadata := {"labels": {"team": "ml"}, "annotations": t.unknown}
	t.severities(findings([job("train", metadata, spot_spec)]), rule) == {"unknown"}
}

test_unknown_team if {
	fs := findings([job("train", {"labels": t.unknown, "annotations": {"burst.io/checkpoint-interval": "15m"}}, spot_spec)])
	t.severities(fs, rule) == {"unknown"}
	selector := object.union(spot_spec, {"nodeSelector": {"burst.io/team": t.unknown}})
	fs2 := findings([job("train", {"annotations": {"burst.io/checkpoint-interval": "15m"}}, selector)])
	t.severities(fs2, rule) == {"unknown"}
	near := findings([job("train", {"labels": t.unknown, "annotations": {"burst.io/checkpoint-interval": "150m"}}, spot_spec)])
	t.severities(near, rule) == set() # near every team's τ*
}

test_unknown_interval if {
	verdicts(t.unknown, "eu-west-1") == {"unknown"}
}

test_without_annotation_not_judged_here if {
	# taints.spot_workload_not_interruption_ready denies it
	fs := findings([job("train", {"labels": {"team": "ml"}}, spot_spec)])
	t.severities(fs, rule) == set()
}

test_not_on_spot_not_judged if {
	fs := findings([job("train", meta("15m"), {"containers": [gpu_container]})])
	t.severities(fs, rule) == set()
}

test_cpu_only_not_judged if {
	spec := {"tolerations": [toleration], "containers": [{"name": "backtest", "image": "b:1", "resources": {"limits": {"cpu": "4"}}}]}
	t.severities(findings([job("train", meta("15m"), spec)]), rule) == set()
}

test_gpu_requests_count if {
	c := {"name": "train", "image": "train:1", "resources": {"requests": {"nvidia.com/gpu": 2}}}
	spec := {"tolerations": [toleration], "containers": [c]}
	t.severities(findings([job("train", meta("15m"), spec)]), rule) == {"warn"}
}

test_unknown_containers if {
	spec := {"tolerations": [toleration], "containers": t.unknown}
	t.severities(findings([job("train", meta("15m"), spec)]), rule) == {"unknown"}
	resources := {"tolerations": [toleration], "containers": [{"name": "c", "resources": t.unknown}]}
	t.severities(findings([job("train", meta("15m"), resources)]), rule) == {"unknown"}
}

test_team_from_node_selector if {
	spec := object.union(spot_spec, {"nodeSelector": {"burst.io/team": "ml"}})
	metadata := {"annotations": {"burst.io/checkpoint-interval": "15m"}}
	t.severities(findings([job("train", metadata, spec)]), rule) == {"warn"}
}

test_team_from_namespace if {
	metadata := {"namespace": "ml", "annotations": {"burst.io/checkpoint-interval": "15m"}}
	t.severities(findings([job("train", metadata, spot_spec)]), rule) == {"warn"}
}

test_team_without_optimum_not_judged if {
	metadata := {"labels": {"team": "quant"}, "annotations": {"burst.io/checkpoint-interval": "15m"}}
	t.severities(findings([job("train", metadata, spot_spec)]), rule) == set()
}

test_annotation_on_pod_template_counts if {
	r := t.res("kubernetes:batch/v1:Job", "train", {
		"metadata": {"name": "train", "labels": {"team": "ml"}},
		"spec": {"template": {"metadata": {"annotations": {"burst.io/checkpoint-interval": "15m"}}, "spec": spot_spec}},
	})
	t.severities(findings([r]), rule) == {"warn"}
}

test_cronjob_and_jobset_judged if {
	cron := t.res("kubernetes:batch/v1:CronJob", "nightly", {
		"metadata": {"name": "nightly", "labels": {"team": "ml"}, "annotations": {"burst.io/checkpoint-interval": "15m"}},
		"spec": {"jobTemplate": {"spec": {"template": {"spec": spot_spec}}}},
	})
	jobset := t.res("kubernetes:jobset.x-k8s.io/v1alpha2:JobSet", "sweep", {
		"metadata": {"name": "sweep", "labels": {"team": "ml"}, "annotations": {"burst.io/checkpoint-interval": "15m"}},
		"spec": {"replicatedJobs": [{"name": "w", "template": {"spec": {"template": {"spec": spot_spec}}}}]},
	})
	count(t.of_rule(findings([cron, jobset]), rule)) == 2
}

test_without_checkpoints_guardrails_nothing_judged if {
	fs := checkpoints.findings with input as t.plan([job("train", meta("15m"), spot_spec)])
		with data.burst.guardrails as object.remove(data.burst.guardrails, ["checkpoints"])
	t.severities(fs, rule) == set()
}

# The shipped guardrails: ml's τ* is about a day at the prod stack's buckets.
test_shipped_guardrails if {
	fs := checkpoints.findings with input as t.plan([job("train", meta("15m"), spot_spec)])
	t.severities(fs, rule) == {"warn"}
	day := checkpoints.findings with input as t.plan([job("train", meta("24h"), spot_spec)])
	t.severities(day, rule) == set()
}

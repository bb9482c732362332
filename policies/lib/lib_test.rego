package burst.lib_test

import data.burst.lib
import data.burst.lib.testing as t

test_canonical_type if {
	lib.canonical_type("kubernetes:karpenter.sh/v1:NodePool") == "kubernetes:karpenter.sh:NodePool"
	lib.canonical_type("kubernetes:core/v1:Pod") == "kubernetes:core:Pod"
	lib.canonical_type("aws:s3/bucket:Bucket") == "aws:s3/bucket:Bucket"
	lib.canonical_type("kubernetes:yaml:ConfigFile:extra") == "kubernetes:yaml:ConfigFile:extra"
}

test_of_type_groups_versions if {
	resources := [
		t.res("kubernetes:karpenter.sh/v1:NodePool", "a", {}),
		t.res("kubernetes:karpenter.sh/v1beta1:NodePool", "b", {}),
		t.res("aws:s3/bucket:Bucket", "c", {}),
	]
	pools := lib.of_type("kubernetes:karpenter.sh:NodePool") with input as t.plan(resources)
	{r.name | some r in pools} == {"a", "b"}
	lib.of_type("aws:sqs/queue:Queue") == [] with input as t.plan(resources)
}

test_unknown_values if {
	lib.is_unknown(t.unknown)
	lib.is_unknown("[secret]")
	not lib.is_unknown("value")
	lib.contains_unknown({"a": [1, {"b": "[secret]"}]})
	not lib.contains_unknown({"a": [1, {"b": "c"}]})
}

test_tri_state if {
	lib.tri_and("yes", "yes") == "yes"
	lib.tri_and("yes", "no") == "no"
	lib.tri_and("unknown", "yes") == "unknown"
	lib.tri_or("no", "no") == "no"
	lib.tri_or("unknown", "yes") == "yes"
	lib.tri_or("unknown", "no") == "unknown"
	lib.tri_not("yes") == "no"
	lib.tri_not("no") == "yes"
	lib.tri_not("unknown") == "unknown"
}

test_quantity if {
	lib.quantity(4) == 4
	lib.quantity("16") == 16
	lib.quantity("2k") == 2000
	not lib.quantity(t.unknown)
	not lib.quantity("lots")
}

test_parse_json if {
	lib.parse_json("{\"a\": 1}") == {"ok": true, "value": {"a": 1}}
	lib.parse_json({"a": 1}) == {"ok": true, "value": {"a": 1}}
	lib.parse_json("{") == {"ok": false}
	lib.parse_json(t.unknown) == {"ok": false}
	lib.parse_json(null) == {"ok": false}
}

test_as_list if {
	lib.as_list([1]) == [1]
	lib.as_list(null) == []
	lib.as_list("x") == ["x"]
}

test_region if {
	lib.region({"region": "eu-west-1", "inputs": {"region": "us-east-1"}}) == "eu-west-1"
	lib.region({"region": null, "inputs": {"region": "us-east-1"}}) == "us-east-1"
	lib.region({"region": null, "inputs": {}}) == null
}

test_teams_of if {
	lib.teams_of({"type": "aws:s3/bucket:Bucket", "inputs": {"tags": {"team": "ml"}, "tagsAll": {"team": "quant"}}}) == {"ml"}
	lib.teams_of({"type": "aws:s3/bucket:Bucket", "inputs": {"tagsAll": {"team": "quant"}}}) == {"quant"}
	lib.teams_of({"type": "kubernetes:karpenter.sh/v1:NodePool", "inputs": {
		"metadata": {"labels": {"team": "ml"}},
		"spec": {"template": {"metadata": {"labels": {"team": "research"}}}},
	}}) == {"ml", "research"}
	lib.teams_of({"type": "pulumi:providers:aws", "inputs": {"tags": {"team": "ml"}}}) == set()
}

test_pod_templates_of_non_workload if {
	not lib.pod_templates({"type": "kubernetes:apps/v1:DaemonSet", "inputs": {}})
}

test_selects_spot if {
	lib.selects_spot({"nodeSelector": {"karpenter.sh/capacity-type": "spot"}}) == "yes"
	lib.selects_spot({"nodeSelector": {"karpenter.sh/capacity-type": "on-demand"}}) == "no"
	lib.selects_spot({}) == "no"
}

test_meta_value if {
	lib.meta_value([{"metadata": {"labels": {"a": "1"}}}, {}, {"metadata": {"labels": {"a": "2"}}}], "labels", "a") == ["1", "2"]
}

test_stack_source_defaults_to_preview if {
	lib.stack_source == "preview" with input as {"resources": []}
	lib.stack_source == "manifests" with input as t.manifests([])
}

test_quoted_values_are_names_or_placeholders if {
	lib.shown_region("eu-west-1") == "eu-west-1"
	lib.shown_region("us-gov-west-1") == "us-gov-west-1"
	lib.shown_region("eu-west-1\nburst check passed") == "(not a region name)"
	lib.shown_region(lib.unknown_sentinel) == "(unknown)"
	lib.shown_region(null) == "(none)"
	lib.shown_region(3) == "(not a region name)"
	lib.shown_name("quant") == "quant"
	lib.shown_name("<script>") == "(not a valid name)"
	lib.shown_name("[secret]") == "(unknown)"
}

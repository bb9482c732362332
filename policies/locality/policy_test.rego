package burst.locality_test

import data.burst.lib.testing as t
import data.burst.locality

findings(resources) := fs if {
	fs := locality.findings with input as t.plan(resources)
}

bucket(name, class, region) := t.res_in("aws:s3/bucket:Bucket", name, {"bucket": name, "tags": {"team": "ml", "data-classification": class}}, region)

# locality.region_not_allowed

test_region_not_allowed_denied if {
	fs := findings([t.res_in("aws:sqs/queue:Queue", "q", {"name": "q"}, "ap-south-1")])
	t.severities(fs, "locality.region_not_allowed") == {"deny"}
}

test_allowed_region if {
	fs := findings([t.res_in("aws:sqs/queue:Queue", "q", {"name": "q"}, "eu-central-1")])
	t.severities(fs, "locality.region_not_allowed") == set()
}

test_global_service_skipped if {
	fs := findings([t.res_in("aws:iam/role:Role", "r", {}, "ap-south-1")])
	t.severities(fs, "locality.region_not_allowed") == set()
}

test_kubernetes_skipped if {
	fs := findings([t.res_in("kubernetes:core/v1:Pod", "p", {}, "ap-south-1")])
	t.severities(fs, "locality.region_not_allowed") == set()
}

test_null_region_is_unknown if {
	fs := findings([t.res_in("aws:sqs/queue:Queue", "q", {"name": "q"}, null)])
	t.severities(fs, "locality.region_not_allowed") == {"unknown"}
}

test_global_service_without_region_skipped if {
	fs := findings([t.res_in("aws:iam/role:Role", "r", {"name": "r"}, null)])
	t.severities(fs, "locality.region_not_allowed") == set()
}

test_region_input_used if {
	fs := findings([t.res_in("aws:sqs/queue:Queue", "q", {"name": "q", "region": "sa-east-1"}, null)])
	t.severities(fs, "locality.region_not_allowed") == {"deny"}
}

test_unknown_region if {
	fs := findings([t.res_in("aws:sqs/queue:Queue", "q", {"name": "q"}, t.unknown)])
	t.severities(fs, "locality.region_not_allowed") == {"unknown"}
}

# locality.storage_unclassified

test_unclassified_bucket_denied if {
	fs := findings([t.res("aws:s3/bucketV2:BucketV2", "b", {"bucket": "b", "tags": {"team": "ml"}})])
	t.severities(fs, "locality.storage_unclassified") == {"deny"}
}

test_unclassified_storage_kinds_denied if {
	fs := findings([
		t.res("aws:ebs/volume:Volume", "v", {"size": 100}),
		t.res("aws:ebs/snapshot:Snapshot", "s", {"volumeId": "vol-1", "tags": {"data-classification": ""}}),
		t.res("aws:efs/fileSystem:FileSystem", "e", {}),
		t.res("aws:fsx/lustreFileSystem:LustreFileSystem", "l", {}),
		t.res("aws:fsx/openZfsFileSystem:OpenZfsFileSystem", "z", {}),
	])
	count(t.of_rule(fs, "locality.storage_unclassified")) == 5
}

test_classified_by_tags_all if {
	fs := findings([t.res("aws:ebs/volume:Volume", "v", {"tagsAll": {"data-classification": "internal"}})])
	t.severities(fs, "locality.storage_unclassified") == set()
}

test_unknown_tags if {
	fs := findings([t.res("aws:ebs/volume:Volume", "v", {"tags": t.unknown})])
	t.severities(fs, "locality.storage_unclassified") == {"unknown"}
}

test_unknown_tags_all if {
	fs := findings([t.res("aws:ebs/volume:Volume", "v", {"tags": {}, "tagsAll": t.unknown})])
	t.severities(fs, "locality.storage_unclassified") == {"unknown"}
}

test_non_storage_skipped if {
	fs := findings([t.res("aws:sqs/queue:Queue", "q", {"name": "q"})])
	t.severities(fs, "locality.storage_unclassified") == set()
}

# locality.storage_region_not_allowed

test_restricted_outside_eu_denied if {
	fs := findings([bucket("data", "restricted", "us-east-1")])
	t.severities(fs, "locality.storage_region_not_allowed") == {"deny"}
}

test_restricted_in_eu_allowed if {
	fs := findings([bucket("data", "restricted", "eu-central-1")])
	t.severities(fs, "locality.storage_region_not_allowed") == set()
}

test_public_anywhere_allowed if {
	fs := findings([bucket("data", "public", "ap-south-1"), bucket("data2", "public", null)])
	t.severities(fs, "locality.storage_region_not_allowed") == set()
}

test_unknown_class_denied if {
	fs := findings([bucket("data", "top-secret", "eu-west-1")])
	t.severities(fs, "locality.storage_region_not_allowed") == {"deny"}
	contains(t.of_rule(fs, "locality.storage_region_not_allowed")[0].message, "class not in guardrails")
}

test_unknown_class_value if {
	fs := findings([bucket("data", t.unknown, "eu-west-1")])
	t.severities(fs, "locality.storage_region_not_allowed") == {"unknown"}
}

test_internal_without_region_unknown if {
	fs := findings([bucket("data", "internal", null)])
	t.severities(fs, "locality.storage_region_not_allowed") == {"unknown"}
}

test_internal_unknown_region if {
	fs := findings([bucket("data", "internal", t.unknown)])
	t.severities(fs, "locality.storage_region_not_allowed") == {"unknown"}
}

# locality.replication_region_not_allowed

replication(name, source, destination) := t.res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", name, {
	"bucket": source,
	"role": "arn:aws:iam::123456789012:role/replication",
	"rules": [{"id": "all", "status": "Enabled", "destination": {"bucket": destination}}],
})

test_replication_restricted_to_us_denied if {
	fs := findings([
		bucket("src", "restricted", "eu-west-1"),
		bucket("dst", "restricted", "us-east-1"),
		replication("rep", "src", "arn:aws:s3:::dst"),
	])
	t.severities(fs, "locality.replication_region_not_allowed") == {"deny"}
}

test_replication_within_eu_allowed if {
	fs := findings([
		bucket("src", "restricted", "eu-west-1"),
		bucket("dst", "restricted", "eu-central-1"),
		replication("rep", "src", "arn:aws:s3:::dst"),
	])
	t.severities(fs, "locality.replication_region_not_allowed") == set()
}

test_replication_by_name_and_urn if {
	fs := findings([
		bucket("src", "internal", "eu-west-1"),
		bucket("dst", "internal", "ap-south-1"),
		replication("rep", t.urn("aws:s3/bucket:Bucket", "src"), "dst"),
	])
	t.severities(fs, "locality.replication_region_not_allowed") == {"deny"}
}

test_replication_by_logical_name if {
	fs := findings([
		t.res_in("aws:s3/bucketV2:BucketV2", "src", {"tags": {"data-classification": "restricted"}}, "eu-west-1"),
		t.res_in("aws:s3/bucketV2:BucketV2", "dst", {"tags": {"data-classification": "restricted"}}, "us-west-2"),
		replication("rep", "src", "dst"),
	])
	t.severities(fs, "locality.replication_region_not_allowed") == {"deny"}
}

test_replication_unresolved_destination if {
	fs := findings([bucket("src", "restricted", "eu-west-1"), replication("rep", "src", "arn:aws:s3:::elsewhere")])
	t.severities(fs, "locality.replication_region_not_allowed") == {"unknown"}
	contains(t.of_rule(fs, "locality.replication_region_not_allowed")[0].message, "cannot be resolved")
}

test_replication_unknown_destination if {
	fs := findings([bucket("src", "restricted", "eu-west-1"), replication("rep", "src", t.unknown)])
	t.severities(fs, "locality.replication_region_not_allowed") == {"unknown"}
}

test_replication_unknown_source if {
	fs := findings([bucket("dst", "restricted", "us-east-1"), replication("rep", t.unknown, "dst")])
	t.severities(fs, "locality.replication_region_not_allowed") == {"unknown"}
}

test_replication_destination_without_region if {
	fs := findings([bucket("src", "restricted", "eu-west-1"), bucket("dst", "restricted", null), replication("rep", "src", "dst")])
	t.severities(fs, "locality.replication_region_not_allowed") == {"unknown"}
}

test_inline_replication_denied if {
	src := t.res_in(
		"aws:s3/bucket:Bucket", "src", {
			"bucket": "src",
			"tags": {"data-classification": "restricted"},
			"replicationConfiguration": {"role": "r", "rules": [{"destination": {"bucket": "arn:aws:s3:::dst"}}]},
		},
		"eu-west-1",
	)
	fs := findings([src, bucket("dst", "restricted", "us-west-2")])
	t.severities(fs, "locality.replication_region_not_allowed") == {"deny"}
}

test_duplicate_urns_do_not_conflict if {
	a := bucket("src", "restricted", "eu-west-1")
	b := object.union(bucket("src", "internal", "us-east-1"), {"urn": a.urn})
	fs := findings([a, b, bucket("dst", "restricted", "eu-central-1"), replication("rep", "src", "dst")])
	t.severities(fs, "locality.replication_region_not_allowed") == set()
	t.severities(fs, "locality.storage_region_not_allowed") == set()
}

# On a first deploy the names are unknown; the engine's dependency record links the buckets.
with_deps(r, deps) := object.union(r, {"propertyDependencies": deps})

test_replication_linked_by_dependencies_denied if {
	src := bucket("src", "restricted", "eu-west-1")
	dst := bucket("dst", "restricted", "us-east-1")
	rep := with_deps(replication("rep", t.unknown, t.unknown), {"bucket": [src.urn], "rules": [src.urn, dst.urn]})
	fs := findings([src, dst, rep])
	t.severities(fs, "locality.replication_region_not_allowed") == {"deny"}
}

test_replication_linked_by_dependencies_allowed if {
	src := bucket("src", "restricted", "eu-west-1")
	dst := bucket("dst", "restricted", "eu-central-1")
	rep := with_deps(replication("rep", t.unknown, t.unknown), {"bucket": [src.urn], "rules": [dst.urn]})
	fs := findings([src, dst, rep])
	t.severities(fs, "locality.replication_region_not_allowed") == set()
}

test_replication_without_record_stays_unknown if {
	src := bucket("src", "restricted", "eu-west-1")
	fs := findings([src, replication("rep", t.unknown, t.unknown)])
	t.severities(fs, "locality.replication_region_not_allowed") == {"unknown"}
}

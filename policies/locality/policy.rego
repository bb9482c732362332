# METADATA
# title: Data locality
# description: >-
#   Where resources and data may live: AWS resources only in allowed regions, storage always
#   classified, and storage and S3 replicas only in the regions their data class allows.
package burst.locality

import data.burst.lib

_storage_reads := {t: [["tags"], ["tagsAll"], ["region"]] |
	some t in {
		"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:ebs/volume:Volume",
		"aws:ebs/snapshot:Snapshot", "aws:ebs/snapshotCopy:SnapshotCopy",
		"aws:efs/fileSystem:FileSystem", "aws:fsx/*",
	}
}

# Input paths each rule judges its subjects on (see burst.main).
reads := {
	"locality.region_not_allowed": {"aws:*": [["region"]]},
	"locality.storage_unclassified": _storage_reads,
	"locality.storage_region_not_allowed": _storage_reads,
	"locality.replication_region_not_allowed": {
		"aws:s3/bucketReplicationConfig:BucketReplicationConfig": [["bucket"], ["rules"]],
		"aws:s3/bucket:Bucket": [["replicationConfiguration"]],
		"aws:s3/bucketV2:BucketV2": [["replicationConfiguration"]],
	},
}

# Services whose resources are global (no region to check).
global_services := {"iam", "budgets", "costexplorer", "organizations", "route53", "cloudfront", "shield"}

_service(t) := split(trim_prefix(t, "aws:"), "/")[0]

regional_types contains t if {
	some t in lib.types
	startswith(t, "aws:")
	not _service(t) in global_services
}

# METADATA
# title: AWS resource outside the allowed regions
# description: >-
#   An AWS resource is placed in a region that is not in guardrails allowed_regions. Global
#   services (IAM, Budgets, Cost Explorer, Organizations, Route 53, CloudFront, Shield) and
#   resources without a region are not checked.
# custom:
#   id: locality.region_not_allowed
#   config_key: allowedRegions
#   severity: deny
#   remediation: >-
#     Deploy the resource through a provider (or region argument) for one of the allowed
#     regions, or extend allowed_regions in policies/data/guardrails.yaml after a review.
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some t in regional_types
	some r in lib.of_type(t)
	region := lib.region(r)
	state := _region_state(region)
	state != "no"
	msg := sprintf("%s %s is in region %s, allowed: %v", [r.type, r.name, lib.shown_region(region), lib.guardrails.allowed_regions])
}

# A regional resource whose region cannot be derived (null) is unknown, never skipped.
_region_state(region) := "unknown" if {
	lib.is_unknown(region)
} else := "unknown" if {
	region == null
} else := "no" if {
	region in lib.guardrails.allowed_regions
} else := "yes"

_shown(x) := "(unknown)" if {
	lib.is_unknown(x)
} else := "(unknown)" if {
	x == null
} else := x

bucket_types := {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}

_storage_type(t) if t in bucket_types

_storage_type(t) if t in {
	"aws:ebs/volume:Volume",
	"aws:ebs/snapshot:Snapshot",
	"aws:ebs/snapshotCopy:SnapshotCopy",
	"aws:efs/fileSystem:FileSystem",
}

_storage_type(t) if {
	startswith(t, "aws:fsx/")
	endswith(t, "FileSystem")
}

storage := [r |
	some t in lib.types
	_storage_type(t)
	some r in lib.of_type(t)
]

# METADATA
# title: Storage without data classification
# description: >-
#   An S3 bucket, EBS volume or snapshot, EFS or FSx file system has no data-classification tag,
#   so nobody can tell where its data may be stored or replicated.
# custom:
#   id: locality.storage_unclassified
#   config_key: dataClasses
#   severity: deny
#   remediation: >-
#     Tag the resource with data-classification set to one of the classes in guardrails
#     data_classifications (public, internal, restricted).
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some r in storage
	not lib.classification(r)
	state := _unclassified_state(r)
	msg := sprintf("%s %s has no %s tag", [r.type, r.name, lib.classification_tag])
}

_unclassified_state(r) := "unknown" if {
	lib.classification_unknown(r)
} else := "yes"

# "no" if data of class c may live in region, "yes" if not, "unknown" if undecidable.
# A class missing from guardrails allows no region.
class_region_state(c, region) := "unknown" if {
	lib.is_unknown(c)
} else := "yes" if {
	not lib.guardrails.data_classifications[c]
} else := "no" if {
	"*" in lib.guardrails.data_classifications[c]
} else := "unknown" if {
	lib.is_unknown(region)
} else := "unknown" if {
	region == null
} else := "no" if {
	region in lib.guardrails.data_classifications[c]
} else := "yes"

_class_regions(c) := regions if {
	regions := lib.guardrails.data_classifications[c]
} else := "none (class not in guardrails)"

# METADATA
# title: Storage in a region its data class does not allow
# description: >-
#   A classified storage resource is in a region that guardrails data_classifications does not
#   list for its class. A class that is not in guardrails allows no region. A non-public
#   resource without a known region cannot be checked and is reported as unknown.
# custom:
#   id: locality.storage_region_not_allowed
#   config_key: dataClasses
#   severity: deny
#   remediation: >-
#     Move the resource to a region its class allows (restricted data stays in eu-west-1 or
#     eu-central-1), or use a class from guardrails.
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some r in storage
	c := lib.classification(r)
	region := lib.region(r)
	state := class_region_state(c, region)
	state != "no"
	msg := sprintf("%s %s holds %s data in region %s, allowed: %v", [r.type, r.name, lib.shown_name(c), lib.shown_region(region), _class_regions(c)])
}

# Every string that may name a bucket in the plan: its URN, its bucket name and ARN, or its
# logical name when the bucket name is not set.
_bucket_keys(r) := {r.urn, b, concat("", ["arn:aws:s3:::", b])} if {
	b := lib.inputs(r).bucket
	is_string(b)
	not lib.is_unknown(b)
} else := {r.urn, r.name}

buckets := [r |
	some t in bucket_types
	some r in lib.of_type(t)
]

_bucket_entries := [[k, i] |
	some i, r in buckets
	some k in _bucket_keys(r)
]

# bucket_index[key] is the set of positions in `buckets` of the buckets that key names (an
# indexed comprehension; positions, not URNs, so duplicate URNs cannot conflict).
bucket_index := {k: positions |
	some entry in _bucket_entries
	k := entry[0]
	positions := {i | some e in _bucket_entries; e[0] == k; i := e[1]}
}

# Buckets a reference (name, ARN, "arn:aws:s3:::name/prefix") resolves to.
resolve_bucket(ref) := {buckets[i] |
	some key in {ref, trim_prefix(ref, "arn:aws:s3:::")}
	some i in object.get(bucket_index, key, set())
}

# Replications: [resource, source bucket reference or the bucket itself, destination reference].
# Replications: [resource, source, destination reference, the input key that holds the rules].
_replications contains [r, {"ref": object.get(lib.inputs(r), "bucket", null), "of": r}, dest, "rules"] if {
	some r in lib.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
	some rule in lib.as_list(object.get(lib.inputs(r), "rules", []))
	dest := _destination(rule)
}

# The destination bucket of a replication rule; unknown when the rule itself is.
_destination(rule) := object.get(rule, ["destination", "bucket"], null) if {
	is_object(rule)
} else := lib.unknown_sentinel

# Legacy inline replication on the bucket resource itself.
_replications contains [r, {"bucket": r}, dest, "replicationConfiguration"] if {
	some r in buckets
	some cfg in lib.as_list(object.get(lib.inputs(r), "replicationConfiguration", []))
	some rule in lib.as_list(_config_rules(cfg))
	dest := _destination(rule)
}

_config_rules(cfg) := object.get(cfg, "rules", []) if {
	is_object(cfg)
} else := [lib.unknown_sentinel]

# Buckets of the plan among the resources the engine recorded for an input key.
_recorded_buckets(r, key) := {b | some b in buckets; b.urn in lib.property_sources(r, key)}

# Source buckets: the bucket itself, the one its reference names, else the one the engine
# recorded the reference as computed from (an unknown name on a first deploy).
_source_buckets(src) := {src.bucket} if {
	src.bucket
} else := _resolved(src.ref) if {
	count(_resolved(src.ref)) > 0
} else := _recorded_buckets(src.of, "bucket")

# Destination buckets: by name or ARN, else the buckets the rules were computed from other than
# the source.
_destination_buckets(r, src, dest, key) := _resolved(dest) if {
	count(_resolved(dest)) > 0
} else := _recorded_buckets(r, key) - _source_buckets(src) if {
	lib.is_unknown(dest)
} else := set()

_source_classes(src) := {c | some b in _source_buckets(src); c := lib.classification(b)}

_resolved(ref) := resolve_bucket(ref) if {
	is_string(ref)
	not lib.is_unknown(ref)
} else := set()

# [state, message] verdicts for one replication.
_replication_verdicts(dests, src, dest) := {["unknown", sprintf("destination bucket %v cannot be resolved to a bucket in the plan", [_shown(dest)])]} if {
	count(dests) == 0
} else := {["unknown", "the source bucket or its data class cannot be resolved"]} if {
	count(_source_classes(src)) == 0
} else := {[state, sprintf("replicates %s data to bucket %s in region %s, allowed: %v", [lib.shown_name(c), b.name, lib.shown_region(region), _class_regions(c)])] |
	some c in _source_classes(src)
	some b in dests
	region := lib.region(b)
	state := class_region_state(c, region)
	state != "no"
}

# METADATA
# title: S3 replication to a region the data class does not allow
# description: >-
#   An S3 replication rule (BucketReplicationConfig, or a bucket's inline replication
#   configuration) copies data to a destination bucket in a region that the source bucket's
#   data class does not allow. The destination (name or ARN) is resolved to a bucket in the
#   plan; when it or the source's class cannot be resolved the finding is unknown.
# custom:
#   id: locality.replication_region_not_allowed
#   config_key: dataClasses
#   severity: deny
#   remediation: >-
#     Replicate only to a bucket in a region the source's data class allows, and declare the
#     destination bucket in the same stack so the policy can check it.
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some [r, src, dest, key] in _replications
	some [state, detail] in _replication_verdicts(_destination_buckets(r, src, dest, key), src, dest)
	msg := sprintf("replication %s: %s", [r.name, detail])
}

"""DatasetStorage under the mock runtime: region pin, immutability, encryption, lifecycle."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from hypothesis import given
from hypothesis import strategies as st

from burst_platform.components.conventions import ComponentArgsError
from burst_platform.components.dataset_storage import (
    Dataset,
    DatasetStorage,
    DatasetStorageArgs,
    bucket_name,
    most_restrictive_class,
    s3_bucket_name_problem,
)
from burst_platform.mock_runtime import Registration, run_program
from tests.conftest import assert_children_of, of_type

ACCOUNT = "111122223333"
CLASS_REGIONS = {
    "public": ["*"],
    "internal": ["*"],
    "confidential": ["eu-west-1", "eu-central-1"],
    "restricted": ["eu-central-1"],
}
ARGS = DatasetStorageArgs(
    team="ml",
    environment="dev",
    region="eu-west-1",
    bucket_prefix="acme",
    datasets=(Dataset("imagenet", "internal"),),
    class_regions=CLASS_REGIONS,
    account_id="111122223333",
)
DATASET_BUCKET = "acme-ml-dev-eu-west-1-imagenet"
CHECKPOINT_BUCKET = "acme-ml-dev-eu-west-1-checkpoints"


def run(*storages: tuple[str, DatasetStorageArgs]) -> list[Registration]:
    """Create each (name, args) DatasetStorage with a provider in the args' region."""

    def program() -> None:
        providers: dict[str, aws.Provider] = {}
        for name, args in storages:
            if args.region not in providers:
                providers[args.region] = aws.Provider(f"aws-{args.region}", region=args.region)
            DatasetStorage(
                name, args, opts=pulumi.ResourceOptions(providers=[providers[args.region]])
            )

    return run_program(program, project="burst-platform", stack="test")


def for_bucket(
    registrations: list[Registration], resource_type: str, bucket: str
) -> dict[str, Any]:
    (match,) = [r for r in of_type(registrations, resource_type) if r.inputs["bucket"] == bucket]
    return match.inputs


def key_arn(registrations: list[Registration]) -> str:
    (key,) = of_type(registrations, "aws:kms/key:Key")
    return f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key.id}"


def test_default_resource_counts() -> None:
    registrations = run(("ml", ARGS))
    assert Counter(r.type for r in registrations if r.type.startswith("aws:")) == {
        "aws:kms/key:Key": 1,
        "aws:kms/alias:Alias": 1,
        "aws:s3/bucket:Bucket": 2,
        "aws:s3/bucketVersioning:BucketVersioning": 2,
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": 1,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 2,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 2,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 2,
        "aws:s3/bucketPolicy:BucketPolicy": 2,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
    }


def test_children_belong_to_the_component_and_its_provider() -> None:
    assert_children_of(run(("ml", ARGS)), "burst:storage:DatasetStorage", "ml-")


def test_dataset_bucket_is_locked_tagged_and_kept_on_destroy() -> None:
    registrations = run(("ml", ARGS))
    bucket = for_bucket(registrations, "aws:s3/bucket:Bucket", DATASET_BUCKET)
    assert bucket["objectLockEnabled"] is True
    assert bucket["forceDestroy"] is False
    assert bucket["tags"] == {
        "team": "ml",
        "environment": "dev",
        "data-classification": "internal",
    }
    versioning = for_bucket(
        registrations, "aws:s3/bucketVersioning:BucketVersioning", DATASET_BUCKET
    )
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    lock = for_bucket(
        registrations,
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        DATASET_BUCKET,
    )
    assert lock["objectLockEnabled"] == "Enabled"
    assert lock["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 365}}


def test_object_lock_mode_and_days_are_per_dataset() -> None:
    args = dataclasses.replace(
        ARGS,
        datasets=(
            Dataset("ticks", "confidential", object_lock_days=2555, object_lock_mode="COMPLIANCE"),
            Dataset("scratch", "public", object_lock_days=1),
        ),
    )
    registrations = run(("ml", args))
    rules = {
        r.inputs["bucket"]: r.inputs["rule"]["defaultRetention"]
        for r in of_type(
            registrations, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
        )
    }
    assert rules == {
        "acme-ml-dev-eu-west-1-ticks": {"mode": "COMPLIANCE", "days": 2555},
        "acme-ml-dev-eu-west-1-scratch": {"mode": "GOVERNANCE", "days": 1},
    }


@pytest.mark.parametrize("bucket", [DATASET_BUCKET, CHECKPOINT_BUCKET])
def test_every_bucket_is_private_kms_encrypted_and_tls_only(bucket: str) -> None:
    registrations = run(("ml", ARGS))
    key = key_arn(registrations)
    encryption = for_bucket(
        registrations,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        bucket,
    )
    assert encryption["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "aws:kms",
                "kmsMasterKeyId": key,
            },
            "bucketKeyEnabled": True,
        }
    ]
    public = for_bucket(
        registrations, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket
    )
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert public[flag] is True, flag
    ownership = for_bucket(
        registrations, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket
    )
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}

    policy = json.loads(
        for_bucket(registrations, "aws:s3/bucketPolicy:BucketPolicy", bucket)["policy"]
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert {s["Effect"] for s in by_sid.values()} == {"Deny"}
    tls = by_sid["DenyInsecureTransport"]
    assert tls["Principal"] == "*"
    assert tls["Action"] == "s3:*"
    assert tls["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    other_key = by_sid["DenyOtherKmsKeys"]
    assert other_key["Action"] == "s3:PutObject"
    assert other_key["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key}
    }
    assert by_sid["DenyOtherEncryption"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }


def test_checkpoint_bucket_is_unlocked_and_expires() -> None:
    registrations = run(("ml", ARGS))
    bucket = for_bucket(registrations, "aws:s3/bucket:Bucket", CHECKPOINT_BUCKET)
    assert bucket["objectLockEnabled"] is False
    assert bucket["tags"]["data-classification"] == "internal"
    locked = {
        r.inputs["bucket"]
        for r in of_type(
            registrations, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
        )
    }
    assert CHECKPOINT_BUCKET not in locked
    versioning = for_bucket(
        registrations, "aws:s3/bucketVersioning:BucketVersioning", CHECKPOINT_BUCKET
    )
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    (rule,) = for_bucket(
        registrations,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        CHECKPOINT_BUCKET,
    )["rules"]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": ""}
    assert rule["expiration"] == {"days": 14}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_checkpoint_retention_is_configurable() -> None:
    args = dataclasses.replace(
        ARGS,
        checkpoint_expiry_days=3,
        noncurrent_version_expiry_days=1,
        checkpoint_classification="confidential",
    )
    registrations = run(("ml", args))
    (rule,) = for_bucket(
        registrations,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        CHECKPOINT_BUCKET,
    )["rules"]
    assert rule["expiration"] == {"days": 3}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 1}
    bucket = for_bucket(registrations, "aws:s3/bucket:Bucket", CHECKPOINT_BUCKET)
    assert bucket["tags"]["data-classification"] == "confidential"


def test_key_rotates_and_carries_the_most_restrictive_class_it_protects() -> None:
    args = dataclasses.replace(
        ARGS, datasets=(Dataset("imagenet", "internal"), Dataset("ticks", "confidential"))
    )
    registrations = run(("ml", args))
    (key,) = of_type(registrations, "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["tags"] == {
        "team": "ml",
        "environment": "dev",
        "data-classification": "confidential",
    }
    (alias,) = of_type(registrations, "aws:kms/alias:Alias")
    assert alias.inputs == {"name": "alias/burst-ml-dev-datasets", "targetKeyId": key.id}


def test_most_restrictive_class_counts_regions_and_breaks_ties_by_order() -> None:
    assert most_restrictive_class(CLASS_REGIONS, ["public", "confidential"]) == "confidential"
    assert most_restrictive_class(CLASS_REGIONS, ["restricted", "confidential"]) == "restricted"
    assert most_restrictive_class(CLASS_REGIONS, ["public", "internal"]) == "internal"
    assert most_restrictive_class(CLASS_REGIONS, ["internal", "public"]) == "internal"
    assert most_restrictive_class({"a": ["eu-west-1"], "b": ["*"]}, ["b", "a"]) == "a"


def test_region_pin_allows_a_class_in_its_regions() -> None:
    args = dataclasses.replace(
        ARGS, region="eu-central-1", datasets=(Dataset("pii", "restricted"),)
    )
    registrations = run(("ml", args))
    bucket = for_bucket(registrations, "aws:s3/bucket:Bucket", "acme-ml-dev-eu-central-1-pii")
    assert bucket["tags"]["data-classification"] == "restricted"


@pytest.mark.parametrize(
    ("datasets", "field"),
    [
        ((Dataset("pii", "restricted"),), "datasets[0].classification"),
        ((Dataset("a", "internal"), Dataset("pii", "restricted")), "datasets[1].classification"),
    ],
)
def test_region_pin_rejects_a_class_outside_its_regions(
    datasets: tuple[Dataset, ...], field: str
) -> None:
    with pytest.raises(ComponentArgsError) as error:
        dataclasses.replace(ARGS, datasets=datasets)
    assert error.value.field == field
    assert "eu-west-1" in error.value.problem
    assert "restricted" in error.value.problem


def test_region_pin_applies_to_checkpoints() -> None:
    with pytest.raises(ComponentArgsError) as error:
        dataclasses.replace(ARGS, checkpoint_classification="restricted")
    assert error.value.field == "checkpoint_classification"
    assert "eu-west-1" in error.value.problem


def test_unknown_class_is_rejected() -> None:
    with pytest.raises(ComponentArgsError) as error:
        dataclasses.replace(ARGS, datasets=(Dataset("x", "secret"),))
    assert error.value.field == "datasets[0].classification"
    assert "not in class_regions" in error.value.problem


def test_bucket_names_are_unique_per_team_environment_and_region() -> None:
    registrations = run(
        ("ml-eu", ARGS),
        ("ml-us", dataclasses.replace(ARGS, region="us-east-1")),
        ("ml-prod", dataclasses.replace(ARGS, environment="prod")),
        ("quant", dataclasses.replace(ARGS, team="quant")),
    )
    names = [r.inputs["bucket"] for r in of_type(registrations, "aws:s3/bucket:Bucket")]
    assert len(names) == len(set(names)) == 8


def test_long_names_are_bounded_and_valid() -> None:
    args = dataclasses.replace(
        ARGS,
        bucket_prefix="acme-research-platform",
        team="quantitative-research",
        environment="production",
        region="ap-southeast-2",
        datasets=(Dataset("equities-tick-history-level-3", "public"),),
    )
    names = [r.inputs["bucket"] for r in of_type(run(("ml", args)), "aws:s3/bucket:Bucket")]
    assert len(names) == 2
    for name in names:
        assert len(name) <= 63
        assert s3_bucket_name_problem(name) is None


def test_outputs() -> None:
    resolved: dict[str, Any] = {}

    def program() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        storage = DatasetStorage("ml", ARGS, opts=pulumi.ResourceOptions(providers=[provider]))
        pulumi.Output.all(
            datasets=pulumi.Output.all(**storage.dataset_bucket_arns),
            names=pulumi.Output.all(**storage.dataset_bucket_names),
            checkpoints=storage.checkpoint_bucket_arn,
            checkpoint_name=storage.checkpoint_bucket_name,
            key=storage.kms_key_arn,
        ).apply(resolved.update)

    run_program(program, project="burst-platform", stack="test")
    assert resolved["datasets"] == {"imagenet": f"arn:aws:s3:::{DATASET_BUCKET}"}
    assert resolved["names"] == {"imagenet": DATASET_BUCKET}
    assert resolved["checkpoints"] == f"arn:aws:s3:::{CHECKPOINT_BUCKET}"
    assert resolved["checkpoint_name"] == CHECKPOINT_BUCKET
    assert resolved["key"].startswith(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/")


def test_no_datasets_still_creates_the_checkpoint_bucket() -> None:
    registrations = run(("ml", dataclasses.replace(ARGS, datasets=())))
    assert [r.inputs["bucket"] for r in of_type(registrations, "aws:s3/bucket:Bucket")] == [
        CHECKPOINT_BUCKET
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"team": "ML"}, "team"),
        ({"environment": "-dev"}, "environment"),
        ({"region": "eu-west"}, "region"),
        ({"bucket_prefix": "Acme"}, "bucket_prefix"),
        ({"bucket_prefix": "xn--acme"}, "bucket_prefix"),
        ({"bucket_prefix": "acme.corp"}, "bucket_prefix"),
        ({"class_regions": {}}, "class_regions"),
        ({"class_regions": {**CLASS_REGIONS, "pii": []}}, "class_regions['pii']"),
        ({"class_regions": {**CLASS_REGIONS, "pii": "eu-west-1"}}, "class_regions['pii']"),
        ({"class_regions": {**CLASS_REGIONS, "pii": ["mars-1"]}}, "class_regions['pii'][0]"),
        ({"class_regions": {"Internal": ["*"]}}, "class_regions['Internal']"),
        ({"datasets": "imagenet"}, "datasets"),
        ({"datasets": (Dataset("Imagenet", "internal"),)}, "datasets[0].name"),
        ({"datasets": (Dataset("checkpoints", "internal"),)}, "datasets[0].name"),
        ({"datasets": (Dataset("x-s3alias", "internal"),)}, "datasets[0].name"),
        (
            {"datasets": (Dataset("a", "internal"), Dataset("a", "public"))},
            "datasets[1].name",
        ),
        (
            {"datasets": (Dataset("a", "internal", object_lock_days=0),)},
            "datasets[0].object_lock_days",
        ),
        (
            {"datasets": (Dataset("a", "internal", object_lock_days=36501),)},
            "datasets[0].object_lock_days",
        ),
        (
            {"datasets": (Dataset("a", "internal", object_lock_mode="LEGAL"),)},  # type: ignore[arg-type]
            "datasets[0].object_lock_mode",
        ),
        ({"checkpoint_classification": "secret"}, "checkpoint_classification"),
        ({"checkpoint_expiry_days": 0}, "checkpoint_expiry_days"),
        ({"noncurrent_version_expiry_days": 1.5}, "noncurrent_version_expiry_days"),
    ],
)
def test_bad_arguments_are_rejected_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        dataclasses.replace(ARGS, **changes)
    assert error.value.field == field


NAME = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True)


@given(prefix=NAME, team=NAME, environment=NAME, suffix=NAME)
def test_bucket_names_always_fit_s3_rules(
    prefix: str, team: str, environment: str, suffix: str
) -> None:
    name = bucket_name(prefix, team, environment, "eu-west-1", suffix)
    assert len(name) <= 63
    if not prefix.startswith(("xn--", "sthree-", "amzn-s3-demo-")) and not name.endswith(
        ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")
    ):
        assert s3_bucket_name_problem(name) is None

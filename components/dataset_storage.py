"""Region-pinned, encrypted, immutable dataset buckets and a short-lived checkpoint bucket per team.

Training data and backtest inputs are regulated: each dataset carries a data class, and
`class_regions` says where each class may live. The arguments are rejected before anything is
created when a class may not be stored in the region this stack deploys to, which is what keeps
a burst into another region from copying data there.

Dataset buckets are write-once (S3 Object Lock with a default retention), versioned, encrypted
with the team's KMS key in the region, private and TLS-only. The checkpoint bucket has no
object lock, since checkpoints are rewritten all the time, and a lifecycle rule removes them
after a few days.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from burst_platform.components.conventions import (
    DATA_CLASSIFICATION_TAG,
    ComponentArgsError,
    bounded_name,
    key_policy,
    require_account_id,
    require_name,
    require_region,
    team_tags,
)

ANY_REGION = "*"
"""Entry of `class_regions` meaning the class may live in any region."""

CHECKPOINT_BUCKET_SUFFIX = "checkpoints"
"""Last part of the checkpoint bucket's name (so no dataset may be called this)."""

ABORT_INCOMPLETE_UPLOAD_DAYS = 7
"""Incomplete multipart uploads of checkpoints are aborted after this many days."""

BUCKET_NAME_MAX = 63
MAX_OBJECT_LOCK_DAYS = 36500
S3_BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")
OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")

_SseByDefault = (
    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
)


@dataclass(frozen=True)
class Dataset:
    """One dataset bucket; validated by `DatasetStorageArgs`, which knows its position."""

    name: str
    """Dataset name: lower-case letters, digits and '-'; the last part of the bucket name."""

    classification: str
    """Data class; must be a key of `DatasetStorageArgs.class_regions` allowed in the region."""

    object_lock_days: int = 365
    """Default retention of every object version, in days (1 to 36500)."""

    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    """GOVERNANCE (principals with s3:BypassGovernanceRetention may delete early) or COMPLIANCE
    (nobody can, not even the root user, until the retention ends)."""


def bucket_name(bucket_prefix: str, team: str, environment: str, region: str, suffix: str) -> str:
    """Globally unique bucket name of at most 63 characters (hashed when longer)."""
    return bounded_name(
        bucket_prefix, team, environment, region, suffix, max_length=BUCKET_NAME_MAX
    )


def s3_bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid S3 bucket name without dots, or None if it is."""
    if not S3_BUCKET_PATTERN.fullmatch(name):
        return "must be 3-63 lower-case letters, digits and '-', starting and ending alphanumeric"
    if name.startswith(S3_RESERVED_PREFIXES):
        return f"must not start with any of {', '.join(S3_RESERVED_PREFIXES)}"
    if name.endswith(S3_RESERVED_SUFFIXES):
        return f"must not end with any of {', '.join(S3_RESERVED_SUFFIXES)}"
    return None


def allows_region(
    class_regions: Mapping[str, Sequence[str]], classification: str, region: str
) -> bool:
    """Whether data of `classification` may be stored in `region`."""
    allowed = class_regions.get(classification, ())
    return ANY_REGION in allowed or region in allowed


def most_restrictive_class(
    class_regions: Mapping[str, Sequence[str]], classifications: Sequence[str]
) -> str:
    """The most restrictive of `classifications`: the one allowed in the fewest regions.

    `"*"` counts as every region. Ties go to the class listed later in `class_regions`, so list
    the classes from least to most sensitive.
    """
    order = list(class_regions)

    def rank(classification: str) -> tuple[float, int]:
        regions = class_regions[classification]
        width = float("inf") if ANY_REGION in regions else len(set(regions))
        return (-width, order.index(classification))

    return max(classifications, key=rank)


def bucket_policy(bucket_arn: str, kms_key_arn: str) -> dict[str, Any]:
    """Bucket policy: TLS only, and uploads only with this bucket's KMS key.

    The encryption statements use `...IfExists`, so an upload that names no encryption gets the
    bucket default (SSE-KMS with this key) and is allowed; an upload that asks for another key
    or for SSE-S3 is denied. A key given in the upload must be given as its ARN.
    """
    objects = f"{bucket_arn}/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, objects],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOtherEncryption",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {
                    "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
                },
            },
            {
                "Sid": "DenyOtherKmsKeys",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {
                    "StringNotEqualsIfExists": {
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": kms_key_arn
                    }
                },
            },
        ],
    }


@dataclass(frozen=True)
class DatasetStorageArgs:
    """Arguments of `DatasetStorage`."""

    team: str
    """Team that owns the data (tags, names)."""

    environment: str
    """Environment tag value; part of the bucket names."""

    region: str
    """Region the provider deploys to: checked against `class_regions`, and part of the names."""

    bucket_prefix: str
    """Organisation prefix that makes the bucket names globally unique (e.g. `acme-burst`)."""

    datasets: Sequence[Dataset]
    """Dataset buckets to create (may be empty: then only the checkpoint bucket)."""

    class_regions: Mapping[str, Sequence[str]]
    """Regions each data class may be stored in (`"*"`: any). List the classes from least to
    most sensitive: that order breaks ties when choosing the KMS key's classification tag."""

    account_id: str
    """AWS account that owns the storage: its root administers the data key (explicit policy)."""

    checkpoint_classification: str = "internal"
    """Data class of the checkpoints (they derive from the datasets; pick at least theirs)."""

    checkpoint_expiry_days: int = 14
    """Checkpoints (current versions) are deleted after this many days."""

    noncurrent_version_expiry_days: int = 30
    """Overwritten or deleted checkpoint versions are removed after this many days."""

    def __post_init__(self) -> None:
        require_name("team", self.team)
        require_name("environment", self.environment)
        require_region("region", self.region)
        require_account_id("account_id", self.account_id)
        require_name("bucket_prefix", self.bucket_prefix, max_length=BUCKET_NAME_MAX)
        if self.bucket_prefix.startswith(S3_RESERVED_PREFIXES):
            raise ComponentArgsError("bucket_prefix", "starts with a prefix S3 reserves")
        self._check_class_regions()
        if isinstance(self.datasets, str) or not all(isinstance(d, Dataset) for d in self.datasets):
            raise ComponentArgsError("datasets", "must be a list of Dataset")
        names = [d.name for d in self.datasets]
        for index, dataset in enumerate(self.datasets):
            self._check_dataset(index, dataset)
            if names.index(dataset.name) != index:
                raise ComponentArgsError(
                    f"datasets[{index}].name", f"{dataset.name!r} is used twice"
                )
        self._check_class("checkpoint_classification", self.checkpoint_classification)
        for field in ("checkpoint_expiry_days", "noncurrent_version_expiry_days"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ComponentArgsError(field, f"{value!r} must be a whole number of days, >= 1")

    def _check_class_regions(self) -> None:
        if not isinstance(self.class_regions, Mapping) or not self.class_regions:
            raise ComponentArgsError("class_regions", "must map at least one data class")
        for classification, regions in self.class_regions.items():
            require_name(f"class_regions[{classification!r}]", classification)
            if isinstance(regions, str) or not regions:
                raise ComponentArgsError(
                    f"class_regions[{classification!r}]", "must be a non-empty list of regions"
                )
            for index, region in enumerate(regions):
                if region != ANY_REGION:
                    require_region(f"class_regions[{classification!r}][{index}]", region)

    def _check_class(self, field: str, classification: str) -> None:
        if classification not in self.class_regions:
            raise ComponentArgsError(
                field,
                f"data class {classification!r} is not in class_regions "
                f"({', '.join(self.class_regions)})",
            )
        if not allows_region(self.class_regions, classification, self.region):
            raise ComponentArgsError(
                field,
                f"{classification!r} data may not be stored in {self.region} "
                f"(allowed: {', '.join(self.class_regions[classification])})",
            )

    def _check_dataset(self, index: int, dataset: Dataset) -> None:
        field = f"datasets[{index}]"
        require_name(f"{field}.name", dataset.name)
        if dataset.name == CHECKPOINT_BUCKET_SUFFIX:
            raise ComponentArgsError(f"{field}.name", f"{dataset.name!r} is reserved")
        problem = s3_bucket_name_problem(self.bucket_name(dataset.name))
        if problem:
            raise ComponentArgsError(f"{field}.name", f"bucket name {problem}")
        self._check_class(f"{field}.classification", dataset.classification)
        days = dataset.object_lock_days
        if isinstance(days, bool) or not isinstance(days, int):
            raise ComponentArgsError(f"{field}.object_lock_days", f"{days!r} is not whole days")
        if not 1 <= days <= MAX_OBJECT_LOCK_DAYS:
            raise ComponentArgsError(
                f"{field}.object_lock_days", f"{days} must be from 1 to {MAX_OBJECT_LOCK_DAYS}"
            )
        if dataset.object_lock_mode not in OBJECT_LOCK_MODES:
            raise ComponentArgsError(
                f"{field}.object_lock_mode",
                f"{dataset.object_lock_mode!r} is not one of {', '.join(OBJECT_LOCK_MODES)}",
            )

    def bucket_name(self, suffix: str) -> str:
        """Name of this team's bucket ending in `suffix` (a dataset name or `checkpoints`)."""
        return bucket_name(self.bucket_prefix, self.team, self.environment, self.region, suffix)

    @property
    def key_classification(self) -> str:
        """Classification tag of the KMS key: the most restrictive class it protects."""
        stored = [d.classification for d in self.datasets] + [self.checkpoint_classification]
        return most_restrictive_class(self.class_regions, stored)


class DatasetStorage(pulumi.ComponentResource):
    """A team's dataset buckets and checkpoint bucket in one region, with their KMS key.

    Children: a KMS key and alias; per dataset a bucket with versioning, object lock, SSE-KMS,
    public access block, ownership controls and policy; the checkpoint bucket with versioning,
    SSE-KMS, public access block, ownership controls, policy and lifecycle rule.
    """

    dataset_bucket_arns: dict[str, pulumi.Output[str]]
    """ARN of each dataset bucket, by dataset name."""

    dataset_bucket_names: dict[str, pulumi.Output[str]]
    """Name of each dataset bucket, by dataset name."""

    checkpoint_bucket_arn: pulumi.Output[str]
    """ARN of the checkpoint bucket."""

    checkpoint_bucket_name: pulumi.Output[str]
    """Name of the checkpoint bucket."""

    kms_key_arn: pulumi.Output[str]
    """ARN of the KMS key every bucket is encrypted with."""

    def __init__(
        self, name: str, args: DatasetStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:storage:DatasetStorage", name, None, opts)

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Datasets and checkpoints of {args.team}/{args.environment}",
            enable_key_rotation=True,
            policy=json.dumps(key_policy(args.account_id)),
            tags=team_tags(
                args.team,
                args.environment,
                **{DATA_CLASSIFICATION_TAG: args.key_classification},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/burst-{args.team}-{args.environment}-datasets",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.dataset_bucket_arns = {}
        self.dataset_bucket_names = {}
        for dataset in args.datasets:
            bucket = self._bucket(
                f"{name}-{dataset.name}",
                args.bucket_name(dataset.name),
                args,
                dataset.classification,
                key,
                object_lock=True,
            )
            versioning = self._versioning(f"{name}-{dataset.name}", bucket)
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-{dataset.name}-object-lock",
                bucket=bucket.bucket,
                object_lock_enabled="Enabled",
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=dataset.object_lock_mode,
                        days=dataset.object_lock_days,
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
            )
            self.dataset_bucket_arns[dataset.name] = bucket.arn
            self.dataset_bucket_names[dataset.name] = bucket.bucket

        checkpoints = self._bucket(
            f"{name}-{CHECKPOINT_BUCKET_SUFFIX}",
            args.bucket_name(CHECKPOINT_BUCKET_SUFFIX),
            args,
            args.checkpoint_classification,
            key,
            object_lock=False,
        )
        versioning = self._versioning(f"{name}-{CHECKPOINT_BUCKET_SUFFIX}", checkpoints)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-{CHECKPOINT_BUCKET_SUFFIX}-lifecycle",
            bucket=checkpoints.bucket,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-checkpoints",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.checkpoint_expiry_days
                    ),
                    noncurrent_version_expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=args.noncurrent_version_expiry_days
                        )
                    ),
                    abort_incomplete_multipart_upload=(
                        aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=ABORT_INCOMPLETE_UPLOAD_DAYS
                        )
                    ),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

        self.checkpoint_bucket_arn = checkpoints.arn
        self.checkpoint_bucket_name = checkpoints.bucket
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "dataset_bucket_arns": self.dataset_bucket_arns,
                "dataset_bucket_names": self.dataset_bucket_names,
                "checkpoint_bucket_arn": self.checkpoint_bucket_arn,
                "checkpoint_bucket_name": self.checkpoint_bucket_name,
                "kms_key_arn": self.kms_key_arn,
            }
        )

    def _bucket(
        self,
        resource_name: str,
        physical_name: str,
        args: DatasetStorageArgs,
        classification: str,
        key: aws.kms.Key,
        *,
        object_lock: bool,
    ) -> aws.s3.Bucket:
        """A private, TLS-only, SSE-KMS bucket (the parts both bucket kinds share)."""
        bucket = aws.s3.Bucket(
            resource_name,
            bucket=physical_name,
            object_lock_enabled=object_lock,
            force_destroy=False,
            tags=team_tags(
                args.team, args.environment, **{DATA_CLASSIFICATION_TAG: classification}
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{resource_name}-encryption",
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=_SseByDefault(
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{resource_name}-public-access",
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketOwnershipControls(
            f"{resource_name}-ownership",
            bucket=bucket.bucket,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # S3 rejects concurrent policy and public-access-block writes (OperationAborted).
        aws.s3.BucketPolicy(
            f"{resource_name}-policy",
            bucket=bucket.bucket,
            policy=pulumi.Output.json_dumps(
                pulumi.Output.all(bucket.arn, key.arn).apply(
                    lambda arns: bucket_policy(arns[0], arns[1])
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        return bucket

    def _versioning(self, resource_name: str, bucket: aws.s3.Bucket) -> aws.s3.BucketVersioning:
        return aws.s3.BucketVersioning(
            f"{resource_name}-versioning",
            bucket=bucket.bucket,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

"""DynamoDB tables (from shared.core.resources.TABLES) and the S3 bucket for raw inbound bodies."""

from __future__ import annotations

from typing import cast

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.nag import acknowledge
from shared.core import resources as res
from shared.core.config import DEFAULT_RETENTION_DAYS

RAW_BODY_IA_AFTER_DAYS = 30  # S3's earliest transition to STANDARD_IA
IA_MINIMUM_DAYS = 30  # STANDARD_IA bills at least 30 days of storage per object
ACCESS_LOG_EXPIRY = Duration.days(90)


def raw_body_rule(retention_days: int) -> s3.LifecycleRule:
    """Raw bodies expire in step with the events that point at them (README: Retention).

    An event expires `retention_days` after it was received, and its raw body was stored at
    receipt; S3 counts from the object's creation and acts at the next midnight UTC, so one more
    day keeps every body for at least as long as its event is readable. A body moves to
    STANDARD_IA after 30 days only when it then stays there 30 days or more: a shorter stay would
    be billed 30 days anyway and cost more than staying in STANDARD
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html).
    """
    expiry_days = retention_days + 1
    transitions = []
    if expiry_days >= RAW_BODY_IA_AFTER_DAYS + IA_MINIMUM_DAYS:
        transitions.append(
            s3.Transition(
                storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                transition_after=Duration.days(RAW_BODY_IA_AFTER_DAYS),
            )
        )
    return s3.LifecycleRule(
        id="age-out-raw-bodies",
        transitions=transitions or None,
        expiration=Duration.days(expiry_days),
        abort_incomplete_multipart_upload_after=Duration.days(1),
    )


def kept_retired_indexes(spec: res.Table, kept: int) -> tuple[res.Index, ...]:
    """The last `kept` of a table's retired indexes: what an upgrade step still deploys (README:
    Upgrading). Nothing reads or writes them any more; they only wait for their turn to go."""
    return spec.retired_indexes[len(spec.retired_indexes) - kept :] if kept > 0 else ()


def _attribute(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Storage(Construct):
    """Tables keyed by declaration (`tables[spec.logical_id]`) plus the raw-body bucket."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        retired_indexes_kept: int = 0,
    ) -> None:
        super().__init__(scope, construct_id)
        self.retention_days = retention_days
        self.retired_indexes_kept = retired_indexes_kept
        self.tables: dict[str, dynamodb.Table] = {
            spec.logical_id: self._table(spec) for spec in res.TABLES
        }
        self.access_logs = self._access_log_bucket()
        self.raw_bodies = s3.Bucket(
            self,
            "RawBodies",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=[raw_body_rule(retention_days)],
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="raw-bodies/",
            removal_policy=RemovalPolicy.RETAIN,
        )

    def table(self, spec: res.Table) -> dynamodb.Table:
        return self.tables[spec.logical_id]

    def _table(self, spec: res.Table) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            spec.logical_id,
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in spec.indexes + kept_retired_indexes(spec, self.retired_indexes_kept):
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType(index.projection),
                non_key_attributes=list(index.non_key_attributes) or None,
            )
        # The declared logical id keeps the physical table across construct refactors (RETAIN data).
        cast(dynamodb.CfnTable, table.node.default_child).override_logical_id(spec.logical_id)
        return table

    def _access_log_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 log delivery cannot write to SSE-KMS
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=ACCESS_LOG_EXPIRY)
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This bucket receives the raw-body bucket's server access logs; logging it into "
            "itself would loop and another log bucket would only move the question.",
        )
        return bucket

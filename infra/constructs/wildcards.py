"""The IAM wildcards this stack accepts, each with its reason (see nag.WildcardAcknowledger)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

from aws_cdk import Stack
from aws_cdk import aws_s3 as s3

from infra.constructs.nag import (
    WildcardAcknowledger,
    WildcardRule,
    finding_pattern,
    resource_star_for,
)
from infra.constructs.permissions import SECRET_WRITE_ACTIONS
from shared.core import resources as res

XRAY_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
# What CDK's bucket.grant_read / grant_put / grant_read_write put in a policy.
S3_GRANT_WILDCARDS = ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:Abort*", "s3:DeleteObject*")


def wildcard_acknowledger(raw_bodies: s3.Bucket, secret_prefix: str) -> WildcardAcknowledger:
    """Rules for GSIs, the raw-body bucket's objects, prefixed secrets, X-Ray and log delivery."""
    bucket_id = Stack.of(raw_bodies).get_logical_id(
        cast(s3.CfnBucket, raw_bodies.node.default_child)
    )
    prefix = re.escape(secret_prefix)
    tables = "|".join(re.escape(table.logical_id) for table in res.TABLES)
    return WildcardAcknowledger(
        [
            finding_pattern(
                rf"Resource::<({tables})\.Arn>/index/\*",
                "Queries use the table's own declared global secondary indexes; CDK grants "
                "address them as <table-arn>/index/*, which names no other table.",
            ),
            _bucket_rule(bucket_id),
            WildcardRule(
                "Per-user signing secrets and per-source provider secrets are created at run "
                "time under this stack's name prefix; secret ARNs end in a random suffix, so a "
                "name-prefix pattern is the narrowest resource there is.",
                lambda finding, actions, _: (
                    re.fullmatch(rf"Resource::arn:.*:secret:{prefix}/(users|sources)/\*", finding)
                    is not None
                    and set(actions) <= set(SECRET_WRITE_ACTIONS)
                ),
            ),
            resource_star_for(
                XRAY_ACTIONS + LOG_DELIVERY_ACTIONS,
                "X-Ray trace submission and the CloudWatch Logs delivery APIs Step Functions "
                "logging uses have no resource-level permissions: AWS documents `*` for them.",
            ),
        ]
    )


def _bucket_rule(bucket_id: str) -> WildcardRule:
    own = {f"<{bucket_id}.Arn>", f"<{bucket_id}.Arn>/*"}

    def matches(finding: str, actions: Sequence[str], resources: Sequence[str]) -> bool:
        only_this_bucket = set(resources) <= own and all(a.startswith("s3:") for a in actions)
        granted = finding in {f"Action::{a}" for a in S3_GRANT_WILDCARDS} or finding == (
            f"Resource::<{bucket_id}.Arn>/*"
        )
        return only_this_bucket and granted

    return WildcardRule(
        "CDK's bucket grants (read, put) on the raw-body bucket and its objects only; object "
        "keys are event ids, so no narrower key pattern exists.",
        matches,
    )

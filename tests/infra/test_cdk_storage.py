"""Tables match shared.core.resources exactly; the raw-body bucket is private, encrypted, aged."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra import declaration as decl
from infra.constructs.storage import raw_body_rule
from shared.core import resources as res
from shared.core.config import RETENTION_ENV

pytestmark = pytest.mark.xdist_group("cdk")


def test_one_table_per_declaration(synth: Any) -> None:
    assert set(synth.resources("AWS::DynamoDB::Table")) == {t.logical_id for t in res.TABLES}


@pytest.mark.parametrize("table", res.TABLES, ids=lambda t: t.logical_id)
def test_table_keys_indexes_and_settings(synth: Any, table: res.Table) -> None:
    resource = synth.json["Resources"][table.logical_id]
    props = resource["Properties"]
    spec: dict[str, Any] = decl.dynamodb_table_spec(table)
    assert props["KeySchema"] == spec["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        spec["AttributeDefinitions"], key=str
    )
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    indexes = {gsi["IndexName"]: gsi for gsi in props.get("GlobalSecondaryIndexes", [])}
    declared = {gsi["IndexName"]: gsi for gsi in spec.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == set(declared)
    for name, gsi in declared.items():
        assert indexes[name]["KeySchema"] == gsi["KeySchema"]
        assert indexes[name]["Projection"] == gsi["Projection"]
    if table.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {
            "AttributeName": table.ttl_attribute,
            "Enabled": True,
        }
    else:
        assert "TimeToLiveSpecification" not in props
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"


def test_raw_body_bucket(synth: Any) -> None:
    raw_id = synth.stack.resolve(synth.stack.storage.raw_bodies.node.default_child.logical_id)
    logs_id = synth.stack.resolve(synth.stack.storage.access_logs.node.default_child.logical_id)
    props = synth.props(raw_id)
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    # In step with the events (30 days by default) plus S3's rounding day; no IA stay shorter
    # than IA's 30-day minimum charge.
    assert rule["ExpirationInDays"] == 31
    assert "Transitions" not in rule
    assert props["LoggingConfiguration"]["DestinationBucketName"] == synth.ref(logs_id)
    assert synth.json["Resources"][raw_id]["DeletionPolicy"] == "Retain"


def test_both_buckets_refuse_plain_http(synth: Any, template: Any) -> None:
    for bucket in (synth.stack.storage.raw_bodies, synth.stack.storage.access_logs):
        logical_id = synth.stack.resolve(bucket.node.default_child.logical_id)
        template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": synth.ref(logical_id),
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "s3:*",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )
    access_logs = synth.props(
        synth.stack.resolve(synth.stack.storage.access_logs.node.default_child.logical_id)
    )
    assert access_logs["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


def test_every_function_keeps_data_as_long_as_the_bucket_keeps_raw_bodies(synth: Any) -> None:
    """One setting: the functions' TTL and the lifecycle rule come from `retention_days`."""
    for fn in synth.resources("AWS::Lambda::Function").values():
        assert fn["Properties"]["Environment"]["Variables"][RETENTION_ENV] == "30"


@pytest.mark.parametrize(
    ("days", "expiry", "to_ia"), [(1, 2, None), (30, 31, None), (58, 59, None), (59, 60, 30)]
)
def test_raw_bodies_expire_a_day_after_their_events(
    days: int, expiry: int, to_ia: int | None
) -> None:
    rule = raw_body_rule(days)
    assert rule.expiration is not None and rule.expiration.to_days() == expiry
    transitions = [t.transition_after.to_days() for t in rule.transitions or []]
    assert transitions == ([to_ia] if to_ia else [])

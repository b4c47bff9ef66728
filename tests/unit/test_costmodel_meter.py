"""The bench's AWS meter prices real DynamoDB requests (moto in-process) table and index by index.

moto keeps no index write counts, so the meter reads each item before and after a write with an
uncounted client and applies AWS's rules (scripts/indexwrites.py):
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from scripts.metering import AwsMeter
from shared.core.aws import client
from shared.core.resources import Index, Table

NAME = "metered-things"
SPEC = Table(
    "Things",
    "THINGS_TABLE",
    "user_id",
    "item_id",
    indexes=(Index("by_status", "user_status", "item_id", "KEYS_ONLY"),),
)


@pytest.fixture
def meter(aws: dict[str, str]) -> Iterator[AwsMeter]:
    raw = boto3.client("dynamodb", region_name="us-east-1")
    raw.create_table(
        TableName=NAME,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "user_id", "KeyType": "HASH"},
            {"AttributeName": "item_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("user_id", "item_id", "user_status")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_status",
                "KeySchema": [
                    {"AttributeName": "user_status", "KeyType": "HASH"},
                    {"AttributeName": "item_id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    made = AwsMeter({NAME: SPEC}, raw)
    yield made
    made.close()


def thing(status: str | None = None, **extra: str) -> dict[str, Any]:
    found = {"user_id": {"S": "u1"}, "item_id": {"S": "i1"}}
    if status:
        found["user_status"] = {"S": status}
    return {**found, **{name: {"S": value} for name, value in extra.items()}}


KEY = {"user_id": {"S": "u1"}, "item_id": {"S": "i1"}}


def test_a_put_and_an_index_key_change_are_billed_in_the_index(meter: AwsMeter) -> None:
    """Put: table + index put (2 WRU). Update changing the index key: table + delete + put
    (3 WRU), per GSI.html#GSI.ThroughputConsiderations."""
    dynamodb = client("dynamodb")
    with meter.record() as put:
        dynamodb.put_item(TableName=NAME, Item=thing("u1#queued", body="x"))
    with meter.record() as update:
        dynamodb.update_item(
            TableName=NAME,
            Key=KEY,
            UpdateExpression="SET user_status = :s",
            ExpressionAttributeValues={":s": {"S": "u1#delivered"}},
        )

    assert (put.wru, put.index_wru) == (2, 1)
    assert (update.wru, update.index_wru) == (3, 2)
    assert sorted((w.index, w.kind, w.partition) for w in update.writes) == [
        ("", "table", "u1"),
        ("by_status", "delete", "u1#queued"),
        ("by_status", "put", "u1#delivered"),
    ]


def test_an_update_outside_a_keys_only_projection_writes_the_table_only(meter: AwsMeter) -> None:
    dynamodb = client("dynamodb")
    dynamodb.put_item(TableName=NAME, Item=thing("u1#queued", body="x"))
    with meter.record() as update:
        dynamodb.update_item(
            TableName=NAME,
            Key=KEY,
            UpdateExpression="SET body = :b",
            ExpressionAttributeValues={":b": {"S": "y"}},
        )

    assert (update.wru, update.index_wru) == (1, 0)
    assert update.final_items[("Things", tuple(sorted((k, repr(v)) for k, v in KEY.items())))] == (
        thing("u1#queued", body="y")
    )


def test_a_transaction_doubles_table_writes_and_a_cancelled_one_writes_no_index(
    meter: AwsMeter,
) -> None:
    dynamodb = client("dynamodb")
    put = {
        "Put": {
            "TableName": NAME,
            "Item": thing("u1#queued"),
            "ConditionExpression": "attribute_not_exists(user_id)",
        }
    }
    with meter.record() as done:
        dynamodb.transact_write_items(TransactItems=[put])
    with (
        meter.record() as cancelled,
        pytest.raises(dynamodb.exceptions.TransactionCanceledException),
    ):
        dynamodb.transact_write_items(TransactItems=[put])

    assert (done.wru, done.index_wru) == (3, 1)
    assert (cancelled.wru, cancelled.index_wru) == (2, 0)


def test_batch_writes_are_priced_item_by_item_with_their_index_writes(meter: AwsMeter) -> None:
    dynamodb = client("dynamodb")
    other = {**thing("u1#queued"), "item_id": {"S": "i2"}}
    with meter.record() as batch:
        dynamodb.batch_write_item(
            RequestItems={
                NAME: [{"PutRequest": {"Item": thing()}}, {"PutRequest": {"Item": other}}]
            }
        )
    with meter.record() as deleted:
        dynamodb.batch_write_item(
            RequestItems={NAME: [{"DeleteRequest": {"Key": {**KEY, "item_id": {"S": "i2"}}}}]}
        )

    assert (batch.wru, batch.index_wru) == (3, 1)  # only the second item is in the index
    assert (deleted.wru, deleted.index_wru) == (2, 1)


def test_a_batch_overwriting_items_is_priced_from_each_item_before_it(meter: AwsMeter) -> None:
    """The items before a batch write are read in one probe: i1 leaves the index (delete), i2
    moves in it (delete + put); a third key written for the first time enters it (put)."""
    dynamodb = client("dynamodb")
    second = {**KEY, "item_id": {"S": "i2"}}
    dynamodb.put_item(TableName=NAME, Item=thing("u1#queued"))
    dynamodb.put_item(TableName=NAME, Item={**second, "user_status": {"S": "u1#queued"}})
    entries = [
        {"PutRequest": {"Item": thing()}},
        {"PutRequest": {"Item": {**second, "user_status": {"S": "u1#delivered"}}}},
        {"PutRequest": {"Item": {**thing("u1#queued"), "item_id": {"S": "i3"}}}},
    ]
    with meter.record() as batch:
        dynamodb.batch_write_item(RequestItems={NAME: entries})

    assert (batch.wru, batch.index_wru) == (7, 4)
    assert sorted((w.index, w.kind, w.partition) for w in batch.writes if w.index) == [
        ("by_status", "delete", "u1#queued"),
        ("by_status", "delete", "u1#queued"),
        ("by_status", "put", "u1#delivered"),
        ("by_status", "put", "u1#queued"),
    ]


def test_the_bytes_put_to_s3_are_counted_for_storage(meter: AwsMeter, aws: dict[str, str]) -> None:
    """botocore hands S3 a file-like Body; the meter still counts its bytes."""
    with meter.record() as usage:
        client("s3").put_object(Bucket=aws["RAW_BODY_BUCKET"], Key="k", Body=b"x" * 1234)

    assert (usage.s3_put, usage.s3_bytes_put) == (1, 1234)

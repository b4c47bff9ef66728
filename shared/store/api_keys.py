"""API keys table: looked up by the SHA-256 of the key, never by the key itself."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.core import resources as res
from shared.core.aws import client
from shared.core.config import settings
from shared.core.errors import ServiceUnavailable
from shared.store.dynamo import from_item, query_all, to_item, to_value


def put(record: dict[str, Any]) -> None:
    client("dynamodb").put_item(
        TableName=settings().api_keys_table,
        Item=to_item(record),
        ConditionExpression="attribute_not_exists(key_hash)",
    )


KEY_LOOKUP_FAILED = "the API key could not be checked right now; try again shortly"


def get_by_hash(key_hash: str) -> dict[str, Any] | None:
    """One GetItem. AWS failing it (after botocore's retries) is a 503, never a 401 or a 500:
    the key may well be valid, and the caller should simply try again."""
    try:
        response = client("dynamodb").get_item(
            TableName=settings().api_keys_table, Key={"key_hash": to_value(key_hash)}
        )
    except (BotoCoreError, ClientError) as error:
        raise ServiceUnavailable(KEY_LOOKUP_FAILED) from error
    item = response.get("Item")
    return from_item(item) if item else None


def get_by_id(key_id: str) -> dict[str, Any] | None:
    index = res.API_KEYS.indexes[0]
    for record in query_all(
        TableName=settings().api_keys_table,
        IndexName=index.name,
        KeyConditionExpression="key_id = :id",
        ExpressionAttributeValues={":id": to_value(key_id)},
    ):
        return record
    return None


def delete(key_hash: str) -> None:
    client("dynamodb").delete_item(
        TableName=settings().api_keys_table, Key={"key_hash": to_value(key_hash)}
    )

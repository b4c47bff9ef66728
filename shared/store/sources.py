"""Sources table: keyed by source id (the public inbound URL names it); listed by user via an index.

Every management read and write checks the owner in the same call (a condition or a comparison),
so another user's source behaves exactly like a missing one.
"""

from __future__ import annotations

from typing import Any

from shared.core import resources as res
from shared.core.aws import client
from shared.core.config import settings
from shared.store import dynamo
from shared.store.dynamo import from_item, query_page, to_item, to_value

OWNER_CONDITION = "attribute_exists(source_id) AND user_id = :owner"


def _key(source_id: str) -> dict[str, Any]:
    return {"source_id": to_value(source_id)}


def put(record: dict[str, Any]) -> None:
    client("dynamodb").put_item(
        TableName=settings().sources_table,
        Item=to_item(record),
        ConditionExpression="attribute_not_exists(source_id)",
    )


def get(source_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    response = client("dynamodb").get_item(
        TableName=settings().sources_table, Key=_key(source_id), ConsistentRead=consistent
    )
    item = response.get("Item")
    return from_item(item) if item else None


def get_owned(user_id: str, source_id: str) -> dict[str, Any] | None:
    record = get(source_id, consistent=True)
    if record is None or record.get("user_id") != user_id:
        return None
    return record


def list_page(
    user_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return query_page(
        table=res.SOURCES,
        table_name=settings().sources_table,
        key_name="user_id",
        key_value=user_id,
        index="by_user",
        limit=limit,
        cursor=cursor,
        scope={"list": "sources", "user_id": user_id},
    )


def update(
    user_id: str, source_id: str, changes: dict[str, Any], removals: list[str]
) -> dict[str, Any] | None:
    """Apply changes to the user's source; None when it is missing or not theirs."""
    return dynamo.update(
        settings().sources_table,
        {"source_id": source_id},
        changes,
        removals=removals,
        condition=OWNER_CONDITION,
        condition_values={":owner": user_id},
        return_new=True,
    )


def delete(user_id: str, source_id: str) -> bool:
    dynamodb = client("dynamodb")
    try:
        dynamodb.delete_item(
            TableName=settings().sources_table,
            Key=_key(source_id),
            ConditionExpression=OWNER_CONDITION,
            ExpressionAttributeValues={":owner": to_value(user_id)},
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True

"""The event type catalog: one item per type in the webhooks table, under the partition `#catalog`.

Why there and not a table of its own: the catalog is small (admins write it by hand), read whole
by publish (one Query per container per cache window), and the functions that read and write it
(the API) already hold the webhooks table's grants; no user id can be `#catalog` (user ids are
letters, digits and `_.@:-`), and webhook reads take only `wh_...` sort keys, so the two never
meet. A schema is stored as its JSON text: byte for byte what the admin sent, and free of
DynamoDB's 32-level nesting limit on maps.

AWS calls: put 1 (PutItem), delete 1 (DeleteItem), get 1 (GetItem), load all 1 Query per 1 MB.
"""

from __future__ import annotations

import json
from typing import Any

from shared.core.aws import client
from shared.core.config import settings
from shared.store import dynamo

PARTITION = "#catalog"


def _key(event_type: str) -> dict[str, Any]:
    return {"user_id": PARTITION, "webhook_id": event_type}


def _record(item: dict[str, Any]) -> dict[str, Any]:
    schema = item.get("schema_json")
    return {
        "type": item["webhook_id"],
        "description": item.get("description", ""),
        "schema": json.loads(schema) if schema else None,
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
    }


def put(
    event_type: str, description: str, schema: dict[str, Any] | None, now: str
) -> dict[str, Any]:
    """Adds or replaces a type; `created_at` survives a replacement. Returns the stored record."""
    sets: dict[str, Any] = {"description": description, "updated_at": now}
    removals = []
    if schema is None:
        removals.append("schema_json")
    else:
        sets["schema_json"] = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    stored = dynamo.update(
        settings().webhooks_table,
        _key(event_type),
        sets,
        set_if_absent={"created_at": now},
        removals=removals,
        return_new=True,
    )
    if stored is None:  # only a failed condition answers None, and there is none
        raise RuntimeError("UpdateItem without a condition returned nothing")
    return _record(stored)


def delete(event_type: str) -> bool:
    """False when there was no such type."""
    response = client("dynamodb").delete_item(
        TableName=settings().webhooks_table,
        Key=dynamo.to_item(_key(event_type)),
        ReturnValues="ALL_OLD",
    )
    return bool(response.get("Attributes"))


def get(event_type: str) -> dict[str, Any] | None:
    response = client("dynamodb").get_item(
        TableName=settings().webhooks_table, Key=dynamo.to_item(_key(event_type))
    )
    item = response.get("Item")
    return _record(dynamo.from_item(item)) if item else None


def load_all() -> list[dict[str, Any]]:
    """Every type, ordered by name (one Query per 1 MB of catalog)."""
    items = dynamo.query_all(
        TableName=settings().webhooks_table,
        KeyConditionExpression="user_id = :p",
        ExpressionAttributeValues={":p": {"S": PARTITION}},
    )
    return [_record(item) for item in items]

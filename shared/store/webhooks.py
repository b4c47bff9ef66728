"""Webhooks table: partition = user, so every read is scoped to its owner by the key itself.

The user's partition also holds their account record (shared/store/accounts.py) under a sort key
that is no webhook id: every read here takes only `wh_...` ids, every Query only that prefix.
"""

from __future__ import annotations

from typing import Any

from shared.core import resources as res
from shared.core.aws import client
from shared.core.config import settings
from shared.store import dynamo
from shared.store.dynamo import from_item, query_all, query_page, to_item, to_value

WEBHOOK_ID_PREFIX = "wh_"


def is_webhook_id(webhook_id: str) -> bool:
    return webhook_id.startswith(WEBHOOK_ID_PREFIX)


def key(user_id: str, webhook_id: str) -> dict[str, Any]:
    """A webhook's key, as a plain dict (for a BatchGetItem beside other keys)."""
    return {"user_id": user_id, "webhook_id": webhook_id}


def _key(user_id: str, webhook_id: str) -> dict[str, Any]:
    return {"user_id": to_value(user_id), "webhook_id": to_value(webhook_id)}


def put(record: dict[str, Any]) -> None:
    client("dynamodb").put_item(TableName=settings().webhooks_table, Item=to_item(record))


def get(user_id: str, webhook_id: str) -> dict[str, Any] | None:
    if not is_webhook_id(webhook_id):
        return None
    response = client("dynamodb").get_item(
        TableName=settings().webhooks_table, Key=_key(user_id, webhook_id), ConsistentRead=True
    )
    item = response.get("Item")
    return from_item(item) if item else None


def list_page(
    user_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return query_page(
        table=res.WEBHOOKS,
        table_name=settings().webhooks_table,
        key_name="user_id",
        key_value=user_id,
        limit=limit,
        cursor=cursor,
        scope={"list": "webhooks", "user_id": user_id},
        sort_prefix=WEBHOOK_ID_PREFIX,
    )


def active_for_user(user_id: str) -> list[dict[str, Any]]:
    """The webhooks an event fans out to, in one Query over the user's partition: the active ones
    and those the service disabled (`disabled_reason` set: they get `skipped` deliveries, README
    "Skipped deliveries and recover"); ones their owner made inactive are filtered server-side."""
    return list(
        query_all(
            TableName=settings().webhooks_table,
            KeyConditionExpression="user_id = :u AND begins_with(webhook_id, :wh)",
            FilterExpression="active = :t OR attribute_exists(disabled_reason)",
            ExpressionAttributeValues={
                ":u": to_value(user_id),
                ":wh": to_value(WEBHOOK_ID_PREFIX),
                ":t": to_value(True),
            },
            ConsistentRead=True,
        )
    )


def update(
    user_id: str, webhook_id: str, changes: dict[str, Any], removals: list[str]
) -> dict[str, Any] | None:
    """Apply changes; None when the webhook does not exist (or is not this user's)."""
    if not is_webhook_id(webhook_id):
        return None
    return dynamo.update(
        settings().webhooks_table,
        {"user_id": user_id, "webhook_id": webhook_id},
        changes,
        removals=removals,
        condition="attribute_exists(webhook_id)",
        return_new=True,
    )


def delete(user_id: str, webhook_id: str) -> bool:
    if not is_webhook_id(webhook_id):
        return False
    dynamodb = client("dynamodb")
    try:
        dynamodb.delete_item(
            TableName=settings().webhooks_table,
            Key=_key(user_id, webhook_id),
            ConditionExpression="attribute_exists(webhook_id)",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


# The failure streak and the automatic disable (README "Failing endpoints: auto-disable"). Each is
# one conditional UpdateItem, made by the delivery worker only when the state changes: the first
# failure of a streak, the first success after one, the disable. A lost race is no error.


def start_streak(user_id: str, webhook_id: str, failing_since: str) -> bool:
    """Record the first failure of a streak, unless another attempt recorded one first."""
    return _changed(
        user_id,
        webhook_id,
        {"failing_since": failing_since},
        condition="attribute_exists(webhook_id) AND attribute_not_exists(failing_since)",
    )


def end_streak(user_id: str, webhook_id: str, failing_since: str) -> bool:
    """A success ends the streak the attempt saw (a newer one, started since, is kept)."""
    return _changed(
        user_id,
        webhook_id,
        {},
        removals=["failing_since"],
        condition="failing_since = :seen",
        values={":seen": failing_since},
    )


def disable(user_id: str, webhook_id: str, reason: str, at: str) -> bool:
    """Disable an active webhook (`reason`: "failing" or "gone"); True only for the one call that
    did it, so a disable is announced once however many attempts race to it."""
    return _changed(
        user_id,
        webhook_id,
        {"active": False, "disabled_reason": reason, "disabled_at": at, "updated_at": at},
        condition="active = :active",
        values={":active": True},
    )


def _changed(
    user_id: str,
    webhook_id: str,
    sets: dict[str, Any],
    *,
    condition: str,
    removals: list[str] | None = None,
    values: dict[str, Any] | None = None,
) -> bool:
    """One conditional UpdateItem; False when its condition did not hold."""
    done = dynamo.update(
        settings().webhooks_table,
        key(user_id, webhook_id),
        sets,
        removals=removals,
        condition=condition,
        condition_values=values,
    )
    return done is not None

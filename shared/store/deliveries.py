"""Deliveries table: partition = user; indexes by webhook and by event for the list routes."""

from __future__ import annotations

from typing import Any

from shared.core import resources as res
from shared.core.config import settings
from shared.store import dynamo


def key(user_id: str, delivery_id: str) -> dict[str, str]:
    return {"user_id": user_id, "delivery_id": delivery_id}


def get(user_id: str, delivery_id: str) -> dict[str, Any] | None:
    found = dynamo.batch_get({settings().deliveries_table: [key(user_id, delivery_id)]})
    items = found[settings().deliveries_table]
    return items[0] if items else None


def list_for_webhook(
    user_id: str, webhook_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A webhook's deliveries (the caller has checked the webhook is `user_id`'s)."""
    return dynamo.query_page(
        table=res.DELIVERIES,
        table_name=settings().deliveries_table,
        key_name="webhook_id",
        key_value=webhook_id,
        index="by_webhook",
        limit=limit,
        cursor=cursor,
        scope={
            "list": "webhook_deliveries",
            "user_id": user_id,
            "webhook_id": webhook_id,
            "status": status,
        },
        filters={"status": status} if status else None,
    )


def list_for_event(event_id: str) -> list[dict[str, Any]]:
    return list(
        dynamo.query_all(
            TableName=settings().deliveries_table,
            IndexName="by_event",
            KeyConditionExpression="event_id = :e",
            ExpressionAttributeValues={":e": dynamo.to_value(event_id)},
        )
    )


def record_attempt(
    user_id: str,
    delivery_id: str,
    *,
    previous_attempts: int,
    sets: dict[str, Any],
    attempt_entry: dict[str, Any],
    first_attempt_at: str,
) -> bool:
    """Write one attempt, guarded by the attempt count: a duplicate SQS copy cannot double it."""
    result = dynamo.update(
        settings().deliveries_table,
        key(user_id, delivery_id),
        sets,
        condition="attempts = :previous",
        condition_values={":previous": previous_attempts},
        appends={"attempt_log": [attempt_entry]},
        set_if_absent={"first_attempt_at": first_attempt_at},
    )
    return result is not None


def set_status(
    user_id: str,
    delivery_id: str,
    sets: dict[str, Any],
    *,
    only_if_status_in: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """Change a delivery; None when it does not exist or is not in one of the given states."""
    condition = "attribute_exists(delivery_id)"
    values: dict[str, Any] = {}
    if only_if_status_in:
        placeholders = [f":st{position}" for position in range(len(only_if_status_in))]
        condition += " AND #st IN (" + ", ".join(placeholders) + ")"
        values = dict(zip(placeholders, only_if_status_in, strict=True))
    return dynamo.update(
        settings().deliveries_table,
        key(user_id, delivery_id),
        sets,
        condition=condition,
        condition_values=values,
        condition_names={"#st": "status"} if only_if_status_in else None,
        return_new=True,
    )

"""Events table: partition = user, sort = time-ordered event id; indexes for the list filters."""

from __future__ import annotations

from typing import Any

from shared.core import resources as res
from shared.core.config import settings
from shared.store import dynamo


def key(user_id: str, event_id: str) -> dict[str, str]:
    return {"user_id": user_id, "event_id": event_id}


def index_attributes(user_id: str, direction: str, event_type: str) -> dict[str, str]:
    """Composite attributes the list indexes are keyed on."""
    return {"user_direction": f"{user_id}#{direction}", "user_type": f"{user_id}#{event_type}"}


def get(user_id: str, event_id: str) -> dict[str, Any] | None:
    found = dynamo.batch_get({settings().events_table: [key(user_id, event_id)]})
    items = found[settings().events_table]
    return items[0] if items else None


def list_page(
    user_id: str,
    *,
    direction: str | None,
    event_type: str | None,
    source_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the most selective filter picks the index, the rest filter the Query."""
    scope = {
        "list": "events",
        "user_id": user_id,
        "direction": direction or None,
        "type": event_type or None,
        "source_id": source_id or None,
    }
    filters: dict[str, Any] = {}
    if source_id:
        index, key_name, key_value = "by_source", "source_id", source_id
        filters["user_id"] = user_id
        if direction:
            filters["direction"] = direction
        if event_type:
            filters["type"] = event_type
    elif event_type:
        index, key_name, key_value = "by_type", "user_type", f"{user_id}#{event_type}"
        if direction:
            filters["direction"] = direction
    elif direction:
        index, key_name, key_value = "by_direction", "user_direction", f"{user_id}#{direction}"
    else:
        return dynamo.query_page(
            table=res.EVENTS,
            table_name=settings().events_table,
            key_name="user_id",
            key_value=user_id,
            limit=limit,
            cursor=cursor,
            scope=scope,
        )
    return dynamo.query_page(
        table=res.EVENTS,
        table_name=settings().events_table,
        key_name=key_name,
        key_value=key_value,
        limit=limit,
        cursor=cursor,
        index=index,
        scope=scope,
        filters=filters or None,
    )


def update(
    user_id: str,
    event_id: str,
    sets: dict[str, Any],
    appends: dict[str, list[Any]] | None = None,
) -> None:
    dynamo.update(settings().events_table, key(user_id, event_id), sets, appends=appends)

"""Webhook subscriptions: create, read, change, delete; always within one user's partition."""

from __future__ import annotations

from typing import Any

from shared.core import clock, ids
from shared.core.errors import InvalidRequest, NotFound
from shared.outbound import filters
from shared.schemas.requests import WebhookCreate, WebhookUpdate
from shared.store import secrets
from shared.store import webhooks as table

PUBLIC_FIELDS = (
    "url",
    "events",
    "description",
    "active",
    "retry",
    "headers",
    "filter",
    "disabled_reason",
    "disabled_at",
)
# What the delivery worker set while the webhook was failing or disabled (README "Failing
# endpoints: auto-disable"): re-enabling removes them all, so the failure streak starts afresh.
DISABLE_STATE = ("disabled_reason", "disabled_at", "failing_since")


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"id": record["webhook_id"]}
    for field in PUBLIC_FIELDS:
        view[field] = record.get(field)
    view["created_at"] = record["created_at"]
    view["updated_at"] = record["updated_at"]
    return view


def create(user_id: str, body: WebhookCreate) -> dict[str, Any]:
    """Store a webhook; its user's signing secret is made first if they have none, since the
    delivery worker may only read secrets.

    AWS calls: GetItem (the account record) + PutItem; a user's first webhook adds
    GetSecretValue, CreateSecret and UpdateItem once.
    """
    _check_filter(body.filter)
    secrets.ensure(user_id)
    now = clock.iso()
    record = {
        "user_id": user_id,
        "webhook_id": ids.new_id("wh"),
        **body.model_dump(mode="json"),
        "created_at": now,
        "updated_at": now,
    }
    table.put(record)
    return public_view(record)


def _check_filter(expression: str | None) -> None:
    """A filter is stored only if it parses: a 422 naming `body.filter` otherwise."""
    if expression is None:
        return
    try:
        filters.check(expression)
    except ValueError as error:
        raise InvalidRequest(
            "invalid filter", details=[{"field": "body.filter", "message": str(error)}]
        ) from None


def get_record(user_id: str, webhook_id: str) -> dict[str, Any]:
    record = table.get(user_id, webhook_id)
    if record is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return record


def get(user_id: str, webhook_id: str) -> dict[str, Any]:
    return public_view(get_record(user_id, webhook_id))


def list_page(user_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    records, next_cursor = table.list_page(user_id, limit, cursor)
    return {"data": [public_view(record) for record in records], "next_cursor": next_cursor}


def update(user_id: str, webhook_id: str, body: WebhookUpdate) -> dict[str, Any]:
    given = body.model_dump(mode="json", exclude_unset=True)
    _check_filter(given.get("filter"))
    for required in ("url", "events", "active", "description"):
        if required in given and given[required] is None:
            raise InvalidRequest(f"{required} cannot be null", details=[{"field": required}])
    changes = {name: value for name, value in given.items() if value is not None}
    removals = [name for name, value in given.items() if value is None]
    if given.get("active") is True:
        removals.extend(DISABLE_STATE)
    changes["updated_at"] = clock.iso()
    record = table.update(user_id, webhook_id, changes, removals)
    if record is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return public_view(record)


def delete(user_id: str, webhook_id: str) -> None:
    if not table.delete(user_id, webhook_id):
        raise NotFound(f"webhook {webhook_id} not found")

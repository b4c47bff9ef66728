"""Delivery views, manual retry, and the webhook test send."""

from __future__ import annotations

from typing import Any

from shared.core import clock
from shared.core.config import settings
from shared.core.errors import Conflict, NotFound
from shared.outbound import webhooks
from shared.outbound.publishing import enqueue
from shared.store import deliveries as table
from shared.store import dynamo

PUBLIC_FIELDS = (
    "webhook_id",
    "event_id",
    "event_type",
    "url",
    "status",
    "attempts",
    "last_status_code",
    "last_error",
    "next_attempt_at",
    "created_at",
    "updated_at",
)
RETRYABLE = ("failed",)


def public_view(record: dict[str, Any], *, with_log: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {"id": record["delivery_id"]}
    for field in PUBLIC_FIELDS:
        view[field] = record.get(field)
    view["attempts"] = int(record.get("attempts") or 0)
    if record.get("source_id"):
        view["source_id"] = record["source_id"]
    if with_log:
        view["attempt_log"] = [
            {
                "attempt": entry.get("attempt"),
                "started_at": entry.get("started_at"),
                "duration_ms": entry.get("duration_ms"),
                "status_code": entry.get("status_code"),
                "error": entry.get("error"),
                "response_body": entry.get("response_body"),
            }
            for entry in record.get("attempt_log", [])
        ]
    return view


def expired_error(delivery_id: str) -> NotFound:
    """404 with a reason: the delivery existed but is past its retention (README: Retention)."""
    days = settings().retention_days
    return NotFound(
        f"delivery {delivery_id} has expired: deliveries and their attempt logs are kept "
        f"{days} days (WEBHOOKS_RETENTION_DAYS)",
        code="delivery_expired",
    )


def get_record(user_id: str, delivery_id: str) -> dict[str, Any]:
    """The delivery; 404 `not_found`, or `delivery_expired` past its TTL (swept or not yet)."""
    record = table.get(user_id, delivery_id)
    if record is None:
        raise NotFound(f"delivery {delivery_id} not found")
    if dynamo.expired(record):
        raise expired_error(delivery_id)
    return record


def get(user_id: str, delivery_id: str) -> dict[str, Any]:
    return public_view(get_record(user_id, delivery_id), with_log=True)


def list_for_webhook(
    user_id: str, webhook_id: str, status: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    webhooks.get_record(user_id, webhook_id)  # 404 unless the webhook is this user's
    records, next_cursor = table.list_for_webhook(user_id, webhook_id, status, limit, cursor)
    return {"data": [public_view(record) for record in records], "next_cursor": next_cursor}


def retry(user_id: str, delivery_id: str) -> dict[str, Any]:
    """Queue a failed delivery again now; its attempt count and log continue."""
    record = table.set_status(
        user_id,
        delivery_id,
        {"status": "queued", "updated_at": clock.iso(), "next_attempt_at": None},
        only_if_status_in=RETRYABLE,
        only_if_unexpired=True,
    )
    if record is None:
        get_record(user_id, delivery_id)  # 404, with the reason when it has expired
        raise Conflict("only a failed delivery can be retried", code="delivery_not_failed")
    try:
        enqueue([record])
    except Exception:
        # Not queued after all: `failed` again, so that retrying this request can queue it.
        table.set_status(user_id, delivery_id, {"status": "failed"}, only_if_status_in=("queued",))
        raise
    return {"delivery_id": delivery_id, "status": "queued"}

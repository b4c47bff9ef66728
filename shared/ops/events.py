"""Event views, lists and replays (both directions)."""

from __future__ import annotations

import json
from typing import Any

from shared.core import clock
from shared.core.config import settings
from shared.core.errors import NotFound
from shared.inbound import service as inbound_service
from shared.outbound import deliveries, publishing, webhooks
from shared.store import dynamo, raw_bodies
from shared.store import events as table
from shared.store import webhooks as webhooks_table

INLINE_PAYLOAD_LIMIT = 256 * 1024


def _payload(record: dict[str, Any]) -> Any:
    if record["direction"] == "outbound":
        return json.loads(record["body"])["data"]
    return inbound_service.payload_of(record)


def summary_view(record: dict[str, Any]) -> dict[str, Any]:
    view = {
        "id": record["event_id"],
        "direction": record["direction"],
        "type": record["type"],
        "status": record.get("status"),
        "created_at": record["created_at"],
    }
    if record.get("source_id"):
        view["source_id"] = record["source_id"]
    return view


def detail_view(record: dict[str, Any]) -> dict[str, Any]:
    view = summary_view(record)
    view["payload"] = _payload(record)
    view["headers"] = inbound_service.headers_of(record)
    view["history"] = record.get("history", [])
    if record["direction"] == "inbound" and raw_bodies.has_own_object(record):
        too_large = int(record.get("size_bytes") or 0) > INLINE_PAYLOAD_LIMIT
        if too_large or view["payload"] is None:  # the body is not inline: link the raw bytes
            view["raw_body_url"] = raw_bodies.link(record["raw_s3_key"])
    if record["direction"] == "outbound":
        view["deliveries"] = [deliveries.public_view(item) for item in deliveries.of_event(record)]
    return view


def expired_error(kind: str, item_id: str) -> NotFound:
    """404 with a reason: the item existed but is past its retention (README: Retention)."""
    days = settings().retention_days
    return NotFound(
        f"{kind} {item_id} has expired: {kind}s are kept {days} days (WEBHOOKS_RETENTION_DAYS)",
        code=f"{kind}_expired",
    )


def get_record(user_id: str, event_id: str) -> dict[str, Any]:
    """The event; 404 `not_found`, or `event_expired` past its TTL (swept or not yet)."""
    record = table.get(user_id, event_id)
    if record is None:
        raise NotFound(f"event {event_id} not found")
    if dynamo.expired(record):
        raise expired_error("event", event_id)
    return record


def get(user_id: str, event_id: str) -> dict[str, Any]:
    return detail_view(get_record(user_id, event_id))


def list_page(
    user_id: str,
    *,
    direction: str | None,
    event_type: str | None,
    source_id: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    records, next_cursor = table.list_page(
        user_id,
        direction=direction,
        event_type=event_type,
        source_id=source_id,
        limit=limit,
        cursor=cursor,
    )
    return {"data": [summary_view(record) for record in records], "next_cursor": next_cursor}


def replay_outbound(user_id: str, record: dict[str, Any], webhook_id: str | None) -> dict[str, Any]:
    """New deliveries of the same event (same id and body) to matching webhooks or one."""
    if webhook_id:  # the one webhook named, whatever its patterns
        hooks = [{**webhooks.get_record(user_id, webhook_id), "events": ["*"]}]
    else:
        hooks = webhooks_table.active_for_user(user_id)
    # The webhooks' current filters see the envelope as it was published (README "Payload filters").
    envelope = json.loads(record["body"])
    created = publishing.fan_out(user_id, record["event_id"], record["type"], hooks, envelope)
    publishing.deliver(created)
    # One update records the replay, lists the new deliveries on the event and keeps the event
    # as long as they are kept (its TTL restarts with theirs).
    table.update(
        user_id,
        record["event_id"],
        "outbound",
        {"updated_at": clock.iso(), "expires_at": dynamo.expiry()},
        appends={
            "delivery_ids": [d["delivery_id"] for d in created],
            "history": [
                {
                    "at": clock.iso(),
                    "action": "replay",
                    "deliveries": len(created),
                    "webhook_id": webhook_id,
                }
            ],
        },
    )
    return publishing.answer_of(record["event_id"], created)


def replay(user_id: str, event_id: str, webhook_id: str | None) -> dict[str, Any]:
    record = get_record(user_id, event_id)
    if record["direction"] == "outbound":
        return replay_outbound(user_id, record, webhook_id)
    return inbound_service.replay(user_id, record)

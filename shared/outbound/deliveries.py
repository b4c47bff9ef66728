"""Delivery views, manual retry, recover of a window, and a webhook's stats."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.core import clock
from shared.core.config import settings
from shared.core.errors import Conflict, NotFound
from shared.outbound import filters, publishing, stats, webhooks
from shared.outbound.publishing import enqueue
from shared.store import deliveries as table
from shared.store import dynamo
from shared.store import events as events_table

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
RECOVERABLE = ("failed", "skipped")
RECOVER_LIMIT = 1000  # per call: 1,000 UpdateItems, 8 at a time, fit the API's 29 s with room
STATS_LIMIT = 2000  # the newest deliveries of the window whose attempts the stats count
PARALLEL_CLAIMS = 8


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
    """The delivery; 404 `not_found`, or `delivery_expired` past its TTL (swept or not yet).
    A publish's delivery that has no record yet (its first attempt writes it) is rebuilt from
    its event, `queued` (AWS calls: 1 BatchGetItem; +1 Query when there is no record)."""
    record = table.get(user_id, delivery_id) or _awaiting(user_id, delivery_id)
    if record is None:
        raise NotFound(f"delivery {delivery_id} not found")
    if dynamo.expired(record):
        raise expired_error(delivery_id)
    return record


def _awaiting(user_id: str, delivery_id: str) -> dict[str, Any] | None:
    event = events_table.of_delivery(user_id, delivery_id)
    if event is None:
        return None
    # It is kept as long as its event: past the event's TTL it has expired too.
    return {
        **publishing.awaiting_delivery(event, delivery_id),
        "expires_at": event.get("expires_at"),
    }


def of_event(event: dict[str, Any]) -> list[dict[str, Any]]:
    """Every unexpired delivery of an outbound event, oldest first: the records (one
    BatchGetItem per 100), and those whose first attempt has not written theirs yet, rebuilt from
    the event, `queued`."""
    found = table.get_many(event["user_id"], events_table.delivery_ids(event))
    written = {record["delivery_id"] for record in found}
    awaiting = [d for d in events_table.awaiting(event) if d not in written]
    rebuilt = [publishing.awaiting_delivery(event, delivery_id) for delivery_id in awaiting]
    kept = [record for record in found if not dynamo.expired(record)]
    return sorted(kept + rebuilt, key=lambda record: record["delivery_id"])


def get(user_id: str, delivery_id: str) -> dict[str, Any]:
    return public_view(get_record(user_id, delivery_id), with_log=True)


def list_for_webhook(
    user_id: str, webhook_id: str, status: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    webhooks.get_record(user_id, webhook_id)  # 404 unless the webhook is this user's
    records, next_cursor = table.list_for_webhook(user_id, webhook_id, status, limit, cursor)
    return {"data": [public_view(record) for record in records], "next_cursor": next_cursor}


def retry(user_id: str, delivery_id: str) -> dict[str, Any]:
    """Queue a failed delivery again now; its attempt count and log continue (one more attempt)."""
    record = _claim(user_id, delivery_id, RETRYABLE, new_series=False)
    if record is None:
        get_record(user_id, delivery_id)  # 404, with the reason when it has expired
        raise Conflict("only a failed delivery can be retried", code="delivery_not_failed")
    _queue_or_release(user_id, [(record, {"status": "failed"})])
    return {"delivery_id": delivery_id, "status": "queued"}


def _claim(
    user_id: str, delivery_id: str, from_statuses: tuple[str, ...], *, new_series: bool
) -> dict[str, Any] | None:
    """Move a delivery to `queued` if it is still in one of `from_statuses` (one conditional
    UpdateItem: of two concurrent retries or recovers, one wins). A new attempt series restarts
    the attempt count, so the worker numbers its messages from 1 again (its duplicate check
    compares them with the count) and the retry schedule starts over; the log is kept. The series
    gets a mark of its own (`series`, the claim's time in hex ms) that names its recovery
    executions apart from the earlier series' (shared/outbound/worker.py `_retry`)."""
    sets: dict[str, Any] = {"status": "queued", "updated_at": clock.iso(), "next_attempt_at": None}
    if new_series:
        sets["attempts"] = 0
        sets["series"] = format(int(clock.now() * 1000), "x")
    return table.set_status(
        user_id, delivery_id, sets, only_if_status_in=from_statuses, only_if_unexpired=True
    )


def _queue_or_release(user_id: str, claimed: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Queue claimed deliveries (one SendMessageBatch per ten); if that fails, put each back as
    it was (`(record, what it was)`), so that asking again can queue it, and raise."""
    try:
        enqueue([record for record, _ in claimed])
    except Exception:
        for record, before in claimed:
            table.set_status(user_id, record["delivery_id"], before, only_if_status_in=("queued",))
        raise


def recover(user_id: str, webhook_id: str, since: float, until: float | None) -> dict[str, Any]:
    """Queue again, with a new attempt series, the webhook's failed and skipped deliveries created
    in the window whose event its current filter still lets through (README "Skipped deliveries
    and recover"). At most RECOVER_LIMIT a call, newest first: `more` says the cap was reached,
    and asking again with the same window takes the next ones (those queued are no longer failed
    or skipped).

    AWS calls: GetItem (the webhook), the window read (32+ Queries, shared/store/deliveries.py
    `in_window`), with a filter one BatchGetItem per 100 events, one UpdateItem per delivery
    (8 at a time) and one SendMessageBatch per ten.
    """
    webhook = webhooks.get_record(user_id, webhook_id)
    if not webhook.get("active"):
        raise Conflict(
            "the webhook is disabled: enable it (PATCH active true) before recovering",
            code="webhook_disabled",
        )
    end = clock.now() if until is None else until
    found = table.in_window(
        user_id,
        webhook_id,
        int(since * 1000),
        int(end * 1000),
        limit=RECOVER_LIMIT,
        statuses=RECOVERABLE,
    )
    wanted = _still_wanted(user_id, webhook, found)
    claimed = _claim_all(user_id, wanted)
    if claimed:
        _queue_or_release(user_id, claimed)
    return {"recovering": len(claimed), "more": len(found) == RECOVER_LIMIT}


def _still_wanted(
    user_id: str, webhook: dict[str, Any], records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The deliveries whose event the webhook's current filter lets through (no filter: all)."""
    expression = webhook.get("filter")
    if expression is None or not records:
        return records
    found = events_table.get_many(user_id, [record["event_id"] for record in records])
    return [
        record
        for record in records
        if record["event_id"] in found
        and filters.matches(
            webhook["webhook_id"], expression, json.loads(found[record["event_id"]]["body"])
        )
    ]


def _claim_all(
    user_id: str, records: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Claim each delivery for a new series, in parallel; those another recover (or retry)
    claimed first are left out, so each is queued once."""

    def claim(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        new = _claim(user_id, record["delivery_id"], RECOVERABLE, new_series=True)
        before = {"status": record["status"], "attempts": int(record.get("attempts") or 0)}
        return None if new is None else (new, before)

    with ThreadPoolExecutor(PARALLEL_CLAIMS) as pool:
        return [pair for pair in pool.map(claim, records) if pair is not None]


def webhook_stats(user_id: str, webhook_id: str, window: str) -> dict[str, Any]:
    """Attempts, success rate, latency and last outcomes of one webhook over `window` (README
    "Webhook stats"), computed from the attempt logs of its newest STATS_LIMIT deliveries created
    in the window: nothing is written per attempt for them.

    AWS calls: GetItem (the webhook) and the window read (32+ Queries, shared/store/deliveries.py
    `in_window`).
    """
    webhooks.get_record(user_id, webhook_id)  # 404 unless the webhook is this user's
    now = clock.now()
    since = now - stats.WINDOWS[window]
    records = table.in_window(
        user_id, webhook_id, int(since * 1000), int(now * 1000), limit=STATS_LIMIT
    )
    attempts = [_attempt(entry) for record in records for entry in record.get("attempt_log", [])]
    return stats.summarize(window, clock.iso(since), attempts)


def _attempt(entry: dict[str, Any]) -> stats.Attempt:
    code = entry.get("status_code")
    return stats.Attempt(
        started_at=str(entry.get("started_at")),
        duration_ms=int(entry.get("duration_ms") or 0),
        succeeded=isinstance(code, int) and 200 <= code < 300,
    )

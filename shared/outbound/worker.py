"""One delivery attempt: load, sign, POST, record, then schedule a retry or dead-letter.

AWS calls for a successful attempt: one BatchGetItem (delivery, event, webhook and the user's
account record) and one UpdateItem (the attempt); the signing secret comes from a per-container
cache keyed by the secret version the account record names (shared/store/secrets.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared import __version__
from shared.core import clock
from shared.core.config import settings
from shared.core.observability import logger
from shared.outbound import http_sender, retry_policy
from shared.outbound.publishing import queue_message
from shared.outbound.signing import signature_headers
from shared.store import accounts, dynamo, raw_bodies, retries, secrets
from shared.store import deliveries as deliveries_table
from shared.store import events as events_table
from shared.store import webhooks as webhooks_table
from shared.store.queues import send

DLQ_KIND = "delivery_failed"
Outcome = Literal["succeeded", "retrying", "failed", "skipped", "gone", "duplicate", "missing"]


@dataclass(frozen=True)
class Loaded:
    delivery: dict[str, Any]
    event: dict[str, Any] | None
    webhook: dict[str, Any] | None
    account: dict[str, Any] | None = None  # names the live signing secret version


def load(message: dict[str, Any]) -> Loaded | None:
    """Everything an attempt needs in one BatchGetItem, the user's account record included
    (forward deliveries too: they have no webhook, but are signed with the owner's secret)."""
    config = settings()
    user_id = message["user_id"]
    hook_keys = [accounts.key(user_id)]
    if message.get("webhook_id"):
        hook_keys.append(webhooks_table.key(user_id, message["webhook_id"]))
    found = dynamo.batch_get(
        {
            config.deliveries_table: [deliveries_table.key(user_id, message["delivery_id"])],
            config.events_table: [events_table.key(user_id, message["event_id"])],
            config.webhooks_table: hook_keys,
        }
    )
    delivery = found[config.deliveries_table]
    if not delivery:
        return None
    event = found[config.events_table]
    rows = found[config.webhooks_table]
    account = next((row for row in rows if accounts.is_account(row)), None)
    webhook = next((row for row in rows if not accounts.is_account(row)), None)
    return Loaded(delivery[0], event[0] if event else None, webhook, account)


def request_body(loaded: Loaded) -> tuple[bytes, str]:
    """(bytes to send, content type): the event envelope, or an inbound event's raw body."""
    event = loaded.event or {}
    if loaded.delivery.get("target") == "forward":
        raw = raw_bodies.body_of(event)  # inline on the record, or in S3
        return raw, event.get("content_type") or "application/octet-stream"
    return str(event["body"]).encode(), "application/json"


def build_headers(
    loaded: Loaded, body: bytes, content_type: str, attempt: int, timestamp: int
) -> dict[str, str]:
    delivery = loaded.delivery
    live_version = (loaded.account or {}).get(accounts.VERSION)
    signing = secrets.for_delivery(delivery["user_id"], live_version)
    headers = {
        **((loaded.webhook or {}).get("headers") or {}),
        "Content-Type": content_type,
        "User-Agent": f"serverless-webhooks/{__version__}",
        "X-Webhook-Event-Id": delivery["event_id"],
        "X-Webhook-Event": delivery["event_type"],
        "X-Webhook-Delivery-Id": delivery["delivery_id"],
        "X-Webhook-Attempt": str(attempt),
    }
    headers.update(
        signature_headers(
            signing.active_secrets(), event_id=delivery["event_id"], timestamp=timestamp, body=body
        )
    )
    return headers


def attempt(message: dict[str, Any]) -> Outcome:
    if message.get("kind") == DLQ_KIND:
        # A dead-lettered delivery redriven from the DLQ: one more attempt, like a manual retry.
        deliveries_table.set_status(
            message["user_id"],
            message["delivery_id"],
            {"status": "queued", "updated_at": clock.iso(), "next_attempt_at": None},
            only_if_status_in=("failed",),
        )
    loaded = load(message)
    if loaded is None:
        return "missing"
    delivery = loaded.delivery
    if delivery["status"] in ("succeeded", "failed"):
        return "skipped"  # SQS redelivered a finished delivery: never send it again
    expected = message.get("attempt")
    made = int(delivery.get("attempts", 0))
    if isinstance(expected, int) and made >= expected:
        # A duplicate of a retry message whose attempt was already made. If the worker died
        # between recording that attempt and scheduling the next one, schedule it now.
        if made == expected and delivery["status"] == "retrying":
            _ensure_retry_scheduled(delivery, made)
        return "duplicate"
    if loaded.event is None:
        _finish_without_sending(delivery, "event no longer exists")
        return "failed"
    if delivery.get("target", "webhook") == "webhook" and not (
        loaded.webhook and loaded.webhook.get("active")
    ):
        _finish_without_sending(delivery, "webhook was deleted or disabled")
        return "failed"
    number = int(delivery.get("attempts", 0)) + 1
    body, content_type = request_body(loaded)
    started = clock.now()
    headers = build_headers(loaded, body, content_type, number, int(started))
    url = loaded.webhook["url"] if loaded.webhook else delivery["url"]
    config = settings()
    result = http_sender.post(
        url,
        body,
        headers,
        allow_private=config.allow_private_targets,
        timeout=config.delivery_timeout_seconds,
    )
    return _record(loaded, number, started, result)


def _record(loaded: Loaded, number: int, started: float, result: http_sender.SendResult) -> Outcome:
    delivery = loaded.delivery
    now = clock.iso()
    entry: dict[str, Any] = {
        "attempt": number,
        "started_at": clock.iso(started),
        "duration_ms": result.duration_ms,
        "status_code": result.status_code,
        "error": result.error,
        "response_body": result.response_body,
    }
    sets: dict[str, Any] = {
        "attempts": number,
        "last_status_code": result.status_code,
        "last_error": result.error,
        "last_attempt_at": now,
        "updated_at": now,
        "next_attempt_at": None,
    }
    outcome: Outcome
    delay: int | None = None
    if result.succeeded:
        sets["status"], outcome = "succeeded", "succeeded"
    elif result.status_code == 410:
        sets["status"], outcome = "failed", "gone"
        sets["last_error"] = "HTTP 410 Gone: webhook disabled, no more retries"
    else:
        policy = (loaded.webhook or {}).get("retry")
        delay = retry_policy.next_delay(policy, number, result.status_code, result.retry_after)
        if delay is None:
            sets["status"], outcome = "failed", "failed"
        else:
            sets["status"], outcome = "retrying", "retrying"
            sets["next_attempt_at"] = clock.iso(clock.now() + delay)
    if outcome == "failed":
        # Dead-letter before recording: if recording fails, SQS retries and we may park twice
        # (at-least-once), but a delivery is never marked failed without its DLQ record.
        dead_letter(delivery, number, sets, entry)
    recorded = deliveries_table.record_attempt(
        delivery["user_id"],
        delivery["delivery_id"],
        previous_attempts=int(delivery.get("attempts", 0)),
        sets=sets,
        attempt_entry=entry,
        first_attempt_at=str(entry["started_at"]),
    )
    if not recorded:
        return "duplicate"  # a concurrent copy of this message recorded this attempt
    logger.info(
        "delivery attempt",
        extra={
            "delivery_id": delivery["delivery_id"],
            "event_id": delivery["event_id"],
            "webhook_id": delivery.get("webhook_id"),
            "source_id": delivery.get("source_id"),
            "attempt": number,
            "status_code": result.status_code,
            "error": result.error,
            "outcome": outcome,
            "retry_in_seconds": delay,
        },
    )
    if outcome == "gone" and loaded.webhook:
        webhooks_table.deactivate(delivery["user_id"], loaded.webhook["webhook_id"])
    if delay is not None:
        schedule_retry(delivery, number, delay)
    return outcome


def _retry(delivery: dict[str, Any], failed_attempt: int) -> tuple[str, dict[str, Any]]:
    """(execution name, message) of the retry after `failed_attempt`. The message names the
    attempt it is for, so a duplicate copy of it is recognised; the name is the same for the same
    attempt, so a duplicate start is refused, not run twice."""
    message = {**queue_message(delivery), "attempt": failed_attempt + 1}
    return f"{delivery['delivery_id']}-{failed_attempt}", message


def schedule_retry(delivery: dict[str, Any], failed_attempt: int, delay: int) -> None:
    """Start the retry state machine: it waits `delay` s, then re-queues the delivery."""
    name, message = _retry(delivery, failed_attempt)
    retries.start(name, delay, message)


def _ensure_retry_scheduled(delivery: dict[str, Any], made: int) -> None:
    next_at = delivery.get("next_attempt_at")
    delay = max(0, int(clock.parse_iso(next_at) - clock.now())) if next_at else 0
    # Already scheduled before the crash: StartExecution refuses the same name, nothing to do.
    name, message = _retry(delivery, made)
    retries.start_unless_started(name, delay, message)


def dlq_record(
    delivery: dict[str, Any], attempts: int, sets: dict[str, Any], first: str
) -> dict[str, Any]:
    return {
        "kind": DLQ_KIND,
        "delivery_id": delivery["delivery_id"],
        "event_id": delivery["event_id"],
        "webhook_id": delivery.get("webhook_id"),
        "source_id": delivery.get("source_id"),
        "user_id": delivery["user_id"],
        "url": delivery["url"],
        "event_type": delivery["event_type"],
        "attempts": attempts,
        "last_status_code": sets.get("last_status_code"),
        "last_error": sets.get("last_error"),
        "first_attempt_at": delivery.get("first_attempt_at") or first,
        "last_attempt_at": sets.get("last_attempt_at"),
        "dead_lettered_at": clock.iso(),
    }


def dead_letter(
    delivery: dict[str, Any], attempts: int, sets: dict[str, Any], entry: dict[str, Any]
) -> None:
    send(settings().delivery_dlq_url, dlq_record(delivery, attempts, sets, entry["started_at"]))


def _finish_without_sending(delivery: dict[str, Any], reason: str) -> None:
    now = clock.iso()
    deliveries_table.set_status(
        delivery["user_id"],
        delivery["delivery_id"],
        {"status": "failed", "last_error": reason, "updated_at": now, "next_attempt_at": None},
    )

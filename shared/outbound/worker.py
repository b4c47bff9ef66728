"""The delivery worker: one attempt per message, in typed stages.

    hold → load → prepare → send → record → schedule

- `hold`: a retry message whose `not_before` is still ahead goes back on the queue (no table
  call; its SQS send joins the batch's in `schedule`). Only long retries carry it.
- `load`: the delivery, event, webhook and the user's account record, read for the whole
  worker batch in one eventually consistent BatchGetItem, each key once (`load_batch`; a key it
  misses is read again strongly: see `load`).
- `prepare`: decides whether to send at all (finished, duplicate copy, event or webhook gone)
  and builds the signed request; the signing secret comes from a per-container cache keyed by
  the secret version the account record names (shared/store/secrets.py): no call when warm.
- `send`: the POST (shared/outbound/http_sender.py); no AWS call.
- `record`: one conditional UpdateItem of the attempt; before it, on the last failure, one
  SendMessage to the DLQ; after it, `follow_up`: the webhook's failure streak (one UpdateItem
  when a streak starts or ends, none within one), its disable (410, or failing for
  WEBHOOKS_DISABLE_AFTER_SECONDS: one UpdateItem) and the operational events of a disable or a
  dead letter (shared/outbound/operational_events.py: 2-3 calls each, on those paths only).
- `schedule`: per worker batch, the retries go back on the queue (shared/outbound/retry_carrier.py:
  one SendMessageBatch per ten short retries, one StartExecution per step of long ones).

AWS calls per message of a worker batch: a first-try success 1 UpdateItem plus its share of the
batch's one BatchGetItem (2 when alone: `attempt`); a failure that will be retried the same plus
its share of the batch's one SendMessageBatch (+1 UpdateItem once per failure streak); a
duplicate copy only its share of the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared import __version__
from shared.core import clock
from shared.core.config import settings
from shared.core.observability import logger
from shared.outbound import http_sender, operational_events, retry_carrier, retry_policy
from shared.outbound.publishing import awaiting_delivery, queue_message
from shared.outbound.retry_carrier import Retry
from shared.outbound.signing import signature_headers
from shared.store import accounts, dynamo, raw_bodies, secrets
from shared.store import deliveries as deliveries_table
from shared.store import events as events_table
from shared.store import webhooks as webhooks_table
from shared.store.queues import MAX_DELAY_SECONDS
from shared.store.queues import send as send_message

DLQ_KIND = "delivery_failed"
Outcome = Literal[
    "succeeded", "retrying", "failed", "skipped", "gone", "duplicate", "missing", "held"
]


class RetryNotScheduled(Exception):
    """The attempt was recorded but its retry could not be carried: the message must come back
    (SQS redelivery), and its second receipt schedules the retry (see `prepare`)."""


@dataclass(frozen=True)
class Loaded:
    delivery: dict[str, Any]
    event: dict[str, Any] | None
    webhook: dict[str, Any] | None
    account: dict[str, Any] | None = None  # names the live signing secret version
    stored: bool = True  # False: a publish's delivery whose first attempt writes its record


@dataclass(frozen=True)
class Request:
    """A signed request ready to go: attempt `number`, started at `started` (epoch seconds)."""

    url: str
    body: bytes
    headers: dict[str, str]
    number: int
    started: float


@dataclass(frozen=True)
class Decision:
    """What an attempt's result means: the outcome, the delivery fields to set, the retry delay."""

    outcome: Outcome
    sets: dict[str, Any]
    delay: int | None = None


@dataclass(frozen=True)
class Attempted:
    """The end of one message: its outcome, and the retry to schedule if there is one."""

    outcome: Outcome
    retry: Retry | None = None


# --- The whole path ------------------------------------------------------------------------


def run(
    message: dict[str, Any], receive_count: int = 1, shelf: dynamo.Shelf | None = None
) -> Attempted:
    """Every stage but `schedule`, which the handler does once per batch (as it reads the
    batch's items once: `load_batch`)."""
    held = hold(message)
    if held is not None:
        return held
    _reopen_if_redriven(message)
    # A redriven message reads after its reopen wrote the delivery, never the batch's earlier read.
    loaded = load(message, None if message.get("kind") == DLQ_KIND else shelf)
    if loaded is None:
        return Attempted("missing")
    prepared = prepare(loaded, message, receive_count)
    if isinstance(prepared, Attempted):
        return prepared
    return record(loaded, prepared, send(prepared))


def attempt(message: dict[str, Any], receive_count: int = 1) -> Outcome:
    """One message, its retry scheduled at once (the handler batches this last stage instead)."""
    done = run(message, receive_count)
    if done.retry is not None and schedule([done.retry]):
        raise RetryNotScheduled(done.retry.name)
    return done.outcome


def schedule(pending: list[Retry]) -> list[Retry]:
    """The batch's retries back on the queue; returns those that could not be carried."""
    return retry_carrier.schedule(pending)


# --- hold ----------------------------------------------------------------------------------


def hold(message: dict[str, Any]) -> Attempted | None:
    """A retry that arrived before its `not_before` goes back for the rest (≤ 900 s a hop)."""
    not_before = message.get("not_before")
    if not isinstance(not_before, int | float):
        return None
    left = int(not_before - clock.now())
    if left < 1:
        return None
    hop = min(left, MAX_DELAY_SECONDS)  # rides the queue: never an execution
    return Attempted("held", Retry(f"{message['delivery_id']}-hold", message, hop))


def _reopen_if_redriven(message: dict[str, Any]) -> None:
    """A dead-lettered delivery redriven from the DLQ: one more attempt, like a manual retry."""
    if message.get("kind") != DLQ_KIND:
        return
    deliveries_table.set_status(
        message["user_id"],
        message["delivery_id"],
        {"status": "queued", "updated_at": clock.iso(), "next_attempt_at": None},
        only_if_status_in=("failed",),
    )


# --- load ----------------------------------------------------------------------------------


def load_batch(messages: list[Any]) -> dynamo.Shelf:
    """The items of a whole worker batch in one eventually consistent BatchGetItem, each key once
    (`dynamo.shelve_batch`): the batch's deliveries to one webhook share its webhook and account
    items, so ten read 22 items (11 RRU) where ten loads read 40 (20 RRU). Messages that `hold`
    sends back or that a DLQ redrive reopens first (it writes their delivery) load themselves.
    AWS calls: 1 BatchGetItem; 2 when an item was missed."""
    return dynamo.shelve_batch(messages, _batch_reads)


def _batch_reads(message: dict[str, Any]) -> dynamo.Reads | None:
    if hold(message) is not None or message.get("kind") == DLQ_KIND:
        return None
    return _keys(message), _may_be_missing(message)


def _may_be_missing(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The first attempt of a publish's delivery finds no record: that attempt writes it (the
    event names the delivery meanwhile), so the missing item is not read again strongly. So may
    a DLQ redrive of one whose first attempt dead-lettered it but could not write its record."""
    first = message.get("attempt") == 1 or message.get("kind") == DLQ_KIND
    if not first or not deliveries_table.is_for_event(
        str(message["delivery_id"]), str(message["event_id"])
    ):
        return []
    config = settings()
    return [
        (config.deliveries_table, deliveries_table.key(message["user_id"], message["delivery_id"]))
    ]


def load(message: dict[str, Any], shelf: dynamo.Shelf | None = None) -> Loaded | None:
    """Everything an attempt needs: from the batch's `shelf` when it read this message's keys,
    else in one eventually consistent BatchGetItem of its own (half the read units of a strong
    one), the user's account record included (forward deliveries too: they have no webhook, but
    are signed with the owner's secret).

    Why eventual reads are safe here: the event is immutable; a webhook or account a second
    stale signs with a secret still inside its rotation grace; and a stale delivery (a duplicate
    SQS copy read just after its attempt was recorded) at worst sends once more, which the
    conditional record then recognizes as a duplicate, as it does for two copies received at
    once. What an eventual read can miss is an item written moments before (the event by
    publish, a delivery by a replay, a webhook just created): any key it did not find is read
    again, strongly, before anything is called gone. A DLQ redrive reads strongly: it has just
    reopened its delivery. A publish's delivery at its first attempt has no record yet (README
    "Delivery semantics"): it is rebuilt from its event, which names it, and that attempt's
    write creates it. AWS calls: none from a shelf; else 1 BatchGetItem, 2 when an item is
    missing.
    """
    keys = _keys(message)
    if shelf is None or not shelf.holds(keys):
        redriven = message.get("kind") == DLQ_KIND
        shelf = dynamo.shelve(keys, optional=_may_be_missing(message), strong=redriven)
    config = settings()
    user_id = message["user_id"]
    delivery = shelf.take(config.deliveries_table, keys[config.deliveries_table][0])
    event = shelf.take(config.events_table, keys[config.events_table][0])
    account = shelf.take(config.webhooks_table, accounts.key(user_id))
    webhook_id = message.get("webhook_id")
    webhook = (
        shelf.take(config.webhooks_table, webhooks_table.key(user_id, webhook_id))
        if webhook_id
        else None
    )
    if delivery is not None:
        return Loaded(delivery, event, webhook, account)
    if event is None or not _may_be_missing(message):
        return None
    if message["delivery_id"] not in events_table.awaiting(event):
        return None
    rebuilt = awaiting_delivery(event, message["delivery_id"])
    return Loaded(rebuilt, event, webhook, account, stored=False)


def _keys(message: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The keys `load` reads for a message: its delivery, its event, its webhook (a forward has
    none) and its user's account record."""
    config = settings()
    user_id = message["user_id"]
    hook_keys = [accounts.key(user_id)]
    if message.get("webhook_id"):
        hook_keys.append(webhooks_table.key(user_id, message["webhook_id"]))
    return {
        config.deliveries_table: [deliveries_table.key(user_id, message["delivery_id"])],
        config.events_table: [events_table.key(user_id, message["event_id"], _direction(message))],
        config.webhooks_table: hook_keys,
    }


def _direction(message: dict[str, Any]) -> str:
    """A delivery to a webhook carries an outbound event; one without a webhook is the forward
    of an inbound event to its source's forward_url (the events table keys on the direction)."""
    return "outbound" if message.get("webhook_id") else "inbound"


# --- prepare -------------------------------------------------------------------------------


def prepare(loaded: Loaded, message: dict[str, Any], receive_count: int) -> Request | Attempted:
    """The request to send, or why nothing is sent (no AWS call, but one UpdateItem when the
    event or webhook is gone and the delivery ends without an attempt)."""
    delivery = loaded.delivery
    if delivery["status"] in ("succeeded", "failed"):
        return Attempted("skipped")  # SQS redelivered a finished delivery: never send it again
    duplicate = _duplicate(delivery, message, receive_count)
    if duplicate is not None:
        return duplicate
    refusal = _refusal(loaded)
    if refusal is not None:
        _finish_without_sending(loaded, refusal)
        return Attempted("failed")
    return _request(loaded)


def _duplicate(
    delivery: dict[str, Any], message: dict[str, Any], receive_count: int
) -> Attempted | None:
    """A copy of a message whose attempt was already made. If that attempt's retry may have been
    lost (this very message comes back: the worker died between record and schedule), the retry
    is scheduled again under the attempt's own execution name, which Step Functions starts once.
    A copy received for the first time (another send of the same attempt) schedules nothing, so
    duplicates never grow a second retry chain."""
    expected = message.get("attempt")
    made = int(delivery.get("attempts", 0))
    if not isinstance(expected, int) or made < expected:
        return None
    if made == expected and delivery["status"] == "retrying" and receive_count > 1:
        return Attempted("duplicate", _lost_retry(delivery, made))
    return Attempted("duplicate")


def _refusal(loaded: Loaded) -> str | None:
    """Why this delivery can no longer be sent, if it cannot."""
    if loaded.event is None:
        return "event no longer exists"
    if loaded.delivery.get("target", "webhook") == "webhook" and not (
        loaded.webhook and loaded.webhook.get("active")
    ):
        return "webhook was deleted or disabled"
    return None


def _request(loaded: Loaded) -> Request:
    number = int(loaded.delivery.get("attempts", 0)) + 1
    body, content_type = request_body(loaded)
    started = clock.now()
    headers = build_headers(loaded, body, content_type, number, int(started))
    url = loaded.webhook["url"] if loaded.webhook else loaded.delivery["url"]
    return Request(url, body, headers, number, started)


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


# --- send ----------------------------------------------------------------------------------


def send(request: Request) -> http_sender.SendResult:
    """The POST, SSRF-checked again at delivery time; no AWS call."""
    config = settings()
    return http_sender.post(
        request.url,
        request.body,
        request.headers,
        allow_private=config.allow_private_targets,
        timeout=config.delivery_timeout_seconds,
    )


# --- record --------------------------------------------------------------------------------


def record(loaded: Loaded, request: Request, result: http_sender.SendResult) -> Attempted:
    """One UpdateItem (the attempt); +1 SendMessage to the DLQ on the last failure, first, so a
    delivery is never marked failed without its DLQ record; then `follow_up` (no call unless the
    webhook's state changes)."""
    delivery = loaded.delivery
    entry = attempt_entry(request, result)
    decision = decide(loaded, request.number, result)
    if decision.outcome == "failed":
        dead_letter(delivery, request.number, decision.sets, entry)
    if not _write(loaded, decision.sets, entry):
        return Attempted("duplicate")  # a concurrent copy of this message recorded this attempt
    _log(delivery, request.number, result, decision)
    follow_up(loaded, decision)
    return Attempted(decision.outcome, _next_retry(delivery, request.number, decision.delay))


def attempt_entry(request: Request, result: http_sender.SendResult) -> dict[str, Any]:
    """The attempt as the delivery's attempt log keeps it."""
    return {
        "attempt": request.number,
        "started_at": clock.iso(request.started),
        "duration_ms": result.duration_ms,
        "status_code": result.status_code,
        "error": result.error,
        "response_body": result.response_body,
    }


def decide(loaded: Loaded, number: int, result: http_sender.SendResult) -> Decision:
    """Succeeded, gone (410: no more retries), retrying after a delay, or failed (no AWS call)."""
    now = clock.iso()
    sets: dict[str, Any] = {
        "attempts": number,
        "last_status_code": result.status_code,
        "last_error": result.error,
        "last_attempt_at": now,
        "updated_at": now,
        "next_attempt_at": None,
    }
    if result.succeeded:
        return Decision("succeeded", {**sets, "status": "succeeded"})
    if result.status_code == 410:
        gone = "HTTP 410 Gone: webhook disabled, no more retries"
        return Decision("gone", {**sets, "status": "failed", "last_error": gone})
    policy = (loaded.webhook or {}).get("retry")
    delay = retry_policy.next_delay(policy, number, result.status_code, result.retry_after)
    if delay is None:
        return Decision("failed", {**sets, "status": "failed"})
    next_at = clock.iso(clock.now() + delay)
    return Decision("retrying", {**sets, "status": "retrying", "next_attempt_at": next_at}, delay)


def _write(loaded: Loaded, sets: dict[str, Any], entry: dict[str, Any]) -> bool:
    delivery = loaded.delivery
    return deliveries_table.record_attempt(
        delivery["user_id"],
        delivery["delivery_id"],
        previous_attempts=int(delivery.get("attempts", 0)),
        sets=sets,
        attempt_entry=entry,
        first_attempt_at=str(entry["started_at"]),
        creating=None if loaded.stored else delivery,
    )


def _log(
    delivery: dict[str, Any], number: int, result: http_sender.SendResult, decision: Decision
) -> None:
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
            "outcome": decision.outcome,
            "retry_in_seconds": decision.delay,
        },
    )


# --- record's follow-ups: the failure streak, the disable, operational events -------------


def follow_up(loaded: Loaded, decision: Decision) -> None:
    """What a recorded attempt changes beyond its delivery (README "Failing endpoints:
    auto-disable", "Operational events"). Made after the attempt is recorded and never raised
    from (logged), so it cannot fail or repeat the attempt.

    AWS calls: none for a success outside a streak or a failure within one that is younger than
    WEBHOOKS_DISABLE_AFTER_SECONDS; 1 UpdateItem when a streak starts (the first failure) or ends
    (the first success after it): conditional, so attempts running at once that all read the
    webhook before it changed each try once and one of them wins; 1 UpdateItem to disable the
    webhook, then `webhook.disabled`;
    a dead letter's `delivery.exhausted` (each event 1 Query + 1 BatchWriteItem, +1
    SendMessageBatch when an `_ops` webhook subscribes)."""
    if decision.outcome == "failed":
        operational_events.delivery_exhausted(loaded.delivery, decision.sets)
    webhook = loaded.webhook
    if webhook is None or loaded.delivery.get("target", "webhook") != "webhook":
        return
    try:
        _streak(loaded.delivery, webhook, decision.outcome)
    except Exception:
        # The attempt is recorded: the next attempt's follow-up tries again.
        logger.exception("webhook state not updated", extra={"webhook_id": webhook["webhook_id"]})


def _streak(delivery: dict[str, Any], webhook: dict[str, Any], outcome: Outcome) -> None:
    """Start, end or act on the webhook's failure streak, as this attempt's outcome asks."""
    user_id, webhook_id = delivery["user_id"], webhook["webhook_id"]
    since = webhook.get("failing_since")
    if outcome == "gone":
        _disable(user_id, webhook, "gone")
    elif outcome == "succeeded":
        if since:
            webhooks_table.end_streak(user_id, webhook_id, since)
    elif not since:
        webhooks_table.start_streak(user_id, webhook_id, clock.iso())
    elif clock.now() >= clock.parse_iso(since) + settings().disable_after_seconds:
        _disable(user_id, webhook, "failing")


def _disable(user_id: str, webhook: dict[str, Any], reason: str) -> None:
    """Disable the webhook; only the attempt whose UpdateItem did it announces it."""
    at = clock.iso()
    if not webhooks_table.disable(user_id, webhook["webhook_id"], reason, at):
        return  # already disabled, deleted, or another attempt got there first
    logger.warning(
        "webhook disabled",
        extra={"user_id": user_id, "webhook_id": webhook["webhook_id"], "reason": reason},
    )
    operational_events.webhook_disabled(user_id, webhook["webhook_id"], webhook["url"], reason, at)


# --- schedule: the retry a recorded attempt asks for ---------------------------------------


def _retry(delivery: dict[str, Any], failed_attempt: int) -> tuple[str, dict[str, Any]]:
    """(name, message) of the retry after `failed_attempt`. The message names the attempt it is
    for, so a duplicate copy of it is recognised; the name is the same for the same attempt, so a
    recovery's execution is refused when started twice, not run twice. A recovered delivery
    numbers its attempts from 1 again, so its series mark joins the name: Step Functions keeps an
    execution's name taken for 90 days, and the new series' attempt 1 is not the old one's."""
    message = {**queue_message(delivery), "attempt": failed_attempt + 1}
    series = delivery.get("series")
    prefix = f"{delivery['delivery_id']}-{series}" if series else delivery["delivery_id"]
    return f"{prefix}-{failed_attempt}", message


def _next_retry(delivery: dict[str, Any], failed_attempt: int, delay: int | None) -> Retry | None:
    if delay is None:
        return None
    name, message = _retry(delivery, failed_attempt)
    return Retry(name, message, delay, due_at=clock.now() + delay)


def _lost_retry(delivery: dict[str, Any], made: int) -> Retry:
    """The retry after attempt `made`, due at the time recorded with it (now if past)."""
    next_at = delivery.get("next_attempt_at")
    delay = max(0, int(clock.parse_iso(next_at) - clock.now())) if next_at else 0
    name, message = _retry(delivery, made)
    return Retry(name, message, delay, recovery=True)


# --- dead letters and deliveries that end without an attempt -------------------------------


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
    send_message(
        settings().delivery_dlq_url, dlq_record(delivery, attempts, sets, entry["started_at"])
    )


def _finish_without_sending(loaded: Loaded, reason: str) -> None:
    delivery = loaded.delivery
    now = clock.iso()
    deliveries_table.set_status(
        delivery["user_id"],
        delivery["delivery_id"],
        {"status": "failed", "last_error": reason, "updated_at": now, "next_attempt_at": None},
        creating=None if loaded.stored else delivery,
    )

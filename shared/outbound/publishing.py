"""Publish: store the event, fan out one delivery per matching active webhook, enqueue them.

A webhook matches when its type patterns match and its payload filter (shared/outbound/filters.py,
evaluated in memory: no AWS call) lets the envelope through; a webhook the service disabled gets
a `skipped` delivery, written with the event but never queued (1 WRU, no attempt record).

AWS calls for an event matching N webhooks: 1 Query (the user's active and auto-disabled
webhooks), the event and delivery writes batched (one TransactWriteItems of up to 100 items when a
caller id makes the publish idempotent, else BatchWriteItem per 25), and one SendMessageBatch per
10 queued deliveries.

Write units, index writes counted (shared/core/resources.py says why the tables are laid out so):
the event is 1 WRU per KB in the table and nothing more (the events table has no index: lists
filter their Queries instead), shared by all its deliveries. A queued delivery is not written
here: the event names it (by webhook: its id derives from the event's), and its first attempt
writes its record, 1 WRU. A first-try delivery is so 1 WRU beyond the event's write (README
"Delivery semantics"); a skipped one is written here. With a caller id, the transaction doubles
what it writes (2 WRU per KB) and adds the claim.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.core import clock, ids
from shared.core.config import API_VERSION, settings
from shared.core.observability import logger
from shared.core.patterns import matches_any
from shared.outbound import filters
from shared.store import deliveries as deliveries_table
from shared.store import events as events_table
from shared.store import webhooks as webhooks_table
from shared.store.queues import send_batch

if TYPE_CHECKING:  # pydantic stays off the delivery worker's and publish function's cold start
    from shared.schemas.publish import EventBody

IDEMPOTENCY_SECONDS = 24 * 3600


@dataclass
class Prepared:
    event: dict[str, Any]
    deliveries: list[dict[str, Any]]
    idempotency_key: str | None
    answer: dict[str, Any] = field(default_factory=dict)
    # The deliveries written with the event: those no first attempt will write (skipped ones,
    # and a rare id its event could not give: `fan_out`).
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Published:
    """One publish's outcome: `duplicate` when its caller id was seen before (the answer is then
    the first publish's); the route decides what status that is."""

    answer: dict[str, Any]
    duplicate: bool = False


def envelope_body(event_id: str, event_type: str, created_at: str, data: dict[str, Any]) -> str:
    """The exact bytes every attempt sends and signs (kept on the event record)."""
    return envelope_text(filters.envelope(event_id, event_type, created_at, API_VERSION, data))


def envelope_text(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def new_delivery(
    *,
    user_id: str,
    event_id: str,
    event_type: str,
    url: str,
    webhook_id: str | None,
    target: str = "webhook",
    source_id: str | None = None,
    status: str = "queued",
    delivery_id: str | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    now = created_at or clock.iso()
    delivery_id = delivery_id or deliveries_table.new_id(webhook_id or source_id or event_id)
    return {
        "user_id": user_id,
        "delivery_id": delivery_id,
        "webhook_id": webhook_id,
        "source_id": source_id,
        "event_id": event_id,
        "event_type": event_type,
        "url": url,
        "target": target,
        "status": status,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        **deliveries_table.stored_attributes(user_id, delivery_id),
    }


def awaiting_delivery(event: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    """The record a publish's delivery starts with, rebuilt from its event while it has none of
    its own (before its first attempt writes it: `prepare`), as publish would have written it."""
    webhook_id = events_table.awaiting(event)[delivery_id]
    return new_delivery(
        user_id=event["user_id"],
        event_id=event["event_id"],
        event_type=event["type"],
        url=event[events_table.QUEUED_WEBHOOKS][webhook_id],
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        created_at=event["created_at"],
    )


def queue_message(delivery: dict[str, Any]) -> dict[str, Any]:
    """What the delivery queue carries: references only (the body stays in DynamoDB).

    `attempt` is the number this message may make; a copy arriving after that attempt was
    recorded (SQS redelivery, a worker that died before deleting it) is recognised as a duplicate.
    """
    return {
        "delivery_id": delivery["delivery_id"],
        "user_id": delivery["user_id"],
        "event_id": delivery["event_id"],
        "webhook_id": delivery.get("webhook_id"),
        "attempt": int(delivery.get("attempts", 0)) + 1,
    }


def fan_out(
    user_id: str,
    event_id: str,
    event_type: str,
    hooks: list[dict[str, Any]],
    envelope: dict[str, Any],
    *,
    created_at: str | None = None,
) -> list[dict[str, Any]]:
    """One delivery per webhook among `hooks` that wants the event: the one fan-out that
    publish, replay and the test send use (a caller aiming at one webhook passes it with
    `"events": ["*"]`). No AWS call: patterns and filters are evaluated in memory.

    A webhook disabled by the service (`disabled_reason` set, README "Skipped deliveries and
    recover") gets a `skipped` delivery, written but never queued, which recover can send later.
    At publish (`created_at`: the event's), a queued delivery's id is derived from the event's
    (shared/store/deliveries.py `id_for_event`), unless another webhook of this event with the
    same tag took it first (1 in 1,024 a pair): that one gets an id of its own.
    """
    made: list[dict[str, Any]] = []
    taken: set[str] = set()
    for hook in hooks:
        if not wants(hook, event_type, envelope):
            continue
        status = "skipped" if is_auto_disabled(hook) else "queued"
        delivery_id = None
        if created_at is not None and status == "queued":
            derived = deliveries_table.id_for_event(event_id, hook["webhook_id"])
            delivery_id = None if derived in taken else derived
            taken.add(derived)
        made.append(
            new_delivery(
                user_id=user_id,
                event_id=event_id,
                event_type=event_type,
                url=hook["url"],
                webhook_id=hook["webhook_id"],
                status=status,
                delivery_id=delivery_id,
                created_at=created_at,
            )
        )
    return made


def wants(hook: dict[str, Any], event_type: str, envelope: dict[str, Any]) -> bool:
    """Whether a webhook subscribes to this event: its type patterns, then its payload filter
    (README "Payload filters"; one that raises counts as no match)."""
    if not matches_any(hook.get("events", []), event_type):
        return False
    return filters.matches(hook["webhook_id"], hook.get("filter"), envelope)


def is_auto_disabled(hook: dict[str, Any]) -> bool:
    """Disabled by the service (failing or gone), not by its owner: its events are kept."""
    return not hook.get("active") and bool(hook.get("disabled_reason"))


def answer_of(event_id: str, deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    """The publish (and replay) answer: each delivery with its status (`queued` or `skipped`)."""
    return {
        "event_id": event_id,
        "deliveries": [
            {"webhook_id": d["webhook_id"], "delivery_id": d["delivery_id"], "status": d["status"]}
            for d in deliveries
        ],
    }


def to_queue(deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deliveries that go on the queue (skipped ones are only written)."""
    return [delivery for delivery in deliveries if delivery["status"] == "queued"]


def prepare(user_id: str, body: EventBody, hooks: list[dict[str, Any]]) -> Prepared:
    event_id = ids.new_id("evt")
    created_at = clock.iso()
    envelope = filters.envelope(event_id, body.type, created_at, API_VERSION, body.data)
    event = {
        "user_id": user_id,
        "event_id": event_id,
        "direction": "outbound",
        "type": body.type,
        "status": "published",
        "created_at": created_at,
        "body": envelope_text(envelope),
        "caller_id": body.id,
        **events_table.index_attributes(user_id, "outbound", event_id=event_id),
    }
    deliveries = fan_out(user_id, event_id, body.type, hooks, envelope, created_at=created_at)
    # The event lists its deliveries (the deliveries table has no by-event index): by webhook,
    # with its url, those whose first attempt writes their record (1 WRU each beside the
    # event's), by id the others.
    awaiting = {
        d["delivery_id"]: d
        for d in deliveries
        if d["status"] == "queued" and deliveries_table.is_for_event(d["delivery_id"], event_id)
    }
    event[events_table.QUEUED_WEBHOOKS] = {d["webhook_id"]: d["url"] for d in awaiting.values()}
    records = [d for d in deliveries if d["delivery_id"] not in awaiting]
    event["delivery_ids"] = [d["delivery_id"] for d in records]
    key = f"publish#{user_id}#{body.id}" if body.id else None
    answer = answer_of(event_id, deliveries)
    return Prepared(event, deliveries, key, answer, records)


def publish_many(user_id: str, bodies: Sequence[EventBody]) -> list[Published]:
    """Publish events of one user: one webhook Query for all, writes and sends batched."""
    config = settings()
    hooks = webhooks_table.active_for_user(user_id)
    results: list[Published] = []
    plain_events: list[dict[str, Any]] = []
    plain_deliveries: list[dict[str, Any]] = []
    to_send: list[dict[str, Any]] = []
    written: list[Prepared] = []
    try:
        for body in bodies:
            prepared = prepare(user_id, body, hooks)
            if prepared.idempotency_key:
                claimed = events_table.put_claimed(
                    prepared.idempotency_key,
                    IDEMPOTENCY_SECONDS,
                    prepared.answer,
                    prepared.event,
                    prepared.records,
                )
                if claimed.earlier_answer is not None:
                    results.append(Published(claimed.earlier_answer, duplicate=True))
                    continue
                written.append(prepared)
                plain_deliveries.extend(claimed.unwritten)
            else:
                written.append(prepared)
                plain_events.append(prepared.event)
                plain_deliveries.extend(prepared.records)
            to_send.extend(queue_message(delivery) for delivery in to_queue(prepared.deliveries))
            results.append(Published(prepared.answer))
        events_table.put_batch(plain_events, plain_deliveries)
        send_batch(config.delivery_queue_url, to_send)
    except Exception:
        _forget(written)
        raise
    return results


def _forget(written: list[Prepared]) -> None:
    """Undo a publish that failed before all its deliveries were queued (the caller gets a 500).

    Without this, a retry with the same caller id would be answered as a duplicate whose
    deliveries never reached the queue: the event would be lost. Best effort: if DynamoDB
    fails here too, the records stay behind.
    """
    try:
        events_table.delete_batch(
            [p.idempotency_key for p in written if p.idempotency_key],
            [p.event for p in written],
            [d for p in written for d in p.records],
        )
    except Exception:
        records = sum(1 + bool(p.idempotency_key) + len(p.records) for p in written)
        logger.exception("could not undo a failed publish", extra={"records": records})


def publish(user_id: str, body: EventBody) -> Published:
    return publish_many(user_id, [body])[0]


@dataclass(frozen=True)
class InternalEvent:
    """An event the service publishes itself (shared/outbound/operational_events.py): what
    `prepare` reads of a body, built without pydantic (the worker's cold start) and without the
    publish checks (no caller wrote it)."""

    type: str
    data: dict[str, Any]
    id: str | None = None


def publish_internal(user_id: str, event_type: str, data: dict[str, Any]) -> Published:
    """Publish an event of the service's own to `user_id`'s webhooks, like any publish: 1 Query,
    1 BatchWriteItem (the event, naming its deliveries), 1 SendMessageBatch when a webhook
    matches."""
    return publish(user_id, InternalEvent(event_type, data))


def enqueue(deliveries: list[dict[str, Any]]) -> None:
    send_batch(settings().delivery_queue_url, [queue_message(d) for d in deliveries])


def deliver(deliveries: list[dict[str, Any]]) -> None:
    """Store deliveries of an event already written, then queue them (replay, forward); skipped
    ones are only stored."""
    events_table.put_batch([], deliveries)
    enqueue(to_queue(deliveries))


def test_event(user_id: str, webhook: dict[str, Any]) -> dict[str, Any]:
    """`webhook.test` with a sample payload, to this one webhook only (inactive ones get none)."""
    # Imported here: pydantic stays off the delivery worker's cold start (it imports this module).
    from shared.schemas.requests import EventPublish

    body = EventPublish(
        type="webhook.test",
        data={
            "message": "This is a test event from Serverless Webhooks.",
            "webhook_id": webhook["webhook_id"],
        },
    )
    # A test send checks the endpoint: any event type, and the payload filter does not apply.
    prepared = prepare(user_id, body, [{**webhook, "events": ["*"], "filter": None}])
    events_table.put_batch([prepared.event], prepared.records)
    enqueue(to_queue(prepared.deliveries))
    delivery = prepared.deliveries[0]
    return {"event_id": prepared.event["event_id"], "delivery_id": delivery["delivery_id"]}

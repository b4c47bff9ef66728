"""Events table: partition = user, direction and shard; sort = time-ordered event id; no
index (why: shared/core/resources.py), and a TTL after WEBHOOKS_RETENTION_DAYS.

Every partition key ends in the event's shard (its id's last character, shared/store/shards.py):
a get computes its key from (user, direction, id), a list merges the 32 shards of its key (64
when it asks for both directions). The direction is part of the table's own key, not an index's,
so that listing one direction costs no index write on every event: an event's id alone does not
say its direction, so a get by id alone asks for both keys in one BatchGetItem. The type and
source filters of a list run in DynamoDB on those same Queries (a FilterExpression): a filtered
list reads, and is billed for, every event of its direction until its page fills, where an index
would have billed a write on every event published or received.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.core import clock
from shared.core import resources as res
from shared.core.config import settings
from shared.store import dedupe, dynamo, shards
from shared.store import deliveries as deliveries_store

DIRECTIONS = ("outbound", "inbound")
# On an outbound event: {webhook id: url at publish} of the deliveries that have no record of
# their own until their first attempt writes it; their ids are derived from the event's
# (shared/store/deliveries.py `id_for_event`).
QUEUED_WEBHOOKS = "queued_webhooks"
# How long after its publish a delivery may still await its first attempt: the longest a queue
# message lives (the delivery DLQ's retention, counted from the message's first enqueue).
AWAITING_SECONDS = res.DELIVERY_QUEUE.dlq_retention_days * 86400


def partition(user_id: str, direction: str, shard: str) -> str:
    """An outbound event keeps the key it had before inbound events got partitions of their
    own (`user#shard`); an inbound one is `user#inbound#shard` (user ids hold no `#`)."""
    if direction == "outbound":
        return f"{user_id}#{shard}"
    return f"{user_id}#{direction}#{shard}"


def key(user_id: str, event_id: str, direction: str) -> dict[str, str]:
    return {"pk": partition(user_id, direction, shards.shard_of(event_id)), "event_id": event_id}


def index_attributes(user_id: str, direction: str, *, event_id: str) -> dict[str, Any]:
    """What the store adds to every event record: its sharded partition key and the TTL
    (`expires_at`, WEBHOOKS_RETENTION_DAYS from now). Both directions spread it in."""
    return {
        "pk": partition(user_id, direction, shards.shard_of(event_id)),
        "expires_at": dynamo.expiry(),
    }


def get(user_id: str, event_id: str) -> dict[str, Any] | None:
    """The record of either direction, even past its TTL (the caller tells "expired" from "not
    found"): one BatchGetItem of both keys (the id does not say which)."""
    table = settings().events_table
    found = dynamo.batch_get({table: [key(user_id, event_id, d) for d in DIRECTIONS]})[table]
    return found[0] if found else None


def of_delivery(user_id: str, delivery_id: str) -> dict[str, Any] | None:
    """The outbound event a publish's delivery id was derived from (shared/store/deliveries.py
    `id_for_event`), if that event names it as awaiting its first attempt: one Query of the
    event's shard, by the id's prefix (read when a delivery has no record of its own yet)."""
    shard, prefix = deliveries_store.event_of(delivery_id)
    found = dynamo.query_all(
        TableName=settings().events_table,
        KeyConditionExpression="pk = :pk AND begins_with(event_id, :prefix)",
        ExpressionAttributeValues={
            ":pk": dynamo.to_value(partition(user_id, "outbound", shard)),
            ":prefix": dynamo.to_value(prefix),
        },
        Limit=2,
        ConsistentRead=True,
    )
    for event in found:
        if delivery_id in awaiting(event):
            return event
    return None


def awaiting(event: dict[str, Any], now: float | None = None) -> dict[str, str]:
    """{delivery id: webhook id} of the event's deliveries that had no record when it was
    published (their first attempt writes it; the event is not updated then). Only while one
    may still be waiting: its message lives at most AWAITING_SECONDS, and its record, once
    written, outlives the retention from the event's creation. Past the shorter of the two, a
    delivery without a record has expired, not yet to start (a replay keeps the event longer)."""
    window = min(AWAITING_SECONDS, settings().retention_days * 86400)
    moment = clock.now() if now is None else now
    if moment >= clock.parse_iso(str(event["created_at"])) + window:
        return {}
    return {
        deliveries_store.id_for_event(event["event_id"], webhook_id): webhook_id
        for webhook_id in event.get(QUEUED_WEBHOOKS) or {}
    }


def delivery_ids(event: dict[str, Any]) -> list[str]:
    """Every delivery of an event: those written with it or by replay (`delivery_ids`), and those
    whose first attempt writes their record."""
    return list(event.get("delivery_ids") or []) + list(awaiting(event))


def get_many(
    user_id: str, event_ids: list[str], direction: str = "outbound"
) -> dict[str, dict[str, Any]]:
    """Records of one direction by event id (absent ones left out): one eventually consistent
    BatchGetItem per 100 ids (recover reads the envelopes its webhook's filter is checked
    against)."""
    if not event_ids:
        return {}
    table = settings().events_table
    keys = [key(user_id, event_id, direction) for event_id in dict.fromkeys(event_ids)]
    found = dynamo.batch_get({table: keys}, consistent=False)[table]
    return {item["event_id"]: item for item in found}


def list_page(
    user_id: str,
    *,
    direction: str | None,
    event_type: str | None,
    source_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, expired events left out, the type and source filters applied by DynamoDB
    on the Queries of the direction's 32 shards (both directions' 64 when none is asked; a
    source is inbound only)."""
    scope = {
        "list": "events",
        "user_id": user_id,
        "direction": direction or None,
        "type": event_type or None,
        "source_id": source_id or None,
    }
    filters = {
        name: value for name, value in (("type", event_type), ("source_id", source_id)) if value
    }
    if source_id:
        direction = direction or "inbound"
    directions = [direction] if direction else list(DIRECTIONS)
    every = shards.all_shards()
    return dynamo.sharded_page(
        table=res.EVENTS,
        table_name=settings().events_table,
        key_name="pk",
        key_values=[partition(user_id, d, s) for d in directions for s in every],
        sort_name="event_id",
        sort_prefix="evt_",
        limit=limit,
        cursor=cursor,
        scope=scope,
        filters=filters or None,
        selective=bool(filters),
    )


def update(
    user_id: str,
    event_id: str,
    direction: str,
    sets: dict[str, Any],
    appends: dict[str, list[Any]] | None = None,
) -> None:
    """One UpdateItem: 1 WRU per KB of the item (the table has no index to write)."""
    dynamo.update(settings().events_table, key(user_id, event_id, direction), sets, appends=appends)


@dataclass(frozen=True)
class Claimed:
    """A publish with a caller id: the first answer when the id was taken (nothing written),
    else the deliveries past the transaction's limit, which the caller writes in its batch."""

    earlier_answer: dict[str, Any] | None = None
    unwritten: list[dict[str, Any]] = field(default_factory=list)


def put_claimed(
    idempotency_key: str,
    ttl_seconds: int,
    answer: dict[str, Any],
    event: dict[str, Any],
    deliveries: list[dict[str, Any]],
) -> Claimed:
    """Claim the caller id and write the event with its first deliveries in one transaction."""
    config = settings()
    claim = dedupe.claim_put(idempotency_key, ttl_seconds, {"answer": json.dumps(answer)})
    head = deliveries[: dynamo.TRANSACT_LIMIT - 2]
    puts: list[tuple[str, dict[str, Any], str | None, dict[str, Any] | None]] = [
        claim,
        (config.events_table, event, None, None),
    ]
    puts += [(config.deliveries_table, delivery, None, None) for delivery in head]
    dynamodb = dynamo.client("dynamodb")
    try:
        dynamo.transact_put(puts)
    except dynamodb.exceptions.TransactionCanceledException as error:
        reasons = error.response.get("CancellationReasons", [])
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            previous = dynamo.from_item(reasons[0].get("Item", {}))
            return Claimed(
                earlier_answer=json.loads(previous["answer"]) if "answer" in previous else {}
            )
        raise
    return Claimed(unwritten=deliveries[dynamo.TRANSACT_LIMIT - 2 :])


def put_batch(events: list[dict[str, Any]], deliveries: list[dict[str, Any]]) -> None:
    """Events and their deliveries in BatchWriteItem calls of 25 (none when both are empty)."""
    config = settings()
    dynamo.batch_put(
        [(config.events_table, event) for event in events]
        + [(config.deliveries_table, delivery) for delivery in deliveries]
    )


def delete_batch(
    idempotency_keys: list[str], events: list[dict[str, Any]], deliveries: list[dict[str, Any]]
) -> None:
    """Undo writes of a publish: its caller id claims, events and deliveries."""
    config = settings()
    keys = [(config.dedupe_table, {"dedupe_key": k}) for k in idempotency_keys]
    keys += [
        (config.events_table, key(e["user_id"], e["event_id"], e["direction"])) for e in events
    ]
    keys += [
        (config.deliveries_table, deliveries_store.key(d["user_id"], d["delivery_id"]))
        for d in deliveries
    ]
    dynamo.batch_delete(keys)

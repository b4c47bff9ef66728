"""Deliveries table: no index. The partition key is derived from the delivery id, which carries a
tag of its webhook, so both access paths are table reads (why: shared/core/resources.py):

- a get by id computes the key from (user, id): `pk = f"{user_id}#{tag}{shard}"`;
- a webhook's deliveries are a Query on each of its tag's 32 shards (shared/store/shards.py),
  merged and filtered to that webhook (another webhook of the same user shares the tag with
  odds of 1 in 1,024 per pair: its deliveries are read and filtered out, never shown);
- an event's deliveries are those the event names (`delivery_ids`, and by webhook those published
  with it), fetched by BatchGetItem.

A delivery id stays `dlv_` + 26 Crockford characters, time-ordered: of the last three random
characters, the first two are replaced by the tag; the last, still random, is the shard. A
delivery published with its event takes the event's id instead (`id_for_event`): it has no record
until its first attempt writes one, and its id leads to the event that names it meanwhile.
"""

from __future__ import annotations

import zlib
from typing import Any

from shared.core import clock, ids
from shared.core import resources as res
from shared.core.config import settings
from shared.store import dynamo, shards

TAG_LENGTH = 2  # 1,024 tags per user


def tag(owner: str) -> str:
    """The 2-character tag of a webhook (or, for a forward, its source) id."""
    number = zlib.crc32(owner.encode()) % (32**TAG_LENGTH)
    return "".join(ids.CROCKFORD[(number >> (5 * place)) & 31] for place in (1, 0))


def new_id(owner: str) -> str:
    """A delivery id tagged with its webhook (or source) id."""
    made = ids.new_id("dlv")
    return made[: -TAG_LENGTH - 1] + tag(owner) + made[-1]


def id_for_event(event_id: str, webhook_id: str) -> str:
    """A publish's delivery id, derived from its event's: the event id's first 23 characters
    after the prefix (its time and 65 random bits), the webhook's tag, the event's shard. Such a
    delivery has no record until its first attempt writes one (README "Delivery semantics");
    until then its event names it (`queued_webhooks`), and `event_of` finds that event from the
    id alone.
    Two webhooks of one event with the same tag would share it: the caller checks."""
    body = event_id[len("evt_") :]
    return "dlv_" + body[: -TAG_LENGTH - 1] + tag(webhook_id) + body[-1]


def is_for_event(delivery_id: str, event_id: str) -> bool:
    """Whether `delivery_id` is derived from `event_id` (`id_for_event`)."""
    body = event_id[len("evt_") :]
    return (
        delivery_id[4 : -TAG_LENGTH - 1] == body[: -TAG_LENGTH - 1]
        and delivery_id[-1:] == (body[-1:])
    )


def event_of(delivery_id: str) -> tuple[str, str]:
    """(the event's shard, the event id's prefix) of a delivery id made by `id_for_event`: the
    event is the one item of that outbound shard whose id starts so (65 random bits)."""
    return delivery_id[-1:], "evt_" + delivery_id[4 : -TAG_LENGTH - 1]


def partition(user_id: str, delivery_id: str) -> str:
    """`user#<tag><shard>`: the id's last three characters."""
    return f"{user_id}#{delivery_id[-TAG_LENGTH - 1 :]}"


def key(user_id: str, delivery_id: str) -> dict[str, str]:
    return {"pk": partition(user_id, delivery_id), "delivery_id": delivery_id}


def stored_attributes(user_id: str, delivery_id: str) -> dict[str, Any]:
    """What the store adds to a new delivery record: its partition key and its TTL."""
    return {"pk": partition(user_id, delivery_id), "expires_at": dynamo.expiry()}


def get(user_id: str, delivery_id: str) -> dict[str, Any] | None:
    """The record, even past its TTL (the caller tells "expired" from "not found")."""
    found = dynamo.batch_get({settings().deliveries_table: [key(user_id, delivery_id)]})
    items = found[settings().deliveries_table]
    return items[0] if items else None


def get_many(user_id: str, delivery_ids: list[str]) -> list[dict[str, Any]]:
    """The records among `delivery_ids`, even past their TTL (the caller leaves those out): one
    eventually consistent BatchGetItem per 100 ids (an event's deliveries)."""
    if not delivery_ids:
        return []
    table = settings().deliveries_table
    keys = [key(user_id, delivery_id) for delivery_id in dict.fromkeys(delivery_ids)]
    return dynamo.batch_get({table: keys}, consistent=False)[table]


def list_for_webhook(
    user_id: str, webhook_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A webhook's deliveries, newest first (the caller has checked the webhook is `user_id`'s)."""
    filters = {"webhook_id": webhook_id, **({"status": status} if status else {})}
    base = f"{user_id}#{tag(webhook_id)}"
    return dynamo.sharded_page(
        table=res.DELIVERIES,
        table_name=settings().deliveries_table,
        key_name="pk",
        key_values=[base + shard for shard in shards.all_shards()],
        sort_name="delivery_id",
        sort_prefix="dlv_",
        limit=limit,
        cursor=cursor,
        scope={
            "list": "webhook_deliveries",
            "user_id": user_id,
            "webhook_id": webhook_id,
            "status": status,
        },
        filters=filters,
        selective=status is not None,
    )


def window_bounds(since_ms: int, until_ms: int) -> tuple[str, str]:
    """The delivery ids created from `since_ms` to `until_ms` (inclusive): a ULID's first ten
    characters after `dlv_` are its creation milliseconds, so the window is a sort key range."""
    low = ids.new_id("dlv", at_ms=since_ms)[: len("dlv_") + 10]
    high = ids.new_id("dlv", at_ms=until_ms)[: len("dlv_") + 10]
    return low + "0" * 16, high + "Z" * 16


def in_window(
    user_id: str,
    webhook_id: str,
    since_ms: int,
    until_ms: int,
    *,
    limit: int,
    statuses: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """A webhook's deliveries created in the window, newest first, at most `limit` (recover and
    stats): one bounded Query per shard of its tag (AWS calls: shared/store/dynamo.py
    `sharded_window`), filtered in DynamoDB to the webhook and, if given, to `statuses`."""
    filters: dict[str, Any] = {"webhook_id": webhook_id}
    if statuses:
        filters["status"] = statuses
    base = f"{user_id}#{tag(webhook_id)}"
    return dynamo.sharded_window(
        table=res.DELIVERIES,
        table_name=settings().deliveries_table,
        key_name="pk",
        key_values=[base + shard for shard in shards.all_shards()],
        sort_name="delivery_id",
        between=window_bounds(since_ms, until_ms),
        limit=limit,
        filters=filters,
    )


def record_attempt(
    user_id: str,
    delivery_id: str,
    *,
    previous_attempts: int,
    sets: dict[str, Any],
    attempt_entry: dict[str, Any],
    first_attempt_at: str,
    creating: dict[str, Any] | None = None,
) -> bool:
    """Write one attempt, guarded by the attempt count: a duplicate SQS copy cannot double it.
    The first attempt of a publish's delivery writes its record (`creating`: the fields it
    starts with), unless one exists. One UpdateItem, 1 WRU while the item is under 1 KB (the
    table has no index to write): a first-try delivery is this one write."""
    condition = "attempts = :previous"
    absent: dict[str, Any] = {"first_attempt_at": first_attempt_at}
    if creating is not None:
        # Or one exists without an attempt: a copy of this message found the webhook gone and
        # ended it (`set_status` creating it failed) while this copy was sending.
        condition = "attribute_not_exists(delivery_id) OR attempts = :previous"
        absent = {**unset_fields(creating, sets), **absent}
    result = dynamo.update(
        settings().deliveries_table,
        key(user_id, delivery_id),
        sets,
        condition=condition,
        condition_values={":previous": previous_attempts},
        appends={"attempt_log": [attempt_entry]},
        set_if_absent=absent,
    )
    return result is not None


def unset_fields(record: dict[str, Any], sets: dict[str, Any]) -> dict[str, Any]:
    """The fields of a new record that an update creating it must add beside `sets`: not its
    key, nor the empty ones a put leaves out."""
    return {
        name: value
        for name, value in record.items()
        if value is not None
        and name not in sets
        and name not in ("pk", "delivery_id", "attempt_log")
    }


def set_status(
    user_id: str,
    delivery_id: str,
    sets: dict[str, Any],
    *,
    only_if_status_in: tuple[str, ...] = (),
    only_if_unexpired: bool = False,
    creating: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Change a delivery; None when it does not exist, is not in one of the given states or
    (with `only_if_unexpired`) is past its TTL. With `creating` (the record of a delivery that
    has none yet), write that record with `sets` instead, None when it exists already."""
    if creating is not None:
        return dynamo.update(
            settings().deliveries_table,
            key(user_id, delivery_id),
            sets,
            condition="attribute_not_exists(delivery_id)",
            set_if_absent=unset_fields(creating, sets),
            return_new=True,
        )
    condition = "attribute_exists(delivery_id)"
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    if only_if_status_in:
        placeholders = [f":st{position}" for position in range(len(only_if_status_in))]
        condition += " AND #st IN (" + ", ".join(placeholders) + ")"
        values = dict(zip(placeholders, only_if_status_in, strict=True))
        names["#st"] = "status"
    if only_if_unexpired:
        condition += " AND (attribute_not_exists(#exp) OR #exp >= :now)"
        values[":now"] = int(clock.now())
        names["#exp"] = "expires_at"
    return dynamo.update(
        settings().deliveries_table,
        key(user_id, delivery_id),
        sets,
        condition=condition,
        condition_values=values,
        condition_names=names or None,
        return_new=True,
    )

"""Inbound event writes: the receipt's claim (one conditional PutItem on the dedupe table, no
transaction), its release when the message cannot be queued, and the record's one write when
processing ends (`record`).

The claim item is keyed by the dedupe key and expires by the dedupe table's own TTL
(`dedupe.claim_put`: an expired key counts as absent, whatever the TTL sweeper has done). It
carries what the event record needs until processing writes it (the event id and its owner);
the record itself and the raw body ride in the inbound queue message (docs/architecture.md,
"Inbound receipt"). When the key is taken, DynamoDB answers the existing claim
(`ReturnValuesOnConditionCheckFailure=ALL_OLD`: the error's `Item`,
https://docs.aws.amazon.com/botocore/latest/reference/services/dynamodb/client/exceptions/ConditionalCheckFailedException.html),
so a duplicate costs exactly this one call.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from shared.core.aws import client
from shared.core.config import settings
from shared.store import dedupe, dynamo
from shared.store import events as events_table

# What records of earlier releases carry and nothing reads any more (a finished run is told
# from the history, a handler's result is kept there): gone at a record's next write, which
# DynamoDB then bills for less.
RETIRED_ATTRIBUTES = ("processed_run", "handler_results", "updated_at")


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: `first_event_id` is set when the key was already taken."""

    first_event_id: str | None

    @property
    def duplicate(self) -> bool:
        return self.first_event_id is not None


def claim(dedupe_key: str, ttl_seconds: int, event_id: str, owner: dict[str, str]) -> Claim:
    """Claim `dedupe_key` for `event_id`: one PutItem, new or duplicate."""
    table, record, condition, values = dedupe.claim_put(
        dedupe_key, ttl_seconds, {"event_id": event_id, **owner}
    )
    dynamodb = client("dynamodb")
    try:
        dynamodb.put_item(
            TableName=table,
            Item=dynamo.to_item(record),
            ConditionExpression=condition,
            ExpressionAttributeValues={name: dynamo.to_value(v) for name, v in values.items()},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException as error:
        previous = dynamo.from_item(getattr(error, "response", {}).get("Item") or {})
        return Claim(first_event_id=str(previous.get("event_id") or ""))
    return Claim(first_event_id=None)


def release(dedupe_key: str, event_id: str) -> None:
    """Give a claim back (its message could not be queued): only if it is still this event's."""
    dynamodb = client("dynamodb")
    # Already another event's (ours expired meanwhile): nothing of ours to undo.
    with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.delete_item(
            TableName=settings().dedupe_table,
            Key={"dedupe_key": dynamo.to_value(dedupe_key)},
            ConditionExpression="event_id = :e",
            ExpressionAttributeValues={":e": dynamo.to_value(event_id)},
        )


def record(
    user_id: str,
    event_id: str,
    sets: dict[str, Any],
    entry: dict[str, Any],
) -> None:
    """The event's one write when its processing ends: one UpdateItem that creates the record
    on its first run (`sets` then holds every field) and appends `entry` to its history."""
    key = events_table.key(user_id, event_id, "inbound")
    dynamo.update(
        settings().events_table,
        key,
        {name: value for name, value in sets.items() if name not in key},
        appends={"history": [entry]},
        removals=list(RETIRED_ATTRIBUTES),
    )

"""Inbound receipt writes: one transaction claims the dedupe key and records the event.

The claim is `dedupe.claim_put` (an expired key counts as absent, whatever the TTL sweeper has
done). When the key is taken, DynamoDB cancels the transaction and hands back the existing dedupe
item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`), so a duplicate costs exactly that one call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from shared.core.aws import client
from shared.core.config import settings
from shared.store import dedupe, dynamo, events

CONFLICT_RETRIES = 3


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: `first_event_id` is set when the key was already taken."""

    first_event_id: str | None

    @property
    def duplicate(self) -> bool:
        return self.first_event_id is not None


class PayloadNotStorable(Exception):
    """DynamoDB refused the event item (an exotic JSON payload); retry without it."""


def claim_and_record(
    dedupe_key: str, ttl_seconds: int, event: dict[str, Any], owner: dict[str, str]
) -> Claim:
    """Claim `dedupe_key` for `event["event_id"]` and write the event, atomically."""
    claim = dedupe.claim_put(dedupe_key, ttl_seconds, {"event_id": event["event_id"], **owner})
    dynamodb = client("dynamodb")
    for attempt in range(CONFLICT_RETRIES):
        try:
            dynamo.transact_put([claim, (settings().events_table, event, None, None)])
            return Claim(first_event_id=None)
        except dynamodb.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            codes = [reason.get("Code") for reason in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                previous = dynamo.from_item(reasons[0].get("Item", {}))
                return Claim(first_event_id=str(previous.get("event_id") or ""))
            if "ValidationError" in codes:
                raise PayloadNotStorable from None
            if "TransactionConflict" in codes and attempt < CONFLICT_RETRIES - 1:
                # The same delivery arrived twice at once: the other copy is claiming the key.
                time.sleep(0.05 * (attempt + 1))
                continue
            raise
        except dynamodb.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationException":
                raise PayloadNotStorable from None
            raise
    raise RuntimeError("unreachable: the claim loop always returns or raises")


def undo(dedupe_key: str, user_id: str, event_id: str) -> None:
    """Release a claim and delete its event (the body could not be stored or queued)."""
    client("dynamodb").transact_write_items(
        TransactItems=[
            {
                "Delete": {
                    "TableName": settings().dedupe_table,
                    "Key": {"dedupe_key": dynamo.to_value(dedupe_key)},
                    "ConditionExpression": "event_id = :e",
                    "ExpressionAttributeValues": {":e": dynamo.to_value(event_id)},
                }
            },
            {
                "Delete": {
                    "TableName": settings().events_table,
                    "Key": dynamo.to_item(events.key(user_id, event_id)),
                }
            },
        ]
    )

"""A user's account record: which version of their signing secret is live.

It sits in the webhooks table, in the user's own partition, under a sort key no webhook id can take
(`#account`; webhook ids are `wh_...`). The delivery worker reads it in the BatchGetItem it already
makes for its batch's deliveries, events and webhooks, so knowing the live secret version costs it
no extra call; the webhooks module keeps this record out of every webhook read, list and Query."""

from __future__ import annotations

from typing import Any

from shared.core import clock
from shared.core.aws import client
from shared.core.config import settings
from shared.store import dynamo

SORT_KEY = "#account"
VERSION = "secret_version"


def key(user_id: str) -> dict[str, Any]:
    """The record's key, as a plain dict (for a BatchGetItem beside other keys)."""
    return {"user_id": user_id, "webhook_id": SORT_KEY}


def is_account(record: dict[str, Any]) -> bool:
    return record.get("webhook_id") == SORT_KEY


def secret_version(user_id: str) -> str | None:
    """The live secret version (strongly consistent read); None before the secret exists."""
    response = client("dynamodb").get_item(
        TableName=settings().webhooks_table,
        Key=dynamo.to_item(key(user_id)),
        ConsistentRead=True,
        ProjectionExpression="#v",
        ExpressionAttributeNames={"#v": VERSION},
    )
    item = dynamo.from_item(response.get("Item") or {})
    return str(item[VERSION]) if item.get(VERSION) else None


def set_secret_version(user_id: str, version: str, *, replacing: str | None) -> bool:
    """Make `version` live if the live one is still `replacing` (None: none yet); False if not.

    The condition makes a concurrent change visible instead of silently overwriting it.
    """
    if replacing is None:
        condition, values = f"attribute_not_exists({VERSION})", None
    else:
        condition, values = f"{VERSION} = :replacing", {":replacing": replacing}
    updated = dynamo.update(
        settings().webhooks_table,
        key(user_id),
        {VERSION: version, "secret_updated_at": clock.iso()},
        condition=condition,
        condition_values=values,
    )
    return updated is not None

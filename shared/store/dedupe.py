"""Dedupe keys under TTL: one conditional write claims a key; an expired key counts as absent.

DynamoDB deletes expired items late (and moto never does), so the condition compares the TTL
attribute with now instead of trusting the item's absence.
"""

from __future__ import annotations

from typing import Any

from shared.core import clock
from shared.core.config import settings

CLAIM_CONDITION = "attribute_not_exists(dedupe_key) OR expires_at < :now"


def claim_put(
    dedupe_key: str, ttl_seconds: int, payload: dict[str, Any]
) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """The conditional put that claims a key, for a transaction or a single PutItem."""
    now = int(clock.now())
    record = {"dedupe_key": dedupe_key, "expires_at": now + ttl_seconds, **payload}
    return settings().dedupe_table, record, CLAIM_CONDITION, {":now": now}

"""Operational events: what the service tells its operator about itself (README "Operational
events"), as ordinary events of the reserved user `_ops` (shared.core.ids.OPS_USER_ID).

`_ops`'s webhooks receive them like any user's: matched by type (and filter), signed with `_ops`'s
own secret, retried and dead-lettered by the same worker. Types and `data`:
- `webhook.disabled` {user_id, webhook_id, url, reason: "failing" | "gone", disabled_at}
- `delivery.exhausted` {user_id, webhook_id, delivery_id, event_id, event_type, attempts,
  last_status_code, last_error}, when a delivery is dead-lettered
- `secret.rotated` {user_id, previous_expires_at}

No loops: nothing about `_ops` itself is ever announced, so an `_ops` webhook that fails, runs out
of attempts or is disabled produces no event. Announcing never raises: it happens after what it
announces is done (the attempt recorded, the webhook disabled, the secret rotated), and a failure
is logged, never passed on to the delivery or the request that caused it.

AWS calls per event, only on these rare paths (a first-try success and an ordinary retried
failure make none): 1 Query (`_ops`'s active webhooks), 1 BatchWriteItem (the event and its
deliveries), +1 SendMessageBatch when at least one `_ops` webhook subscribes.
"""

from __future__ import annotations

from typing import Any

from shared.core.ids import OPS_USER_ID
from shared.core.observability import logger
from shared.outbound.publishing import publish_internal
from shared.store import secrets

WEBHOOK_DISABLED = "webhook.disabled"
DELIVERY_EXHAUSTED = "delivery.exhausted"
SECRET_ROTATED = "secret.rotated"


def webhook_disabled(
    user_id: str, webhook_id: str, url: str, reason: str, disabled_at: str
) -> None:
    """The delivery worker disabled a webhook (`reason`: "failing" or "gone")."""
    data = {
        "user_id": user_id,
        "webhook_id": webhook_id,
        "url": url,
        "reason": reason,
        "disabled_at": disabled_at,
    }
    _announce(user_id, WEBHOOK_DISABLED, data)


def delivery_exhausted(delivery: dict[str, Any], outcome: dict[str, Any]) -> None:
    """A delivery ran out of attempts and was dead-lettered; `outcome` is its last attempt's
    recorded fields (attempts, last_status_code, last_error)."""
    data = {
        "user_id": delivery["user_id"],
        "webhook_id": delivery.get("webhook_id"),
        "delivery_id": delivery["delivery_id"],
        "event_id": delivery["event_id"],
        "event_type": delivery["event_type"],
        "attempts": outcome.get("attempts"),
        "last_status_code": outcome.get("last_status_code"),
        "last_error": outcome.get("last_error"),
    }
    _announce(delivery["user_id"], DELIVERY_EXHAUSTED, data)


def rotate_secret(user_id: str, grace_seconds: int) -> secrets.VersionedSecret:
    """`POST /v1/secret/rotate`: the rotation (shared/store/secrets.py), then `secret.rotated`."""
    rotated = secrets.rotate(user_id, grace_seconds)
    data = {"user_id": user_id, "previous_expires_at": rotated.previous_expires_at}
    _announce(user_id, SECRET_ROTATED, data)
    return rotated


def _announce(about_user: str, event_type: str, data: dict[str, Any]) -> None:
    """Publish to `_ops`, unless the event is about `_ops` itself (no loops); never raises."""
    if about_user == OPS_USER_ID:
        return
    try:
        published = publish_internal(OPS_USER_ID, event_type, data)
    except Exception:
        logger.exception(
            "operational event not published",
            extra={"event_type": event_type, "about_user_id": about_user},
        )
        return
    logger.info(
        "operational event published",
        extra={
            "event_type": event_type,
            "event_id": published.answer["event_id"],
            "about_user_id": about_user,
            "deliveries": len(published.answer["deliveries"]),
        },
    )

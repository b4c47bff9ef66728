"""Outbound signatures (two header families) and the receiver-side verification helper.

- `X-Webhook-Signature: sha256=<hex HMAC-SHA256(key=whole secret, msg="{ts}.{body}")>`
- `webhook-signature: v1,<base64 HMAC-SHA256(key=base64-decoded secret after whcms_,
  msg="{id}.{ts}.{body}")>` (Standard Webhooks), so any Standard Webhooks library verifies.
During a rotation grace window each header lists one signature per secret, current first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

from shared.core import webhook_signatures
from shared.core.webhook_signatures import any_equal, fresh_timestamp

SECRET_PREFIX = "whcms_"


def _standard_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded)


def hex_signature(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    message = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_headers(
    secrets: Iterable[str], *, event_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    ordered = list(secrets)
    return {
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": " ".join(
            f"sha256={hex_signature(secret, timestamp, body)}" for secret in ordered
        ),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            f"v1,{standard_signature(secret, event_id, timestamp, body)}" for secret in ordered
        ),
    }


def verify_signature(
    secret: str | Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """Receiver side: True when any signature in either header family matches any secret.

    `body` must be the exact bytes received. Comparisons are constant-time; a timestamp more
    than `tolerance` seconds from now is refused (replay protection). Never raises on junk.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    moment = time.time() if now is None else now
    if _verify_hex(secrets, lowered, body, tolerance, moment):
        return True
    return _verify_standard(secrets, lowered, body, tolerance, moment)


def _verify_hex(
    secrets: list[str], headers: dict[str, str], body: bytes, tolerance: int, moment: float
) -> bool:
    timestamp = fresh_timestamp(headers.get("x-webhook-timestamp"), tolerance, moment)
    if timestamp is None:
        return False
    given = [
        part.removeprefix("sha256=")
        for part in headers.get("x-webhook-signature", "").split()
        if part.startswith("sha256=")
    ]
    expected = [hex_signature(secret, int(timestamp), body) for secret in secrets]
    return any_equal(given, expected)


def _verify_standard(
    secrets: list[str], headers: dict[str, str], body: bytes, tolerance: int, moment: float
) -> bool:
    return webhook_signatures.verify_standard(
        secrets, headers, body, tolerance, moment, _standard_key
    )

"""`verify`: check a delivery's signature on the raw body before trusting it.

A delivery carries two signature families over the same bytes (README "Verifying deliveries"):
Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` over
`"{id}.{timestamp}.{body}"`, keyed by the base64 part of the `whcms_` secret) and
`X-Webhook-Signature: sha256=<hex>` over `"{timestamp}.{body}"`, keyed by the whole secret. Either
one valid signature of a fresh timestamp is enough; during a rotation each header lists several.
Comparisons are constant-time and every candidate is compared (no early exit).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

SECRET_PREFIX = "whcms_"


class WebhookVerificationError(Exception):
    """The body is not a delivery signed with this secret (or it is too old)."""


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | list[str],
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivered event when a signature of `secret` (or one of several) matches, else raise.

    Pass the raw body exactly as received: re-serialized JSON does not verify.
    """
    raw = body.encode() if isinstance(body, str) else body
    lowered = {name.lower(): value for name, value in headers.items()}
    secrets = [secret] if isinstance(secret, str) else list(secret)
    moment = time.time() if now is None else now
    if not (
        _standard_ok(raw, lowered, secrets, tolerance_seconds, moment)
        | _hex_ok(raw, lowered, secrets, tolerance_seconds, moment)
    ):
        raise WebhookVerificationError("no valid signature for this secret, or a stale timestamp")
    try:
        event: dict[str, Any] = json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("the signed body is not JSON") from None
    return event


def _fresh(value: str | None, tolerance: int, now: float) -> str | None:
    if value is None or not value.strip().isdigit():
        return None
    stamp = value.strip()
    return stamp if abs(now - int(stamp)) <= tolerance else None


def _any_equal(given: list[str], expected: list[str]) -> bool:
    matched = False
    for candidate in given:
        for value in expected:
            matched |= hmac.compare_digest(candidate.encode(), value.encode())
    return matched


def _standard_ok(
    raw: bytes, headers: Mapping[str, str], secrets: list[str], tolerance: int, now: float
) -> bool:
    message_id = headers.get("webhook-id", "")
    stamp = _fresh(headers.get("webhook-timestamp"), tolerance, now)
    given = [p[3:] for p in headers.get("webhook-signature", "").split() if p.startswith("v1,")]
    if not message_id or stamp is None or not given:
        return False
    message = f"{message_id}.{stamp}.".encode() + raw
    expected = []
    for secret in secrets:
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            continue
        expected.append(base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode())
    return _any_equal(given, expected)


def _hex_ok(
    raw: bytes, headers: Mapping[str, str], secrets: list[str], tolerance: int, now: float
) -> bool:
    stamp = _fresh(headers.get("x-webhook-timestamp"), tolerance, now)
    given = [
        p[7:] for p in headers.get("x-webhook-signature", "").split() if p.startswith("sha256=")
    ]
    if stamp is None or not given:
        return False
    message = f"{stamp}.".encode() + raw
    expected = [hmac.new(s.encode(), message, hashlib.sha256).hexdigest() for s in secrets]
    return _any_equal(given, expected)

"""The signature checks both directions share: constant-time comparison, the timestamp rule and
the one Standard Webhooks verifier (outbound receivers' helper and inbound `standard` sources).

Nothing here raises on junk: a malformed header is a False. Digests are compared with
`hmac.compare_digest`, every candidate against every expected value (no early exit), so timing
says nothing about which one matched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence

# Plain decimal unix seconds, no sign or other digits; a bound on the length keeps int() cheap.
UNIX_SECONDS = re.compile(r"[0-9]{1,19}")


def header_bytes(text: str) -> bytes:
    """Header text → bytes for hashing and comparing; lone surrogates do not raise."""
    return text.encode("utf-8", "surrogatepass")


def any_equal(given: Sequence[str], expected: Sequence[str]) -> bool:
    matched = False
    for candidate in given:
        for value in expected:
            matched |= hmac.compare_digest(header_bytes(candidate), header_bytes(value))
    return matched


def fresh_timestamp(text: str | None, tolerance: int, now: float) -> str | None:
    """The timestamp as sent when it is plain unix seconds within the tolerance, else None."""
    if text is None:
        return None
    value = text.strip()
    if not UNIX_SECONDS.fullmatch(value):
        return None
    return value if abs(now - int(value)) <= tolerance else None


def verify_standard(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int,
    now: float,
    key_of: Callable[[str], bytes],
) -> bool:
    """Standard Webhooks: `v1,<base64>` list over `"{id}.{ts}.{raw}"`. `key_of` turns a secret
    into its HMAC key (the prefix differs: `whsec_` inbound, `whcms_` for ours) and raises
    ValueError for one that is not a key: that secret then matches nothing."""
    message_id = headers.get("webhook-id", "")
    timestamp = fresh_timestamp(headers.get("webhook-timestamp"), tolerance, now)
    if timestamp is None or not message_id:
        return False
    given = [
        part.partition(",")[2]
        for part in headers.get("webhook-signature", "").split()
        if part.startswith("v1,")
    ]
    if not given:
        return False
    message = header_bytes(f"{message_id}.{timestamp}.") + body
    expected = []
    for secret in secrets:
        try:
            digest = hmac.new(key_of(secret), message, hashlib.sha256).digest()
        except ValueError:  # binascii.Error is a ValueError
            continue
        expected.append(base64.b64encode(digest).decode())
    return any_equal(given, expected)

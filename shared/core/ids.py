"""Prefixed, time-ordered identifiers (ULID layout): newest-first lists are a reverse key Query."""

from __future__ import annotations

import os
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, remainder = divmod(number, 32)
        chars.append(CROCKFORD[remainder])
    return "".join(reversed(chars))


def new_id(prefix: str, at_ms: int | None = None) -> str:
    """`prefix_` + 10 chars of milliseconds + 16 random chars (80 bits)."""
    millis = int(time.time() * 1000) if at_ms is None else at_ms
    randomness = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_encode(millis, 10)}{_encode(randomness, 16)}"


# The reserved user that owns the service's operational events (README "Operational events"):
# no API key is ever issued for it; the admin manages its webhooks with `?user_id=_ops`.
OPS_USER_ID = "_ops"

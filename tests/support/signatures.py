"""Read a delivery's signatures, and compute the ones a set of secrets must give, per header.

Written from the formats README "Receiving our webhooks" documents, not from
shared/outbound/signing.py, so a test comparing the two checks the worker against the contract.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

Signatures = tuple[list[str], list[str]]


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def signed_by(headers: Mapping[str, str]) -> Signatures:
    """(X-Webhook-Signature hex values, webhook-signature base64 values), in the order sent."""
    found = _lowered(headers)
    hex_part = [part.removeprefix("sha256=") for part in found["x-webhook-signature"].split()]
    standard = [part.removeprefix("v1,") for part in found["webhook-signature"].split()]
    return hex_part, standard


def expected_by(headers: Mapping[str, str], body: bytes, *secret_values: str) -> Signatures:
    """What both headers must hold for a request signed by `secret_values`, in that order."""
    found = _lowered(headers)
    timestamp, event_id = found["x-webhook-timestamp"], found["webhook-id"]
    hex_part, standard = [], []
    for value in secret_values:
        message = f"{timestamp}.".encode() + body
        hex_part.append(hmac.new(value.encode(), message, hashlib.sha256).hexdigest())
        key = base64.b64decode(value.removeprefix("whcms_"))
        signed = f"{event_id}.{timestamp}.".encode() + body
        standard.append(base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode())
    return hex_part, standard

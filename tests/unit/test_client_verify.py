"""The Python client's `verify` (client/webhooks_client) against the worker's own signer."""

from __future__ import annotations

import base64
import json
import os

import pytest
from webhooks_client import WebhookVerificationError, verify

from shared.outbound.signing import signature_headers

NOW = 1_800_000_000
BODY = json.dumps({"id": "evt_1", "type": "order.paid", "data": {"amount": 1}}).encode()


def _secret() -> str:
    return "whcms_" + base64.b64encode(os.urandom(32)).decode()


def _signed(*secrets: str, body: bytes = BODY) -> dict[str, str]:
    return signature_headers(list(secrets), event_id="evt_1", timestamp=NOW, body=body)


def test_a_delivery_signed_by_the_worker_verifies() -> None:
    secret = _secret()
    assert verify(BODY, _signed(secret), secret, now=NOW)["type"] == "order.paid"


def test_either_family_alone_verifies() -> None:
    secret = _secret()
    headers = _signed(secret)
    standard = {k: v for k, v in headers.items() if k.startswith("webhook-")}
    ours = {k: v for k, v in headers.items() if k.startswith("X-Webhook")}
    assert verify(BODY, standard, secret, now=NOW)["id"] == "evt_1"
    assert verify(BODY, ours, secret, now=NOW)["id"] == "evt_1"


def test_during_a_rotation_the_old_and_the_new_secret_verify() -> None:
    new, old = _secret(), _secret()
    headers = _signed(new, old)
    assert verify(BODY, headers, old, now=NOW)
    assert verify(BODY, headers, new, now=NOW)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers, secret: (body + b" ", headers, secret),
        lambda body, headers, secret: (body, headers, _secret()),
        lambda body, headers, secret: (body, {}, secret),
        lambda body, headers, secret: (
            body,
            {**headers, "webhook-timestamp": "1", "X-Webhook-Timestamp": "1"},
            secret,
        ),
        lambda body, headers, secret: (body, headers, "whcms_!!not base64"),
    ],
    ids=["body changed", "other secret", "no headers", "stale timestamp", "junk secret"],
)
def test_anything_else_is_refused(tamper: object) -> None:
    secret = _secret()
    body, headers, key = tamper(BODY, _signed(secret), secret)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError):
        verify(body, headers, key, now=NOW)


def test_a_stale_delivery_is_refused_outside_the_tolerance_only() -> None:
    secret = _secret()
    headers = _signed(secret)
    assert verify(BODY, headers, secret, now=NOW + 300)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, secret, now=NOW + 301)

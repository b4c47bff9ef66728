"""Sign test webhooks the way each provider does, with the provider's own library where one exists.

- Stripe: `stripe.WebhookSignature.generate_signature_header` (the library's own test helper).
- Slack: `slack_sdk.signature.SignatureVerifier.generate_signature`.
- Standard Webhooks: `standardwebhooks.Webhook.sign`.
- GitHub and Shopify publish no signing library: their documented formats, computed here.
- Custom `hmac`: the source's own rule.
The Stripe, Slack and Standard Webhooks libraries sign text; binary bodies use the same documented
formula over bytes.

Form bodies (`application/x-www-form-urlencoded`): Slack interactivity and GitHub's form content
type send `payload=<url-encoded JSON>`; Slack slash commands send plain form fields.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import stripe
from slack_sdk.signature import SignatureVerifier
from standardwebhooks import Webhook

STANDARD_SECRET = "whsec_" + base64.b64encode(b"standard-webhooks-test-key-32byt").decode()
SECRETS = {
    "stripe": "whsec_stripe_test_secret",
    "github": "github-test-secret",
    "shopify": "shopify-test-secret",
    "slack": "slack-signing-secret",
    "standard": STANDARD_SECRET,
    "hmac": "custom-hmac-secret",
}
HMAC_RULE: dict[str, Any] = {
    "header": "x-signature",
    "algorithm": "sha256",
    "encoding": "hex",
    "prefix": "sha256=",
    "signed_payload": "timestamp.body",
    "timestamp_header": "x-timestamp",
}


FORM = "application/x-www-form-urlencoded"


def form_body(fields: dict[str, str]) -> bytes:
    """Fields encoded as a browser (and Slack, and GitHub) encodes a form."""
    return urlencode(fields).encode("ascii")


def payload_form(payload: Any) -> bytes:
    """`payload=<url-encoded JSON>`: Slack interactivity, GitHub's form content type."""
    return form_body({"payload": json.dumps(payload)})


def stripe_header(secret: str, body: bytes, timestamp: int) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        return f"t={timestamp},v1={digest.hexdigest()}"
    return str(stripe.WebhookSignature.generate_signature_header(text, secret, timestamp))


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        message = f"{message_id}.{timestamp}.".encode() + body
        return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return str(Webhook(secret).sign(message_id, moment, text))


def slack_signature(secret: str, timestamp: int, body: bytes) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        message = f"v0:{timestamp}:".encode() + body
        return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return str(SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body))


def hmac_signature(rule: dict[str, Any], secret: str, body: bytes, timestamp: int) -> str:
    message = body
    if rule.get("signed_payload") == "timestamp.body":
        message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, getattr(hashlib, rule.get("algorithm", "sha256")))
    if rule.get("encoding", "hex") == "hex":
        encoded = digest.hexdigest()
    else:
        encoded = base64.b64encode(digest.digest()).decode()
    return str(rule.get("prefix", "")) + encoded


def sign(
    provider: str,
    body: bytes,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    delivery_id: str | None = None,
    rule: dict[str, Any] | None = None,
    event_header: str = "push",
    topic: str = "orders/create",
) -> dict[str, str]:
    """Headers a provider would send with `body` (delivery ids are fresh unless given)."""
    secret = SECRETS[provider] if secret is None else secret
    timestamp = int(time.time()) if timestamp is None else timestamp
    delivery = delivery_id or str(uuid.uuid4())
    if provider == "stripe":
        return {"Stripe-Signature": stripe_header(secret, body, timestamp)}
    if provider == "github":
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {
            "X-Hub-Signature-256": f"sha256={digest}",
            "X-GitHub-Event": event_header,
            "X-GitHub-Delivery": delivery,
        }
    if provider == "shopify":
        digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        return {
            "X-Shopify-Hmac-Sha256": digest.decode(),
            "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": delivery,
        }
    if provider == "slack":
        return {
            "X-Slack-Signature": slack_signature(secret, timestamp, body),
            "X-Slack-Request-Timestamp": str(timestamp),
        }
    if provider == "standard":
        message_id = delivery_id or f"msg_{uuid.uuid4().hex}"
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_signature(secret, message_id, timestamp, body),
        }
    if provider == "hmac":
        applied = rule or HMAC_RULE
        headers = {applied["header"]: hmac_signature(applied, secret, body, timestamp)}
        if applied.get("timestamp_header"):
            headers[applied["timestamp_header"]] = str(timestamp)
        return headers
    raise ValueError(f"unknown provider {provider}")

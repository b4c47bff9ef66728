"""Provider presets: signature verification on the exact raw bytes, event type and dedupe key.

Every verifier takes the raw body as received (never re-serialized JSON), lower-cased header
names, the source's active secrets (current first, then a previous one during a rotation) and
the current time. It answers only True or False: a malformed header is a False, never an
exception, and the caller learns nothing about which check failed. Digests are compared with
`hmac.compare_digest`, every candidate against every expected value (no early exit).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from shared.core import webhook_signatures
from shared.core.webhook_signatures import any_equal, fresh_timestamp, header_bytes

Provider = Literal["stripe", "github", "shopify", "slack", "standard", "hmac"]
STANDARD_SECRET_PREFIX = "whsec_"
DIGESTS: dict[str, Callable[[], Any]] = {
    "sha256": hashlib.sha256,
    "sha1": hashlib.sha1,
    "sha512": hashlib.sha512,
}
MAX_TYPE_LENGTH = 200
MAX_DEDUPE_VALUE_LENGTH = 256
UNKNOWN_TYPE = "unknown"
SLASH_COMMAND_TYPE = "slash_command"
# Providers that only ever send JSON (GitHub and Slack: or a form holding it): a body that cannot
# be read so is recorded as failed without running handlers. Shopify can be set to send XML and a
# custom `hmac` sender's format is its own: their handlers get the raw bytes and decide.
JSON_PROVIDERS = frozenset({"stripe", "github", "slack", "standard"})


@dataclass(frozen=True)
class HmacRule:
    """A custom `hmac` source's signature rule (header names lower-case)."""

    header: str
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""
    signed_payload: str = "body"
    timestamp_header: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HmacRule:
        timestamp_header = config.get("timestamp_header")
        return cls(
            header=str(config["header"]).lower(),
            algorithm=str(config.get("algorithm") or "sha256"),
            encoding=str(config.get("encoding") or "hex"),
            prefix=str(config.get("prefix") or ""),
            signed_payload=str(config.get("signed_payload") or "body"),
            timestamp_header=str(timestamp_header).lower() if timestamp_header else None,
        )


@dataclass(frozen=True)
class VerifySettings:
    """What verification needs from a source besides its secrets."""

    provider: str
    tolerance_seconds: int = 300
    rule: HmacRule | None = None


def _hmac_hex(key: bytes, message: bytes, digest: Callable[[], Any] = hashlib.sha256) -> str:
    return hmac.new(key, message, digest).hexdigest()


def _hmac_b64(key: bytes, message: bytes, digest: Callable[[], Any] = hashlib.sha256) -> str:
    return base64.b64encode(hmac.new(key, message, digest).digest()).decode()


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64-decoded part after `whsec_`."""
    encoded = secret.removeprefix(STANDARD_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if not key:
        raise ValueError("empty key")
    return key


# Verifiers ---------------------------------------------------------------------------------------


def verify_stripe(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes, tolerance: int, now: float
) -> bool:
    """`Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]` over `"{t}.{raw}"`, key = whole secret."""
    timestamp_text: str | None = None
    given: list[str] = []
    for item in headers.get("stripe-signature", "").split(","):
        name, separator, value = item.strip().partition("=")
        if not separator:
            continue
        if name == "t" and timestamp_text is None:
            timestamp_text = value
        elif name == "v1":
            given.append(value)
    timestamp = fresh_timestamp(timestamp_text, tolerance, now)
    if timestamp is None or not given:
        return False
    message = f"{int(timestamp)}.".encode() + body
    return any_equal(given, [_hmac_hex(header_bytes(secret), message) for secret in secrets])


def verify_github(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC(raw)>`."""
    header = headers.get("x-hub-signature-256", "").strip()
    if not header.startswith("sha256="):
        return False
    expected = [_hmac_hex(header_bytes(secret), body) for secret in secrets]
    return any_equal([header.removeprefix("sha256=")], expected)


def verify_shopify(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> bool:
    """`X-Shopify-Hmac-Sha256: <base64 HMAC(raw)>`."""
    header = headers.get("x-shopify-hmac-sha256", "").strip()
    if not header:
        return False
    return any_equal([header], [_hmac_b64(header_bytes(secret), body) for secret in secrets])


def verify_slack(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes, tolerance: int, now: float
) -> bool:
    """`X-Slack-Signature: v0=<hex HMAC("v0:{X-Slack-Request-Timestamp}:{raw}")>`."""
    timestamp = fresh_timestamp(headers.get("x-slack-request-timestamp"), tolerance, now)
    header = headers.get("x-slack-signature", "").strip()
    if timestamp is None or not header.startswith("v0="):
        return False
    message = f"v0:{timestamp}:".encode() + body
    expected = [_hmac_hex(header_bytes(secret), message) for secret in secrets]
    return any_equal([header.removeprefix("v0=")], expected)


def verify_standard(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes, tolerance: int, now: float
) -> bool:
    """Standard Webhooks, key from `whsec_` (shared/core/webhook_signatures.py)."""
    return webhook_signatures.verify_standard(secrets, headers, body, tolerance, now, standard_key)


def verify_hmac(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    rule: HmacRule,
    tolerance: int,
    now: float,
) -> bool:
    """A custom rule: any whitespace-separated `<prefix><signature>` in the header matches."""
    digest = DIGESTS.get(rule.algorithm)
    if digest is None:
        return False
    message = body
    if rule.signed_payload == "timestamp.body":
        timestamp = fresh_timestamp(headers.get(rule.timestamp_header or ""), tolerance, now)
        if timestamp is None:
            return False
        message = f"{timestamp}.".encode() + body
    given = [
        part.removeprefix(rule.prefix)
        for part in headers.get(rule.header, "").split()
        if part.startswith(rule.prefix)
    ]
    if not given:
        return False
    if rule.encoding == "hex":
        given = [candidate.lower() for candidate in given]
        expected = [_hmac_hex(header_bytes(secret), message, digest) for secret in secrets]
    else:
        expected = [_hmac_b64(header_bytes(secret), message, digest) for secret in secrets]
    return any_equal(given, expected)


def verify(
    settings: VerifySettings,
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float,
) -> bool:
    """True when a signature in the request matches one of `secrets` (header names lower-case)."""
    if not secrets:
        return False
    tolerance = settings.tolerance_seconds
    try:
        if settings.provider == "stripe":
            return verify_stripe(secrets, headers, body, tolerance, now)
        if settings.provider == "github":
            return verify_github(secrets, headers, body)
        if settings.provider == "shopify":
            return verify_shopify(secrets, headers, body)
        if settings.provider == "slack":
            return verify_slack(secrets, headers, body, tolerance, now)
        if settings.provider == "standard":
            return verify_standard(secrets, headers, body, tolerance, now)
        if settings.provider == "hmac" and settings.rule is not None:
            return verify_hmac(secrets, headers, body, settings.rule, tolerance, now)
    except (ValueError, TypeError, UnicodeError):
        # Defence in depth: the verifiers parse defensively, but junk is a rejection, never a 500.
        return False
    return False


# Event type and dedupe key -----------------------------------------------------------------------


def body_path(parsed: Any, path: str) -> Any:
    """`a.b.0.c` into parsed JSON; None when any step is missing."""
    value = parsed
    for step in path.split("."):
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def _scalar(value: Any) -> str | None:
    """A dedupe or type value from JSON: strings and integers only, never empty."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int):
        text = str(value).strip()
        return text or None
    return None


def _clean_type(value: str | None) -> str:
    if not value:
        return UNKNOWN_TYPE
    text = "".join(char for char in value.strip() if char.isprintable())[:MAX_TYPE_LENGTH]
    return text or UNKNOWN_TYPE


def event_type(provider: str, headers: Mapping[str, str], parsed: Any) -> str:
    """The event type as each provider names it (`unknown` when the request does not say)."""
    if provider == "github":
        name = headers.get("x-github-event", "").strip()
        action = _scalar(body_path(parsed, "action"))
        return _clean_type(f"{name}.{action}" if name and action else name)
    if provider == "shopify":
        return _clean_type(headers.get("x-shopify-topic"))
    if provider == "slack":
        return _clean_type(
            _scalar(body_path(parsed, "event.type"))
            or _scalar(body_path(parsed, "type"))
            or _slash_command(parsed)
        )
    # stripe, standard and custom hmac sources: the body's `type`.
    return _clean_type(_scalar(body_path(parsed, "type")))


def _slash_command(parsed: Any) -> str | None:
    """Slack slash commands are form fields with no type: `command` is the `/name` typed."""
    command = _scalar(body_path(parsed, "command"))
    return SLASH_COMMAND_TYPE if command and command.startswith("/") else None


def body_hash(body: bytes) -> str:
    return "body:" + hashlib.sha256(body).hexdigest()


def dedupe_value(
    provider: str,
    headers: Mapping[str, str],
    parsed: Any,
    body: bytes,
    custom_key: str | None = None,
) -> str:
    """`id:<the provider's delivery id>`, or `body:<SHA-256 of the raw body>` when there is none.

    Slack's Events API names its deliveries `event_id`; interactivity payloads and slash commands
    have none, and their `trigger_id` (unique per user action) stands in. `parsed` is the body's
    JSON or a form's fields (None when unreadable: the body hash then). Long ids, and ids
    DynamoDB cannot store (lone surrogates), are hashed.
    """
    found: str | None = None
    if provider == "stripe":
        found = _scalar(body_path(parsed, "id"))
    elif provider == "github":
        found = headers.get("x-github-delivery", "").strip() or None
    elif provider == "shopify":
        found = headers.get("x-shopify-webhook-id", "").strip() or None
    elif provider == "slack":
        found = _scalar(body_path(parsed, "event_id")) or _scalar(body_path(parsed, "trigger_id"))
    elif provider == "standard":
        found = headers.get("webhook-id", "").strip() or None
    elif provider == "hmac" and custom_key:
        kind, _, name = custom_key.partition(":")
        if kind == "header":
            found = headers.get(name.lower(), "").strip() or None
        elif kind == "body":
            found = _scalar(body_path(parsed, name))
    if found is None:
        return body_hash(body)
    if len(found) > MAX_DEDUPE_VALUE_LENGTH or not _utf8_encodable(found):
        return "idsha256:" + hashlib.sha256(header_bytes(found)).hexdigest()
    return "id:" + found


def _utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def slack_challenge(parsed: Any) -> str | None:
    """The challenge of a Slack `url_verification` request, else None."""
    if isinstance(parsed, dict) and parsed.get("type") == "url_verification":
        challenge = parsed.get("challenge")
        return challenge if isinstance(challenge, str) else None
    return None

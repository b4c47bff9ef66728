"""Provider presets: verification on raw bytes, type and dedupe key, against the providers' libs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier
from standardwebhooks import Webhook

from shared.inbound import providers
from tests.inbound_signers import HMAC_RULE, SECRETS, sign

PRESETS = ("stripe", "github", "shopify", "slack", "standard", "hmac")
TIMESTAMPED = ("stripe", "slack", "standard", "hmac")
SIGNATURE_HEADERS = {
    "stripe": ["stripe-signature"],
    "github": ["x-hub-signature-256"],
    "shopify": ["x-shopify-hmac-sha256"],
    "slack": ["x-slack-signature", "x-slack-request-timestamp"],
    "standard": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "hmac": ["x-signature", "x-timestamp"],
}
BODY = json.dumps(
    {
        "id": "evt_1PqR",
        "type": "invoice.paid",
        "event_id": "Ev0123",
        "event": {"type": "app_mention"},
        "action": "opened",
        "data": {"object": {"id": "in_1", "amount_paid": 1999, "currency": "eur"}},
    },
    separators=(",", ":"),
).encode()


def settings_for(provider: str, rule: dict[str, Any] | None = None) -> providers.VerifySettings:
    hmac_rule = providers.HmacRule.from_config(rule or HMAC_RULE) if provider == "hmac" else None
    return providers.VerifySettings(provider=provider, tolerance_seconds=300, rule=hmac_rule)


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def check(
    provider: str,
    headers: dict[str, str],
    body: bytes,
    secrets: list[str] | None = None,
    now: float | None = None,
    rule: dict[str, Any] | None = None,
) -> bool:
    return providers.verify(
        settings_for(provider, rule),
        [SECRETS[provider]] if secrets is None else secrets,
        lower(headers),
        body,
        time.time() if now is None else now,
    )


# Each preset: valid, tampered, wrong secret, missing header, stale, re-encoded ------------------


@pytest.mark.parametrize("provider", PRESETS)
def test_valid_signature_is_accepted(provider: str) -> None:
    assert check(provider, sign(provider, BODY), BODY)


@pytest.mark.parametrize("provider", PRESETS)
def test_tampered_body_is_rejected(provider: str) -> None:
    headers = sign(provider, BODY)
    assert not check(provider, headers, BODY.replace(b"1999", b"1998"))


@pytest.mark.parametrize("provider", PRESETS)
def test_wrong_secret_is_rejected(provider: str) -> None:
    wrong = (
        "whsec_" + base64.b64encode(b"another-key-of-32-bytes-exactly!").decode()
        if provider == "standard"
        else "not-the-secret"
    )
    assert check(provider, sign(provider, BODY, secret=wrong), BODY, secrets=[wrong])
    assert not check(provider, sign(provider, BODY, secret=wrong), BODY)


@pytest.mark.parametrize("provider", PRESETS)
def test_missing_signature_header_is_rejected(provider: str) -> None:
    headers = lower(sign(provider, BODY))
    for name in SIGNATURE_HEADERS[provider]:
        without = {key: value for key, value in headers.items() if key != name}
        assert not check(provider, without, BODY), name
    assert not check(provider, {}, BODY)


@pytest.mark.parametrize("provider", TIMESTAMPED)
def test_stale_or_future_timestamp_is_rejected(provider: str) -> None:
    now = time.time()
    assert check(provider, sign(provider, BODY, timestamp=int(now) - 299), BODY, now=now)
    assert not check(provider, sign(provider, BODY, timestamp=int(now) - 301), BODY, now=now)
    assert not check(provider, sign(provider, BODY, timestamp=int(now) + 301), BODY, now=now)


@pytest.mark.parametrize("provider", PRESETS)
def test_body_re_encoded_by_the_client_is_rejected(provider: str) -> None:
    headers = sign(provider, BODY)
    reencoded = json.dumps(json.loads(BODY), indent=2).encode()
    assert json.loads(reencoded) == json.loads(BODY)
    assert not check(provider, headers, reencoded)
    assert not check(provider, headers, BODY + b"\n")


@pytest.mark.parametrize("provider", PRESETS)
def test_previous_secret_verifies_during_rotation(provider: str) -> None:
    old = SECRETS[provider]
    new = (
        "whsec_" + base64.b64encode(b"rotated-standard-key-32-bytes-!!").decode()
        if provider == "standard"
        else "rotated-secret"
    )
    assert check(provider, sign(provider, BODY, secret=old), BODY, secrets=[new, old])
    assert check(provider, sign(provider, BODY, secret=new), BODY, secrets=[new, old])
    assert not check(provider, sign(provider, BODY, secret=old), BODY, secrets=[new])


@pytest.mark.parametrize("provider", PRESETS)
def test_no_secret_never_verifies(provider: str) -> None:
    assert not check(provider, sign(provider, BODY), BODY, secrets=[])


# The providers' own libraries agree with our verifiers -------------------------------------------


def test_stripe_library_accepts_the_header_we_accept() -> None:
    secret, now = SECRETS["stripe"], int(time.time())
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), secret, now)
    assert check("stripe", {"Stripe-Signature": header}, BODY)
    event = stripe.Webhook.construct_event(BODY, header, secret)
    assert event["id"] == "evt_1PqR"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(BODY + b" ", header, secret)


def test_stripe_any_v1_signature_may_match() -> None:
    now = int(time.time())
    good = sign("stripe", BODY, timestamp=now)["Stripe-Signature"].split("v1=")[1]
    header = f"t={now},v1={'0' * 64},v0=abc,v1={good}"
    assert check("stripe", {"Stripe-Signature": header}, BODY)
    stripe.Webhook.construct_event(BODY, header, SECRETS["stripe"])
    assert not check("stripe", {"Stripe-Signature": f"t={now},v0={good}"}, BODY)


def test_slack_library_signature_is_accepted_and_agrees() -> None:
    secret, now = SECRETS["slack"], str(int(time.time()))
    verifier = SignatureVerifier(secret)
    signature = verifier.generate_signature(timestamp=now, body=BODY)
    headers = {"X-Slack-Signature": str(signature), "X-Slack-Request-Timestamp": now}
    assert check("slack", headers, BODY)
    assert verifier.is_valid_request(BODY, headers)


def test_standard_webhooks_library_signature_is_accepted_and_agrees() -> None:
    from datetime import UTC, datetime

    secret, now = SECRETS["standard"], int(time.time())
    webhook = Webhook(secret)
    first = webhook.sign("msg_1", datetime.fromtimestamp(now, tz=UTC), BODY.decode())
    other = Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).sign(
        "msg_1", datetime.fromtimestamp(now, tz=UTC), BODY.decode()
    )
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": f"{other} {first}",
    }
    assert check("standard", headers, BODY)
    assert webhook.verify(BODY, headers) == json.loads(BODY)


def test_github_documented_format() -> None:
    # https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries
    digest = hmac.new(b"It's a Secret to Everybody", b"Hello, World!", hashlib.sha256).hexdigest()
    assert digest == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    headers = {"X-Hub-Signature-256": f"sha256={digest}"}
    assert check("github", headers, b"Hello, World!", secrets=["It's a Secret to Everybody"])
    assert not check("github", {"X-Hub-Signature-256": digest}, b"Hello, World!")


def test_shopify_documented_format() -> None:
    secret = SECRETS["shopify"]
    expected = base64.b64encode(hmac.new(secret.encode(), BODY, hashlib.sha256).digest())
    assert check("shopify", {"X-Shopify-Hmac-Sha256": expected.decode()}, BODY)
    hex_instead = hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    assert not check("shopify", {"X-Shopify-Hmac-Sha256": hex_instead}, BODY)


# Custom hmac rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
@pytest.mark.parametrize("signed_payload", ["body", "timestamp.body"])
def test_custom_hmac_rules(algorithm: str, encoding: str, signed_payload: str) -> None:
    rule = {
        "header": "x-sig",
        "algorithm": algorithm,
        "encoding": encoding,
        "prefix": "" if encoding == "base64" else f"{algorithm}=",
        "signed_payload": signed_payload,
        "timestamp_header": "x-ts" if signed_payload == "timestamp.body" else None,
    }
    now = int(time.time())
    message = (f"{now}.".encode() + BODY) if signed_payload == "timestamp.body" else BODY
    digest = hmac.new(SECRETS["hmac"].encode(), message, getattr(hashlib, algorithm))
    value = digest.hexdigest() if encoding == "hex" else base64.b64encode(digest.digest()).decode()
    headers = {"x-sig": rule["prefix"] + value, "x-ts": str(now)}
    assert check("hmac", headers, BODY, rule=rule)
    assert not check("hmac", headers, BODY + b"x", rule=rule)
    assert not check("hmac", {"x-sig": value[:-2], "x-ts": str(now)}, BODY, rule=rule)
    if rule["prefix"]:
        assert not check("hmac", {"x-sig": value, "x-ts": str(now)}, BODY, rule=rule)


def test_custom_hmac_accepts_upper_case_hex_and_a_signature_list() -> None:
    rule = {"header": "x-sig", "prefix": "sha256=", "signed_payload": "body"}
    digest = hmac.new(SECRETS["hmac"].encode(), BODY, hashlib.sha256).hexdigest()
    assert check("hmac", {"x-sig": f"sha256={digest.upper()}"}, BODY, rule=rule)
    assert check("hmac", {"x-sig": f"sha256={'a' * 64} sha256={digest}"}, BODY, rule=rule)


# Event type and dedupe key per preset ------------------------------------------------------------


def test_event_type_per_preset() -> None:
    parsed = json.loads(BODY)
    assert providers.event_type("stripe", {}, parsed) == "invoice.paid"
    assert providers.event_type("github", {"x-github-event": "pull_request"}, parsed) == (
        "pull_request.opened"
    )
    assert providers.event_type("github", {"x-github-event": "push"}, {"ref": "x"}) == "push"
    assert providers.event_type("shopify", {"x-shopify-topic": "orders/create"}, parsed) == (
        "orders/create"
    )
    assert providers.event_type("slack", {}, parsed) == "app_mention"
    assert providers.event_type("slack", {}, {"type": "event_callback"}) == "event_callback"
    assert providers.event_type("standard", {}, parsed) == "invoice.paid"
    assert providers.event_type("hmac", {}, parsed) == "invoice.paid"
    assert providers.event_type("stripe", {}, None) == "unknown"


def test_dedupe_key_per_preset() -> None:
    parsed = json.loads(BODY)
    value = providers.dedupe_value
    assert value("stripe", {}, parsed, BODY) == "id:evt_1PqR"
    assert value("github", {"x-github-delivery": "d-1"}, parsed, BODY) == "id:d-1"
    assert value("shopify", {"x-shopify-webhook-id": "s-1"}, parsed, BODY) == "id:s-1"
    assert value("slack", {}, parsed, BODY) == "id:Ev0123"
    assert value("standard", {"webhook-id": "msg_9"}, parsed, BODY) == "id:msg_9"
    body_hash = "body:" + hashlib.sha256(BODY).hexdigest()
    assert value("hmac", {}, parsed, BODY) == body_hash
    assert value("hmac", {"x-request-id": "r-7"}, parsed, BODY, "header:X-Request-Id") == "id:r-7"
    assert value("hmac", {}, parsed, BODY, "body:data.object.id") == "id:in_1"
    assert value("hmac", {}, parsed, BODY, "body:data.missing") == body_hash
    assert value("github", {}, parsed, BODY) == body_hash  # no delivery header: the body hash
    assert value("stripe", {}, {"id": "x" * 1000}, BODY).startswith("idsha256:")


def test_slack_url_verification_challenge() -> None:
    assert providers.slack_challenge({"type": "url_verification", "challenge": "abc"}) == "abc"
    assert providers.slack_challenge({"type": "event_callback"}) is None
    assert providers.slack_challenge(None) is None


def test_standard_key_rejects_non_base64() -> None:
    with pytest.raises(ValueError):
        providers.standard_key("whsec_***not-base64***")
    assert providers.standard_key("whsec_" + base64.b64encode(b"k").decode()) == b"k"


# Properties ---------------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(provider=st.sampled_from(PRESETS), body=st.binary(max_size=2048))
def test_property_round_trip(provider: str, body: bytes) -> None:
    assert check(provider, sign(provider, body), body)


@PROPERTY_SETTINGS
@given(
    provider=st.sampled_from(PRESETS),
    body=st.binary(min_size=1, max_size=512),
    data=st.data(),
)
def test_property_any_single_byte_change_is_rejected(
    provider: str, body: bytes, data: st.DataObject
) -> None:
    headers = sign(provider, body)
    position = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != body[position])
    )
    changed = body[:position] + bytes([replacement]) + body[position + 1 :]
    assert not check(provider, headers, changed)


JUNK_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=200
) | st.sampled_from(
    [
        "",
        ",",
        "t=",
        "t=,v1=",
        "t=abc,v1=zz",
        "t=99999999999999999999,v1=00",
        "v1,",
        "v1,!!!",
        "sha256=",
        "v0=",
        "\x00\ud800",
        "=" * 50,
        "t=1,t=2,v1",
        "١٢٣",
    ]
)


@PROPERTY_SETTINGS
@given(
    provider=st.sampled_from(PRESETS),
    junk=st.dictionaries(
        st.sampled_from(
            [name for names in SIGNATURE_HEADERS.values() for name in names]
            + ["x-github-delivery", "content-type"]
        ),
        JUNK_TEXT,
        max_size=6,
    ),
    body=st.binary(max_size=256),
    secret=st.text(max_size=40) | st.just("whsec_%%%"),
)
def test_property_junk_headers_never_raise(
    provider: str, junk: dict[str, str], body: bytes, secret: str
) -> None:
    assert (
        providers.verify(
            settings_for(provider), [secret, SECRETS[provider]], junk, body, time.time()
        )
        is False
    )
    parsed: Any = None
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    assert isinstance(providers.event_type(provider, junk, parsed), str)
    assert providers.dedupe_value(provider, junk, parsed, body, "header:x-github-delivery")

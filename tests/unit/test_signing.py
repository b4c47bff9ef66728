"""Outbound signatures: the spec's reference computation, Standard Webhooks, rotation, verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time

import pytest
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.outbound.signing import (
    hex_signature,
    signature_headers,
    standard_signature,
    verify_signature,
)
from shared.store.secrets import new_signing_secret

EVENT_ID = "evt_01JTESTEVENT0000000000000"
BODY = b'{"id":"evt_01JTESTEVENT0000000000000","type":"user.created","data":{"name":"Zo\xc3\xab"}}'


def make_secret(raw: bytes | None = None) -> str:
    return "whcms_" + base64.b64encode(raw if raw is not None else os.urandom(32)).decode()


def reference_hex(secret: str, timestamp: int, body: bytes) -> str:
    """Spec: hex HMAC-SHA256, key = the whole secret string as UTF-8, msg = "{ts}.{body}"."""
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, "sha256").hexdigest()


def reference_standard(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Spec: base64 HMAC-SHA256, key = base64 of the part after whcms_, msg = "{id}.{ts}.{body}"."""
    key = base64.b64decode(secret[len("whcms_") :])
    message = f"{message_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def library(secret: str) -> standardwebhooks.Webhook:
    """Standard Webhooks libraries take `whsec_<base64>`: the same key bytes as our whcms_."""
    return standardwebhooks.Webhook("whsec_" + secret.removeprefix("whcms_"))


# --- Reference computation ---------------------------------------------------------------


def test_headers_match_the_reference_computation() -> None:
    secret = make_secret(bytes(range(32)))
    timestamp = 1_767_225_600
    headers = signature_headers([secret], event_id=EVENT_ID, timestamp=timestamp, body=BODY)
    assert headers == {
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": "sha256=" + reference_hex(secret, timestamp, BODY),
        "webhook-id": EVENT_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + reference_standard(secret, EVENT_ID, timestamp, BODY),
    }


def test_known_answer_vector() -> None:
    """A fixed vector computed independently from the spec's formulas."""
    secret = "whcms_" + base64.b64encode(b"\x01" * 32).decode()
    assert secret == "whcms_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
    body = b'{"a":1}'
    assert (
        hex_signature(secret, 1700000000, body)
        == hmac.new(secret.encode(), b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    )
    assert (
        standard_signature(secret, "msg_1", 1700000000, body)
        == base64.b64encode(
            hmac.new(b"\x01" * 32, b'msg_1.1700000000.{"a":1}', hashlib.sha256).digest()
        ).decode()
    )


def test_hex_key_is_the_whole_secret_string_not_its_decoded_bytes() -> None:
    secret = make_secret()
    decoded_key = base64.b64decode(secret.removeprefix("whcms_"))
    wrong = hmac.new(decoded_key, b"1." + BODY, hashlib.sha256).hexdigest()
    assert hex_signature(secret, 1, BODY) != wrong
    assert hex_signature(secret, 1, BODY) == reference_hex(secret, 1, BODY)


def test_new_secrets_use_the_standard_base64_alphabet_of_32_bytes() -> None:
    for _ in range(200):
        secret = new_signing_secret()
        assert secret.startswith("whcms_")
        encoded = secret.removeprefix("whcms_")
        assert len(encoded) == 44 and encoded.endswith("=")
        assert "-" not in encoded and "_" not in encoded
        assert len(base64.b64decode(encoded, validate=True)) == 32


# --- Standard Webhooks library -----------------------------------------------------------


def test_standardwebhooks_library_verifies_our_signature() -> None:
    secret = make_secret()
    now = int(time.time())
    headers = signature_headers([secret], event_id=EVENT_ID, timestamp=now, body=BODY)
    assert library(secret).verify(BODY, headers) == {
        "id": EVENT_ID,
        "type": "user.created",
        "data": {"name": "Zoë"},
    }


def test_standardwebhooks_library_refuses_a_wrong_secret_or_body() -> None:
    secret = make_secret()
    now = int(time.time())
    headers = signature_headers([secret], event_id=EVENT_ID, timestamp=now, body=BODY)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        library(make_secret()).verify(BODY, headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        library(secret).verify(BODY.replace(b"created", b"deleted"), headers)


def test_secret_with_plus_and_slash_still_verifies_with_the_library() -> None:
    # 0xfb 0xff ... encodes to "+/..." in standard base64: the alphabet base64url would break.
    raw = bytes([0xFB, 0xFF, 0xBF] * 10 + [0xFB, 0xFF])
    secret = make_secret(raw)
    assert "+" in secret and "/" in secret
    now = int(time.time())
    headers = signature_headers([secret], event_id=EVENT_ID, timestamp=now, body=BODY)
    library(secret).verify(BODY, headers)
    assert verify_signature(secret, headers, BODY)


# --- Rotation: several signatures --------------------------------------------------------


def test_rotation_headers_carry_both_signatures_current_first() -> None:
    new, old = make_secret(), make_secret()
    now = int(time.time())
    headers = signature_headers([new, old], event_id=EVENT_ID, timestamp=now, body=BODY)
    assert headers["X-Webhook-Signature"] == (
        f"sha256={reference_hex(new, now, BODY)} sha256={reference_hex(old, now, BODY)}"
    )
    assert headers["webhook-signature"] == (
        f"v1,{reference_standard(new, EVENT_ID, now, BODY)} "
        f"v1,{reference_standard(old, EVENT_ID, now, BODY)}"
    )
    for secret in (new, old):
        assert verify_signature(secret, headers, BODY)
        library(secret).verify(BODY, headers)
    assert not verify_signature(make_secret(), headers, BODY)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        library(make_secret()).verify(BODY, headers)


def test_verify_accepts_a_list_of_secrets() -> None:
    signer, other = make_secret(), make_secret()
    now = int(time.time())
    headers = signature_headers([signer], event_id=EVENT_ID, timestamp=now, body=BODY)
    assert verify_signature([other, signer], headers, BODY)
    assert not verify_signature([other], headers, BODY)
    assert not verify_signature([], headers, BODY)


# --- verify_signature: each header family, tolerance, junk -------------------------------


def test_each_header_family_verifies_on_its_own() -> None:
    secret = make_secret()
    now = int(time.time())
    headers = signature_headers([secret], event_id=EVENT_ID, timestamp=now, body=BODY)
    hex_only = {k: v for k, v in headers.items() if k.lower().startswith("x-webhook-")}
    standard_only = {k: v for k, v in headers.items() if k.lower().startswith("webhook-")}
    assert verify_signature(secret, hex_only, BODY)
    assert verify_signature(secret, standard_only, BODY)
    assert verify_signature(secret, {k.upper(): v for k, v in headers.items()}, BODY)


def test_tolerance_window() -> None:
    secret = make_secret()
    signed_at = 1_700_000_000
    headers = signature_headers([secret], event_id=EVENT_ID, timestamp=signed_at, body=BODY)
    assert verify_signature(secret, headers, BODY, now=signed_at)
    assert verify_signature(secret, headers, BODY, now=signed_at + 300)
    assert verify_signature(secret, headers, BODY, now=signed_at - 300)
    assert not verify_signature(secret, headers, BODY, now=signed_at + 301)
    assert not verify_signature(secret, headers, BODY, now=signed_at - 301)
    assert verify_signature(secret, headers, BODY, tolerance=3600, now=signed_at + 3000)
    assert not verify_signature(secret, headers, BODY)  # now: years later, a replay


def test_a_changed_timestamp_header_breaks_both_signatures() -> None:
    secret = make_secret()
    now = int(time.time())
    headers = signature_headers([secret], event_id=EVENT_ID, timestamp=now, body=BODY)
    moved = {
        **headers,
        "X-Webhook-Timestamp": str(now + 1),
        "webhook-timestamp": str(now + 1),
    }
    assert not verify_signature(secret, moved, BODY)
    other_id = {**headers, "webhook-id": "evt_other"}
    other_id.pop("X-Webhook-Signature")
    assert not verify_signature(secret, other_id, BODY)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Webhook-Signature": "garbage"},
        {"X-Webhook-Signature": "sha256=", "X-Webhook-Timestamp": "1700000000"},
        {"X-Webhook-Signature": "sha256=zz", "X-Webhook-Timestamp": "not-a-number"},
        {"X-Webhook-Signature": "sha256=ab", "X-Webhook-Timestamp": "1e10"},
        {"X-Webhook-Signature": "sha256=ab", "X-Webhook-Timestamp": ""},
        {"X-Webhook-Signature": "sha256=ab", "X-Webhook-Timestamp": "99999999999999999999999"},
        {"X-Webhook-Signature": "sha256=é", "X-Webhook-Timestamp": "1700000000"},
        {"webhook-id": "", "webhook-timestamp": "1700000000", "webhook-signature": "v1,abc"},
        {"webhook-id": "x", "webhook-timestamp": "1700000000", "webhook-signature": "v1,"},
        {"webhook-id": "x", "webhook-timestamp": "1700000000", "webhook-signature": "v1,!!!"},
        {"webhook-id": "x", "webhook-timestamp": "1700000000", "webhook-signature": "v2,abc v1"},
        {"webhook-id": "x", "webhook-timestamp": "\x00", "webhook-signature": "\u2603"},
    ],
)
def test_junk_headers_are_refused_without_raising(headers: dict[str, str]) -> None:
    assert verify_signature(make_secret(), headers, BODY, now=1_700_000_000) is False


def test_a_secret_that_is_not_base64_never_raises() -> None:
    now = int(time.time())
    for secret in ("whcms_***", "whcms_abc", "plain-secret", "", "whcms_"):
        headers = {
            "X-Webhook-Timestamp": str(now),
            "X-Webhook-Signature": "sha256=" + reference_hex(secret, now, BODY),
            "webhook-id": EVENT_ID,
            "webhook-timestamp": str(now),
            "webhook-signature": "v1,AAAA",
        }
        # The hex family only needs the secret as text, so it still verifies.
        assert verify_signature(secret, headers, BODY) is True
        headers["X-Webhook-Signature"] = "sha256=00"
        assert verify_signature(secret, headers, BODY) is False


# --- Properties --------------------------------------------------------------------------

secrets_strategy = st.binary(min_size=1, max_size=64).map(make_secret)
timestamps = st.integers(min_value=0, max_value=2**40)
event_ids = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="."),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(secret=secrets_strategy, body=st.binary(max_size=2048), ts=timestamps, event_id=event_ids)
def test_property_sign_then_verify_round_trips(
    secret: str, body: bytes, ts: int, event_id: str
) -> None:
    headers = signature_headers([secret], event_id=event_id, timestamp=ts, body=body)
    assert verify_signature(secret, headers, body, now=ts)
    assert headers["X-Webhook-Signature"] == "sha256=" + reference_hex(secret, ts, body)
    assert headers["webhook-signature"] == "v1," + reference_standard(secret, event_id, ts, body)


@settings(max_examples=150, deadline=None)
@given(
    secret=secrets_strategy,
    body=st.binary(min_size=1, max_size=1024),
    data=st.data(),
    ts=timestamps,
)
def test_property_any_single_byte_change_of_the_body_is_rejected(
    secret: str, body: bytes, data: st.DataObject, ts: int
) -> None:
    headers = signature_headers([secret], event_id=EVENT_ID, timestamp=ts, body=body)
    position = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != body[position])
    )
    tampered = body[:position] + bytes([replacement]) + body[position + 1 :]
    assert not verify_signature(secret, headers, tampered, now=ts)
    assert not verify_signature(secret, headers, body + b" ", now=ts)
    assert not verify_signature(secret, headers, body[:-1], now=ts)


header_names = st.sampled_from(
    [
        "X-Webhook-Signature",
        "X-Webhook-Timestamp",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "x-webhook-signature",
        "Content-Type",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    headers=st.dictionaries(header_names | st.text(max_size=30), st.text(max_size=200)),
    secret=st.text(max_size=60) | secrets_strategy,
    body=st.binary(max_size=256),
    tolerance=st.integers(min_value=-10, max_value=10**6),
)
def test_property_arbitrary_header_text_never_raises(
    headers: dict[str, str], secret: str, body: bytes, tolerance: int
) -> None:
    assert verify_signature(secret, headers, body, tolerance=tolerance) in (True, False)
    assert verify_signature([secret, make_secret()], headers, body) in (True, False)


@settings(max_examples=60, deadline=None)
@given(secret=secrets_strategy, text=st.text(max_size=500), event_id=event_ids)
def test_property_standardwebhooks_library_verifies_any_text_body(
    secret: str, text: str, event_id: str
) -> None:
    body = text.encode()
    now = int(time.time())
    headers = signature_headers([secret], event_id=event_id, timestamp=now, body=body)
    library(secret).verify(body, headers, json_parse=False)

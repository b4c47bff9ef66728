"""Inbound webhooks over real HTTP against local mode: every preset and a custom rule, duplicates,
raw bytes, bodies that are not plain JSON (forms, lone surrogates, invalid UTF-8), processing,
the DLQ after the receive limit, forwarding and replay."""

from __future__ import annotations

import json
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from shared.outbound.signing import verify_signature
from tests.inbound_signers import FORM, HMAC_RULE, SECRETS, form_body, payload_form, sign
from tests.support.local_api import wait_until

TIMEOUT = 15
RAW_BUCKET = "serverless-webhooks-raw-bodies"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Inbound:
    base_url: str
    headers: dict[str, str]

    def api(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        reply = requests.request(
            method, self.base_url + path, headers=headers, timeout=TIMEOUT, **kwargs
        )
        assert reply.status_code == status, (method, path, reply.status_code, reply.text[:500])
        return reply.json() if reply.content else None

    def source(self, provider: str, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"name": unique(provider), "provider": provider}
        body["secret"] = SECRETS[provider]
        body.update(fields)
        created = dict(self.api("POST", "/v1/sources", 201, json=body))
        assert "secret" not in created
        return created

    def post(
        self, source_id: str, body: bytes, headers: dict[str, str], content_type: str = ""
    ) -> requests.Response:
        sent = {"Content-Type": content_type or "application/json", **headers}
        return requests.post(
            f"{self.base_url}/inbound/{source_id}", data=body, headers=sent, timeout=TIMEOUT
        )

    def event(self, event_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/v1/events/{event_id}", 200))


@pytest.fixture(scope="module")
def inbound(local: Any) -> Inbound:
    return Inbound(local.base_url, local.new_user(unique("inbound")))


def wait_for(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    return wait_until(check, timeout=timeout, interval=0.1)


def recorded(inbound: Inbound, event_id: str) -> dict[str, Any] | None:
    """The event, once processing has written its record (until then the queue holds it)."""
    reply = requests.get(
        f"{inbound.base_url}/v1/events/{event_id}", headers=inbound.headers, timeout=TIMEOUT
    )
    assert reply.status_code in (200, 404), reply.text[:500]
    return dict(reply.json()) if reply.status_code == 200 else None


def processed(inbound: Inbound, event_id: str) -> dict[str, Any]:
    event = wait_for(
        lambda: (e := recorded(inbound, event_id)) is not None and e["status"] == "processed" and e
    )
    assert event, recorded(inbound, event_id)
    return dict(event)


def settled(inbound: Inbound, event_id: str) -> dict[str, Any]:
    """The event once it has left `received` (processed, or failed with its reason)."""
    event = wait_for(
        lambda: (e := recorded(inbound, event_id)) is not None and e["status"] != "received" and e
    )
    assert event, recorded(inbound, event_id)
    return dict(event)


# Each preset and the custom rule ------------------------------------------------------------------


@dataclass
class Case:
    provider: str
    body: Callable[[], bytes]
    event_type: str
    fields: dict[str, Any] = field(default_factory=dict)
    timestamped: bool = True
    sign_kwargs: dict[str, Any] = field(default_factory=dict)
    handler_result: dict[str, Any] | None = None


def _json(**values: Any) -> Callable[[], bytes]:
    return lambda: json.dumps({**values, "nonce": uuid.uuid4().hex}).encode()


CASES = {
    "stripe": Case(
        "stripe",
        lambda: json.dumps(
            {
                "id": unique("evt"),
                "object": "event",
                "type": "invoice.paid",
                "data": {"object": {"id": "in_9", "customer": "cus_1", "amount_paid": 500}},
            }
        ).encode(),
        "invoice.paid",
        handler_result={"invoice_id": "in_9", "customer": "cus_1", "amount_paid": 500},
    ),
    "github": Case(
        "github",
        _json(ref="refs/heads/main", repository={"full_name": "acme/api"}, commits=[{}]),
        "push",
        timestamped=False,
        handler_result={"repository": "acme/api", "ref": "refs/heads/main", "commits": 1},
    ),
    "shopify": Case("shopify", _json(id=820982911946154508), "orders/create", timestamped=False),
    "slack": Case(
        "slack",
        lambda: json.dumps(
            {"type": "event_callback", "event_id": unique("Ev"), "event": {"type": "app_mention"}}
        ).encode(),
        "app_mention",
    ),
    "standard": Case("standard", _json(type="user.created", data={"id": 1}), "user.created"),
    "hmac": Case("hmac", _json(type="order.paid"), "order.paid", fields={"signature": HMAC_RULE}),
    "hmac-dedupe-header": Case(
        "hmac",
        _json(type="order.shipped"),
        "order.shipped",
        fields={
            "signature": {"header": "X-Sig", "algorithm": "sha512", "encoding": "base64"},
            "dedupe": {"key": "header:X-Request-Id"},
        },
        timestamped=False,
        sign_kwargs={
            "rule": {"header": "X-Sig", "algorithm": "sha512", "encoding": "base64"},
        },
    ),
}


def stable_headers(case: Case, body: bytes, **overrides: Any) -> dict[str, str]:
    """Signed headers whose delivery id is fixed by the body (a provider's retry keeps it)."""
    delivery = "d-" + uuid.uuid5(uuid.NAMESPACE_URL, body.decode()).hex
    return sign(case.provider, body, delivery_id=delivery, **{**case.sign_kwargs, **overrides})


@pytest.mark.parametrize("name", list(CASES))
def test_preset_verification_dedupe_and_processing(inbound: Inbound, name: str) -> None:
    case = CASES[name]
    source = inbound.source(case.provider, **case.fields)
    body = case.body()
    headers = stable_headers(case, body)
    if name == "hmac-dedupe-header":
        headers["X-Request-Id"] = "req-1"

    first = inbound.post(source["id"], body, headers)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["received"] is True and answer["duplicate"] is False

    # Every bad request gets the very same 401: no hint which check failed.
    wrong = "whsec_" + "QUJD" * 11 if case.provider == "standard" else "wrong-secret"
    bad = [
        (body.replace(b"}", b',"x":1}', 1), headers),  # tampered body
        (body, stable_headers(case, body, secret=wrong)),  # wrong secret
        (body, {}),  # missing signature
        (json.dumps(json.loads(body), indent=1).encode(), headers),  # re-encoded by the client
    ]
    if case.timestamped:
        bad.append((body, stable_headers(case, body, timestamp=int(time.time()) - 3600)))
    refusals = [inbound.post(source["id"], bad_body, h) for bad_body, h in bad]
    for refused in refusals:
        assert refused.status_code == 401
        assert refused.json() == refusals[0].json()
    error = refusals[0].json()["error"]
    assert error["code"] == "invalid_signature"
    assert not any(word in error["message"].lower() for word in ("timestamp", "header", "secret"))

    event = processed(inbound, answer["event_id"])
    assert event["type"] == case.event_type and event["source_id"] == source["id"]
    if case.handler_result is not None:
        results = event["history"][0]["handler_results"]
        assert len(results) == 1
        assert case.handler_result.items() <= results[0]["result"].items()

    # The provider sends the same delivery again (re-signed, later). It is sent once the first
    # copy is processed: moto rolls a cancelled transaction back by restoring a snapshot of the
    # tables, which would also undo the processor's concurrent status update (moto only).
    if name == "hmac-dedupe-header":
        body = case.body()  # another body, the same request id
        headers = {**stable_headers(case, body), "X-Request-Id": "req-1"}
    else:
        headers = stable_headers(case, body)
    again = inbound.post(source["id"], body, headers)
    assert again.status_code == 200
    assert again.json() == {"received": True, "event_id": answer["event_id"], "duplicate": True}
    time.sleep(0.5)  # time enough for a second processing, were one queued
    event = inbound.event(answer["event_id"])
    assert [entry["action"] for entry in event["history"]] == ["processed"]
    listed = inbound.api("GET", "/v1/events", 200, params={"source_id": source["id"]})
    assert [item["id"] for item in listed["data"]] == [answer["event_id"]]


# Sources ------------------------------------------------------------------------------------------


def test_sources_crud_tenant_isolation_and_secret_never_returned(
    local: Any, inbound: Inbound
) -> None:
    other = Inbound(local.base_url, local.new_user(unique("other")))
    created = inbound.source("github", forward_url="http://127.0.0.1:9/hook")
    path = f"/v1/sources/{created['id']}"
    assert created["inbound_url"] == f"{local.base_url}/inbound/{created['id']}"
    for view in (created, inbound.api("GET", path, 200)):
        assert SECRETS["github"] not in json.dumps(view)
    listed = inbound.api("GET", "/v1/sources", 200, params={"limit": 100})
    assert created["id"] in [item["id"] for item in listed["data"]]
    assert SECRETS["github"] not in json.dumps(listed)
    other.api("GET", path, 404)
    other.api("PATCH", path, 404, json={"name": "mine now"})
    other.api("DELETE", path, 404)
    assert created["id"] not in json.dumps(other.api("GET", "/v1/sources", 200))
    patched = inbound.api("PATCH", path, 200, json={"name": "renamed", "secret": "rotated"})
    assert patched["name"] == "renamed" and patched["previous_secret_expires_at"]
    assert "rotated" not in json.dumps(patched)
    body = b'{"zen": "Keep it logically awesome."}'
    for secret in (SECRETS["github"], "rotated"):  # both verify during the grace window
        reply = inbound.post(created["id"], body, sign("github", body, secret=secret))
        assert reply.status_code == 200
    inbound.api("DELETE", path, 204)
    inbound.api("GET", path, 404)
    # Receipt caches a source per container (WEBHOOKS_SOURCE_CACHE_SECONDS, 1 s here): a
    # deleted source is refused once the entry of the container that saw it expires.
    assert wait_until(
        lambda: inbound.post(created["id"], body, sign("github", body)).status_code == 404,
        timeout=15,
    )


# Raw bytes, limits, Slack challenge --------------------------------------------------------------


def test_raw_bytes_are_stored_exactly_and_the_body_limit(local: Any, inbound: Inbound) -> None:
    source = inbound.source("hmac", signature=HMAC_RULE)
    binary = bytes(range(256)) + b"\xff\xfe not utf-8 \x80"
    for content_type in ("application/octet-stream", "application/json"):
        reply = inbound.post(source["id"], binary, sign("hmac", binary), content_type)
        assert reply.status_code == 200, reply.text
        assert stored_raw(local, source["id"], reply.json()["event_id"]) == binary
    too_big = b"x" * (1024 * 1024 + 1)
    reply = inbound.post(source["id"], too_big, sign("hmac", too_big), "text/plain")
    assert reply.status_code == 413 and reply.json()["error"]["code"] == "payload_too_large"
    assert inbound.post("src_00000000000000000000000000", binary, {}).status_code == 404


def stored_raw(local: Any, source_id: str, event_id: str) -> bytes:
    """The raw body where processing stored it: inline on the event record (deflated when that
    is smaller), else in S3."""
    dynamodb = local.client("dynamodb")
    [table] = [name for name in dynamodb.list_tables()["TableNames"] if name.endswith("-Events")]
    item = wait_for(lambda: next(iter(by_event_id(dynamodb, table, event_id)), None))
    if "raw_deflated" in item:  # raw DEFLATE (RFC 1951)
        return zlib.decompress(bytes(item["raw_deflated"]["B"]), -15)
    if "raw_body" in item:
        return bytes(item["raw_body"]["B"])
    key = item["raw_s3_key"]["S"]
    assert key.startswith(f"inbound/{source_id}/")
    whole = bytes(local.client("s3").get_object(Bucket=RAW_BUCKET, Key=key)["Body"].read())
    if "raw_range" not in item:
        return whole
    first, last = (int(n["N"]) for n in item["raw_range"]["L"])  # shared with its batch
    return whole[first : last + 1]


def by_event_id(dynamodb: Any, table: str, event_id: str) -> list[dict[str, Any]]:
    """The test knows the event id, not its owner's user id (the table's partition key)."""
    found = dynamodb.scan(
        TableName=table,
        FilterExpression="event_id = :e",
        ExpressionAttributeValues={":e": {"S": event_id}},
    )
    return list(found.get("Items", []))


def test_lone_surrogate_body_is_acknowledged_stored_and_processed(
    local: Any, inbound: Inbound
) -> None:
    source = inbound.source("hmac", signature=HMAC_RULE)
    body = b'{"type": "order.paid", "note": "\\ud800", "nonce": "%s"}' % uuid.uuid4().hex.encode()
    reply = inbound.post(source["id"], body, sign("hmac", body))
    assert reply.status_code == 200, reply.text
    event_id = reply.json()["event_id"]
    assert stored_raw(local, source["id"], event_id) == body
    event = processed(inbound, event_id)
    assert event["type"] == "order.paid" and event["payload"] is None
    assert requests.get(event["raw_body_url"], timeout=TIMEOUT).content == body


def test_slack_interactive_form_is_processed_with_the_payload_type(
    local: Any, inbound: Inbound
) -> None:
    source = inbound.source("slack")
    action = {"type": "block_actions", "trigger_id": unique("trigger"), "actions": []}
    body = payload_form(action)
    reply = inbound.post(source["id"], body, sign("slack", body), FORM)
    assert reply.status_code == 200, reply.text
    event_id = reply.json()["event_id"]
    assert stored_raw(local, source["id"], event_id) == body
    event = processed(inbound, event_id)
    assert event["type"] == "block_actions"
    assert event["payload"] == {"payload": json.dumps(action)}
    command = form_body({"command": "/deploy", "text": "web", "trigger_id": unique("trigger")})
    reply = inbound.post(source["id"], command, sign("slack", command), FORM)
    assert processed(inbound, reply.json()["event_id"])["type"] == "slash_command"


def test_github_form_content_type_is_processed_as_push(local: Any, inbound: Inbound) -> None:
    source = inbound.source("github")
    push = {"ref": "refs/heads/main", "repository": {"full_name": "acme/form"}, "commits": []}
    body = payload_form({**push, "nonce": uuid.uuid4().hex})
    reply = inbound.post(source["id"], body, sign("github", body), FORM)
    assert reply.status_code == 200, reply.text
    event_id = reply.json()["event_id"]
    assert stored_raw(local, source["id"], event_id) == body
    event = processed(inbound, event_id)
    assert event["type"] == "push"
    result = event["history"][0]["handler_results"][0]["result"]
    assert {"repository": "acme/form", "ref": "refs/heads/main", "commits": 0}.items() <= (
        result.items()
    )


def test_invalid_utf8_body_is_acknowledged_then_failed_with_its_reason(
    local: Any, inbound: Inbound
) -> None:
    source = inbound.source("standard")
    body = (
        b'{"type": "user.created", "name": "\xff\xfe", "nonce": "%s"}' % uuid.uuid4().hex.encode()
    )
    reply = inbound.post(source["id"], body, sign("standard", body))
    assert reply.status_code == 200, reply.text
    event_id = reply.json()["event_id"]
    assert stored_raw(local, source["id"], event_id) == body
    event = settled(inbound, event_id)
    assert event["status"] == "failed"
    [failure] = [entry for entry in event["history"] if entry["action"] == "failed"]
    assert failure["error"].startswith("body is not UTF-8")
    assert failure["retryable"] is False


def test_slack_url_verification_challenge(inbound: Inbound) -> None:
    source = inbound.source("slack")
    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV"}).encode()
    reply = inbound.post(source["id"], body, sign("slack", body))
    assert reply.status_code == 200 and reply.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}
    assert inbound.post(source["id"], body, {}).status_code == 401
    listed = inbound.api("GET", "/v1/events", 200, params={"source_id": source["id"]})
    assert listed["data"] == []


# Failure → DLQ; forward; replay ------------------------------------------------------------------


def test_failing_handler_lands_in_the_inbound_dlq(local: Any, inbound: Inbound) -> None:
    source = inbound.source("hmac", signature=HMAC_RULE)
    body = json.dumps({"type": "test.fail", "nonce": uuid.uuid4().hex}).encode()
    event_id = inbound.post(source["id"], body, sign("hmac", body)).json()["event_id"]
    sqs = local.client("sqs")
    dlq_url = local.queue_url("InboundQueueDLQ")

    def parked() -> dict[str, Any] | None:
        response = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
        )
        for message in response.get("Messages", []):
            if json.loads(message["Body"]).get("event_id") == event_id:
                return dict(json.loads(message["Body"]))
        return None

    message = wait_for(parked, timeout=30)
    assert message and message["source_id"] == source["id"]
    event = inbound.event(event_id)
    assert event["status"] == "failed"
    failures = [entry for entry in event["history"] if entry["action"] == "failed"]
    # One entry per receive (the queue's limit is 3); an entry may be missing when a concurrent
    # cancelled transaction elsewhere rolled the table back (moto only).
    assert 1 <= len(failures) <= 3
    assert {entry["error"] for entry in failures} == {"DeliberateFailure"}


def test_forward_url_gets_the_original_body_signed_and_replay_reprocesses(
    inbound: Inbound, receiver: Any
) -> None:
    source = inbound.source("github", forward_url=receiver.url("/forwarded"))
    body = b'{"ref": "refs/heads/main",  "repository": {"full_name": "acme/web"}, "commits": []}'
    headers = sign("github", body)
    event_id = inbound.post(source["id"], body, headers).json()["event_id"]
    forwarded = receiver.wait_for("/forwarded", 1)
    assert len(forwarded) == 1
    request = forwarded[0]
    assert request.body == body  # the original bytes, double space and all
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Webhook-Event-Id"] == event_id
    secret = inbound.api("GET", "/v1/secret", 200)["secret"]
    assert verify_signature(secret, request.headers, request.body)
    assert not verify_signature(SECRETS["github"], request.headers, request.body)
    first = processed(inbound, event_id)
    assert first["history"][0]["forward_delivery_id"].startswith("dlv_")

    replay = inbound.api("POST", f"/v1/events/{event_id}/replay", 202, json={})
    assert replay == {"event_id": event_id, "status": "queued"}
    again = wait_for(
        lambda: [e["action"] for e in inbound.event(event_id)["history"]].count("processed") == 2
    )
    assert again, inbound.event(event_id)
    assert [e["action"] for e in inbound.event(event_id)["history"]] == [
        "processed",
        "replay",
        "processed",
    ]
    assert len(receiver.wait_for("/forwarded", 2)) == 2

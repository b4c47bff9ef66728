"""Inbound receipt and processing in-process over moto: through the local gateway, as API Gateway
would call the functions (non-text bodies arrive base64-encoded)."""

from __future__ import annotations

import base64
import json
import os
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.inbound.handler import lambda_handler as inbound_handler
from functions.inbound_processor.handler import lambda_handler as processor_handler
from infra.local.gateway import LambdaContext, function_url_event
from infra.local.pollers import sqs_event
from scripts.awsbench import github_push
from shared.core.aws import client
from shared.core.config import INBOUND_BASE_URL_ENV, settings
from shared.inbound import providers, service, sources
from shared.inbound.service import MAX_BODY_BYTES
from shared.store import dynamo, raw_bodies
from shared.store import events as events_table
from tests.conftest import ADMIN_KEY
from tests.inbound_signers import HMAC_RULE, SECRETS, sign
from tests.support.api import InProcessApi, Reply

INVOICE = {
    "id": "evt_invoice_1",
    "object": "event",
    "type": "invoice.paid",
    "data": {
        "object": {"id": "in_42", "customer": "cus_7", "amount_paid": 1999, "currency": "eur"}
    },
}


@pytest.fixture
def api(aws: dict[str, str]) -> Iterator[InProcessApi]:
    sources.clear_cache()
    yield InProcessApi()
    sources.clear_cache()


@pytest.fixture
def key(api: InProcessApi) -> str:
    return api.new_user_key(ADMIN_KEY, "alice")


def create_source(api: InProcessApi, key: str, provider: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"{provider}-test", "provider": provider}
    body["secret"] = SECRETS[provider]
    if provider == "hmac":
        body["signature"] = HMAC_RULE
    body.update(extra)
    reply = api.request("POST", "/v1/sources", key, body)
    assert reply.status == 201, reply.body
    return dict(reply.json())


def post_inbound(
    api: InProcessApi,
    source_id: str,
    body: bytes,
    headers: dict[str, str],
    content_type: str = "application/json",
) -> Reply:
    return api.request(
        "POST",
        f"/inbound/{source_id}",
        body=body,
        headers={"content-type": content_type, **headers},
    )


def stripe_body(event_id: str = "evt_invoice_1", **changes: Any) -> bytes:
    return json.dumps({**INVOICE, "id": event_id, **changes}).encode()


def raw_object(event: dict[str, Any]) -> bytes:
    """The stored raw body, read straight from where the record says: inline (raw DEFLATE, RFC
    1951, or as sent) or in S3."""
    if event.get("raw_deflated") is not None:
        return zlib.decompress(bytes(event["raw_deflated"].value), -15)
    if event.get("raw_body") is not None:
        return bytes(event["raw_body"].value)
    obj = client("s3").get_object(Bucket=settings().raw_body_bucket, Key=event["raw_s3_key"])
    whole = bytes(obj["Body"].read())
    if event.get("raw_range") is None:
        return whole
    first, last = (int(n) for n in event["raw_range"])  # a body in a shared object
    return whole[first : last + 1]


def drain_inbound(max_rounds: int = 3) -> list[dict[str, Any]]:
    sqs = client("sqs")
    messages: list[dict[str, Any]] = []
    for _ in range(max_rounds):
        response = sqs.receive_message(
            QueueUrl=settings().inbound_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        )
        batch = response.get("Messages", [])
        if not batch:
            break
        messages.extend(batch)
    return messages


def event_record(user_id: str, event_id: str) -> dict[str, Any]:
    record = events_table.get(user_id, event_id)
    assert record is not None
    return record


# Receipt ------------------------------------------------------------------------------------------


def test_receipt_records_event_stores_raw_body_and_queues(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "stripe")
    body = stripe_body()
    edge = {  # what API Gateway adds about itself, and the sender's address
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "X-Amzn-Trace-Id": "Root=1-6750f5a1-0c4bd2e51f43a8c93a1b7e2d",
        "X-Forwarded-For": "3.18.12.63",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    headers = {**sign("stripe", body), "Authorization": "Bearer leak", "Cookie": "a=b", **edge}
    reply = post_inbound(api, source["id"], body, headers)
    assert reply.status == 200
    answer = reply.json()
    assert answer["received"] is True and answer["duplicate"] is False
    assert answer["event_id"].startswith("evt_")
    messages = drain_inbound()
    assert [json.loads(m["Body"])["event_id"] for m in messages] == [answer["event_id"]]
    # The queue message holds the event until processing writes its record (one write).
    assert events_table.get("alice", answer["event_id"]) is None
    queued = json.loads(messages[0]["Body"])
    assert base64.b64decode(queued["body"]) == body and queued["record"]["type"] == "invoice.paid"
    assert process(messages) == {"batchItemFailures": []}
    record = event_record("alice", answer["event_id"])
    assert record["status"] == "processed"
    assert record["direction"] == "inbound"
    assert record["type"] == "invoice.paid"
    assert record["source_id"] == source["id"]
    assert record["content_type"] == "application/json"
    assert service.payload_of(record) == json.loads(body)
    headers = json.loads(zlib.decompress(bytes(record["headers_deflated"].value), -15))
    assert "stripe-signature" in headers
    assert "authorization" not in headers and "cookie" not in headers
    kept = {name for name in headers if name.startswith(("x-forwarded", "x-amzn", "h"))}
    assert kept == {"x-forwarded-for"}
    assert raw_object(record) == body
    listed = api.request("GET", f"/v1/events?direction=inbound&source_id={source['id']}", key)
    assert [item["id"] for item in listed.json()["data"]] == [answer["event_id"]]
    detail = api.request("GET", f"/v1/events/{answer['event_id']}", key).json()
    assert detail["payload"] == json.loads(body) and detail["status"] == "processed"


def test_the_inbound_function_answers_through_its_own_function_url(
    api: InProcessApi, key: str, setting: Callable[[str, str], None]
) -> None:
    """With `-c inbound_function_url=true` providers post to the inbound function's own URL (no
    API Gateway request to pay for). Its events carry no path parameters and any method or path
    reaches the function: it routes `POST /inbound/{source_id}` itself, and sources hand out
    that URL as their `inbound_url`.

    AWS: a function URL invokes its function with payload format 2.0, route key `$default`.
    https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
    """
    function_url = "https://abcdefghij.lambda-url.us-east-1.on.aws/"
    setting(INBOUND_BASE_URL_ENV, function_url)
    source = create_source(api, key, "stripe")
    assert source["inbound_url"] == f"{function_url}inbound/{source['id']}"
    body = stripe_body("evt_function_url")
    headers = {"content-type": "application/json", **sign("stripe", body)}

    def post(method: str, path: str) -> dict[str, Any]:
        event = function_url_event(method, path, headers, body)
        return dict(inbound_handler(event, LambdaContext("inbound")))

    answer = post("POST", f"/inbound/{source['id']}")
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["duplicate"] is False
    assert json.loads(post("POST", f"/inbound/{source['id']}")["body"])["duplicate"] is True
    refused = post("GET", f"/inbound/{source['id']}")
    assert (refused["statusCode"], refused["headers"]["Allow"]) == (405, "POST")
    assert post("POST", "/v1/webhooks")["statusCode"] == 404
    assert post("POST", f"/inbound/{source['id']}/extra")["statusCode"] == 404
    assert post("POST", "/inbound/%2e%2e")["statusCode"] == 404  # not a source id
    assert len(drain_inbound()) == 1


def test_duplicate_answers_the_first_event_id(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "stripe")
    body = stripe_body("evt_dup")
    first = post_inbound(api, source["id"], body, sign("stripe", body)).json()
    time.sleep(1.1)  # a later retry by the provider: new timestamp, new signature, same id
    second = post_inbound(api, source["id"], body, sign("stripe", body))
    assert second.status == 200
    assert second.json() == {"received": True, "event_id": first["event_id"], "duplicate": True}
    assert len(drain_inbound()) == 1


def test_expired_dedupe_key_counts_as_absent(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "github")
    body = b'{"ref":"refs/heads/main"}'
    headers = sign("github", body, delivery_id="delivery-expired")
    dedupe_key = f"inbound#{source['id']}#" + providers.dedupe_value(
        "github", {"x-github-delivery": "delivery-expired"}, None, body
    )
    client("dynamodb").put_item(
        TableName=settings().dedupe_table,
        Item=dynamo.to_item(
            {
                "dedupe_key": dedupe_key,
                "expires_at": int(time.time()) - 10,
                "event_id": "evt_old",
                "user_id": "alice",
                "source_id": source["id"],
            }
        ),
    )
    answer = post_inbound(api, source["id"], body, headers).json()
    assert answer["duplicate"] is False and answer["event_id"] != "evt_old"
    again = post_inbound(api, source["id"], body, headers).json()
    assert again == {"received": True, "event_id": answer["event_id"], "duplicate": True}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", bytes(range(256)) * 4),
        ("application/json", b'{"text": "caf\xe9 in latin-1", "type": "x.y"}'),
        ("text/plain; charset=utf-16", "héllo wörld".encode("utf-16")),
        ("application/json", '{"emoji": "😀", "type": "a.b"}'.encode()),
    ],
)
def test_raw_body_in_s3_equals_the_bytes_sent(
    api: InProcessApi, key: str, content_type: str, body: bytes
) -> None:
    source = create_source(api, key, "hmac")
    reply = post_inbound(api, source["id"], body, sign("hmac", body), content_type)
    assert reply.status == 200, reply.body
    assert process(drain_inbound()) == {"batchItemFailures": []}
    record = event_record("alice", reply.json()["event_id"])
    assert raw_object(record) == body
    assert record["content_type"] == content_type


def test_body_limit(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "hmac")
    exactly = b"a" * MAX_BODY_BYTES
    reply = post_inbound(api, source["id"], exactly, sign("hmac", exactly), "text/plain")
    assert reply.status == 200
    over = b"a" * (MAX_BODY_BYTES + 1)
    for content_type in ("text/plain", "application/octet-stream"):
        reply = post_inbound(api, source["id"], over, sign("hmac", over), content_type)
        assert reply.status == 413
        assert reply.json()["error"]["code"] == "payload_too_large"


def test_unknown_source_and_bad_signature(api: InProcessApi, key: str) -> None:
    body = stripe_body()
    for unknown in ("src_00000000000000000000000000", "nope"):
        reply = post_inbound(api, unknown, body, sign("stripe", body))
        assert reply.status == 404 and reply.json()["error"]["code"] == "not_found"
    source = create_source(api, key, "stripe")
    bad = [
        sign("stripe", body, secret="whsec_wrong"),
        {},
        sign("stripe", body, timestamp=int(time.time()) - 3600),
    ]
    answers = [post_inbound(api, source["id"], body, headers) for headers in bad]
    tampered = post_inbound(api, source["id"], body + b" ", sign("stripe", body))
    for reply in [*answers, tampered]:
        assert reply.status == 401
        assert reply.json() == answers[0].json()  # the same answer, whatever failed
    assert answers[0].json()["error"]["code"] == "invalid_signature"
    assert drain_inbound() == []


def test_slack_url_verification_is_answered_inline(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "slack")
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"}).encode()
    reply = post_inbound(api, source["id"], body, sign("slack", body))
    assert reply.status == 200 and reply.json() == {"challenge": "c-123"}
    unsigned = post_inbound(api, source["id"], body, {})
    assert unsigned.status == 401
    assert drain_inbound() == []


def test_payload_dynamodb_cannot_hold_is_left_to_the_raw_body(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "hmac")
    body = b'{"type": "big.number", "n": 1e400, "deep": ' + b"[" * 40 + b"]" * 40 + b"}"
    reply = post_inbound(api, source["id"], body, sign("hmac", body))
    assert reply.status == 200
    assert process(drain_inbound()) == {"batchItemFailures": []}
    record = event_record("alice", reply.json()["event_id"])
    assert "payload" not in record and record["type"] == "big.number"
    assert raw_object(record) == body


def test_storage_failure_undoes_the_receipt(
    api: InProcessApi, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue message is where a new event is stored before the 200 (SQS keeps it durably):
    when it cannot be sent, the claim is given back and the provider's retry is new."""
    source = create_source(api, key, "stripe")
    body = stripe_body("evt_retry_me")
    sqs = client("sqs")

    def refuse(**_: Any) -> None:
        raise RuntimeError("SQS is down")

    monkeypatch.setattr(sqs, "send_message", refuse)
    reply = post_inbound(api, source["id"], body, sign("stripe", body))
    assert reply.status == 503 and reply.json()["error"]["code"] == "service_unavailable"
    assert reply.headers.get("retry-after") == "5"
    monkeypatch.undo()
    retried = post_inbound(api, source["id"], body, sign("stripe", body)).json()
    assert retried["duplicate"] is False
    assert process(drain_inbound()) == {"batchItemFailures": []}
    listed = api.request("GET", f"/v1/events?source_id={source['id']}", key).json()["data"]
    assert [item["id"] for item in listed] == [retried["event_id"]]


# AWS call counts ----------------------------------------------------------------------------------


def test_call_counts_warm_new_event_and_duplicate(api: InProcessApi, key: str, calls: Any) -> None:
    source = create_source(api, key, "stripe")
    cold_body = stripe_body("evt_cold")
    calls.reset()
    assert post_inbound(api, source["id"], cold_body, sign("stripe", cold_body)).status == 200
    cold = dict(calls.calls)
    assert cold == {
        "dynamodb.GetItem": 1,
        "secretsmanager.GetSecretValue": 1,
        "dynamodb.PutItem": 1,
        "sqs.SendMessage": 1,
    }
    body = stripe_body("evt_warm")
    calls.reset()
    assert post_inbound(api, source["id"], body, sign("stripe", body)).json()["duplicate"] is False
    assert calls.total <= 2, calls.calls
    assert dict(calls.calls) == {"dynamodb.PutItem": 1, "sqs.SendMessage": 1}
    calls.reset()
    assert post_inbound(api, source["id"], body, sign("stripe", body)).json()["duplicate"] is True
    assert calls.total <= 1, calls.calls
    assert dict(calls.calls) == {"dynamodb.PutItem": 1}
    calls.reset()
    assert post_inbound(api, source["id"], body, {}).status == 401
    assert calls.total == 0


# Processing ---------------------------------------------------------------------------------------


def process(messages: list[dict[str, Any]]) -> dict[str, Any]:
    arn = "arn:aws:sqs:us-east-1:123456789012:test-InboundQueue"
    return dict(processor_handler(sqs_event(messages, arn), LambdaContext("inbound_processor")))


def test_processing_runs_handlers_and_a_failure_fails_only_its_message(
    api: InProcessApi, key: str
) -> None:
    stripe_source = create_source(api, key, "stripe")
    hmac_source = create_source(api, key, "hmac")
    invoice = stripe_body("evt_process")
    failing = json.dumps({"type": "test.fail", "id": 1}).encode()
    good = post_inbound(api, stripe_source["id"], invoice, sign("stripe", invoice)).json()
    bad = post_inbound(api, hmac_source["id"], failing, sign("hmac", failing)).json()
    messages = drain_inbound()
    assert len(messages) == 2
    by_event = {json.loads(m["Body"])["event_id"]: m["MessageId"] for m in messages}
    response = process(messages)
    assert response == {"batchItemFailures": [{"itemIdentifier": by_event[bad["event_id"]]}]}
    processed = event_record("alice", good["event_id"])
    assert processed["status"] == "processed"
    assert processed["history"][-1]["handler_results"] == [
        {
            "handler": "examples.inbound_handlers.stripe_invoice_paid",
            "result": {
                "invoice_id": "in_42",
                "customer": "cus_7",
                "amount_paid": 1999,
                "currency": "eur",
            },
        }
    ]
    failed = event_record("alice", bad["event_id"])
    assert failed["status"] == "failed"
    assert failed["history"][-1]["action"] == "failed"
    assert failed["history"][-1]["error"] == "DeliberateFailure"
    # The same message again (SQS redelivery of a processed run) is not processed twice.
    again = [m for m in messages if m["MessageId"] == by_event[good["event_id"]]]
    assert process(again) == {"batchItemFailures": []}
    assert len(event_record("alice", good["event_id"])["history"]) == 1


def test_replay_processes_again_from_the_stored_body(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "github")
    push = json.dumps(
        {
            "ref": "refs/heads/main",
            "repository": {"full_name": "acme/app"},
            "commits": [{"id": "a"}, {"id": "b"}],
            "pusher": {"name": "ada"},
        }
    ).encode()
    event_id = post_inbound(api, source["id"], push, sign("github", push)).json()["event_id"]
    first_run = drain_inbound()
    assert process(first_run) == {"batchItemFailures": []}
    retired = {"processed_run": "run_x", "handler_results": [], "updated_at": "2026-01-01"}
    client("dynamodb").update_item(  # as a record of an earlier release holds them
        TableName=settings().events_table,
        Key=dynamo.to_item(events_table.key("alice", event_id, "inbound")),
        UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in retired),
        ExpressionAttributeValues={f":{k}": dynamo.to_value(v) for k, v in retired.items()},
    )
    reply = api.request("POST", f"/v1/events/{event_id}/replay", key)
    assert reply.status == 202
    assert reply.json() == {"event_id": event_id, "status": "queued"}
    assert event_record("alice", event_id)["status"] == "received"
    assert process(drain_inbound()) == {"batchItemFailures": []}
    # A late copy of the first run's message, after the replay's run ended: still skipped.
    assert process(first_run) == {"batchItemFailures": []}
    record = event_record("alice", event_id)
    assert record["status"] == "processed"
    actions = [entry["action"] for entry in record["history"]]
    assert actions == ["processed", "replay", "processed"]
    assert not set(retired) & set(record)  # gone at the run's write
    summary = {"repository": "acme/app", "ref": "refs/heads/main", "commits": 2, "pusher": "ada"}
    assert record["history"][-1]["handler_results"][0]["result"] == summary
    other = api.new_user_key(ADMIN_KEY, "mallory")
    assert api.request("POST", f"/v1/events/{event_id}/replay", other).status == 404


def test_forward_url_queues_a_forward_delivery(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "shopify", forward_url="http://127.0.0.1:9/hook")
    body = b'{"id": 1}'
    event_id = post_inbound(api, source["id"], body, sign("shopify", body)).json()["event_id"]
    assert process(drain_inbound()) == {"batchItemFailures": []}
    record = event_record("alice", event_id)
    delivery_id = record["history"][-1]["forward_delivery_id"]
    delivery = api.request("GET", f"/v1/deliveries/{delivery_id}", key).json()
    assert delivery["url"] == "http://127.0.0.1:9/hook"
    assert delivery["event_id"] == event_id and delivery["event_type"] == "orders/create"
    assert delivery["source_id"] == source["id"]
    queued = client("sqs").receive_message(QueueUrl=settings().delivery_queue_url)["Messages"]
    assert json.loads(queued[0]["Body"])["delivery_id"] == delivery_id


# Sources management -------------------------------------------------------------------------------


def test_source_crud_secret_never_returned_and_tenant_isolation(
    api: InProcessApi, key: str
) -> None:
    other = api.new_user_key(ADMIN_KEY, "bob")
    created = create_source(api, key, "github", forward_url="http://127.0.0.1:9/x")
    assert created["inbound_url"] == f"http://127.0.0.1:8080/inbound/{created['id']}"
    assert created["id"].startswith("src_")
    assert "secret" not in created
    assert SECRETS["github"] not in json.dumps(created)
    stored = client("secretsmanager").get_secret_value(
        SecretId=f"{settings().secret_prefix}/sources/{created['id']}"
    )
    assert json.loads(stored["SecretString"])["secret"] == SECRETS["github"]
    path = f"/v1/sources/{created['id']}"
    assert api.request("GET", path, key).json() == created
    for method in ("GET", "DELETE"):
        assert api.request(method, path, other).status == 404
    assert api.request("PATCH", path, other, {"name": "stolen"}).status == 404
    assert api.request("GET", "/v1/sources", other).json() == {"data": [], "next_cursor": None}
    more = [create_source(api, key, "shopify") for _ in range(2)]
    page = api.request("GET", "/v1/sources?limit=2", key).json()
    assert [item["id"] for item in page["data"]] == [more[1]["id"], more[0]["id"]]
    rest = api.request("GET", f"/v1/sources?limit=2&cursor={page['next_cursor']}", key).json()
    assert [item["id"] for item in rest["data"]] == [created["id"]]
    patched = api.request("PATCH", path, key, {"name": "renamed", "forward_url": None}).json()
    assert patched["name"] == "renamed" and patched["forward_url"] is None
    assert api.request("DELETE", path, key).status == 204
    assert api.request("GET", path, key).status == 404
    body = b"{}"
    assert post_inbound(api, created["id"], body, sign("github", body)).status == 404
    missing = client("secretsmanager").list_secrets()["SecretList"]
    assert all(created["id"] not in secret["Name"] for secret in missing)


def test_source_validation(api: InProcessApi, key: str) -> None:
    cases: list[dict[str, Any]] = [
        {"name": "x", "provider": "stripe", "secret": "s", "signature": HMAC_RULE},
        {"name": "x", "provider": "standard", "secret": "whsec_***"},
        {"name": "x", "provider": "github", "secret": "s", "dedupe": {"key": "header:X"}},
        {"name": "x", "provider": "paypal", "secret": "s"},
        {
            "name": "x",
            "provider": "hmac",
            "secret": "s",
            "signature": {"header": "x-sig"},
            "dedupe": {"key": "query:x"},
        },
        {
            "name": "x",
            "provider": "hmac",
            "secret": "s",
            "signature": {"header": "x-sig", "signed_payload": "timestamp.body"},
        },
        {
            "name": "x",
            "provider": "github",
            "secret": "s",
            "forward_url": "ftp://example.com/hook",
        },
    ]
    for case in cases:
        reply = api.request("POST", "/v1/sources", key, case)
        assert reply.status == 422, case
        assert reply.json()["error"]["code"] == "validation_error"
        assert "***" not in reply.body.decode()
    source = create_source(api, key, "github")
    path = f"/v1/sources/{source['id']}"
    assert api.request("PATCH", path, key, {"signature": HMAC_RULE}).status == 422
    assert api.request("PATCH", path, key, {"secret_grace_seconds": 5}).status == 422
    assert api.request("PATCH", path, key, {"provider": "stripe"}).status == 422


def test_hmac_source_without_a_rule_uses_the_default_rule(api: InProcessApi, key: str) -> None:
    reply = api.request(
        "POST", "/v1/sources", key, {"name": "h", "provider": "hmac", "secret": "k"}
    )
    assert reply.status == 201
    source = reply.json()
    assert source["signature"] == {
        "header": "x-signature",
        "algorithm": "sha256",
        "encoding": "hex",
        "prefix": "",
        "signed_payload": "body",
        "timestamp_header": None,
    }
    assert api.request("GET", f"/v1/sources/{source['id']}", key).json() == source
    body = b'{"type": "order.created"}'
    rule = {"header": "X-Signature", "signed_payload": "body"}
    assert (
        post_inbound(api, source["id"], body, sign("hmac", body, secret="k", rule=rule)).status
        == 200
    )


def test_rotating_the_provider_secret_keeps_the_old_one_for_the_grace_window(
    api: InProcessApi, key: str
) -> None:
    source = create_source(api, key, "shopify")
    path = f"/v1/sources/{source['id']}"
    body = b'{"id": 5}'
    reply = api.request("PATCH", path, key, {"secret": "shopify-new", "secret_grace_seconds": 600})
    assert reply.status == 200
    view = reply.json()
    assert "secret" not in view and "shopify-new" not in reply.body.decode()
    assert view["previous_secret_expires_at"] is not None
    assert post_inbound(api, source["id"], body, sign("shopify", body)).status == 200
    new_headers = sign("shopify", body, secret="shopify-new")
    assert post_inbound(api, source["id"], body, new_headers).status == 200
    reply = api.request("PATCH", path, key, {"secret": "shopify-newer", "secret_grace_seconds": 0})
    assert reply.json()["previous_secret_expires_at"] is None
    assert post_inbound(api, source["id"], body, new_headers).status == 401
    newest = sign("shopify", body, secret="shopify-newer")
    assert post_inbound(api, source["id"], body, newest).status == 200


# Where bodies are kept, and the processor's one write -----------------------------------------


def receipt_calls(calls: Any) -> dict[str, int]:
    """The calls of a receipt past the cold source lookup (GetItem and GetSecretValue)."""
    cold = ("dynamodb.GetItem", "secretsmanager.GetSecretValue")
    return {name: count for name, count in calls.calls.items() if name not in cold}


def test_processing_a_small_event_writes_its_record_once_with_the_body_inline(
    api: InProcessApi, key: str, calls: Any
) -> None:
    source = create_source(api, key, "stripe")
    body = stripe_body("evt_inline")
    event_id = post_inbound(api, source["id"], body, sign("stripe", body)).json()["event_id"]
    messages = drain_inbound()
    calls.reset()
    assert process(messages) == {"batchItemFailures": []}
    assert dict(calls.calls) == {"dynamodb.BatchGetItem": 1, "dynamodb.UpdateItem": 1}
    record = event_record("alice", event_id)
    assert "raw_s3_key" not in record and raw_object(record) == body
    # Kept once: the payload the API shows is read from the inline body.
    assert "payload" not in record
    detail = api.request("GET", f"/v1/events/{event_id}", key).json()
    assert detail["payload"] == json.loads(body) and "raw_body_url" not in detail


def test_a_body_that_deflates_within_the_limit_is_stored_inline_deflated(
    api: InProcessApi, key: str, calls: Any
) -> None:
    """A 15 KB body is past the 4 KB inline limit as sent, not once deflated (2.9 KB): no
    PutObject, and replay and the API read it back byte for byte."""
    source = create_source(api, key, "github")
    body = github_push(40)
    assert len(body) > 15_000 > 3 * raw_bodies.INLINE_LIMIT
    event_id = post_inbound(api, source["id"], body, sign("github", body)).json()["event_id"]
    messages = drain_inbound()
    calls.reset()
    assert process(messages) == {"batchItemFailures": []}
    assert dict(calls.calls) == {"dynamodb.BatchGetItem": 1, "dynamodb.UpdateItem": 1}
    record = event_record("alice", event_id)
    packed = bytes(record["raw_deflated"].value)
    assert len(packed) <= raw_bodies.INLINE_LIMIT < len(body)
    assert "raw_body" not in record and "raw_s3_key" not in record
    assert raw_object(record) == body and record["size_bytes"] == len(body)
    detail = api.request("GET", f"/v1/events/{event_id}", key).json()
    assert detail["payload"] == json.loads(body) and "raw_body_url" not in detail
    assert api.request("POST", f"/v1/events/{event_id}/replay", key, {}).status == 202
    assert process(drain_inbound()) == {"batchItemFailures": []}
    replayed = event_record("alice", event_id)
    assert replayed["status"] == "processed" and raw_object(replayed) == body
    assert [entry["action"] for entry in replayed["history"]] == [
        "processed",
        "replay",
        "processed",
    ]


@pytest.mark.parametrize("damage", ["garbage", "trailing bytes"])
def test_an_inline_body_that_does_not_inflate_whole_shows_no_payload_not_a_500(
    api: InProcessApi, key: str, damage: str
) -> None:
    source = create_source(api, key, "github")
    body = github_push(5)
    event_id = post_inbound(api, source["id"], body, sign("github", body)).json()["event_id"]
    assert process(drain_inbound()) == {"batchItemFailures": []}
    packed = zlib.compressobj(9, zlib.DEFLATED, -15)
    whole = packed.compress(body) + packed.flush()
    broken = b"\xff" * 40 if damage == "garbage" else whole + b"x"
    dynamodb = client("dynamodb")
    dynamodb.update_item(
        TableName=settings().events_table,
        Key=dynamo.to_item(events_table.key("alice", event_id, "inbound")),
        UpdateExpression="SET raw_deflated = :b",
        ExpressionAttributeValues={":b": {"B": broken}},
    )
    reply = api.request("GET", f"/v1/events/{event_id}", key)
    assert reply.status == 200 and reply.json()["payload"] is None
    dynamodb.update_item(  # headers that inflate to JSON, but not to a map
        TableName=settings().events_table,
        Key=dynamo.to_item(events_table.key("alice", event_id, "inbound")),
        UpdateExpression="SET headers_deflated = :b",
        ExpressionAttributeValues={":b": {"B": raw_bodies.deflate(b"[1, 2]")}},
    )
    reply = api.request("GET", f"/v1/events/{event_id}", key)
    assert reply.status == 200 and reply.json()["headers"] == {}


def test_a_body_that_deflating_would_grow_is_kept_as_sent(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "github")
    body = b'{"zen":"a"}'
    assert len(raw_bodies.deflate(body)) >= len(body)
    event_id = post_inbound(api, source["id"], body, sign("github", body)).json()["event_id"]
    assert process(drain_inbound()) == {"batchItemFailures": []}
    record = event_record("alice", event_id)
    assert bytes(record["raw_body"].value) == body and "raw_deflated" not in record
    assert api.request("GET", f"/v1/events/{event_id}", key).json()["payload"] == {"zen": "a"}


def large_event(api: InProcessApi, source_id: str, seed: int) -> str:
    """A GitHub push too large inline even deflated, received: its event id."""
    body = github_push(120, seed)
    reply = post_inbound(api, source_id, body, sign("github", body))
    assert reply.status == 200
    return str(reply.json()["event_id"])


def test_a_batchs_large_bodies_share_one_s3_object_per_source(
    api: InProcessApi, key: str, calls: Any
) -> None:
    """Three large bodies of one source: one PutObject, each record naming its byte range; a
    large body alone in its source gets its own object, a small one stays inline. Each is read
    back byte for byte (replay and the API read their range), and no view links the shared
    object, which holds its neighbours' bodies too."""
    github, other = create_source(api, key, "github"), create_source(api, key, "github")
    shared = [large_event(api, github["id"], seed) for seed in (1, 2, 3)]
    alone = large_event(api, other["id"], 4)
    small = stripe_body("evt_small_beside_large")
    stripe = create_source(api, key, "stripe")
    inline = post_inbound(api, stripe["id"], small, sign("stripe", small)).json()["event_id"]
    messages = drain_inbound()
    assert len(messages) == 5
    calls.reset()
    assert process(messages) == {"batchItemFailures": []}
    assert calls.calls["s3.PutObject"] == 2
    records = {event_id: event_record("alice", event_id) for event_id in [*shared, alone, inline]}
    assert len({records[event_id]["raw_s3_key"] for event_id in shared}) == 1
    assert sorted(int(records[e]["raw_range"][0]) for e in shared)[0] == 0
    assert "raw_range" not in records[alone] and records[alone]["raw_s3_key"]
    assert "raw_s3_key" not in records[inline]
    for seed, event_id in enumerate([*shared, alone], start=1):
        assert raw_object(records[event_id]) == github_push(120, seed)
        detail = api.request("GET", f"/v1/events/{event_id}", key).json()
        assert detail["payload"] == json.loads(github_push(120, seed))
        assert "raw_body_url" not in detail
    replayed = shared[1]
    assert api.request("POST", f"/v1/events/{replayed}/replay", key, {}).status == 202
    assert process(drain_inbound()) == {"batchItemFailures": []}
    history = event_record("alice", replayed)["history"]
    assert [entry["action"] for entry in history] == ["processed", "replay", "processed"]


def test_a_body_stored_again_with_new_neighbours_leaves_the_first_object_intact(
    api: InProcessApi, key: str
) -> None:
    """A's first run stored A and B together, then its record was lost (its write failed after
    the PUT): SQS hands A out again beside X. That second object must be a new one, or B's
    range would read X's bytes."""
    github = create_source(api, key, "github")
    first, second = (large_event(api, github["id"], seed) for seed in (1, 2))
    messages = drain_inbound()
    assert process(messages) == {"batchItemFailures": []}
    client("dynamodb").delete_item(
        TableName=settings().events_table,
        Key=dynamo.to_item(events_table.key("alice", first, "inbound")),
    )
    later = large_event(api, github["id"], 3)
    [redelivered] = [m for m in messages if json.loads(m["Body"])["event_id"] == first]
    assert process([redelivered, *drain_inbound()]) == {"batchItemFailures": []}
    keys = {event_record("alice", e)["raw_s3_key"] for e in (first, second, later)}
    assert len(keys) == 2
    for seed, event_id in enumerate((first, second, later), start=1):
        assert raw_object(event_record("alice", event_id)) == github_push(120, seed)
        shown = api.request("GET", f"/v1/events/{event_id}", key).json()["payload"]
        assert shown == json.loads(github_push(120, seed))


def test_two_copies_of_one_message_store_its_body_once(api: InProcessApi, key: str) -> None:
    """SQS may hand out a message twice at once: its body goes into the batch's shared object
    once, beside its neighbour's, and both copies name the same range."""
    github = create_source(api, key, "github")
    first, second = (large_event(api, github["id"], seed) for seed in (1, 2))
    messages = drain_inbound()
    [copied] = [m for m in messages if json.loads(m["Body"])["event_id"] == first]
    assert process([*messages, dict(copied, MessageId="copy")]) == {"batchItemFailures": []}
    stored = client("s3").list_objects_v2(Bucket=settings().raw_body_bucket)["Contents"]
    assert [obj["Size"] for obj in stored] == [len(github_push(120, 1) + github_push(120, 2))]
    for seed, event_id in enumerate((first, second), start=1):
        assert raw_object(event_record("alice", event_id)) == github_push(120, seed)


def test_a_body_in_s3_that_shows_no_payload_costs_its_view_no_call(
    api: InProcessApi, key: str, calls: Any
) -> None:
    source = create_source(api, key, "hmac")
    body = b"<order><id>1</id></order>"
    reply = post_inbound(api, source["id"], body, sign("hmac", body), "application/xml")
    event_id = reply.json()["event_id"]
    assert process(drain_inbound()) == {"batchItemFailures": []}
    calls.reset()
    detail = api.request("GET", f"/v1/events/{event_id}", key).json()
    assert detail["payload"] is None and detail["raw_body_url"]
    assert "s3.GetObject" not in calls.calls


def test_a_view_whose_body_s3_cannot_read_is_a_503_not_a_500(
    api: InProcessApi, key: str, faults: Any
) -> None:
    github = create_source(api, key, "github")
    event_id = large_event(api, github["id"], 1)
    assert process(drain_inbound()) == {"batchItemFailures": []}
    fault = faults("s3", "GetObject", kind="5xx")
    reply = api.request("GET", f"/v1/events/{event_id}", key)
    assert fault.injected >= 1
    assert reply.status == 503 and reply.json()["error"]["code"] == "service_unavailable"


def test_a_shared_object_that_cannot_be_stored_fails_its_bodies_for_sqs_to_retry(
    api: InProcessApi, key: str, faults: Any
) -> None:
    github = create_source(api, key, "github")
    events = [large_event(api, github["id"], seed) for seed in (1, 2)]
    messages = drain_inbound()
    fault = faults("s3", "PutObject", kind="5xx")  # past botocore's own retries
    failed = process(messages)["batchItemFailures"]
    assert fault.injected >= 1 and len(failed) == 2
    fault.remove()
    for event_id in events:
        failure = event_record("alice", event_id)["history"][-1]
        assert failure["error"].startswith("raw body could not be stored: ")
        assert failure["retryable"] is True
    assert process(messages) == {"batchItemFailures": []}  # SQS's retry
    for seed, event_id in enumerate(events, start=1):
        record = event_record("alice", event_id)
        assert record["status"] == "processed" and raw_object(record) == github_push(120, seed)


def test_a_body_past_the_inline_limit_is_stored_in_s3_by_the_processor(
    api: InProcessApi, key: str, calls: Any
) -> None:
    source = create_source(api, key, "hmac")
    # Random text: a body that does not deflate below the inline limit either.
    body = json.dumps({"type": "big.doc", "text": base64.b64encode(os.urandom(9_000)).decode()})
    body = body.encode()
    calls.reset()
    event_id = post_inbound(api, source["id"], body, sign("hmac", body)).json()["event_id"]
    assert receipt_calls(calls) == {"dynamodb.PutItem": 1, "sqs.SendMessage": 1}
    messages = drain_inbound()
    calls.reset()
    assert process(messages) == {"batchItemFailures": []}
    assert calls.calls["s3.PutObject"] == 1 and calls.calls["dynamodb.UpdateItem"] == 1
    record = event_record("alice", event_id)
    assert "raw_body" not in record and "raw_deflated" not in record
    # One copy: the API reads the payload from the stored body (one GetObject per view).
    assert raw_object(record) == body and "payload" not in record
    calls.reset()
    detail = api.request("GET", f"/v1/events/{event_id}", key).json()
    assert detail["payload"] == json.loads(body) and "raw_body_url" not in detail
    assert calls.calls["s3.GetObject"] == 1


def test_a_body_too_large_for_a_queue_message_goes_to_s3_at_receipt(
    api: InProcessApi, key: str, calls: Any
) -> None:
    """SQS takes messages of at most 256 KiB
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html);
    moto takes larger ones, so the size is checked here on the message itself."""
    source = create_source(api, key, "hmac")
    body = bytes(range(256)) * 1024  # 256 KiB of binary: base64 makes it larger still
    calls.reset()
    reply = post_inbound(api, source["id"], body, sign("hmac", body), "application/octet-stream")
    event_id = reply.json()["event_id"]
    expected = {"dynamodb.PutItem": 1, "s3.PutObject": 1, "sqs.SendMessage": 1}
    assert receipt_calls(calls) == expected
    messages = drain_inbound()
    assert len(messages[0]["Body"].encode()) <= 256 * 1024
    assert process(messages) == {"batchItemFailures": []}
    record = event_record("alice", event_id)
    assert record["status"] == "processed" and raw_object(record) == body


def test_a_forward_that_cannot_be_queued_is_forwarded_by_the_retry(
    api: InProcessApi, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record is written before the forward is queued (the delivery worker reads its body
    from it); a failed send reopens the run, so SQS's redelivery forwards it after all."""
    source = create_source(api, key, "shopify", forward_url="http://127.0.0.1:9/hook")
    body = b'{"id": 2}'
    event_id = post_inbound(api, source["id"], body, sign("shopify", body)).json()["event_id"]
    messages = drain_inbound()
    sqs = client("sqs")

    def refuse(**_: Any) -> None:
        raise RuntimeError("SQS is down")

    monkeypatch.setattr(sqs, "send_message_batch", refuse)
    monkeypatch.setattr(sqs, "send_message", refuse)
    assert len(process(messages)["batchItemFailures"]) == 1
    monkeypatch.undo()
    assert event_record("alice", event_id)["status"] == "failed"
    assert process(messages) == {"batchItemFailures": []}
    record = event_record("alice", event_id)
    assert record["status"] == "processed"
    delivery_id = record["history"][-1]["forward_delivery_id"]
    queued = client("sqs").receive_message(QueueUrl=settings().delivery_queue_url)["Messages"]
    assert [json.loads(m["Body"])["delivery_id"] for m in queued] == [delivery_id]


def test_a_replay_processed_before_its_request_returns_ends_processed(
    api: InProcessApi, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The processor may finish a replay's run before the API's request does (a small body is
    inline: nothing to fetch); the replay's own write must not turn it back to `received`."""
    source = create_source(api, key, "github")
    push = json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "a/b"}}).encode()
    event_id = post_inbound(api, source["id"], push, sign("github", push)).json()["event_id"]
    assert process(drain_inbound()) == {"batchItemFailures": []}
    sqs = client("sqs")
    send_message = sqs.send_message

    def send_then_process(**kwargs: Any) -> Any:
        sent = send_message(**kwargs)
        assert process(drain_inbound()) == {"batchItemFailures": []}
        return sent

    monkeypatch.setattr(sqs, "send_message", send_then_process)
    assert api.request("POST", f"/v1/events/{event_id}/replay", key).status == 202
    record = event_record("alice", event_id)
    assert record["status"] == "processed"
    assert [entry["action"] for entry in record["history"]] == ["processed", "replay", "processed"]

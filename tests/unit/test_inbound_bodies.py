"""Any verified body is stored raw and answered 200, whatever it holds; processing reads it the
way its provider documents (JSON, or a form holding JSON) or records why it could not.

In-process over moto, through the local gateway (API Gateway's event shapes) and the real
inbound processor handler. See docs/inbound-handlers.md, "Bodies that are not JSON".
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier

from functions.inbound.handler import lambda_handler as inbound_handler
from infra.local.gateway import LambdaContext
from shared.core.aws import client
from shared.core.config import settings
from shared.inbound import InboundEvent, service, sources
from tests.conftest import ADMIN_KEY
from tests.inbound_signers import FORM, SECRETS, form_body, payload_form, sign
from tests.support.api import InProcessApi
from tests.unit.test_inbound_service import (
    create_source,
    drain_inbound,
    event_record,
    post_inbound,
    process,
    raw_object,
)

LONE_SURROGATE = b'{"type": "order.paid", "note": "\\ud800"}'  # valid JSON text, no UTF-8 for it
CESU_SURROGATE = b'{"type": "order.paid", "note": "\xed\xa0\x80"}'  # the same as raw bytes
INVALID_UTF8 = b'{"type": "user.created", "name": "\xff\xfe"}'
SLACK_ACTION = {
    "type": "block_actions",
    "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    "user": {"id": "U0CA5"},
    "container": {"type": "message", "message_ts": "1548261231.000200"},
    "actions": [{"action_id": "approve", "action_ts": "1548426417.840180"}],
}
SLASH_COMMAND = {
    "token": "gIkuvaNzQIHg97ATvDxqgjtO",
    "team_id": "T0001",
    "channel_id": "C2147483705",
    "user_id": "U2147483697",
    "command": "/weather",
    "text": "94070",
    "response_url": "https://hooks.slack.com/commands/1234/5678",
    "trigger_id": "13345224609.738474920.8088930838d88f008e0",
}
PUSH = {
    "ref": "refs/heads/main",
    "repository": {"full_name": "acme/forms"},
    "commits": [{"id": "a"}],
    "pusher": {"name": "ada"},
}


@pytest.fixture
def api(aws: dict[str, str]) -> Iterator[InProcessApi]:
    sources.clear_cache()
    yield InProcessApi()
    sources.clear_cache()


@pytest.fixture
def key(api: InProcessApi) -> str:
    return api.new_user_key(ADMIN_KEY, "alice")


def receive(
    api: InProcessApi,
    source: dict[str, Any],
    body: bytes,
    content_type: str = "application/json",
    **sign_kwargs: Any,
) -> dict[str, Any]:
    """Post a correctly signed body; it must be answered 200 and stored byte for byte."""
    headers = sign(source["provider"], body, **sign_kwargs)
    reply = post_inbound(api, source["id"], body, headers, content_type)
    assert reply.status == 200, reply.body
    return queued_record(str(reply.json()["event_id"]), body)


def queued_record(event_id: str, body: bytes) -> dict[str, Any]:
    """The record a new event's queue message carries (processing writes it), whose body is the
    bytes sent. The message is left on the queue for `process_one`."""
    sqs = client("sqs")
    queue = settings().inbound_queue_url
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    sqs.change_message_visibility(
        QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    queued = json.loads(message["Body"])
    assert queued["event_id"] == event_id
    assert base64.b64decode(queued["body"]) == body
    return dict(queued["record"])


def process_one(expected_failures: int = 0) -> None:
    messages = drain_inbound()
    assert len(messages) == 1
    response = process(messages)
    assert len(response["batchItemFailures"]) == expected_failures


def failure_reasons(record: dict[str, Any]) -> list[str]:
    return [entry["error"] for entry in record["history"] if entry["action"] == "failed"]


# Lone surrogates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "event_type"),
    [(LONE_SURROGATE, "order.paid"), (CESU_SURROGATE, "unknown")],
    ids=["json-escape", "raw-bytes-not-utf8"],
)
def test_lone_surrogate_is_stored_raw_and_processed(
    api: InProcessApi, key: str, body: bytes, event_type: str
) -> None:
    source = create_source(api, key, "hmac")
    record = receive(api, source, body)
    assert record["type"] == event_type
    assert record.get("payload") is None  # DynamoDB strings are UTF-8: the raw body is the copy
    process_one()
    processed = event_record("alice", record["event_id"])
    assert processed["status"] == "processed"
    detail = api.request("GET", f"/v1/events/{record['event_id']}", key).json()
    assert detail["payload"] is None and detail["raw_body_url"]


@pytest.mark.parametrize(
    ("provider", "body", "event_type"),
    [
        ("stripe", b'{"id": "evt_\\udc00", "type": "invoice.\\ud800paid"}', "invoice.paid"),
        (
            "slack",
            b'{"event_id": "Ev\\ud800", "event": {"type": "app_\\udfffmention"}}',
            "app_mention",
        ),
        ("hmac", b'{"id": "\\udfff", "type": "\\ud83d"}', "unknown"),
    ],
)
def test_lone_surrogates_in_the_type_and_dedupe_id(
    api: InProcessApi, key: str, provider: str, body: bytes, event_type: str
) -> None:
    extra = {"dedupe": {"key": "body:id"}} if provider == "hmac" else {}
    source = create_source(api, key, provider, **extra)
    record = receive(api, source, body)
    assert record["type"] == event_type
    again = post_inbound(api, source["id"], body, sign(provider, body))
    assert again.status == 200
    assert again.json() == {"received": True, "event_id": record["event_id"], "duplicate": True}


def test_slack_challenge_with_a_lone_surrogate(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "slack")
    body = b'{"type": "url_verification", "challenge": "c\\ud800"}'
    reply = post_inbound(api, source["id"], body, sign("slack", body))
    assert reply.status == 200 and reply.json() == {"challenge": "c\ud800"}


def test_lambda_text_body_with_a_lone_surrogate_is_verified_not_a_500(
    api: InProcessApi, key: str
) -> None:
    """API Gateway hands the body over as a JSON string; one holding an escaped lone surrogate
    decodes to text UTF-8 cannot encode. Its bytes are the surrogate-preserving encoding."""
    source = create_source(api, key, "hmac")
    text = '{"type": "order.paid", "note": "\ud800"}'
    signed = text.encode("utf-8", "surrogatepass")
    event = {
        "version": "2.0",
        "routeKey": "POST /inbound/{source_id}",
        "rawPath": f"/inbound/{source['id']}",
        "headers": {"content-type": "application/json", **sign("hmac", signed)},
        "pathParameters": {"source_id": source["id"]},
        "requestContext": {"http": {"method": "POST"}, "requestId": "r-1"},
        "isBase64Encoded": False,
        "body": text,
    }
    reply = inbound_handler(event, LambdaContext("inbound"))
    assert reply["statusCode"] == 200, reply["body"]
    queued_record(json.loads(reply["body"])["event_id"], signed)
    process_one()
    assert raw_object(event_record("alice", json.loads(reply["body"])["event_id"])) == signed
    unsigned = {**event, "headers": {"content-type": "application/json"}}
    assert inbound_handler(unsigned, LambdaContext("inbound"))["statusCode"] == 401


def test_handler_result_with_a_lone_surrogate_is_not_stored(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "hmac")
    record = receive(api, source, LONE_SURROGATE)
    [message] = drain_inbound()

    def echo(event: InboundEvent) -> Any:
        return event.json()

    outcome = service.process(json.loads(message["Body"]), lambda provider, kind: [echo])
    assert outcome == "processed"
    stored = event_record("alice", record["event_id"])
    assert stored["status"] == "processed"
    assert stored["history"][-1]["handler_results"][0]["result"] == {"unstorable": True}


# Forms ------------------------------------------------------------------------------------------


def test_slack_interactive_payload_is_typed_from_the_payload(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "slack")
    body = payload_form(SLACK_ACTION)
    headers = sign("slack", body)
    assert SignatureVerifier(SECRETS["slack"]).is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    record = receive(api, source, body, FORM)
    assert record["type"] == "block_actions"
    seen: list[tuple[Any, dict[str, str]]] = []
    [message] = drain_inbound()

    def handler(event: InboundEvent) -> dict[str, Any]:
        seen.append((event.json(), event.form()))
        return {"action": event.json()["actions"][0]["action_id"]}

    assert service.process(json.loads(message["Body"]), lambda p, t: [handler]) == "processed"
    assert seen == [(SLACK_ACTION, {"payload": json.dumps(SLACK_ACTION)})]
    stored = event_record("alice", record["event_id"])
    assert stored["status"] == "processed"
    assert service.payload_of(stored) == {"payload": json.dumps(SLACK_ACTION)}  # the form's fields
    assert stored["history"][-1]["handler_results"][0]["result"] == {"action": "approve"}


def test_slack_interactive_payloads_dedupe_on_trigger_id(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "slack")
    first = receive(api, source, payload_form(SLACK_ACTION), FORM)
    time.sleep(1.1)  # a later copy: another timestamp and signature
    copy = payload_form({**SLACK_ACTION, "actions": []})
    again = post_inbound(api, source["id"], copy, sign("slack", copy), FORM).json()
    assert again == {"received": True, "event_id": first["event_id"], "duplicate": True}
    other = payload_form({**SLACK_ACTION, "trigger_id": "13345224609.1.2"})
    assert (
        post_inbound(api, source["id"], other, sign("slack", other), FORM).json()["duplicate"]
        is False
    )


def test_slack_slash_command(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "slack")
    body = form_body(SLASH_COMMAND)
    record = receive(api, source, body, "application/x-www-form-urlencoded; charset=utf-8")
    assert record["type"] == "slash_command"
    copy = form_body({**SLASH_COMMAND, "text": "other"})
    again = post_inbound(api, source["id"], copy, sign("slack", copy), FORM).json()
    assert again["duplicate"] is True  # the same trigger_id
    [message] = drain_inbound()

    def reply(event: InboundEvent) -> dict[str, str]:
        return {"command": event.form()["command"]}

    assert service.process(json.loads(message["Body"]), lambda p, t: [reply]) == "processed"
    stored = event_record("alice", record["event_id"])
    assert service.payload_of(stored) == SLASH_COMMAND
    assert stored["history"][-1]["handler_results"][0]["result"] == {"command": "/weather"}


@pytest.mark.parametrize(
    ("event_header", "payload", "expected_type"),
    [
        ("push", PUSH, "push"),
        ("issues", {"action": "opened", "issue": {"number": 7}}, "issues.opened"),
    ],
)
def test_github_form_content_type(
    api: InProcessApi, key: str, event_header: str, payload: dict[str, Any], expected_type: str
) -> None:
    source = create_source(api, key, "github")
    record = receive(api, source, payload_form(payload), FORM, event_header=event_header)
    assert record["type"] == expected_type
    process_one()
    stored = event_record("alice", record["event_id"])
    assert stored["status"] == "processed"
    if expected_type == "push":  # the example handler reads the JSON out of the form
        summary = {"repository": "acme/forms", "ref": "refs/heads/main", "commits": 1}
        assert summary.items() <= stored["history"][-1]["handler_results"][0]["result"].items()


def test_form_field_dedupe_path_for_a_custom_source(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "hmac", dedupe={"key": "body:order_id"})
    body = form_body({"type": "order.paid", "order_id": "o-1"})
    record = receive(api, source, body, FORM)
    assert record["type"] == "order.paid"
    copy = form_body({"type": "order.paid", "order_id": "o-1", "retry": "1"})
    again = post_inbound(api, source["id"], copy, sign("hmac", copy), FORM).json()
    assert again["event_id"] == record["event_id"] and again["duplicate"] is True


# Bodies a provider never sends: recorded as failed, never retried --------------------------------


@pytest.mark.parametrize(
    ("provider", "body", "content_type", "reason"),
    [
        ("standard", INVALID_UTF8, "application/json", "body is not UTF-8"),
        ("stripe", b"not json at all", "application/json", "body is not JSON"),
        ("stripe", b"", "application/json", "body is not JSON: it is empty"),
        ("github", bytes(range(256)), "application/octet-stream", "body is not UTF-8"),
        ("slack", b"payload=%7Bnot+json", FORM, "form field payload is not JSON"),
        ("slack", b"payload=%FF", FORM, "body is not a form"),
        ("standard", b"[" * 100_000, "application/json", "body is not JSON: nested too deeply"),
    ],
)
def test_unreadable_body_is_recorded_failed_and_not_retried(
    api: InProcessApi, key: str, provider: str, body: bytes, content_type: str, reason: str
) -> None:
    source = create_source(api, key, provider)
    record = receive(api, source, body, content_type)
    assert record["type"] == ("push" if provider == "github" else "unknown")  # GitHub: a header
    process_one(expected_failures=0)  # SQS is told it is done: retrying cannot help
    failed = event_record("alice", record["event_id"])
    assert failed["status"] == "failed"
    [entry] = [entry for entry in failed["history"] if entry["action"] == "failed"]
    assert entry["error"].startswith(reason), entry
    assert entry["retryable"] is False
    detail = api.request("GET", f"/v1/events/{record['event_id']}", key).json()
    assert detail["status"] == "failed" and detail["history"][-1]["error"] == entry["error"]
    assert drain_inbound() == []  # the message is gone: nothing left to dead-letter


def test_custom_source_binary_body_runs_handlers_that_need_no_json(
    api: InProcessApi, key: str
) -> None:
    source = create_source(api, key, "hmac")
    body = b"\x00\xff binary \x80"
    record = receive(api, source, body, "application/octet-stream")
    [message] = drain_inbound()
    parsed = json.loads(message["Body"])

    def size(event: InboundEvent) -> int:
        return len(event.body)

    assert service.process(parsed, lambda p, t: [size]) == "processed"
    stored = event_record("alice", record["event_id"])
    assert stored["history"][-1]["handler_results"][0]["result"] == len(body)

    def needs_json(event: InboundEvent) -> Any:
        return event.json()

    replay = api.request("POST", f"/v1/events/{record['event_id']}/replay", key)
    assert replay.status == 202
    [again] = drain_inbound()
    assert service.process(json.loads(again["Body"]), lambda p, t: [needs_json]) == "failed"
    failed = event_record("alice", record["event_id"])
    assert failed["status"] == "failed"
    assert failure_reasons(failed) == ["body is not UTF-8: invalid byte at position 1"]
    assert failed["history"][-1]["handler"].endswith("needs_json")


def test_unreadable_raw_body_is_recorded_then_retried(api: InProcessApi, key: str) -> None:
    """A replay reads the body where processing stored it (here S3: not JSON, so not inline)."""
    source = create_source(api, key, "hmac")
    record = receive(api, source, b"<gone/>", "application/xml")
    process_one()
    stored = event_record("alice", record["event_id"])
    client("s3").delete_object(Bucket=settings().raw_body_bucket, Key=stored["raw_s3_key"])
    assert api.request("POST", f"/v1/events/{record['event_id']}/replay", key).status == 202
    process_one(expected_failures=1)  # S3 may answer later: SQS retries this one
    failed = event_record("alice", record["event_id"])
    assert failed["status"] == "failed"
    assert failure_reasons(failed) == ["raw body could not be read: NoSuchKey"]


def test_raw_object_never_takes_the_senders_content_type(api: InProcessApi, key: str) -> None:
    """The raw body is served by presigned `raw_body_url` links: a sender's `text/html` must not
    make the bucket serve a page. The sender's type stays on the event (`content_type`)."""
    source = create_source(api, key, "hmac")
    body = b"<script>alert(1)</script>"
    receive(api, source, body, "text/html")
    process_one()
    [record] = api.request("GET", "/v1/events?direction=inbound", key).json()["data"]
    record = event_record("alice", record["id"])
    head = client("s3").head_object(Bucket=settings().raw_body_bucket, Key=record["raw_s3_key"])
    assert head["ContentType"] == "application/octet-stream"
    assert record["content_type"] == "text/html"


def test_base64_body_of_any_bytes_is_answered(api: InProcessApi, key: str) -> None:
    source = create_source(api, key, "shopify")
    body = CESU_SURROGATE + INVALID_UTF8
    event = {
        "version": "2.0",
        "rawPath": f"/inbound/{source['id']}",
        "headers": {"content-type": "application/xml", **sign("shopify", body)},
        "pathParameters": {"source_id": source["id"]},
        "requestContext": {"http": {"method": "POST"}, "requestId": "r-2"},
        "isBase64Encoded": True,
        "body": base64.b64encode(body).decode(),
    }
    reply = inbound_handler(event, LambdaContext("inbound"))
    assert reply["statusCode"] == 200
    queued_record(json.loads(reply["body"])["event_id"], body)
    process_one()  # Shopify may send XML: the body need not be JSON
    record = event_record("alice", json.loads(reply["body"])["event_id"])
    assert record["type"] == "orders/create" and raw_object(record) == body
    assert event_record("alice", record["event_id"])["status"] == "processed"

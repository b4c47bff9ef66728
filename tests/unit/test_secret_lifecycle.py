"""The per-user signing secret over its life, in-process over moto with a real receiver.

The API creates a user's secret (first webhook, first forwarding source, GET /v1/secret); the
delivery worker only reads it and signs. A rotation takes effect on the very next attempt: the
worker's cached secret is keyed by a version stamp on the user's account record, which the
worker's one BatchGetItem already returns.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
import standardwebhooks

from functions.inbound_processor.handler import lambda_handler as processor_handler
from infra.local.gateway import LambdaContext
from infra.local.pollers import sqs_event
from shared.core.aws import client
from shared.core.config import settings
from shared.core.errors import NotFound
from shared.outbound import webhooks
from shared.outbound.signing import verify_signature
from shared.schemas.requests import WebhookUpdate
from shared.store import accounts, secrets
from shared.store import webhooks as webhooks_table
from tests.inbound_signers import SECRETS, sign
from tests.support import signatures
from tests.support.api import InProcessApi
from tests.support.aws_calls import CallCounter
from tests.support.faults import FaultSet, acknowledge, invoke_worker, receive_all
from tests.support.receiver import Received, Receiver
from tests.support.signatures import Signatures

WORKER_MAY_CALL_ON_SECRETS = {"secretsmanager.GetSecretValue", "secretsmanager.DescribeSecret"}


# --- Helpers -----------------------------------------------------------------------------


def drain(env: dict[str, str]) -> dict[str, Any]:
    """One event source mapping cycle over the delivery queue."""
    queue_url = env["DELIVERY_QUEUE_URL"]
    messages = receive_all(queue_url)
    response = invoke_worker(messages) if messages else {"batchItemFailures": []}
    acknowledge(queue_url, messages, response)
    return {"messages": messages, **response}


def register(api: InProcessApi, key: str, url: str) -> str:
    reply = api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


def publish(api: InProcessApi, key: str) -> dict[str, Any]:
    reply = api.request("POST", "/v1/events", key, {"type": "user.created", "data": {"n": 1}})
    assert reply.status == 202, reply.body
    return dict(reply.json())


def read_secret(api: InProcessApi, key: str) -> str:
    reply = api.request("GET", "/v1/secret", key)
    assert reply.status == 200, reply.body
    return str(reply.json()["secret"])


def rotate(api: InProcessApi, key: str, grace: int) -> str:
    reply = api.request("POST", "/v1/secret/rotate", key, {"grace_seconds": grace})
    assert reply.status == 200, reply.body
    return str(reply.json()["secret"])


def worker_calls(env: dict[str, str], calls: CallCounter) -> dict[str, int]:
    """The AWS calls of one worker invocation over what is queued (the SQS side not counted)."""
    queue_url = env["DELIVERY_QUEUE_URL"]
    messages = receive_all(queue_url)
    calls.reset()
    response = invoke_worker(messages)
    counted = dict(calls.calls)
    acknowledge(queue_url, messages, response)
    assert response == {"batchItemFailures": []}
    return counted


def deliver_one(api: InProcessApi, key: str, env: dict[str, str], receiver: Receiver) -> Received:
    """Publish one event to the user's single webhook and run the worker on it."""
    before = len(receiver.requests)
    publish(api, key)
    assert drain(env)["batchItemFailures"] == []
    assert len(receiver.requests) == before + 1
    return receiver.requests[-1]


def signed_by(request: Received) -> Signatures:
    return signatures.signed_by(request.headers)


def expected_by(request: Received, *secret_values: str) -> Signatures:
    return signatures.expected_by(request.headers, request.body, *secret_values)


def secret_calls(calls: CallCounter) -> set[str]:
    return {name for name in calls.calls if name.startswith("secretsmanager.")}


# --- Rotation takes effect on the next attempt -------------------------------------------


def test_grace_0_rotation_signs_the_very_next_delivery_with_the_new_secret_only(
    api: InProcessApi, alice: str, receiver: Receiver, aws: dict[str, str]
) -> None:
    register(api, alice, receiver.url("/grace0"))
    old = read_secret(api, alice)
    first = deliver_one(api, alice, aws, receiver)  # the worker has the old secret cached
    assert signed_by(first) == expected_by(first, old)

    new = rotate(api, alice, 0)
    after = deliver_one(api, alice, aws, receiver)
    assert signed_by(after) == expected_by(after, new)
    assert not verify_signature(old, after.headers, after.body)
    assert read_secret(api, alice) == new


def test_grace_window_rotation_signs_new_first_then_previous(
    api: InProcessApi, alice: str, receiver: Receiver, aws: dict[str, str]
) -> None:
    register(api, alice, receiver.url("/grace300"))
    old = read_secret(api, alice)
    deliver_one(api, alice, aws, receiver)

    new = rotate(api, alice, 300)
    after = deliver_one(api, alice, aws, receiver)
    assert signed_by(after) == expected_by(after, new, old)

    newest = rotate(api, alice, 0)  # ends the window early: the previous never signs again
    last = deliver_one(api, alice, aws, receiver)
    assert signed_by(last) == expected_by(last, newest)


def test_the_secret_read_after_rotation_verifies_the_next_delivery(
    api: InProcessApi, alice: str, receiver: Receiver, aws: dict[str, str]
) -> None:
    register(api, alice, receiver.url("/read-after"))
    read_secret(api, alice)
    deliver_one(api, alice, aws, receiver)
    rotate(api, alice, 86400)
    rotate(api, alice, 86400)
    current = read_secret(api, alice)

    request = deliver_one(api, alice, aws, receiver)
    headers = {name.lower(): value for name, value in request.headers.items()}
    envelope = standardwebhooks.Webhook("whsec_" + current.removeprefix("whcms_")).verify(
        request.body, headers
    )
    assert envelope["type"] == "user.created"
    assert signed_by(request)[0][0] == expected_by(request, current)[0][0]


def test_after_rotation_one_secret_read_then_the_warm_path_again(
    api: InProcessApi, alice: str, receiver: Receiver, aws: dict[str, str], calls: CallCounter
) -> None:
    register(api, alice, receiver.url("/counts"))
    read_secret(api, alice)
    deliver_one(api, alice, aws, receiver)
    rotate(api, alice, 0)

    publish(api, alice)
    assert worker_calls(aws, calls) == {
        "dynamodb.BatchGetItem": 1,
        "secretsmanager.GetSecretValue": 1,
        "dynamodb.UpdateItem": 1,
    }
    publish(api, alice)
    assert worker_calls(aws, calls) == {"dynamodb.BatchGetItem": 1, "dynamodb.UpdateItem": 1}


# --- The worker reads, the API creates ---------------------------------------------------


def test_first_delivery_of_a_user_who_never_read_the_secret(
    api: InProcessApi, alice: str, receiver: Receiver, aws: dict[str, str], calls: CallCounter
) -> None:
    """The worker's role may only read secrets (GetSecretValue, DescribeSecret) on AWS."""
    register(api, alice, receiver.url("/never-read"))
    publish(api, alice)
    calls.reset()
    assert drain(aws)["batchItemFailures"] == []
    assert secret_calls(calls) <= WORKER_MAY_CALL_ON_SECRETS, dict(calls.calls)
    (request,) = receiver.received("/never-read")
    assert signed_by(request) == expected_by(request, read_secret(api, alice))


def test_a_missing_secret_fails_the_message_and_is_never_created_by_the_worker(
    api: InProcessApi,
    alice: str,
    receiver: Receiver,
    aws: dict[str, str],
    calls: CallCounter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A webhook stored without the API (so no secret was made for its user) cannot be signed."""
    webhooks_table.put(
        {
            "user_id": "alice",
            "webhook_id": "wh_01J0000000000000000000000A",
            "url": receiver.url("/unsigned"),
            "events": ["*"],
            "active": True,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
    )
    publish(api, alice)
    calls.reset()
    drained = drain(aws)
    assert [item["itemIdentifier"] for item in drained["batchItemFailures"]] == [
        message["MessageId"] for message in drained["messages"]
    ]
    assert drained["messages"]
    assert secret_calls(calls) <= WORKER_MAY_CALL_ON_SECRETS, dict(calls.calls)
    assert receiver.received("/unsigned") == []
    (line,) = [record for record in caplog.records if "no signing secret" in record.getMessage()]
    assert line.levelname == "ERROR" and getattr(line, "user_id", None) == "alice"
    assert "whcms_" not in caplog.text


def forward_source(api: InProcessApi, key: str, url: str) -> str:
    body = {"name": "f", "provider": "shopify", "secret": SECRETS["shopify"], "forward_url": url}
    reply = api.request("POST", "/v1/sources", key, body)
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


# An order as Shopify sends it, small enough to be kept inline, deflated (its repeats shrink it).
ORDER = json.dumps({"id": 1, "line_items": [{"title": "Tea", "quantity": 1}] * 20}).encode()


def receive_and_process(api: InProcessApi, source_id: str, *bodies: bytes) -> None:
    """Provider webhooks in (ORDER if none given), processed in one batch: their forward
    deliveries are queued."""
    for raw in bodies or (ORDER,):
        headers = sign("shopify", raw)
        received = api.request("POST", f"/inbound/{source_id}", body=raw, headers=headers)
        assert received.status == 200, received.body
    inbound_url = settings().inbound_queue_url
    messages = receive_all(inbound_url)
    event = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:test-InboundQueue")
    answer = processor_handler(event, LambdaContext("inbound_processor"))
    assert answer == {"batchItemFailures": []}
    acknowledge(inbound_url, messages, answer)


def test_forward_delivery_is_signed_by_the_owner_and_follows_rotation(
    api: InProcessApi, alice: str, receiver: Receiver, aws: dict[str, str], calls: CallCounter
) -> None:
    source_id = forward_source(api, alice, receiver.url("/forward"))

    def forward_one() -> Received:
        receive_and_process(api, source_id)
        calls.reset()
        assert drain(aws)["batchItemFailures"] == []
        assert secret_calls(calls) <= WORKER_MAY_CALL_ON_SECRETS, dict(calls.calls)
        return receiver.received("/forward")[-1]

    first = forward_one()  # the owner never read their secret: the source made it
    assert signed_by(first) == expected_by(first, read_secret(api, alice))
    assert first.body == ORDER  # the original bytes, from the record's deflated copy
    new = rotate(api, alice, 0)
    after = forward_one()
    assert signed_by(after) == expected_by(after, new)

    # Warm: the account record rides in the BatchGetItem, the path has no extra call (and this
    # small body is inline on the event record: no GetObject either).
    receive_and_process(api, source_id)
    assert worker_calls(aws, calls) == {"dynamodb.BatchGetItem": 1, "dynamodb.UpdateItem": 1}
    assert len(receiver.received("/forward")) == 3


def test_forwards_of_bodies_in_a_shared_object_send_each_body_exactly(
    api: InProcessApi, alice: str, receiver: Receiver, aws: dict[str, str]
) -> None:
    """Two large bodies of one source share one S3 object; each forward reads its own range."""
    source_id = forward_source(api, alice, receiver.url("/shared"))
    draw = random.Random(5)
    bodies = [
        json.dumps({"id": n, "note": base64.b64encode(draw.randbytes(6_000)).decode()}).encode()
        for n in (1, 2)
    ]
    receive_and_process(api, source_id, *bodies)
    stored = client("s3").list_objects_v2(Bucket=settings().raw_body_bucket)["Contents"]
    assert [obj["Size"] for obj in stored] == [sum(map(len, bodies))]  # one object for both
    assert drain(aws)["batchItemFailures"] == []
    assert sorted(hit.body for hit in receiver.received("/shared")) == sorted(bodies)


# --- Rotation: order of writes, concurrency -----------------------------------------------


def test_a_rotation_that_failed_midway_leaves_the_announced_secret_signing(
    api: InProcessApi, alice: str, receiver: Receiver, aws: dict[str, str], faults: FaultSet
) -> None:
    """The new secret is written first, the account's stamp second: if the stamp cannot be
    written the rotation answers an error and nothing signs with a secret nobody was shown."""
    register(api, alice, receiver.url("/midway"))
    old = read_secret(api, alice)
    deliver_one(api, alice, aws, receiver)

    fault = faults("dynamodb", "UpdateItem", kind="5xx", only_if=lambda b: b"#account" in b)
    failed = api.request("POST", "/v1/secret/rotate", alice, {"grace_seconds": 0})
    assert failed.status >= 500 and b"whcms_" not in failed.body
    assert fault.injected > 0
    fault.remove()
    assert read_secret(api, alice) == old
    request = deliver_one(api, alice, aws, receiver)
    assert signed_by(request) == expected_by(request, old)

    new = rotate(api, alice, 300)  # the previous is the announced one, not the orphan
    request = deliver_one(api, alice, aws, receiver)
    assert signed_by(request) == expected_by(request, new, old)


def test_of_two_concurrent_rotations_one_wins_and_the_other_is_a_conflict(
    api: InProcessApi, alice: str, receiver: Receiver, aws: dict[str, str]
) -> None:
    register(api, alice, receiver.url("/race"))
    read_secret(api, alice)
    events = client("secretsmanager").meta.events
    winner: list[str] = []

    def competing_rotation(**_: Any) -> None:
        events.unregister("before-call.secrets-manager.PutSecretValue", competing_rotation)
        winner.append(secrets.rotate("alice", 0).secret)

    events.register("before-call.secrets-manager.PutSecretValue", competing_rotation)
    try:
        lost = api.request("POST", "/v1/secret/rotate", alice, {"grace_seconds": 0})
    finally:
        events.unregister("before-call.secrets-manager.PutSecretValue", competing_rotation)
    assert lost.status == 409, lost.body
    assert lost.json()["error"]["code"] == "conflict"
    assert "whcms_" not in lost.body.decode()
    assert read_secret(api, alice) == winner[0]
    request = deliver_one(api, alice, aws, receiver)
    assert signed_by(request) == expected_by(request, winner[0])


# --- The account record is not a webhook ------------------------------------------------


def test_the_account_record_never_shows_as_a_webhook(
    api: InProcessApi, alice: str, aws: dict[str, str]
) -> None:
    made = {register(api, alice, f"http://127.0.0.1:9/{n}") for n in range(3)}
    assert accounts.secret_version("alice")  # the secret was made with the first webhook
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        page = api.request("GET", f"/v1/webhooks?limit=1{cursor}", alice).json()
        assert len(page["data"]) == 1 or not page["next_cursor"], page
        seen += [hook["id"] for hook in page["data"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted(made)
    assert len(publish(api, alice)["deliveries"]) == 3

    reserved = accounts.SORT_KEY
    for call in (
        lambda: webhooks.get_record("alice", reserved),
        lambda: webhooks.update("alice", reserved, WebhookUpdate(description="x")),
        lambda: webhooks.delete("alice", reserved),
    ):
        with pytest.raises(NotFound):
            call()
    assert accounts.secret_version("alice")


def test_creating_more_webhooks_keeps_the_secret(
    api: InProcessApi, alice: str, aws: dict[str, str]
) -> None:
    register(api, alice, "http://127.0.0.1:9/a")
    first = read_secret(api, alice)
    register(api, alice, "http://127.0.0.1:9/b")
    assert read_secret(api, alice) == first
    name = secrets.user_secret_name("alice")
    versions = client("secretsmanager").list_secret_version_ids(SecretId=name)["Versions"]
    assert len(versions) == 1


def test_a_secret_made_before_account_records_is_adopted_not_replaced(
    api: InProcessApi, alice: str, receiver: Receiver, aws: dict[str, str]
) -> None:
    """Deployments from before this change have secrets but no account record."""
    legacy = secrets.new_signing_secret()
    client("secretsmanager").create_secret(
        Name=secrets.user_secret_name("alice"),
        SecretString=json.dumps({"secret": legacy, "created_at": "2026-01-01T00:00:00Z"}),
    )
    register(api, alice, receiver.url("/legacy"))
    assert read_secret(api, alice) == legacy
    request = deliver_one(api, alice, aws, receiver)
    assert signed_by(request) == expected_by(request, legacy)

"""Outbound delivery end to end: local mode over real HTTP, a real receiver on 127.0.0.1.

Local mode runs with WEBHOOKS_RETRY_SCHEDULE=1,1,1 (3 retries, 4 attempts, about 1 s apart)
and re-shows a failed SQS record after 1 s. The service and its DLQs are shared by every e2e
file, so each test has its own users and receiver paths and only looks at its own deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
import standardwebhooks

from functions.delivery_worker.handler import lambda_handler
from infra import declaration as decl
from infra.local.gateway import LambdaContext
from infra.local.pollers import sqs_event
from shared.core import resources as res
from shared.core.config import settings
from shared.outbound import publishing
from shared.outbound.signing import verify_signature
from shared.schemas.requests import EventPublish
from shared.store import dynamo
from tests.conftest import reset_process_caches
from tests.support.receiver import Received, Receiver, Script

TIMEOUT = 15
Poll = Callable[..., Any]


# --- Helpers -----------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Caller:
    """One API key speaking to local mode."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.base_url, self.headers = base_url, headers

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(
            method, self.base_url + path, headers=headers, timeout=TIMEOUT, **kwargs
        )

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        reply = self.call(method, path, **kwargs)
        assert reply.status_code == status, (method, path, reply.status_code, reply.text[:500])
        return reply.json() if reply.content else None

    def webhook(self, url: str, events: list[str] | None = None, **fields: Any) -> str:
        body = {"url": url, "events": events or ["*"], **fields}
        return str(self.ok("POST", "/v1/webhooks", 201, json=body)["id"])

    def publish(self, event_type: str = "user.created", status: int = 202, **fields: Any) -> Any:
        body = {"type": event_type, "data": {"name": "Ada"}, **fields}
        return self.ok("POST", "/v1/events", status, json=body)

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        return dict(self.ok("GET", f"/v1/deliveries/{delivery_id}"))

    def secret(self) -> str:
        return str(self.ok("GET", "/v1/secret")["secret"])


def new_caller(local: Any, prefix: str) -> tuple[str, Caller]:
    user_id = unique(prefix)
    return user_id, Caller(local.base_url, local.new_user(user_id))


def wait_status(
    poll: Poll, caller: Caller, delivery_id: str, status: str, timeout: float = 60
) -> dict[str, Any]:
    found = poll(
        lambda: (view := caller.delivery(delivery_id))["status"] == status and view, timeout
    )
    assert found, caller.delivery(delivery_id)
    return dict(found)


class PathReceiver:
    """One real receiver for the module (its shutdown is slow), a path prefix per test."""

    def __init__(self, server: Receiver, prefix: str) -> None:
        self.server, self.prefix = server, prefix

    def url(self, path: str) -> str:
        return self.server.url(self.prefix + path)

    def script(self, path: str, script: Script) -> str:
        return self.server.script(self.prefix + path, script)

    def received(self, path: str) -> list[Received]:
        return self.server.received(self.prefix + path)

    def wait_for(self, path: str, count: int, timeout: float = 20) -> list[Received]:
        return self.server.wait_for(self.prefix + path, count, timeout)

    def requests_for(self, *paths: str) -> list[Received]:
        found = [r for path in paths for r in self.received(path)]
        return [replace(r, path=r.path.removeprefix(self.prefix)) for r in found]


@pytest.fixture(scope="module")
def http_server() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def receiver(http_server: Receiver) -> PathReceiver:
    return PathReceiver(http_server, "/" + unique("t"))


def lowered(request: Received) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


def reference_hex(secret: str, timestamp: str, body: bytes) -> str:
    """The spec's computation: hex HMAC-SHA256 keyed by the whole secret over "{ts}.{body}"."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def standard(secret: str) -> standardwebhooks.Webhook:
    return standardwebhooks.Webhook("whsec_" + secret.removeprefix("whcms_"))


def dead_letters(local: Any) -> list[dict[str, Any]]:
    """Every message in the delivery DLQ, peeked: held a few seconds, then made visible again."""
    sqs = local.client("sqs")
    url = local.queue_url("DeliveryQueueDLQ")
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(100):
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=5, WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            break
        seen.update({message["MessageId"]: message for message in batch})
    for message in seen.values():
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    bodies = []
    for message in seen.values():
        try:
            bodies.append(json.loads(message["Body"]))
        except ValueError:
            bodies.append({"raw": message["Body"]})
    return bodies


# --- Publish → delivered, signed ---------------------------------------------------------


def test_publish_is_delivered_within_seconds_and_verifies(
    local: Any, receiver: PathReceiver, poll: Poll
) -> None:
    _, alice = new_caller(local, "out-sign")
    hook = alice.webhook(receiver.url("/hook"), headers={"X-Tenant": "acme"})
    secret = alice.secret()
    answer = alice.publish(data={"name": "Zoë", "amount": 42})
    ((queued),) = answer["deliveries"]
    assert queued == {"webhook_id": hook, "delivery_id": queued["delivery_id"], "status": "queued"}

    (request,) = receiver.wait_for("/hook", 1, timeout=30)
    headers = lowered(request)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("serverless-webhooks/")
    assert headers["x-webhook-event-id"] == answer["event_id"] == headers["webhook-id"]
    assert headers["x-webhook-event"] == "user.created"
    assert headers["x-webhook-delivery-id"] == queued["delivery_id"]
    assert headers["x-webhook-attempt"] == "1"
    assert headers["x-tenant"] == "acme"
    envelope = json.loads(request.body)
    assert envelope["id"] == answer["event_id"] and envelope["type"] == "user.created"
    assert envelope["api_version"] == "2026-11-01" and envelope["created_at"].endswith("Z")
    assert envelope["data"] == {"name": "Zoë", "amount": 42}

    timestamp = headers["x-webhook-timestamp"]
    assert timestamp == headers["webhook-timestamp"]
    assert headers["x-webhook-signature"] == "sha256=" + reference_hex(
        secret, timestamp, request.body
    )
    assert standard(secret).verify(request.body, headers) == envelope
    assert verify_signature(secret, headers, request.body)

    done = wait_status(poll, alice, queued["delivery_id"], "succeeded", timeout=60)
    assert done["attempts"] == 1 and done["last_status_code"] == 200
    (entry,) = done["attempt_log"]
    assert entry["attempt"] == 1 and entry["status_code"] == 200
    assert entry["error"] is None and entry["response_body"] == "ok"


def test_filtering_by_pattern_and_inactive_webhooks(
    local: Any, receiver: PathReceiver, poll: Poll
) -> None:
    _, alice = new_caller(local, "out-filter")
    exact = alice.webhook(receiver.url("/exact"), ["user.created"])
    prefix = alice.webhook(receiver.url("/prefix"), ["user.*"])
    star = alice.webhook(receiver.url("/star"), ["*"])
    orders = alice.webhook(receiver.url("/orders"), ["order.*"])
    alice.webhook(receiver.url("/deleted"), ["user.deleted"])
    alice.webhook(receiver.url("/inactive"), ["*"], active=False)
    paused = alice.webhook(receiver.url("/paused"), ["*"])
    alice.ok("PATCH", f"/v1/webhooks/{paused}", json={"active": False})

    answer = alice.publish("user.created")
    assert {d["webhook_id"] for d in answer["deliveries"]} == {exact, prefix, star}
    for path in ("/exact", "/prefix", "/star"):
        assert len(receiver.wait_for(path, 1, timeout=30)) == 1
    for item in answer["deliveries"]:
        wait_status(poll, alice, item["delivery_id"], "succeeded")
    # No delivery was ever created for the others, so none can arrive later.
    assert receiver.requests_for("/orders", "/deleted", "/inactive", "/paused") == []

    order = alice.publish("order.paid")
    assert {d["webhook_id"] for d in order["deliveries"]} == {star, orders}
    assert len(receiver.wait_for("/orders", 1, timeout=30)) == 1


def test_idempotent_publish(local: Any, receiver: PathReceiver) -> None:
    _, alice = new_caller(local, "out-idem")
    alice.webhook(receiver.url("/idem"))
    caller_id = unique("order")
    first = alice.publish(id=caller_id)
    assert len(receiver.wait_for("/idem", 1, timeout=30)) == 1
    again = alice.publish(id=caller_id, status=200, data={"changed": True})
    assert again == first
    # A sentinel event after the repeat: once it arrived, the repeat had its chance to.
    sentinel = alice.publish("user.sentinel")
    arrived = receiver.wait_for("/idem", 2, timeout=30)
    assert [lowered(r)["x-webhook-event-id"] for r in arrived] == [
        first["event_id"],
        sentinel["event_id"],
    ]
    events = alice.ok("GET", "/v1/events", params={"type": "user.created"})["data"]
    assert [event["id"] for event in events] == [first["event_id"]]


# --- Retries, DLQ, 410 -------------------------------------------------------------------


def test_failing_twice_then_succeeding_takes_exactly_three_attempts(
    local: Any, receiver: PathReceiver, poll: Poll
) -> None:
    _, alice = new_caller(local, "out-retry")
    alice.webhook(receiver.script("/flaky", Script(statuses=[500, 502, 200], body=b"nope")))
    secret = alice.secret()
    answer = alice.publish()
    delivery_id = answer["deliveries"][0]["delivery_id"]

    done = wait_status(poll, alice, delivery_id, "succeeded", timeout=60)
    attempts = receiver.received("/flaky")
    assert len(attempts) == 3
    assert [lowered(r)["x-webhook-attempt"] for r in attempts] == ["1", "2", "3"]
    assert {lowered(r)["x-webhook-event-id"] for r in attempts} == {answer["event_id"]}
    assert {lowered(r)["x-webhook-delivery-id"] for r in attempts} == {delivery_id}
    assert len({r.body for r in attempts}) == 1  # the same bytes every time
    for request in attempts:
        assert verify_signature(secret, lowered(request), request.body)
    assert done["attempts"] == 3 and done["last_status_code"] == 200
    assert done["next_attempt_at"] is None and done["last_error"] is None
    assert [e["attempt"] for e in done["attempt_log"]] == [1, 2, 3]
    assert [e["status_code"] for e in done["attempt_log"]] == [500, 502, 200]
    assert [e["response_body"] for e in done["attempt_log"]] == ["nope"] * 3  # 1 KB kept


def test_always_failing_is_dead_lettered_then_retried_by_hand(
    local: Any, receiver: PathReceiver, poll: Poll
) -> None:
    user_id, alice = new_caller(local, "out-dlq")
    # Four failures use the whole schedule; the fifth request (the manual retry) succeeds.
    url = receiver.script("/down", Script(statuses=[503, 503, 503, 503, 200]))
    hook = alice.webhook(url)
    answer = alice.publish()
    delivery_id, event_id = answer["deliveries"][0]["delivery_id"], answer["event_id"]

    failed = wait_status(poll, alice, delivery_id, "failed", timeout=60)
    assert failed["attempts"] == 4 and failed["last_status_code"] == 503
    assert [e["attempt"] for e in failed["attempt_log"]] == [1, 2, 3, 4]
    assert [lowered(r)["x-webhook-attempt"] for r in receiver.received("/down")] == [
        "1",
        "2",
        "3",
        "4",
    ]

    named = poll(
        lambda: [m for m in dead_letters(local) if m.get("delivery_id") == delivery_id], 10
    )
    assert len(named) == 1, named
    (record,) = named
    assert record["event_id"] == event_id and record["webhook_id"] == hook
    assert record["user_id"] == user_id and record["url"] == url
    assert record["event_type"] == "user.created" and record["attempts"] == 4
    assert record["last_status_code"] == 503 and record["last_error"]
    assert record["first_attempt_at"] <= record["last_attempt_at"]

    listed = alice.ok("GET", f"/v1/webhooks/{hook}/deliveries", params={"status": "failed"})
    assert [d["id"] for d in listed["data"]] == [delivery_id]

    # POST /v1/deliveries/{id}/retry: queued again now, and this time it is delivered.
    retried = alice.ok("POST", f"/v1/deliveries/{delivery_id}/retry", 202)
    assert retried == {"delivery_id": delivery_id, "status": "queued"}
    done = wait_status(poll, alice, delivery_id, "succeeded", timeout=60)
    assert done["attempts"] == 5 and done["attempt_log"][-1]["status_code"] == 200
    assert lowered(receiver.received("/down")[-1])["x-webhook-event-id"] == event_id
    again = alice.call("POST", f"/v1/deliveries/{delivery_id}/retry")
    assert again.status_code == 409


def test_410_stops_retries_and_disables_the_webhook(
    local: Any, receiver: PathReceiver, poll: Poll
) -> None:
    _, alice = new_caller(local, "out-gone")
    hook = alice.webhook(receiver.script("/gone", Script(statuses=[410])))
    answer = alice.publish()
    delivery_id = answer["deliveries"][0]["delivery_id"]
    done = wait_status(poll, alice, delivery_id, "failed", timeout=60)
    assert done["attempts"] == 1 and done["last_status_code"] == 410
    assert done["next_attempt_at"] is None
    # The worker records the attempt, then disables the webhook: another container's reader
    # may see the first a moment before the second.
    assert poll(lambda: alice.ok("GET", f"/v1/webhooks/{hook}")["active"] is False, timeout=30)
    # Disabled as "gone": later events are kept as skipped deliveries, never sent.
    assert [d["status"] for d in alice.publish()["deliveries"]] == ["skipped"]
    assert len(receiver.received("/gone")) == 1


def test_rotation_sends_two_signatures_during_the_window(
    local: Any, receiver: PathReceiver
) -> None:
    _, alice = new_caller(local, "out-rotate")
    alice.webhook(receiver.url("/rotated"))
    old = alice.secret()
    rotated = alice.ok("POST", "/v1/secret/rotate", json={"grace_seconds": 3600})
    new = rotated["secret"]
    assert new != old and rotated["previous_expires_at"]

    alice.publish()
    (request,) = receiver.wait_for("/rotated", 1, timeout=30)
    headers = lowered(request)
    timestamp = headers["x-webhook-timestamp"]
    assert headers["x-webhook-signature"] == (
        f"sha256={reference_hex(new, timestamp, request.body)} "
        f"sha256={reference_hex(old, timestamp, request.body)}"
    )
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert verify_signature(secret, headers, request.body)
        standard(secret).verify(request.body, headers)
        only_hex = {k: v for k, v in headers.items() if not k.startswith("webhook-")}
        assert verify_signature(secret, only_hex, request.body)
    stranger = "whcms_" + "A" * 43 + "="
    assert not verify_signature(stranger, headers, request.body)


# --- Test send, delivery lists and inspection --------------------------------------------


def test_test_route_and_delivery_lists(local: Any, receiver: PathReceiver, poll: Poll) -> None:
    _, alice = new_caller(local, "out-lists")
    hook = alice.webhook(receiver.script("/lists", Script(statuses=[200, 410])), ["user.*"])
    other = alice.webhook(receiver.url("/other"), ["*"])

    sent = alice.ok("POST", f"/v1/webhooks/{hook}/test", 202)
    assert set(sent) == {"event_id", "delivery_id"}
    (request,) = receiver.wait_for("/lists", 1, timeout=30)
    envelope = json.loads(request.body)
    assert envelope["type"] == "webhook.test" and envelope["id"] == sent["event_id"]
    assert envelope["data"]["webhook_id"] == hook
    assert lowered(request)["x-webhook-event"] == "webhook.test"
    wait_status(poll, alice, sent["delivery_id"], "succeeded")

    gone = alice.publish("user.deleted")["deliveries"][0]["delivery_id"]  # answered 410
    wait_status(poll, alice, gone, "failed")

    everything = alice.ok("GET", f"/v1/webhooks/{hook}/deliveries")
    assert [d["id"] for d in everything["data"]] == [gone, sent["delivery_id"]]  # newest first
    assert everything["next_cursor"] is None
    first = everything["data"][1]
    assert first["webhook_id"] == hook and first["event_type"] == "webhook.test"
    assert first["status"] == "succeeded" and first["attempts"] == 1
    assert "attempt_log" not in first
    by_status = {
        status: [
            d["id"]
            for d in alice.ok("GET", f"/v1/webhooks/{hook}/deliveries", params={"status": status})[
                "data"
            ]
        ]
        for status in ("queued", "retrying", "succeeded", "failed")
    }
    assert by_status == {
        "queued": [],
        "retrying": [],
        "succeeded": [sent["delivery_id"]],
        "failed": [gone],
    }
    page = alice.ok("GET", f"/v1/webhooks/{hook}/deliveries", params={"limit": 1})
    assert [d["id"] for d in page["data"]] == [gone] and page["next_cursor"]
    rest = alice.ok(
        "GET",
        f"/v1/webhooks/{hook}/deliveries",
        params={"limit": 1, "cursor": page["next_cursor"]},
    )
    assert [d["id"] for d in rest["data"]] == [sent["delivery_id"]]
    bad = alice.call("GET", f"/v1/webhooks/{hook}/deliveries", params={"status": "lost"})
    assert bad.status_code == 422 and set(bad.json()) == {"error"}

    detail = alice.delivery(gone)
    assert detail["attempt_log"][0]["status_code"] == 410
    assert set(detail["attempt_log"][0]) == {
        "attempt",
        "started_at",
        "duration_ms",
        "status_code",
        "error",
        "response_body",
    }
    # The test send went to that webhook only.
    assert [lowered(r)["x-webhook-event"] for r in receiver.wait_for("/other", 1)] == [
        "user.deleted"
    ]
    assert all(
        d["webhook_id"] == other
        for d in alice.ok("GET", f"/v1/webhooks/{other}/deliveries")["data"]
    )


# --- Tenant isolation on the outbound routes ---------------------------------------------


def test_tenant_isolation_on_outbound_routes(
    local: Any, receiver: PathReceiver, poll: Poll
) -> None:
    alice_id, alice = new_caller(local, "out-alice")
    _, bob = new_caller(local, "out-bob")
    hook = alice.webhook(receiver.url("/alice"))
    answer = alice.publish()
    delivery_id, event_id = answer["deliveries"][0]["delivery_id"], answer["event_id"]
    wait_status(poll, alice, delivery_id, "succeeded")
    bob_hook = bob.webhook(receiver.url("/bob"))

    for method, path, body in (
        ("GET", f"/v1/webhooks/{hook}", None),
        ("PATCH", f"/v1/webhooks/{hook}", {"url": receiver.url("/stolen")}),
        ("DELETE", f"/v1/webhooks/{hook}", None),
        ("POST", f"/v1/webhooks/{hook}/test", None),
        ("GET", f"/v1/webhooks/{hook}/deliveries", None),
        ("GET", f"/v1/deliveries/{delivery_id}", None),
        ("POST", f"/v1/deliveries/{delivery_id}/retry", None),
        ("GET", f"/v1/events/{event_id}", None),
        ("POST", f"/v1/events/{event_id}/replay", {}),
        ("POST", f"/v1/events/{event_id}/replay", {"webhook_id": hook}),
    ):
        reply = bob.call(method, path, json=body)
        assert reply.status_code == 404, (method, path, reply.text)
        assert reply.json()["error"]["code"] == "not_found"
    for path in ("/v1/webhooks", "/v1/events"):
        listed = bob.ok("GET", path)["data"]
        assert all(item["id"] not in (hook, event_id) for item in listed)
    assert [w["id"] for w in bob.ok("GET", "/v1/webhooks")["data"]] == [bob_hook]
    forbidden = bob.call(
        "POST", "/v1/events", json={"type": "user.created", "data": {}, "user_id": alice_id}
    )
    assert forbidden.status_code == 403
    assert bob.call("GET", "/v1/webhooks", params={"user_id": alice_id}).status_code == 403

    # Bob's events reach only his webhook; alice's stays as it was, and got only her event.
    bob_event = bob.publish()
    assert [d["webhook_id"] for d in bob_event["deliveries"]] == [bob_hook]
    assert len(receiver.wait_for("/bob", 1, timeout=30)) == 1
    assert receiver.received("/stolen") == []
    assert [lowered(r)["x-webhook-event-id"] for r in receiver.received("/alice")] == [event_id]
    assert alice.ok("GET", f"/v1/webhooks/{hook}")["url"] == receiver.url("/alice")
    assert alice.secret() != bob.secret()


# --- Nothing is lost: a crashing worker, a poison message, a slow receiver ---------------


@pytest.fixture
def in_process_worker(local: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The delivery worker's handler in this process, on the local service's AWS emulator."""
    prefix = "serverless-webhooks"
    env = {table.env_var: decl.resource_name(prefix, table.logical_id) for table in res.TABLES}
    for queue in res.QUEUES:
        env[queue.env_var] = local.queue_url(queue.logical_id)
        env[queue.dlq_env_var] = local.queue_url(queue.logical_id + "DLQ")
    machines = local.client("stepfunctions").list_state_machines()["stateMachines"]
    env[res.RETRY_STATE_MACHINE_ENV] = next(
        m["stateMachineArn"] for m in machines if m["name"].startswith(prefix)
    )
    env[res.RAW_BODY_BUCKET_ENV] = decl.resource_name(prefix, "raw-bodies").lower()
    env[res.ADMIN_KEY_SECRET_ENV] = f"{prefix}/admin-api-key"
    env[res.SECRET_PREFIX_ENV] = prefix
    env.update(
        AWS_ENDPOINT_URL=local.moto_url,
        WEBHOOKS_ALLOW_PRIVATE_TARGETS="1",
        WEBHOOKS_RETRY_SCHEDULE="1,1,1",
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_process_caches()
    yield lambda_handler
    monkeypatch.undo()
    reset_process_caches()


def test_a_worker_killed_mid_batch_loses_nothing(
    local: Any, receiver: PathReceiver, poll: Poll, in_process_worker: Any
) -> None:
    user_id, alice = new_caller(local, "out-crash")
    hook_id = alice.webhook(receiver.url("/crash"))
    hook = {"webhook_id": hook_id, "url": receiver.url("/crash"), "events": ["*"]}
    # Four events published but not yet queued: the batch a worker is about to get (their
    # deliveries have no records yet: their first attempts write them).
    prepared = [
        publishing.prepare(user_id, EventPublish(type="user.created", data={"n": n}), [hook])
        for n in range(4)
    ]
    assert not [p.records for p in prepared if p.records]
    dynamo.batch_put([(settings().events_table, p.event) for p in prepared])
    bodies = [json.dumps(publishing.queue_message(p.deliveries[0])) for p in prepared]
    batch = [
        {"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": body}
        for n, body in enumerate(bodies)
    ]
    poison = {"MessageId": "poison", "ReceiptHandle": "rp", "Body": "{not json"}

    # The first invocation handles two records and one bad one, then the worker dies:
    # only the bad record is reported, and nothing is acknowledged at all.
    response = in_process_worker(
        sqs_event([batch[0], poison, batch[1]], "arn:local"), LambdaContext("delivery_worker")
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert len(receiver.received("/crash")) == 2

    # As SQS does after the visibility timeout, the whole batch is delivered again: here to
    # the real local pollers, which run the same handler as the event source mapping would.
    sqs = local.client("sqs")
    queue_url = local.queue_url("DeliveryQueue")
    for message in [*batch, poison]:
        sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])

    delivery_ids = [p.deliveries[0]["delivery_id"] for p in prepared]
    for delivery_id in delivery_ids:
        wait_status(poll, alice, delivery_id, "succeeded", timeout=60)
    event_ids = sorted(lowered(r)["x-webhook-event-id"] for r in receiver.received("/crash"))
    assert event_ids == sorted(p.event["event_id"] for p in prepared)  # each exactly once
    # The poison message is retried by SQS alone and parked in the DLQ, holding nothing back.
    parked = poll(lambda: [m for m in dead_letters(local) if m.get("raw") == "{not json"], 20)
    assert parked, "the bad message should reach the DLQ after its receive limit"


def test_many_events_to_a_slow_receiver_all_end_succeeded_or_failed(
    local: Any, receiver: PathReceiver, poll: Poll
) -> None:
    _, alice = new_caller(local, "out-load")
    slow = alice.webhook(receiver.script("/slow", Script(delay_seconds=0.25)), ["user.*"])
    broken = alice.webhook(receiver.script("/broken", Script(statuses=[500])), ["order.*"])
    events = [
        {"type": "order.paid" if n % 4 == 0 else "user.updated", "data": {"n": n}}
        for n in range(40)
    ]
    published = alice.ok("POST", "/v1/events/batch", 202, json={"events": events})["data"]
    deliveries = [d for item in published for d in item["deliveries"]]
    assert len(deliveries) == 40

    def settled() -> bool:
        pending = [
            d["id"]
            for hook in (slow, broken)
            for status in ("queued", "retrying")
            for d in alice.ok(
                "GET",
                f"/v1/webhooks/{hook}/deliveries",
                params={"status": status, "limit": 100},
            )["data"]
        ]
        return not pending

    assert poll(settled, 40), "some deliveries are still queued or retrying"
    final = {
        hook: {
            d["id"]: d["status"]
            for d in alice.ok("GET", f"/v1/webhooks/{hook}/deliveries", params={"limit": 100})[
                "data"
            ]
        }
        for hook in (slow, broken)
    }
    assert set(final[slow].values()) == {"succeeded"} and len(final[slow]) == 30
    assert set(final[broken].values()) == {"failed"} and len(final[broken]) == 10
    assert {d["delivery_id"] for d in deliveries} == set(final[slow]) | set(final[broken])
    slow_events = {lowered(r)["x-webhook-event-id"] for r in receiver.received("/slow")}
    assert slow_events == {
        item["event_id"]
        for item, event in zip(published, events, strict=True)
        if event["type"] == "user.updated"
    }
    assert len(receiver.received("/broken")) == 40  # 10 deliveries x 4 attempts

"""Publish, fan-out and the delivery worker in-process over moto, with a real HTTP receiver.

The delivery queue is drained by the test itself the way an event source mapping would:
receive a batch, call the worker's handler with the SQS event, delete what it did not report.
Retries are not waited for: the test reads what the worker scheduled (tests/support/retries.py:
a message re-queued with DelaySeconds when due within 15 min, else the Step Functions execution
that will re-queue it) and hands that message to the worker itself. The deployment schedule is
600 s here, so the re-queued messages never become visible during the test run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import standardwebhooks

from shared.core.aws import client
from shared.core.config import settings
from shared.outbound import webhooks
from shared.outbound.signing import verify_signature
from shared.schemas.requests import WebhookCreate
from shared.store import webhooks as webhooks_table
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi
from tests.support.faults import invoke_worker, receive_all
from tests.support.receiver import Received, Receiver, Script
from tests.support.retries import executions, for_delivery, requeued_entries, scheduled

SCHEDULE = (600, 600, 600)  # 3 retries → 4 attempts


class PathReceiver:
    """One real receiver for the whole module (its shutdown is slow), a path prefix per test."""

    def __init__(self, server: Receiver, prefix: str) -> None:
        self.server, self.prefix = server, prefix

    def url(self, path: str) -> str:
        return self.server.url(self.prefix + path)

    def script(self, path: str, script: Script) -> str:
        return self.server.script(self.prefix + path, script)

    def received(self, path: str) -> list[Received]:
        return self.server.received(self.prefix + path)

    @property
    def requests(self) -> list[Received]:
        with self.server.lock:
            mine = [r for r in self.server.requests if r.path.startswith(self.prefix + "/")]
        return [replace(r, path=r.path.removeprefix(self.prefix)) for r in mine]


@pytest.fixture(scope="module")
def http_server() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def receiver(http_server: Receiver, request: pytest.FixtureRequest) -> PathReceiver:
    return PathReceiver(http_server, "/" + request.node.name.replace("[", "-").rstrip("]"))


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE", ",".join(str(s) for s in SCHEDULE))
    settings.cache_clear()
    yield aws
    settings.cache_clear()


@pytest.fixture
def api(env: dict[str, str]) -> InProcessApi:
    return InProcessApi()


# --- Helpers: the event source mapping, Step Functions, the API --------------------------


def acknowledge(queue_url: str, messages: list[dict[str, Any]], response: dict[str, Any]) -> None:
    """What the event source mapping does after the invocation: delete all but the failures."""
    failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
    for message in messages:
        if message["MessageId"] not in failed:
            client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def drain(env: dict[str, str]) -> dict[str, Any]:
    """Receive every queued delivery, run the worker on them, acknowledge: one ESM cycle."""
    queue_url = env["DELIVERY_QUEUE_URL"]
    messages = receive_all(queue_url)
    response = invoke_worker(messages) if messages else {"batchItemFailures": []}
    acknowledge(queue_url, messages, response)
    return {"messages": messages, **response}


def message_for(body: dict[str, Any]) -> dict[str, Any]:
    """An SQS message as `receive_message` returns it, for a body we hand to the worker."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {"MessageId": digest[:32], "ReceiptHandle": digest, "Body": json.dumps(body)}


@pytest.fixture
def requeued(env: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
    with requeued_entries(env["DELIVERY_QUEUE_URL"]) as entries:
        yield entries


def retries_of(env: dict[str, str], requeued: list[dict[str, Any]], delivery_id: str) -> Any:
    """The retries scheduled for one delivery so far, by either carrier."""
    return for_delivery(scheduled(requeued, env["RETRY_STATE_MACHINE_ARN"]), delivery_id)


def delivery(api: InProcessApi, key: str, delivery_id: str) -> dict[str, Any]:
    reply = api.request("GET", f"/v1/deliveries/{delivery_id}", key)
    assert reply.status == 200, reply.body
    return dict(reply.json())


def register(api: InProcessApi, key: str, url: str, **fields: Any) -> str:
    body = {"url": url, "events": ["user.created"], **fields}
    reply = api.request("POST", "/v1/webhooks", key, body)
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


def publish(api: InProcessApi, key: str, event_type: str = "user.created", **extra: Any) -> Any:
    body = {"type": event_type, "data": {"name": "Ada"}, **extra}
    reply = api.request("POST", "/v1/events", key, body)
    assert reply.status in (200, 202), reply.body
    return reply.json()


def dlq_bodies(env: dict[str, str]) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in receive_all(env["DELIVERY_DLQ_URL"])]


# --- Publish: matching and fan-out -------------------------------------------------------


def test_publish_matches_exact_prefix_and_star_of_active_own_webhooks(
    api: InProcessApi, alice: str, receiver: PathReceiver, env: dict[str, str]
) -> None:
    bob = api.new_user_key(ADMIN_KEY, "bob")
    exact = register(api, alice, receiver.url("/exact"), events=["user.created"])
    prefix = register(api, alice, receiver.url("/prefix"), events=["user.*"])
    star = register(api, alice, receiver.url("/star"), events=["*"])
    several = register(api, alice, receiver.url("/several"), events=["order.*", "user.created"])
    other_prefix = register(api, alice, receiver.url("/other-prefix"), events=["order.*"])
    register(api, alice, receiver.url("/other-type"), events=["user.deleted"])
    register(api, alice, receiver.url("/near-miss"), events=["user.created.v2", "users.*"])
    register(api, alice, receiver.url("/inactive"), events=["*"], active=False)
    register(api, bob, receiver.url("/bob"), events=["*"])

    answer = publish(api, alice)
    assert answer["event_id"].startswith("evt_")
    assert {d["webhook_id"] for d in answer["deliveries"]} == {exact, prefix, star, several}
    assert all(d["status"] == "queued" for d in answer["deliveries"])
    assert all(d["delivery_id"].startswith("dlv_") for d in answer["deliveries"])

    cycle = drain(env)
    assert len(cycle["messages"]) == 4 and cycle["batchItemFailures"] == []
    hit = {request.path for request in receiver.requests}
    assert hit == {"/exact", "/prefix", "/star", "/several"}
    assert len(receiver.requests) == 4
    for item in answer["deliveries"]:
        assert delivery(api, alice, item["delivery_id"])["status"] == "succeeded"

    # An admin may publish for alice; bob may not, and his own publish reaches only his hook.
    answer = publish(api, ADMIN_KEY, event_type="order.paid", user_id="alice")
    assert {d["webhook_id"] for d in answer["deliveries"]} == {star, several, other_prefix}
    refused = api.request(
        "POST", "/v1/events", bob, {"type": "user.created", "data": {}, "user_id": "alice"}
    )
    assert refused.status == 403 and refused.json()["error"]["code"] == "forbidden"
    assert len(publish(api, bob)["deliveries"]) == 1
    assert len(drain(env)["messages"]) == 4
    assert len(receiver.received("/bob")) == 1 and len(receiver.received("/star")) == 2


def test_idempotent_publish_by_caller_id(
    api: InProcessApi, alice: str, receiver: PathReceiver, env: dict[str, str]
) -> None:
    register(api, alice, receiver.url("/a"), events=["*"])
    register(api, alice, receiver.url("/b"), events=["user.*"])
    body = {"type": "user.created", "data": {"n": 1}, "id": "order-42"}
    first = api.request("POST", "/v1/events", alice, body)
    assert first.status == 202
    assert len(receive_all(env["DELIVERY_QUEUE_URL"])) == 2

    again = api.request("POST", "/v1/events", alice, {**body, "data": {"n": 2}})
    assert again.status == 200
    assert again.json() == first.json()
    assert receive_all(env["DELIVERY_QUEUE_URL"]) == []  # nothing queued the second time
    events = api.request("GET", "/v1/events?direction=outbound", alice).json()["data"]
    assert [event["id"] for event in events] == [first.json()["event_id"]]

    # The same caller id of another user is another event.
    bob = api.new_user_key(ADMIN_KEY, "bob")
    other = api.request("POST", "/v1/events", bob, body)
    assert other.status == 202 and other.json()["event_id"] != first.json()["event_id"]


def test_publish_batch(
    api: InProcessApi, alice: str, receiver: PathReceiver, env: dict[str, str]
) -> None:
    register(api, alice, receiver.url("/users"), events=["user.*"])
    register(api, alice, receiver.url("/all"), events=["*"])
    publish(api, alice, id="seen-before")
    receive_all(env["DELIVERY_QUEUE_URL"])
    batch = {
        "events": [
            {"type": "user.created", "data": {"i": 0}, "id": "seen-before"},
            {"type": "user.created", "data": {"i": 1}, "id": "fresh"},
            {"type": "order.paid", "data": {"i": 2}},
            {"type": "user.deleted", "data": {"i": 3}},
        ]
    }
    reply = api.request("POST", "/v1/events/batch", alice, batch)
    assert reply.status == 202
    data = reply.json()["data"]
    assert [item["duplicate"] for item in data] == [True, False, False, False]
    assert [len(item["deliveries"]) for item in data] == [2, 2, 1, 2]
    assert len({item["event_id"] for item in data}) == 4
    queued = receive_all(env["DELIVERY_QUEUE_URL"])
    assert len(queued) == 5  # the duplicate queued nothing
    queued_ids = {json.loads(m["Body"])["delivery_id"] for m in queued}
    assert queued_ids == {d["delivery_id"] for item in data[1:] for d in item["deliveries"]}

    bad = api.request("POST", "/v1/events/batch", alice, {"events": [{"type": "Bad", "data": {}}]})
    assert bad.status == 422
    too_many = {"events": [{"type": "a.b", "data": {}}] * 101}
    assert api.request("POST", "/v1/events/batch", alice, too_many).status == 422


# --- AWS call counts of the hot paths ----------------------------------------------------


def test_publish_call_counts(api: InProcessApi, calls: Any, env: dict[str, str]) -> None:
    # A warm container has loaded the event type catalog (one Query per cache window).
    warm = {"type": "warm.up", "data": {}, "user_id": "warmup"}
    assert api.request("POST", "/v1/events", ADMIN_KEY, warm).status == 202
    for n in (1, 10, 30):
        user = f"counter{n}"
        key = api.new_user_key(ADMIN_KEY, user)
        for position in range(n):
            webhooks.create(
                user,
                WebhookCreate(url=f"http://127.0.0.1:9/{position}", events=["user.*"]),
            )
        webhooks.create(user, WebhookCreate(url="http://127.0.0.1:9/x", events=["order.*"]))
        assert api.request("GET", "/v1/webhooks?limit=1", key).status == 200  # warm key cache
        calls.reset()
        answer = publish(api, key)
        counted = dict(calls.calls)
        assert len(answer["deliveries"]) == n
        assert counted["dynamodb.Query"] == 1, counted
        assert counted["sqs.SendMessageBatch"] == math.ceil(n / 10), counted
        assert calls.total <= 2 + math.ceil(n / 10) + math.ceil(n / 25), counted
        assert not any(name.startswith("dynamodb.Scan") for name in counted)
        assert len(receive_all(env["DELIVERY_QUEUE_URL"])) == n


def test_warm_successful_delivery_uses_at_most_two_aws_calls(
    api: InProcessApi, alice: str, receiver: PathReceiver, calls: Any, env: dict[str, str]
) -> None:
    register(api, alice, receiver.url("/warm"), events=["*"])
    api.request("GET", "/v1/secret", alice)
    publish(api, alice)
    drain(env)  # first delivery: the signing secret is read and cached
    answer = publish(api, alice)
    messages = receive_all(env["DELIVERY_QUEUE_URL"])
    assert len(messages) == 1
    calls.reset()
    response = invoke_worker(messages)
    counted = dict(calls.calls)
    assert response == {"batchItemFailures": []}
    assert calls.total <= 2, counted
    assert counted == {"dynamodb.BatchGetItem": 1, "dynamodb.UpdateItem": 1}
    assert len(receiver.received("/warm")) == 2
    assert delivery(api, alice, answer["deliveries"][0]["delivery_id"])["status"] == "succeeded"

    # SQS delivers the same message again: nothing is sent, one read is all it costs.
    calls.reset()
    assert invoke_worker(messages) == {"batchItemFailures": []}
    assert dict(calls.calls) == {"dynamodb.BatchGetItem": 1}
    assert len(receiver.received("/warm")) == 2


# --- What a delivery looks like ----------------------------------------------------------


def test_delivery_is_signed_and_shaped_per_spec(
    api: InProcessApi, alice: str, receiver: PathReceiver, env: dict[str, str]
) -> None:
    hook = register(api, alice, receiver.url("/shape"), events=["*"], headers={"X-Tenant": "t1"})
    secret = api.request("GET", "/v1/secret", alice).json()["secret"]
    answer = publish(api, alice, data={"name": "Zoë", "n": 1.5, "tags": ["a"]})
    drain(env)
    (request,) = receiver.received("/shape")
    headers = {name.lower(): value for name, value in request.headers.items()}
    event_id = answer["event_id"]
    delivery_id = answer["deliveries"][0]["delivery_id"]
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("serverless-webhooks/")
    assert headers["x-webhook-event-id"] == event_id == headers["webhook-id"]
    assert headers["x-webhook-event"] == "user.created"
    assert headers["x-webhook-delivery-id"] == delivery_id
    assert headers["x-webhook-attempt"] == "1"
    assert headers["x-webhook-timestamp"] == headers["webhook-timestamp"]
    assert headers["x-tenant"] == "t1"

    envelope = json.loads(request.body)
    assert set(envelope) == {"id", "type", "created_at", "api_version", "data"}
    assert envelope["id"] == event_id and envelope["type"] == "user.created"
    assert envelope["api_version"] == "2026-11-01" and envelope["created_at"].endswith("Z")
    assert envelope["data"] == {"name": "Zoë", "n": 1.5, "tags": ["a"]}

    timestamp = headers["x-webhook-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, "sha256")
    assert headers["x-webhook-signature"] == "sha256=" + expected.hexdigest()
    standardwebhooks.Webhook("whsec_" + secret.removeprefix("whcms_")).verify(request.body, headers)
    assert verify_signature(secret, headers, request.body)
    assert hook == answer["deliveries"][0]["webhook_id"]


# --- Failures, retries and the DLQ -------------------------------------------------------


def test_failure_requeues_the_retry_with_its_delay_and_no_execution(
    api: InProcessApi,
    alice: str,
    receiver: PathReceiver,
    env: dict[str, str],
    requeued: list[dict[str, Any]],
) -> None:
    register(api, alice, receiver.script("/down", Script(statuses=[500])), events=["*"])
    answer = publish(api, alice)
    delivery_id = answer["deliveries"][0]["delivery_id"]
    cycle = drain(env)
    assert cycle["batchItemFailures"] == []  # a receiver failure is not an SQS failure

    found = delivery(api, alice, delivery_id)
    assert found["status"] == "retrying" and found["attempts"] == 1
    assert found["last_status_code"] == 500 and found["next_attempt_at"]
    # 600 s is within SQS's 15 min: the message goes back on the queue itself, no execution.
    (retry,) = retries_of(env, requeued, delivery_id)
    assert retry.carrier == "queue" and executions(env["RETRY_STATE_MACHINE_ARN"]) == {}
    assert round(SCHEDULE[0] * 0.9) <= retry.delay <= round(SCHEDULE[0] * 1.1)
    # the retry carries the original message plus the attempt it is for (duplicates are spotted)
    assert retry.message == {**json.loads(cycle["messages"][0]["Body"]), "attempt": 2}
    assert receive_all(env["DELIVERY_QUEUE_URL"]) == []  # invisible until its delay is over


@pytest.mark.parametrize(
    ("delay", "carrier"), [(600, "sqs.SendMessageBatch"), (3600, "stepfunctions.StartExecution")]
)
def test_a_batch_of_ten_failures_costs_one_carrier_call(
    api: InProcessApi,
    alice: str,
    receiver: PathReceiver,
    calls: Any,
    env: dict[str, str],
    requeued: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    delay: int,
    carrier: str,
) -> None:
    """Before: each retry was its own StartExecution (4 billed transitions, $100 per million).
    Now a worker batch's retries cost one call between them: a SendMessageBatch within 15 min,
    beyond it one execution for the step."""
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE", str(delay))
    settings.cache_clear()
    register(api, alice, receiver.script("/ten", Script(statuses=[500])), events=["*"])
    api.request("GET", "/v1/secret", alice)
    publish(api, alice)
    drain(env)  # the signing secret is read and cached; this delivery's retry is scheduled
    for _ in range(10):
        publish(api, alice)
    messages = receive_all(env["DELIVERY_QUEUE_URL"])
    assert len(messages) == 10
    calls.reset()
    assert invoke_worker(messages) == {"batchItemFailures": []}
    assert dict(calls.calls) == {
        "dynamodb.BatchGetItem": 1,  # the batch's items, read once (worker.load_batch)
        "dynamodb.UpdateItem": 10,
        carrier: 1,
    }
    found = scheduled(requeued, env["RETRY_STATE_MACHINE_ARN"])
    assert len(found) == 11
    assert {item.carrier == "queue" for item in found} == {delay <= 900}


def test_final_failure_marks_failed_and_dead_letters_once(
    api: InProcessApi,
    alice: str,
    receiver: PathReceiver,
    env: dict[str, str],
    requeued: list[dict[str, Any]],
) -> None:
    url = receiver.script("/always", Script(statuses=[503], body=b"maintenance"))
    hook = register(api, alice, url, events=["*"])
    answer = publish(api, alice)
    delivery_id, event_id = answer["deliveries"][0]["delivery_id"], answer["event_id"]
    drain(env)
    for attempt in range(2, len(SCHEDULE) + 2):
        retry = retries_of(env, requeued, delivery_id)[-1]
        assert retry.message["attempt"] == attempt
        assert round(600 * 0.9) <= retry.delay <= round(600 * 1.1)
        assert invoke_worker([message_for(retry.message)]) == {"batchItemFailures": []}
    assert [r.message["attempt"] for r in retries_of(env, requeued, delivery_id)] == [2, 3, 4]

    requests = receiver.received("/always")
    assert [r.headers["X-Webhook-Attempt"] for r in requests] == ["1", "2", "3", "4"]
    assert {r.headers["X-Webhook-Event-Id"] for r in requests} == {event_id}
    final = delivery(api, alice, delivery_id)
    assert final["status"] == "failed" and final["attempts"] == 4
    assert final["last_status_code"] == 503 and final["next_attempt_at"] is None
    assert [entry["attempt"] for entry in final["attempt_log"]] == [1, 2, 3, 4]
    assert all(entry["response_body"] == "maintenance" for entry in final["attempt_log"])

    (record,) = dlq_bodies(env)
    assert record["delivery_id"] == delivery_id and record["event_id"] == event_id
    assert record["webhook_id"] == hook and record["user_id"] == "alice"
    assert record["url"] == url and record["event_type"] == "user.created"
    assert record["attempts"] == 4 and record["last_status_code"] == 503
    assert record["last_error"] and record["first_attempt_at"] <= record["last_attempt_at"]

    # A redelivered copy of the last message sends nothing and parks nothing more.
    last = retries_of(env, requeued, delivery_id)[-1].message
    invoke_worker([message_for(last)])
    assert len(receiver.received("/always")) == 4 and dlq_bodies(env) == []


def test_410_gone_stops_retries_and_disables_the_webhook(
    api: InProcessApi,
    alice: str,
    receiver: PathReceiver,
    env: dict[str, str],
    requeued: list[dict[str, Any]],
) -> None:
    hook = register(api, alice, receiver.script("/gone", Script(statuses=[410])), events=["*"])
    answer = publish(api, alice)
    drain(env)
    found = delivery(api, alice, answer["deliveries"][0]["delivery_id"])
    assert found["status"] == "failed" and found["last_status_code"] == 410
    assert found["attempts"] == 1
    assert scheduled(requeued, env["RETRY_STATE_MACHINE_ARN"]) == []
    assert api.request("GET", f"/v1/webhooks/{hook}", alice).json()["active"] is False
    # Disabled as "gone": later events are kept as skipped deliveries (README "Skipped
    # deliveries and recover"), never sent.
    (skipped,) = publish(api, alice)["deliveries"]
    assert (skipped["webhook_id"], skipped["status"]) == (hook, "skipped")
    assert len(receiver.received("/gone")) == 1


def test_retry_after_is_honoured_up_to_the_cap(
    api: InProcessApi,
    alice: str,
    receiver: PathReceiver,
    env: dict[str, str],
    requeued: list[dict[str, Any]],
) -> None:
    expected = {}
    for status in (429, 503):
        slow = receiver.script(
            f"/slow{status}", Script(statuses=[status], headers={"Retry-After": "1200"})
        )
        capped = receiver.script(
            f"/capped{status}", Script(statuses=[status], headers={"Retry-After": "5000"})
        )
        register(api, alice, slow, events=["*"])
        register(
            api,
            alice,
            capped,
            events=["*"],
            retry={"attempts": 3, "initial_delay_seconds": 60, "max_delay_seconds": 900},
        )
        expected.update({slow: 1200, capped: 900})
    publish(api, alice)
    drain(env)
    delays, carriers = {}, {}
    for retry in scheduled(requeued, env["RETRY_STATE_MACHINE_ARN"]):
        url = delivery(api, alice, retry.message["delivery_id"])["url"]
        delays[url], carriers[url] = retry.delay, retry.carrier
    assert delays == expected
    # 900 s rides the queue; the two 1200 s retries of this batch share one execution.
    assert {carriers[url] for url, delay in expected.items() if delay == 900} == {"queue"}
    long = {carriers[url] for url, delay in expected.items() if delay == 1200}
    assert len(long) == 1 and long != {"queue"}


def test_ssrf_is_checked_again_at_delivery_time(
    api: InProcessApi,
    alice: str,
    receiver: PathReceiver,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "0")
    settings.cache_clear()
    # Registration would refuse these now; a record written earlier (or a DNS name re-pointed
    # since) is what the delivery-time check is for. Registration would also have made the
    # user's signing secret (the worker only reads it): make it here.
    api.request("GET", "/v1/secret", alice)
    for position, url in enumerate(
        (receiver.url("/ssrf"), receiver.url("/ssrf").replace("127.0.0.1", "localhost"))
    ):
        webhooks_table.put(
            {
                "user_id": "alice",
                "webhook_id": f"wh_ssrf{position}",
                "url": url,
                "events": ["*"],
                "description": "",
                "active": True,
                "created_at": "2026-01-01T00:00:00.000Z",
                "updated_at": "2026-01-01T00:00:00.000Z",
            }
        )
    answer = publish(api, alice)
    assert len(answer["deliveries"]) == 2
    assert drain(env)["batchItemFailures"] == []
    assert receiver.received("/ssrf") == []
    for item in answer["deliveries"]:
        found = delivery(api, alice, item["delivery_id"])
        (entry,) = found["attempt_log"]
        assert entry["status_code"] is None and entry["error"].startswith("refused")
        assert found["status"] == "retrying" and found["last_error"].startswith("refused")


# --- The worker under the event source mapping -------------------------------------------


def test_only_unprocessable_records_are_reported_as_batch_failures(
    api: InProcessApi, alice: str, receiver: PathReceiver, env: dict[str, str]
) -> None:
    register(api, alice, receiver.url("/ok"), events=["*"])
    register(api, alice, receiver.script("/fails", Script(statuses=[500])), events=["*"])
    answer = publish(api, alice)
    good = receive_all(env["DELIVERY_QUEUE_URL"])
    bad_json = {"MessageId": "bad-json", "ReceiptHandle": "r1", "Body": "{not json"}
    bad_shape = message_for({"delivery_id": "dlv_x"})  # no user_id, no event_id
    gone = message_for(
        {"delivery_id": "dlv_gone", "user_id": "alice", "event_id": "evt_x", "webhook_id": None}
    )
    response = invoke_worker([good[0], bad_json, good[1], bad_shape, gone])
    assert sorted(item["itemIdentifier"] for item in response["batchItemFailures"]) == sorted(
        ["bad-json", bad_shape["MessageId"]]
    )
    statuses = {
        delivery(api, alice, d["delivery_id"])["url"]: delivery(api, alice, d["delivery_id"])[
            "status"
        ]
        for d in answer["deliveries"]
    }
    assert statuses == {receiver.url("/ok"): "succeeded", receiver.url("/fails"): "retrying"}


def test_a_worker_killed_mid_batch_loses_nothing(
    api: InProcessApi, alice: str, receiver: PathReceiver, env: dict[str, str]
) -> None:
    register(api, alice, receiver.url("/crash"), events=["*"])
    published = [publish(api, alice) for _ in range(6)]
    delivery_ids = [p["deliveries"][0]["delivery_id"] for p in published]
    queue_url = env["DELIVERY_QUEUE_URL"]
    batch = receive_all(queue_url)
    assert len(batch) == 6

    # The worker gets through part of the batch, then dies: nothing is acknowledged.
    invoke_worker(batch[:2])
    assert len(receiver.received("/crash")) == 2
    statuses = [delivery(api, alice, d)["status"] for d in delivery_ids]
    assert statuses.count("succeeded") == 2 and statuses.count("queued") == 4

    # The visibility timeout runs out: the whole batch comes back, as SQS would do.
    sqs = client("sqs")
    for message in batch:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    cycle = drain(env)
    assert len(cycle["messages"]) == 6 and cycle["batchItemFailures"] == []
    assert all(delivery(api, alice, d)["status"] == "succeeded" for d in delivery_ids)
    assert receive_all(queue_url) == []
    # Those sent before the crash were not sent again; each event arrived exactly once.
    event_ids = [r.headers["X-Webhook-Event-Id"] for r in receiver.received("/crash")]
    assert sorted(event_ids) == sorted(p["event_id"] for p in published)


def test_manual_retry_only_for_failed_deliveries(
    api: InProcessApi, alice: str, receiver: PathReceiver, env: dict[str, str]
) -> None:
    register(api, alice, receiver.script("/flaky", Script(statuses=[410, 200])), events=["*"])
    answer = publish(api, alice)
    delivery_id = answer["deliveries"][0]["delivery_id"]
    early = api.request("POST", f"/v1/deliveries/{delivery_id}/retry", alice)
    assert early.status == 409 and early.json()["error"]["code"] == "delivery_not_failed"
    drain(env)
    assert delivery(api, alice, delivery_id)["status"] == "failed"

    bob = api.new_user_key(ADMIN_KEY, "bob")
    assert api.request("POST", f"/v1/deliveries/{delivery_id}/retry", bob).status == 404
    assert api.request("GET", f"/v1/deliveries/{delivery_id}", bob).status == 404
    assert api.request("POST", "/v1/deliveries/dlv_missing/retry", alice).status == 404

    reply = api.request("POST", f"/v1/deliveries/{delivery_id}/retry", alice)
    assert reply.status == 202
    assert reply.json() == {"delivery_id": delivery_id, "status": "queued"}
    # The 410 disabled the webhook: re-enable it, then the retried delivery goes out.
    hook = answer["deliveries"][0]["webhook_id"]
    api.request("PATCH", f"/v1/webhooks/{hook}", alice, {"active": True})
    drain(env)
    final = delivery(api, alice, delivery_id)
    assert final["status"] == "succeeded" and final["attempts"] == 2
    assert [e["status_code"] for e in final["attempt_log"]] == [410, 200]

"""AWS faults on every hot path: throttling and 5xx injected into the calls our code makes.

A few failures are ridden out by botocore's retries (standard mode) and the request succeeds.
A fault that outlasts them fails the request cleanly: the API answers a JSON 500 without a
stack trace and keeps nothing half-written, the delivery worker reports the message in
`batchItemFailures` so SQS delivers it again. Once the fault clears, the caller's retry (or
SQS's redelivery) finishes the job: every event reaches every receiver at least once, and
never again after its delivery was recorded `succeeded`.

Faults are answered before moto sees the request (see tests.support.faults), so an injected
throttle has no side effect, as with AWS. Botocore's backoff is shortened to 1 ms.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from functions.delivery_worker.handler import lambda_handler as worker_handler
from infra.local.__main__ import make_request_handler
from infra.local.gateway import Gateway
from infra.local.pollers import QueuePoller
from shared.access import auth
from shared.core.aws import CLIENT_CONFIG, client
from shared.store import secrets
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi, Reply
from tests.support.faults import (
    FaultSet,
    acknowledge,
    failed_ids,
    invoke_worker,
    receive_all,
    retry_executions,
    wait_for_executions,
)
from tests.support.receiver import Receiver, Script

# `max_attempts` in botocore's retries config counts retries: the first try plus these.
TRIES = 1 + int(CLIENT_CONFIG.retries["max_attempts"])


def register(api: InProcessApi, key: str, url: str, **fields: Any) -> str:
    reply = api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"], **fields})
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


def assert_clean_500(reply: Reply) -> None:
    assert reply.status == 500, reply.body
    assert reply.headers.get("content-type", "").startswith("application/json")
    assert reply.json() == {
        "error": {"code": "internal_error", "message": "internal error, nothing was lost"}
    }
    assert b"Traceback" not in reply.body and b"injected" not in reply.body


def delivery(api: InProcessApi, key: str, delivery_id: str) -> dict[str, Any]:
    reply = api.request("GET", f"/v1/deliveries/{delivery_id}", key)
    assert reply.status == 200, reply.body
    return dict(reply.json())


def drain(aws: dict[str, str]) -> dict[str, Any]:
    """One event source mapping cycle over everything queued."""
    messages = receive_all(aws["DELIVERY_QUEUE_URL"])
    response = invoke_worker(messages) if messages else {"batchItemFailures": []}
    acknowledge(aws["DELIVERY_QUEUE_URL"], messages, response)
    return {"messages": messages, **response}


def event_ids_received(receiver: Receiver, path: str) -> list[str]:
    return [json.loads(request.body)["id"] for request in receiver.received(path)]


# --- Publish ---------------------------------------------------------------------------------


def test_publish_rides_out_transient_faults_on_every_call(
    api: InProcessApi, alice: str, aws: dict[str, str], receiver: Receiver, faults: FaultSet
) -> None:
    paths = ("/a", "/b", "/c")
    for path in paths:
        register(api, alice, receiver.url(path))
    # A warm container (the event type catalog loaded), so the Query fault hits the webhooks'.
    warm = {"type": "warm.up", "data": {}, "user_id": "warmup"}
    assert api.request("POST", "/v1/events", ADMIN_KEY, warm).status == 202
    cases = [
        ("dynamodb", "Query", "throttle", None),  # the user's active webhooks
        ("dynamodb", "BatchWriteItem", "5xx", None),  # event and deliveries, no caller id
        ("dynamodb", "TransactWriteItems", "throttle", "order-1"),  # with a caller id
        ("sqs", "SendMessageBatch", "throttle", None),
        ("sqs", "SendMessageBatch", "5xx", "order-2"),
    ]
    published = []
    for service, operation, kind, caller_id in cases:
        fault = faults(service, operation, kind=kind, times=2)
        body: dict[str, Any] = {"type": "user.created", "data": {"op": operation}}
        if caller_id:
            body["id"] = caller_id
        reply = api.request("POST", "/v1/events", alice, body)
        assert reply.status == 202, (operation, reply.body)
        assert (fault.injected, fault.passed) == (2, 1), operation  # third try went through
        fault.remove()
        published.append(reply.json())

    # Each delivery was queued exactly once: a retried send does not double the messages.
    messages = receive_all(aws["DELIVERY_QUEUE_URL"])
    queued = sorted(json.loads(m["Body"])["delivery_id"] for m in messages)
    assert queued == sorted(d["delivery_id"] for p in published for d in p["deliveries"])
    assert len(queued) == len(cases) * len(paths)
    assert invoke_worker(messages) == {"batchItemFailures": []}
    for path in paths:
        assert sorted(event_ids_received(receiver, path)) == sorted(
            p["event_id"] for p in published
        )


PERSISTENT_PUBLISH_FAULTS = [
    pytest.param("dynamodb", "Query", "throttle", "order-1", id="query"),
    pytest.param("dynamodb", "BatchWriteItem", "5xx", None, id="batch-write"),
    pytest.param("dynamodb", "TransactWriteItems", "throttle", "order-1", id="transact-write"),
    pytest.param("sqs", "SendMessageBatch", "throttle", "order-1", id="send-batch-idempotent"),
    pytest.param("sqs", "SendMessageBatch", "5xx", None, id="send-batch"),
]


@pytest.mark.parametrize(("service", "operation", "kind", "caller_id"), PERSISTENT_PUBLISH_FAULTS)
def test_publish_fails_cleanly_and_the_retry_delivers_once(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    receiver: Receiver,
    faults: FaultSet,
    service: str,
    operation: str,
    kind: str,
    caller_id: str | None,
) -> None:
    webhooks = [register(api, alice, receiver.url(path)) for path in ("/a", "/b")]
    body: dict[str, Any] = {"type": "user.created", "data": {"n": 1}}
    if caller_id:
        body["id"] = caller_id
    fault = faults(service, operation, kind=kind)
    assert_clean_500(api.request("POST", "/v1/events", alice, body))
    assert fault.injected >= TRIES  # botocore retried before giving up

    # Nothing half-written: no event, no delivery, no message, no caller id taken.
    fault.clear()
    assert api.request("GET", "/v1/events", alice).json()["data"] == []
    for webhook_id in webhooks:
        listed = api.request("GET", f"/v1/webhooks/{webhook_id}/deliveries", alice).json()
        assert listed["data"] == []
    assert receive_all(aws["DELIVERY_QUEUE_URL"]) == []

    # The caller retries the same request: a fresh publish (not an answer as a duplicate whose
    # deliveries never reached the queue), delivered once to each receiver.
    retried = api.request("POST", "/v1/events", alice, body)
    assert retried.status == 202, retried.body
    assert drain(aws)["batchItemFailures"] == []
    event_id = retried.json()["event_id"]
    for path in ("/a", "/b"):
        assert event_ids_received(receiver, path) == [event_id]
    assert [e["id"] for e in api.request("GET", "/v1/events", alice).json()["data"]] == [event_id]


def test_batch_publish_failing_halfway_keeps_nothing_of_it(
    api: InProcessApi, alice: str, aws: dict[str, str], receiver: Receiver, faults: FaultSet
) -> None:
    register(api, alice, receiver.url("/a"))
    batch = {
        "events": [
            {"type": "user.created", "data": {"n": n}, "id": f"order-{n}"} for n in (1, 2, 3)
        ]
    }
    # The first event's transaction commits, the second's is throttled for good.
    fault = faults(
        "dynamodb", "TransactWriteItems", only_if=lambda body: b"publish#alice#order-2" in body
    )
    assert_clean_500(api.request("POST", "/v1/events/batch", alice, batch))
    assert fault.injected == TRIES
    fault.clear()
    assert api.request("GET", "/v1/events", alice).json()["data"] == []

    retried = api.request("POST", "/v1/events/batch", alice, batch)
    assert retried.status == 202, retried.body
    answers = retried.json()["data"]
    assert [answer["duplicate"] for answer in answers] == [False, False, False]
    assert drain(aws)["batchItemFailures"] == []
    assert sorted(event_ids_received(receiver, "/a")) == sorted(a["event_id"] for a in answers)


def test_manual_retry_that_could_not_be_queued_can_be_asked_again(
    api: InProcessApi, alice: str, aws: dict[str, str], receiver: Receiver, faults: FaultSet
) -> None:
    url = receiver.script("/flaky", Script(statuses=[500, 200]))
    register(api, alice, url, retry={"attempts": 0})
    published = api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {}})
    delivery_id = published.json()["deliveries"][0]["delivery_id"]
    assert drain(aws)["batchItemFailures"] == []
    assert delivery(api, alice, delivery_id)["status"] == "failed"

    fault = faults("sqs", "SendMessageBatch")
    assert_clean_500(api.request("POST", f"/v1/deliveries/{delivery_id}/retry", alice))
    assert fault.injected == TRIES
    fault.clear()
    # Not stuck `queued` with nothing on the queue: still failed, so the retry can be asked again.
    assert delivery(api, alice, delivery_id)["status"] == "failed"
    assert api.request("POST", f"/v1/deliveries/{delivery_id}/retry", alice).status == 202
    assert drain(aws)["batchItemFailures"] == []
    found = delivery(api, alice, delivery_id)
    assert (found["status"], found["attempts"]) == ("succeeded", 2)
    assert len(receiver.received("/flaky")) == 2


# --- The API key lookup ------------------------------------------------------------------------


@pytest.fixture
def local_front(aws: dict[str, str]) -> Iterator[str]:
    """The local HTTP front (what `make local` serves) over the in-process gateway."""
    service = SimpleNamespace(ready=threading.Event())
    service.ready.set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_request_handler(Gateway(), service))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_api_key_lookup_faults(
    alice: str, faults: FaultSet, local_front: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def list_webhooks() -> requests.Response:
        auth.reset_caches()  # a cold container: the key is looked up again
        return requests.get(f"{local_front}/v1/webhooks", headers={"x-api-key": alice}, timeout=10)

    fault = faults("dynamodb", "GetItem", times=2)
    assert list_webhooks().status_code == 200
    assert (fault.injected, fault.passed) == (2, 1)

    fault = faults("dynamodb", "GetItem", kind="5xx")
    reply = list_webhooks()
    # Not a 401 (the key is fine) and never let through: a JSON 503 without a stack trace.
    assert reply.status_code == 503
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json()["error"]["code"] == "service_unavailable"
    assert "Traceback" not in reply.text and "injected" not in reply.text
    assert fault.injected == TRIES
    fault.clear()
    assert list_webhooks().status_code == 200


def test_a_key_lookup_fault_on_publish_is_a_503_and_publishes_nothing(
    api: InProcessApi, alice: str, faults: FaultSet
) -> None:
    """The publish function checks keys itself (no authorizer since issue 14): AWS failing the
    lookup is a JSON 503, never a 401, a 500 or a publish without a checked caller."""
    auth.reset_caches()  # a cold container: the key is looked up again
    fault = faults("dynamodb", "GetItem", kind="5xx")
    reply = api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {}})
    assert reply.status == 503, reply.body
    assert reply.json()["error"]["code"] == "service_unavailable"
    assert fault.injected == TRIES
    fault.clear()
    assert api.request("GET", "/v1/events", alice).json()["data"] == []


# --- The delivery worker -----------------------------------------------------------------------


def redeliver(queue_url: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What SQS does with unacknowledged messages once their visibility timeout is over: hands
    them out again, their ApproximateReceiveCount one higher."""
    sqs = client("sqs")
    for message in messages:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    ids = {message["MessageId"] for message in messages}
    return [message for message in receive_all(queue_url) if message["MessageId"] in ids]


def wait_for_messages(queue_url: str, count: int, polls: int = 100) -> list[dict[str, Any]]:
    """Bounded wait for `count` messages to become visible (a retry's DelaySeconds)."""
    found: list[dict[str, Any]] = []
    for _ in range(polls):
        found += receive_all(queue_url)
        if len(found) >= count:
            break
        time.sleep(0.1)
    return found


def is_dlq_send(body: bytes) -> bool:
    return b"DeliveryQueueDLQ" in body


def test_delivery_rides_out_transient_faults_on_every_call(
    api: InProcessApi, alice: str, aws: dict[str, str], receiver: Receiver, faults: FaultSet
) -> None:
    register(api, alice, receiver.url("/ok"), events=["ok.*"])
    register(api, alice, receiver.script("/down", Script(statuses=[500])), events=["down.*"])
    register(
        api,
        alice,
        receiver.script("/final", Script(statuses=[500])),
        events=["final.*"],
        retry={"attempts": 0},
    )
    cases = [
        ("dynamodb", "BatchGetItem", "throttle", "ok.one", "succeeded"),
        ("secretsmanager", "GetSecretValue", "throttle", "ok.two", "succeeded"),
        ("dynamodb", "UpdateItem", "5xx", "ok.three", "succeeded"),
        ("sqs", "SendMessage", "5xx", "final.one", "failed"),
        ("sqs", "SendMessageBatch", "throttle", "down.one", "retrying"),  # last: it re-queues
        # its delivery (DelaySeconds 1) a second later, which no later case should pick up
    ]
    for service, operation, kind, event_type, status in cases:
        reply = api.request("POST", "/v1/events", alice, {"type": event_type, "data": {}})
        (queued,) = reply.json()["deliveries"]
        secrets.clear_caches()  # a cold container: the signing secret is read again
        only_if = is_dlq_send if operation == "SendMessage" else None
        fault = faults(service, operation, kind=kind, times=2, only_if=only_if)
        assert drain(aws)["batchItemFailures"] == [], operation
        assert (fault.injected, fault.passed) == (2, 1), operation
        fault.remove()
        found = delivery(api, alice, queued["delivery_id"])
        assert (found["status"], found["attempts"]) == (status, 1), operation

    assert len(receiver.received("/ok")) == 3
    assert retry_executions(aws["RETRY_STATE_MACHINE_ARN"]) == {}  # a 1 s retry rides SQS
    (back,) = wait_for_messages(aws["DELIVERY_QUEUE_URL"], 1)
    assert (json.loads(back["Body"])["delivery_id"], json.loads(back["Body"])["attempt"]) == (
        queued["delivery_id"],
        2,
    )
    (dead,) = [json.loads(m["Body"]) for m in receive_all(aws["DELIVERY_DLQ_URL"])]
    assert (dead["event_type"], dead["attempts"], dead["last_status_code"]) == ("final.one", 1, 500)


PERSISTENT_DELIVERY_FAULTS = [
    pytest.param("dynamodb", "BatchGetItem", "throttle", "/ok", 0, id="batch-get"),
    pytest.param("secretsmanager", "GetSecretValue", "5xx", "/ok", 0, id="get-secret"),
    pytest.param("dynamodb", "UpdateItem", "throttle", "/ok", 1, id="update-item"),
    pytest.param("sqs", "SendMessageBatch", "5xx", "/down", 1, id="requeue-retry"),
    pytest.param("sqs", "SendMessage", "throttle", "/final", 1, id="dlq-send"),
]


@pytest.mark.parametrize(
    ("service", "operation", "kind", "path", "sent_before"), PERSISTENT_DELIVERY_FAULTS
)
def test_delivery_fault_is_an_sqs_retry_and_nothing_is_lost(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    receiver: Receiver,
    faults: FaultSet,
    service: str,
    operation: str,
    kind: str,
    path: str,
    sent_before: int,
) -> None:
    scripts = {"/ok": Script(), "/down": Script(statuses=[500]), "/final": Script(statuses=[500])}
    policy = {"retry": {"attempts": 0}} if path == "/final" else {}
    register(api, alice, receiver.script(path, scripts[path]), **policy)
    reply = api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {}})
    (queued,) = reply.json()["deliveries"]
    messages = receive_all(aws["DELIVERY_QUEUE_URL"])

    only_if = is_dlq_send if operation == "SendMessage" else None
    fault = faults(service, operation, kind=kind, only_if=only_if)
    response = invoke_worker(messages)
    assert failed_ids(response) == {messages[0]["MessageId"]}  # SQS will deliver it again
    assert fault.injected >= TRIES
    # Sent before the fault hit, or not at all; either way not recorded as done.
    assert len(receiver.received(path)) == sent_before
    fault.clear()
    assert delivery(api, alice, queued["delivery_id"])["status"] in ("queued", "retrying")

    messages = redeliver(aws["DELIVERY_QUEUE_URL"], messages)  # SQS's redelivery
    assert invoke_worker(messages) == {"batchItemFailures": []}
    found = delivery(api, alice, queued["delivery_id"])
    event_id = reply.json()["event_id"]
    if path == "/ok":
        assert found["status"] == "succeeded"
        # At least once; twice only when the first POST could not be recorded.
        assert event_ids_received(receiver, path) == [event_id] * (sent_before + 1)
    elif path == "/down":
        # The redelivered message is recognised as attempt 1 again: nothing is sent early, and
        # the retry that could not be scheduled is scheduled now, on the policy's delay.
        assert (found["status"], found["attempts"]) == ("retrying", 1)
        assert len(receiver.received(path)) == 1
        # (Recovered under the attempt's own execution name: a second start is refused.)
        executions = wait_for_executions(aws["RETRY_STATE_MACHINE_ARN"])
        assert list(executions) == [f"{queued['delivery_id']}-1"]
        assert executions[f"{queued['delivery_id']}-1"]["status"] == "SUCCEEDED"
        (requeued,) = wait_for_messages(aws["DELIVERY_QUEUE_URL"], 1)  # attempt 2 is on its way
        assert json.loads(requeued["Body"])["attempt"] == 2
    else:
        # Never marked failed without its dead-letter record, and dead-lettered once.
        assert (found["status"], found["attempts"]) == ("failed", 1)
        dead = [json.loads(m["Body"]) for m in receive_all(aws["DELIVERY_DLQ_URL"])]
        assert [(d["delivery_id"], d["attempts"]) for d in dead] == [(queued["delivery_id"], 1)]

    if found["status"] in ("succeeded", "failed"):
        # Redelivered once more (at-least-once): a finished delivery is never sent again.
        sent = len(receiver.received(path))
        messages = redeliver(aws["DELIVERY_QUEUE_URL"], messages)
        assert invoke_worker(messages) == {"batchItemFailures": []}
        assert len(receiver.received(path)) == sent


# --- A worker dying mid-batch, and SQS redelivery ------------------------------------------


def test_records_failing_mid_batch_are_retried_alone(
    api: InProcessApi, alice: str, aws: dict[str, str], receiver: Receiver, faults: FaultSet
) -> None:
    paths = [f"/hook{n}" for n in range(5)]
    for path in paths:
        register(api, alice, receiver.url(path))
    reply = api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {}})
    deliveries = reply.json()["deliveries"]
    broken = deliveries[2]["delivery_id"]
    batch = receive_all(aws["DELIVERY_QUEUE_URL"])
    assert len(batch) == 5

    # Recording one delivery's attempt fails after its POST, while the others go through.
    fault = faults("dynamodb", "UpdateItem", only_if=lambda body: broken.encode() in body)
    response = invoke_worker(batch)
    (broken_message,) = [m for m in batch if broken in m["Body"]]
    assert failed_ids(response) == {broken_message["MessageId"]}
    assert fault.injected == TRIES
    assert all(len(receiver.received(path)) == 1 for path in paths)
    statuses = {
        d["delivery_id"]: delivery(api, alice, d["delivery_id"])["status"] for d in deliveries
    }
    assert Counter(statuses.values()) == {"succeeded": 4, "queued": 1}

    # The fault clears; the whole batch comes back (a crashed invocation acknowledges nothing).
    fault.clear()
    assert invoke_worker(batch) == {"batchItemFailures": []}
    assert invoke_worker(batch) == {"batchItemFailures": []}
    assert all(delivery(api, alice, d)["status"] == "succeeded" for d in statuses)
    counts = {path: len(receiver.received(path)) for path in paths}
    broken_path = delivery(api, alice, broken)["url"].removeprefix(receiver.base_url)
    # The recorded ones were not sent again; the unrecorded one was sent again, once.
    assert counts == {path: 2 if path == broken_path else 1 for path in paths}
    assert retry_executions(aws["RETRY_STATE_MACHINE_ARN"]) == {}


def test_invocation_dying_after_its_work_loses_and_repeats_nothing(
    api: InProcessApi, alice: str, aws: dict[str, str], receiver: Receiver
) -> None:
    for n in range(3):
        register(api, alice, receiver.url(f"/hook{n}"))
    published = [
        api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {"n": n}})
        for n in range(4)
    ]
    deliveries = [d["delivery_id"] for p in published for d in p.json()["deliveries"]]
    assert len(deliveries) == 12

    def crashing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        worker_handler(event, context)
        raise RuntimeError("Task timed out")  # the runtime died before answering

    sqs, queue_url = client("sqs"), aws["DELIVERY_QUEUE_URL"]

    def poller(handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> QueuePoller:
        return QueuePoller(
            sqs=sqs,
            queue_url=queue_url,
            handler=handler,
            function_name="delivery_worker",
            batch_size=10,
            stop=threading.Event(),
            retry_visibility_seconds=0,  # failed messages are visible again at once
        )

    dying, healthy = poller(crashing), poller(worker_handler)
    assert dying.poll_once() == 10  # a whole batch sent, then nothing acknowledged
    statuses = Counter(delivery(api, alice, d)["status"] for d in deliveries)
    assert statuses == {"succeeded": 10, "queued": 2}

    handled, polls = 0, 0
    while handled < 12 and polls < 10:  # every message comes back once: skipped or sent
        handled += healthy.poll_once()
        polls += 1
    assert handled == 12
    assert receive_all(queue_url) == []
    assert all(delivery(api, alice, d)["status"] == "succeeded" for d in deliveries)
    for n in range(3):
        assert sorted(event_ids_received(receiver, f"/hook{n}")) == sorted(
            p.json()["event_id"] for p in published
        )

"""The DLQ routes as AWS runs them: long polling, redrive by id in parallel within the API's
time, and "redrive all" while SQS is still moving messages.

Messages are parked in the DLQs directly (what SQS's redrive policy does after the receive
limit), then handled through the API in-process over moto.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra.declaration import API
from shared.core.aws import CLIENT_CONFIG, client
from shared.core.config import settings
from shared.ops import dlq
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi, Reply
from tests.support.faults import FaultSet, receive_all

SHORT_AND_LONG_POLLING = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
    "sqs-short-and-long-polling.html"
)
RUNNING_TASK = (
    "There is already a task running. Only one active task is allowed for a source queue arn "
    "at a given time."
)


def park(count: int, queue: str = "delivery") -> dict[str, dict[str, Any]]:
    """`count` messages in a DLQ: message id → body."""
    url = settings().delivery_dlq_url if queue == "delivery" else settings().inbound_dlq_url
    parked = {}
    for n in range(count):
        body = {"kind": "delivery_failed", "n": n}
        sent = client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body))
        parked[sent["MessageId"]] = body
    return parked


def redrive(api: InProcessApi, **body: Any) -> Reply:
    return api.request("POST", "/v1/admin/dlq/redrive", ADMIN_KEY, {"queue": "delivery", **body})


def in_dlq(api: InProcessApi) -> set[str]:
    """The DLQ's message ids, through the peek route (which leaves them there)."""
    reply = api.request("GET", "/v1/admin/dlq?queue=delivery", ADMIN_KEY)
    assert reply.status == 200, reply.body
    return {message["message_id"] for message in reply.json()["data"]}


def requeued() -> list[dict[str, Any]]:
    """Parked bodies now on the delivery queue (each received once, so a duplicate would show).

    Only the bodies `park` made (they carry `n`): under a loaded `make test` a message of some
    other origin was once seen on the queue here; which parked messages moved is what counts."""
    bodies = [json.loads(m["Body"]) for m in receive_all(settings().delivery_queue_url)]
    return [body for body in bodies if "n" in body]


@pytest.fixture
def on_sqs_call() -> Iterator[Callable[[str, Callable[..., None]], None]]:
    """Run a function on every call of an SQS operation our code makes (its parameters)."""
    hooks: list[tuple[str, Callable[..., None]]] = []

    def register(operation: str, hook: Callable[..., None]) -> None:
        event = f"before-parameter-build.sqs.{operation}"
        client("sqs").meta.events.register(event, hook)
        hooks.append((event, hook))

    yield register
    for event, hook in hooks:
        client("sqs").meta.events.unregister(event, hook)


# --- Long polling ----------------------------------------------------------------------------


def test_every_receive_our_code_makes_long_polls(
    api: InProcessApi,
    aws: dict[str, str],
    setting: Callable[[str, str], None],
    on_sqs_call: Callable[[str, Callable[..., None]], None],
) -> None:
    """AWS: a short poll (`WaitTimeSeconds=0`) "queries only a subset of the servers", so a
    small queue may answer empty or in part; long polling queries all of them. moto answers
    every short poll in full. Every ReceiveMessage of the DLQ routes (peek, redrive by id,
    redrive all without a move task) must long-poll.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
    """
    receives: list[dict[str, Any]] = []
    on_sqs_call("ReceiveMessage", lambda params, **_: receives.append(dict(params)))
    parked = park(12)
    park(2, "inbound")
    setting("WEBHOOKS_DLQ_MOVE_TASK", "")

    assert in_dlq(api) == set(parked)
    assert api.request("GET", "/v1/admin/dlq?queue=inbound", ADMIN_KEY).status == 200
    first = sorted(parked)[0]
    assert redrive(api, message_ids=[first]).json()["redriven"] == 1
    assert redrive(api).json()["redriven"] == 11

    assert len(receives) >= 4
    assert [p.get("WaitTimeSeconds", 0) for p in receives if p.get("WaitTimeSeconds", 0) < 1] == []


# --- Redrive by id -----------------------------------------------------------------------------


def test_redrive_by_id_answers_what_it_moved_and_what_is_not_there(
    api: InProcessApi, aws: dict[str, str]
) -> None:
    parked = park(25)
    chosen = sorted(parked)[:12]
    missing = ["00000000-0000-0000-0000-000000000000", "not-a-message"]

    reply = redrive(api, message_ids=chosen + missing)

    assert reply.status == 202, reply.body
    assert reply.json() == {"redriven": 12, "not_found": sorted(missing), "remaining": []}
    assert sorted(body["n"] for body in requeued()) == sorted(parked[m]["n"] for m in chosen)
    # The others were let go at once (not left hidden until their hold ends).
    assert in_dlq(api) == set(parked) - set(chosen)
    # Asked again: already moved, so not found, and nothing is sent twice.
    again = redrive(api, message_ids=chosen[:1])
    assert again.json() == {"redriven": 0, "not_found": chosen[:1], "remaining": []}
    assert requeued() == []


def test_redrive_moves_batches_in_parallel(
    api: InProcessApi, aws: dict[str, str], on_sqs_call: Callable[[str, Callable[..., None]], None]
) -> None:
    """Two SendMessageBatch calls must be in flight at once: each of the first two waits (10 s
    at most) for the other, which only a parallel redrive lets happen."""
    meeting = threading.Barrier(2, timeout=10)
    lock = threading.Lock()
    calls: list[int] = []

    def meet(params: dict[str, Any], **_: Any) -> None:
        with lock:
            calls.append(len(params["Entries"]))
            position = len(calls)
        if position <= 2:
            meeting.wait()

    on_sqs_call("SendMessageBatch", meet)
    parked = park(30)

    reply = redrive(api, message_ids=sorted(parked))

    assert reply.json() == {"redriven": 30, "not_found": [], "remaining": []}
    assert calls == [10, 10, 10]
    assert sorted(body["n"] for body in requeued()) == list(range(30))
    assert in_dlq(api) == set()


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The redrive's clock, moved on by the test (a one-item list: the current time)."""
    now = [1000.0]
    monkeypatch.setattr(dlq, "monotonic", lambda: now[0])
    return now


def test_redrive_stops_finding_messages_at_its_time_budget(
    api: InProcessApi,
    aws: dict[str, str],
    fake_clock: list[float],
    on_sqs_call: Callable[[str, Callable[..., None]], None],
) -> None:
    """Each receive takes 40% of the budget here: the third never starts, and the ids it would
    have found are named as remaining (they may be in the DLQ), not as not found."""
    step = dlq.BUDGET_SECONDS * 0.4

    def slow_receive(**_: Any) -> None:
        fake_clock[0] += step

    on_sqs_call("ReceiveMessage", slow_receive)
    parked = park(30)

    answer = redrive(api, message_ids=sorted(parked)).json()

    assert answer["redriven"] == 20 and answer["not_found"] == []
    left = set(answer["remaining"])
    assert len(left) == 10 and left < set(parked)
    assert sorted(body["n"] for body in requeued()) == sorted(
        body["n"] for key, body in parked.items() if key not in left
    )
    assert in_dlq(api) == left


def test_redrive_stops_moving_at_its_time_budget(
    api: InProcessApi,
    aws: dict[str, str],
    fake_clock: list[float],
    on_sqs_call: Callable[[str, Callable[..., None]], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One batch at a time here, and the first send uses up the budget: the batches not yet
    started are left in the DLQ (visible again at once) and named as remaining."""
    monkeypatch.setattr(dlq, "MOVE_WORKERS", 1)

    def slow_send(**_: Any) -> None:
        fake_clock[0] += dlq.BUDGET_SECONDS

    on_sqs_call("SendMessageBatch", slow_send)
    parked = park(30)

    answer = redrive(api, message_ids=sorted(parked)).json()

    assert answer["redriven"] == 10 and answer["not_found"] == []
    left = set(answer["remaining"])
    assert len(left) == 20 and left < set(parked)
    assert len(requeued()) == 10
    assert in_dlq(api) == left


def test_the_redrive_budget_leaves_room_under_the_api_timeout() -> None:
    """The API function's timeout (shared/core/resources.py) must cover the whole budget plus one
    AWS read timeout for the calls in flight when it ends; messages stay held for longer than
    a request can run, so one request never receives a message twice."""
    assert dlq.BUDGET_SECONDS + CLIENT_CONFIG.read_timeout <= API.timeout_seconds
    assert dlq.BUDGET_SECONDS > 0
    assert API.timeout_seconds < dlq.HOLD_SECONDS


# --- Redrive all: SQS's move task --------------------------------------------------------------


@pytest.fixture
def move_task_on(setting: Callable[[str, str], None]) -> None:
    setting("WEBHOOKS_DLQ_MOVE_TASK", "1")


def test_redrive_all_starts_a_move_task_from_the_dlq(
    api: InProcessApi,
    aws: dict[str, str],
    move_task_on: None,
    faults: FaultSet,
    on_sqs_call: Callable[[str, Callable[..., None]], None],
) -> None:
    started: list[dict[str, Any]] = []
    on_sqs_call("StartMessageMoveTask", lambda params, **_: started.append(dict(params)))
    faults.reply("sqs", "StartMessageMoveTask", {"TaskHandle": "task-1"})
    park(3)

    reply = redrive(api)

    assert reply.status == 202, reply.body
    assert reply.json() == {"redriven": 3, "not_found": [], "remaining": []}
    (params,) = started
    assert params["SourceArn"].endswith(settings().delivery_dlq_url.rsplit("/", 1)[1])
    assert params["DestinationArn"].endswith(settings().delivery_queue_url.rsplit("/", 1)[1])


def test_redrive_all_while_a_move_task_runs_is_a_409(
    api: InProcessApi, aws: dict[str, str], move_task_on: None, faults: FaultSet
) -> None:
    """AWS: "Only one active message movement task is supported per queue at any given time";
    a second StartMessageMoveTask is refused (InvalidParameterValue, "There is already a task
    running"). moto has no move tasks, so SQS's answers are injected.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html
    """
    refused = faults(
        "sqs",
        "StartMessageMoveTask",
        kind="client",
        code="InvalidParameterValue",
        message=RUNNING_TASK,
    )
    faults.reply("sqs", "ListMessageMoveTasks", {"Results": [{"Status": "RUNNING"}]})
    park(2)

    reply = redrive(api)

    assert reply.status == 409, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json()["error"]["code"] == "conflict"
    assert "already running" in reply.json()["error"]["message"]
    assert refused.injected == 1  # a refusal, not retried


def test_a_refused_move_task_with_none_running_is_no_conflict(
    api: InProcessApi, aws: dict[str, str], move_task_on: None, faults: FaultSet
) -> None:
    """The same error code also means a bad argument: with no task running it is our fault."""
    faults("sqs", "StartMessageMoveTask", kind="client", code="InvalidParameterValue")
    faults.reply("sqs", "ListMessageMoveTasks", {"Results": [{"Status": "COMPLETED"}]})

    reply = redrive(api)

    assert reply.status == 500, reply.body
    assert reply.json()["error"]["code"] == "internal_error"
    assert b"injected" not in reply.body

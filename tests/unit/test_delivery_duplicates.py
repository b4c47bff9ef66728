"""A duplicate copy of a retry message never makes an extra attempt, and a worker that died
between recording an attempt and scheduling the next one has that retry scheduled on redelivery.

Retries due within 15 min go back on the delivery queue with DelaySeconds; the SendMessageBatch
calls are read from botocore's own event hook (what moto was asked to do), since a delayed
message is not visible to a receive until its delay is over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from shared.core import clock
from shared.core.aws import client
from shared.core.config import settings
from shared.outbound import deliveries as deliveries_service
from shared.outbound import worker
from shared.outbound.publishing import queue_message
from shared.outbound.worker import RetryNotScheduled, attempt
from shared.store import deliveries as deliveries_table
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi
from tests.support.faults import invoke_worker, receive_all
from tests.support.receiver import Script
from tests.support.retries import requeued_entries


@pytest.fixture
def requeued(aws: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
    with requeued_entries(aws["DELIVERY_QUEUE_URL"]) as entries:
        yield entries


def _published(user: str, receiver: Any, path: str) -> tuple[dict[str, Any], str]:
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, user)
    url = receiver.script(path, Script(statuses=[500]))
    api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
    published = api.request("POST", "/v1/events", key, {"type": "a.b", "data": {}}).json()
    delivery_id = published["deliveries"][0]["delivery_id"]
    delivery = deliveries_service.get_record(user, delivery_id)
    assert delivery is not None
    return delivery, delivery_id


def _failed_once(aws: dict[str, str], receiver: Any) -> tuple[dict[str, Any], str]:
    delivery, delivery_id = _published("dup-user", receiver, "/dup")
    assert attempt(queue_message(delivery)) == "retrying"
    return queue_message(delivery), delivery_id


def _executions(aws: dict[str, str]) -> list[str]:
    machine = aws["RETRY_STATE_MACHINE_ARN"]
    listed = client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    return sorted(execution["name"] for execution in listed)


def _requeued_attempts(requeued: list[dict[str, Any]], delivery_id: str) -> list[int]:
    bodies = [json.loads(entry["MessageBody"]) for entry in requeued]
    return [body["attempt"] for body in bodies if body["delivery_id"] == delivery_id]


def test_duplicate_retry_message_makes_no_extra_attempt(
    aws: dict[str, str], receiver: Any, requeued: list[dict[str, Any]]
) -> None:
    message, delivery_id = _failed_once(aws, receiver)
    duplicate_of_first_attempt = {**message, "attempt": 1}

    assert attempt(duplicate_of_first_attempt) == "duplicate"

    assert len(receiver.received("/dup")) == 1
    record = deliveries_table.get("dup-user", delivery_id)
    assert record is not None and record["attempts"] == 1
    assert _requeued_attempts(requeued, delivery_id) == [2]  # no second retry chain
    assert _executions(aws) == []  # a 1 s retry rides the queue: no execution at all


def test_duplicate_of_a_long_retry_starts_no_second_execution(
    aws: dict[str, str], receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE", "3600")  # beyond SQS's 15 min: an execution
    settings.cache_clear()
    message, _ = _failed_once(aws, receiver)

    assert attempt({**message, "attempt": 1}) == "duplicate"

    assert len(receiver.received("/dup")) == 1
    assert len(_executions(aws)) == 1


class Crash(Exception):
    """The worker dies between recording an attempt and scheduling its retry."""


def _crash(**_: Any) -> None:
    raise Crash


@contextmanager
def crashing_before_requeue() -> Iterator[None]:
    """The worker dies at the batch's re-queue (SendMessageBatch), after recording its attempts."""
    events = client("sqs").meta.events
    events.register("before-call.sqs.SendMessageBatch", _crash)
    try:
        yield
    finally:
        events.unregister("before-call.sqs.SendMessageBatch", _crash)


def test_redelivered_message_schedules_a_retry_lost_in_a_crash(
    aws: dict[str, str], receiver: Any, requeued: list[dict[str, Any]]
) -> None:
    delivery, delivery_id = _published("crash-user", receiver, "/crash")
    message = {**queue_message(delivery), "attempt": 1}
    with crashing_before_requeue(), pytest.raises(RetryNotScheduled):
        attempt(message)
    recorded = deliveries_table.get("crash-user", delivery_id)
    assert recorded is not None and recorded["attempts"] == 1 and recorded["status"] == "retrying"
    assert _executions(aws) == []  # the retry was lost with the crash

    # SQS hands the same message to a worker again (the crash failed the batch item).
    assert attempt(message, receive_count=2) == "duplicate"

    assert len(receiver.received("/crash")) == 1  # nothing was sent twice
    assert _executions(aws) == [f"{delivery_id}-1"]
    machine = aws["RETRY_STATE_MACHINE_ARN"]
    execution_arn = machine.replace(":stateMachine:", ":execution:") + f":{delivery_id}-1"
    started = client("stepfunctions").describe_execution(executionArn=execution_arn)
    (entry,) = json.loads(started["input"])["entries"]
    assert json.loads(entry["MessageBody"])["attempt"] == 2

    # Redelivered yet again: the recovery's execution name is taken, nothing more starts.
    assert attempt(message, receive_count=3) == "duplicate"
    assert _executions(aws) == [f"{delivery_id}-1"]


def test_worker_reports_a_record_whose_retry_it_could_not_schedule(
    aws: dict[str, str], receiver: Any, requeued: list[dict[str, Any]]
) -> None:
    """Through the handler: the attempt is recorded, the batch's re-queue fails, so that record
    is a batch item failure; SQS's redelivery (receive count 2) schedules the lost retry."""
    _, delivery_id = _published("batch-user", receiver, "/batch")
    queue_url = aws["DELIVERY_QUEUE_URL"]
    (received,) = receive_all(queue_url)
    with crashing_before_requeue():
        response = invoke_worker([received])
    assert response == {"batchItemFailures": [{"itemIdentifier": received["MessageId"]}]}
    assert _executions(aws) == []

    again = client("sqs")
    again.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=received["ReceiptHandle"], VisibilityTimeout=0
    )
    (redelivered,) = receive_all(queue_url)
    assert redelivered["Attributes"]["ApproximateReceiveCount"] == "2"
    assert invoke_worker([redelivered]) == {"batchItemFailures": []}
    assert len(receiver.received("/batch")) == 1
    assert _executions(aws) == [f"{delivery_id}-1"]


def test_a_recovered_delivery_recovers_a_lost_retry_under_a_name_of_its_own(
    aws: dict[str, str], receiver: Any, requeued: list[dict[str, Any]]
) -> None:
    """Recover numbers a delivery's attempts from 1 again. Its attempt 1's lost retry must not
    be taken for the earlier series' (Step Functions refuses an execution name used within 90
    days: https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html),
    or that retry is silently dropped and the delivery stays `retrying` for ever."""
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, "series-user")
    url = receiver.script("/series", Script(statuses=[500]))
    webhook_id = api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]}).json()[
        "id"
    ]
    published = api.request("POST", "/v1/events", key, {"type": "a.b", "data": {}}).json()
    delivery_id = published["deliveries"][0]["delivery_id"]
    receive_all(aws["DELIVERY_QUEUE_URL"])  # the publish's own message: driven by hand below

    def lose_the_retry_then_recover_it(message: dict[str, Any]) -> None:
        with crashing_before_requeue(), pytest.raises(RetryNotScheduled):
            attempt(message)
        assert attempt(message, receive_count=2) == "duplicate"

    first = deliveries_service.get_record("series-user", delivery_id)
    assert first is not None
    lose_the_retry_then_recover_it(queue_message(first))
    assert _executions(aws) == [f"{delivery_id}-1"]

    # The delivery ends failed; the user recovers it: a new series, numbered from 1 again.
    assert deliveries_table.set_status("series-user", delivery_id, {"status": "failed"})
    since = {"since": clock.iso(clock.now() - 3600)}
    recovered = api.request("POST", f"/v1/webhooks/{webhook_id}/recover", key, since)
    assert recovered.json().get("recovering") == 1, recovered.body
    bodies = [json.loads(m["Body"]) for m in receive_all(aws["DELIVERY_QUEUE_URL"])]
    (second,) = [body for body in bodies if body["attempt"] == 1]  # not the recovered retry's

    lose_the_retry_then_recover_it(second)

    names = _executions(aws)
    assert len(names) == 2 and f"{delivery_id}-1" in names, names
    (new_name,) = [name for name in names if name != f"{delivery_id}-1"]
    assert new_name.startswith(f"{delivery_id}-") and new_name.endswith("-1")


# --- A published delivery's first attempt writes its record ---------------------------------


def test_a_copy_that_sent_records_its_attempt_over_a_copy_that_found_the_webhook_gone(
    aws: dict[str, str], receiver: Any
) -> None:
    """Two copies of a first attempt: one reads the webhook active and sends; meanwhile the
    webhook is deleted and the other copy ends the delivery (creating its record, `failed`,
    no attempt). The send still gets recorded: its receiver has the event."""
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, "race-user")
    url = receiver.script("/race", Script(statuses=[200]))
    hook = api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]}).json()["id"]
    published = api.request("POST", "/v1/events", key, {"type": "a.b", "data": {}}).json()
    delivery_id = published["deliveries"][0]["delivery_id"]
    message = queue_message(deliveries_service.get_record("race-user", delivery_id))
    sending = worker.load(message)
    assert sending is not None and not sending.stored
    request = worker.prepare(sending, message, 1)
    assert isinstance(request, worker.Request)

    assert api.request("DELETE", f"/v1/webhooks/{hook}", key).status == 204
    assert attempt(message) == "failed"  # the other copy: webhook gone
    assert worker.record(sending, request, worker.send(request)).outcome == "succeeded"

    record = deliveries_table.get("race-user", delivery_id)
    assert record is not None and record["status"] == "succeeded" and record["attempts"] == 1
    assert len(receiver.received("/race")) == 1


def test_a_redriven_dead_letter_of_a_delivery_without_a_record_is_sent(
    aws: dict[str, str], receiver: Any
) -> None:
    """The dead letter is sent before the attempt's record is written: if that write failed,
    redriving it must still deliver (the delivery is rebuilt from its event), not drop it as
    missing."""
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, "redrive-user")
    url = receiver.script("/redrive", Script(statuses=[200]))
    api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
    published = api.request("POST", "/v1/events", key, {"type": "a.b", "data": {}}).json()
    delivery_id = published["deliveries"][0]["delivery_id"]
    delivery = deliveries_service.get_record("redrive-user", delivery_id)
    dead_letter = worker.dlq_record(delivery, 1, {"last_status_code": 500}, clock.iso())

    assert attempt(dead_letter) == "succeeded"

    record = deliveries_table.get("redrive-user", delivery_id)
    assert record is not None and record["status"] == "succeeded"
    assert len(receiver.received("/redrive")) == 1

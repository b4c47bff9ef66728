"""A duplicate copy of a retry message never makes an extra attempt, and a worker that died
between recording an attempt and scheduling the next one has that retry scheduled on redelivery."""

from __future__ import annotations

import json
from typing import Any

from shared.core.aws import client
from shared.outbound.publishing import queue_message
from shared.outbound.worker import attempt
from shared.store import deliveries as deliveries_table
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi
from tests.support.receiver import Script


def _failed_once(aws: dict[str, str], receiver: Any) -> tuple[dict[str, Any], str]:
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, "dup-user")
    url = receiver.script("/dup", Script(statuses=[500]))
    api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
    published = api.request("POST", "/v1/events", key, {"type": "a.b", "data": {}}).json()
    delivery_id = published["deliveries"][0]["delivery_id"]
    delivery = deliveries_table.get("dup-user", delivery_id)
    assert delivery is not None
    assert attempt(queue_message(delivery)) == "retrying"
    return queue_message(delivery), delivery_id


def _executions(aws: dict[str, str]) -> list[str]:
    machine = aws["RETRY_STATE_MACHINE_ARN"]
    listed = client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    return sorted(execution["name"] for execution in listed)


def test_duplicate_retry_message_makes_no_extra_attempt(aws: dict[str, str], receiver: Any) -> None:
    message, delivery_id = _failed_once(aws, receiver)
    duplicate_of_first_attempt = {**message, "attempt": 1}

    assert attempt(duplicate_of_first_attempt) == "duplicate"

    assert len(receiver.received("/dup")) == 1
    record = deliveries_table.get("dup-user", delivery_id)
    assert record is not None and record["attempts"] == 1
    assert _executions(aws) == [f"{delivery_id}-1"]  # no second retry chain


class Crash(Exception):
    """The worker dies between recording an attempt and starting its retry."""


def _crash(**_: Any) -> None:
    raise Crash


def test_redelivered_message_schedules_a_retry_lost_in_a_crash(
    aws: dict[str, str], receiver: Any
) -> None:
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, "crash-user")
    url = receiver.script("/crash", Script(statuses=[500]))
    api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
    published = api.request("POST", "/v1/events", key, {"type": "a.b", "data": {}}).json()
    delivery_id = published["deliveries"][0]["delivery_id"]
    delivery = deliveries_table.get("crash-user", delivery_id)
    assert delivery is not None
    message = {**queue_message(delivery), "attempt": 1}
    events = client("stepfunctions").meta.events
    events.register("before-call.sfn.StartExecution", _crash)
    try:
        attempt(message)
        raise AssertionError("the injected crash did not happen")
    except Crash:
        pass
    finally:
        events.unregister("before-call.sfn.StartExecution", _crash)
    recorded = deliveries_table.get("crash-user", delivery_id)
    assert recorded is not None and recorded["attempts"] == 1 and recorded["status"] == "retrying"
    assert _executions(aws) == []  # the retry was lost with the crash

    # SQS hands the same message to a worker again (the crash failed the batch item).
    assert attempt(message) == "duplicate"

    assert len(receiver.received("/crash")) == 1  # nothing was sent twice
    assert _executions(aws) == [f"{delivery_id}-1"]
    machine = aws["RETRY_STATE_MACHINE_ARN"]
    execution_arn = machine.replace(":stateMachine:", ":execution:") + f":{delivery_id}-1"
    started = client("stepfunctions").describe_execution(executionArn=execution_arn)
    assert json.loads(json.loads(started["input"])["message"])["attempt"] == 2

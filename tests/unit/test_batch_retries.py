"""Batch calls that AWS answers in part: what is left is sent again, with backoff, a bounded
number of times; an entry refused as invalid is not.

moto always does a whole batch. AWS does not: BatchWriteItem and BatchGetItem return what a
throttled table had no capacity for as UnprocessedItems / UnprocessedKeys, and SendMessageBatch
lists failed entries while the call itself succeeds. tests.support.faults.PartialBatch makes moto
answer that way (the held-back part never reaches moto).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.api.responses import status_of
from shared.core.aws import client
from shared.core.config import settings
from shared.core.errors import BatchIncomplete, BatchRefused
from shared.store import batch_retry, dynamo
from shared.store import deliveries as deliveries_table
from shared.store import events as events_table
from shared.store.queues import send_batch
from tests.support.api import InProcessApi, Reply
from tests.support.aws_calls import CallCounter
from tests.support.faults import FaultSet, acknowledge, invoke_worker, receive_all
from tests.support.receiver import Receiver

BATCH_OPERATIONS = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html"
    "#Programming.Errors.BatchOperations"
)


def register(api: InProcessApi, key: str, url: str) -> str:
    reply = api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


def stored(table: str, user_id: str, id_name: str) -> list[str]:
    """Every id a user has in a table (a Scan: fine for a test's handful of items)."""
    pages = client("dynamodb").get_paginator("scan").paginate(TableName=table)
    items = [dynamo.from_item(item) for page in pages for item in page["Items"]]
    return sorted(item[id_name] for item in items if item.get("user_id") == user_id)


def named_deliveries(user_id: str) -> list[str]:
    """Every delivery id the user's stored events name."""
    pages = client("dynamodb").get_paginator("scan").paginate(TableName=settings().events_table)
    items = [dynamo.from_item(item) for page in pages for item in page["Items"]]
    return sorted(
        delivery_id
        for item in items
        if item.get("user_id") == user_id
        for delivery_id in events_table.delivery_ids(item)
    )


def queued() -> list[str]:
    """Delivery ids on the delivery queue, one per message (a duplicate would show twice)."""
    messages = receive_all(settings().delivery_queue_url)
    return sorted(json.loads(message["Body"])["delivery_id"] for message in messages)


def drain() -> dict[str, Any]:
    """One event source mapping cycle over everything queued."""
    messages = receive_all(settings().delivery_queue_url)
    response = invoke_worker(messages) if messages else {"batchItemFailures": []}
    acknowledge(settings().delivery_queue_url, messages, response)
    return response


@pytest.fixture
def counted(aws: dict[str, str]) -> Iterator[CallCounter]:
    counter = CallCounter()
    yield counter
    counter.close()


# --- The backoff -------------------------------------------------------------------------------


def test_backoff_is_exponential_with_full_jitter_and_bounded() -> None:
    """AWS: re-send the unprocessed part of a batch with exponential backoff (and jitter), or
    the retries run into the same throttling. Attempts and the total sleep are bounded.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.BatchOperations
    """
    ceilings = [batch_retry.delay(attempt, rand=lambda: 1.0) for attempt in range(1, 5)]
    assert ceilings == sorted(ceilings) and ceilings[1] == 2 * ceilings[0]
    assert all(batch_retry.delay(a, rand=lambda: 0.0) == 0 for a in range(1, 5))  # full jitter

    slept: list[float] = []
    sent: list[list[int]] = []

    def never_done(pending: list[int]) -> list[int]:
        sent.append(pending)
        return pending[1:] or pending  # always something left

    with pytest.raises(BatchIncomplete) as raised:
        batch_retry.complete(never_done, [1, 2, 3], what="Test", sleep=slept.append)
    assert len(sent) == batch_retry.MAX_ATTEMPTS
    assert sent[:3] == [[1, 2, 3], [2, 3], [3]]  # only what is left goes again
    assert len(slept) == batch_retry.MAX_ATTEMPTS - 1
    assert all(pause <= ceiling for pause, ceiling in zip(slept, ceilings, strict=True))
    assert sum(slept) <= batch_retry.MAX_TOTAL_SLEEP_SECONDS
    assert status_of(raised.value) == 503 and raised.value.left == 1


# --- Publish completes through partial answers ------------------------------------------------


def test_publish_of_100_events_completes_through_partial_batches(
    api: InProcessApi, alice: str, aws: dict[str, str], receiver: Receiver, faults: FaultSet
) -> None:
    """AWS: BatchWriteItem may leave items unprocessed (UnprocessedItems) and SendMessageBatch
    may fail entries on SQS's side (`SenderFault: false`) while the call succeeds; both must be
    sent again. moto never does either.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.BatchOperations
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
    """
    for path in ("/a", "/b"):
        register(api, alice, receiver.url(path))
    writes = faults.partial("dynamodb", "BatchWriteItem", times=3)
    sends = faults.partial("sqs", "SendMessageBatch", times=3)
    batch = {"events": [{"type": "order.paid", "data": {"n": n}} for n in range(100)]}

    reply = api.request("POST", "/v1/events/batch", alice, batch)

    assert reply.status == 202, reply.body[:500]
    assert (writes.injected, sends.injected) == (3, 3)
    assert writes.held_back > 0 and sends.held_back > 0
    answers = reply.json()["data"]
    event_ids = sorted(answer["event_id"] for answer in answers)
    delivery_ids = sorted(d["delivery_id"] for answer in answers for d in answer["deliveries"])
    assert len(event_ids) == 100 and len(delivery_ids) == 200
    assert stored(settings().events_table, "alice", "event_id") == event_ids
    # Each event names its deliveries, whose first attempts write their records.
    assert named_deliveries("alice") == delivery_ids
    assert stored(settings().deliveries_table, "alice", "delivery_id") == []
    assert queued() == delivery_ids  # each queued exactly once


def test_batch_get_asks_again_for_unprocessed_keys(aws: dict[str, str], faults: FaultSet) -> None:
    """AWS: BatchGetItem may return part of the keys as UnprocessedKeys (moto never does).
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.BatchOperations
    """
    table = settings().deliveries_table
    records = [deliveries_table.key("carol", f"dlv_{n:03d}") for n in range(150)]
    dynamo.batch_put((table, record) for record in records)
    reads = faults.partial("dynamodb", "BatchGetItem", times=3)

    found = dynamo.batch_get({table: records})

    assert reads.injected == 3 and reads.held_back > 0
    assert sorted(item["delivery_id"] for item in found[table]) == [
        r["delivery_id"] for r in records
    ]


def test_delivery_worker_reads_through_unprocessed_keys(
    api: InProcessApi, alice: str, aws: dict[str, str], receiver: Receiver, faults: FaultSet
) -> None:
    register(api, alice, receiver.url("/a"))
    published = api.request("POST", "/v1/events", alice, {"type": "order.paid", "data": {}})
    reads = faults.partial("dynamodb", "BatchGetItem", times=1)

    assert drain() == {"batchItemFailures": []}

    assert reads.injected == 1
    delivered = [json.loads(request.body)["id"] for request in receiver.received("/a")]
    assert delivered == [published.json()["event_id"]]


# --- Sender faults, and batches left undone ---------------------------------------------------


def test_entries_refused_as_invalid_are_not_sent_again(
    aws: dict[str, str], faults: FaultSet, counted: CallCounter
) -> None:
    """AWS: a failed SendMessageBatch entry with `SenderFault: true` was refused for the
    request itself; sending it again cannot succeed.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_BatchResultErrorEntry.html
    """
    faults.partial("sqs", "SendMessageBatch", sender_fault=True)

    with pytest.raises(BatchRefused) as raised:
        send_batch(settings().delivery_queue_url, [{"n": n} for n in range(4)])

    assert counted.calls["sqs.SendMessageBatch"] == 1
    assert raised.value.refused == {"1": "InvalidParameterValue", "3": "InvalidParameterValue"}
    assert "1 (InvalidParameterValue)" in str(raised.value)
    assert status_of(raised.value) == 500


def assert_json_error(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    assert reply.headers.get("content-type", "").startswith("application/json")
    assert reply.json()["error"]["code"] == code
    assert b"Traceback" not in reply.body and b"held" not in reply.body


def test_a_publish_with_refused_entries_keeps_nothing(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    receiver: Receiver,
    faults: FaultSet,
    counted: CallCounter,
) -> None:
    """Publish is all or nothing: the refused send is not retried, the event and deliveries
    are undone, and the messages SQS did take find no delivery (nothing is sent)."""
    for path in ("/a", "/b", "/c"):
        register(api, alice, receiver.url(path))
    faults.partial("sqs", "SendMessageBatch", sender_fault=True, times=1)
    counted.reset()

    reply = api.request("POST", "/v1/events", alice, {"type": "order.paid", "data": {}})

    assert_json_error(reply, 500, "internal_error")
    assert counted.calls["sqs.SendMessageBatch"] == 1
    assert stored(settings().events_table, "alice", "event_id") == []
    assert stored(settings().deliveries_table, "alice", "delivery_id") == []
    assert drain() == {"batchItemFailures": []}
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("service", "operation"),
    [("dynamodb", "BatchWriteItem"), ("sqs", "SendMessageBatch")],
    ids=["batch-write", "send-batch"],
)
def test_a_batch_left_undone_through_every_retry_is_a_503_and_keeps_nothing(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    receiver: Receiver,
    faults: FaultSet,
    service: str,
    operation: str,
) -> None:
    register(api, alice, receiver.url("/a"))
    undone = faults.partial(service, operation, everything=True, times=batch_retry.MAX_ATTEMPTS)
    body = {"type": "order.paid", "data": {"n": 1}}

    assert_json_error(api.request("POST", "/v1/events", alice, body), 503, "service_unavailable")

    assert undone.injected == batch_retry.MAX_ATTEMPTS  # the bound, then it gave up
    assert stored(settings().events_table, "alice", "event_id") == []
    assert stored(settings().deliveries_table, "alice", "delivery_id") == []
    assert queued() == []
    # The caller's retry publishes afresh, delivered once.
    retried = api.request("POST", "/v1/events", alice, body)
    assert retried.status == 202, retried.body
    assert drain() == {"batchItemFailures": []}
    delivered = [json.loads(request.body)["id"] for request in receiver.received("/a")]
    assert delivered == [retried.json()["event_id"]]

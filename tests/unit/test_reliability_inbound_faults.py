"""AWS faults on the inbound hot paths: receipt (`POST /inbound/{id}`) and queued processing.

A fault botocore's retries ride out leaves the answer unchanged. A fault that outlasts them
makes the receipt answer a JSON 5xx with nothing kept: no dedupe claim, so the provider's own
retry is received as new (not answered `duplicate` for an event that was never stored), and
exactly one copy is queued and processed. Processing faults fail only the message, and SQS's
redelivery processes it once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.inbound_processor.handler import lambda_handler as processor_handler
from infra.local.gateway import LambdaContext
from infra.local.pollers import sqs_event
from shared.core.config import settings
from shared.inbound import sources
from shared.store import events as events_table
from tests.inbound_signers import SECRETS, sign
from tests.support.api import InProcessApi, Reply
from tests.support.faults import FaultSet, failed_ids, receive_all

RECEIPT_CALLS = [
    pytest.param("dynamodb", "GetItem", "throttle", id="source-lookup"),
    pytest.param("secretsmanager", "GetSecretValue", "5xx", id="source-secret"),
    pytest.param("dynamodb", "PutItem", "throttle", id="claim"),
    pytest.param("sqs", "SendMessage", "throttle", id="enqueue-record-and-body"),
]
PROCESSING_CALLS = [
    pytest.param("dynamodb", "BatchGetItem", "throttle", id="load"),
    pytest.param("dynamodb", "UpdateItem", "5xx", id="record-outcome"),
]


@pytest.fixture
def source_id(api: InProcessApi, alice: str) -> Iterator[str]:
    body = {"name": "stripe", "provider": "stripe", "secret": SECRETS["stripe"]}
    reply = api.request("POST", "/v1/sources", alice, body)
    assert reply.status == 201, reply.body
    yield str(reply.json()["id"])
    sources.clear_cache()


def stripe_event(event_id: str) -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": "customer.created"}).encode()


def receive(api: InProcessApi, source_id: str, body: bytes) -> Reply:
    sources.clear_cache()  # a cold container: the source and its secret are read again
    headers = {"content-type": "application/json", **sign("stripe", body)}
    return api.request("POST", f"/inbound/{source_id}", body=body, headers=headers)


def queued_event_ids() -> list[str]:
    return [json.loads(m["Body"])["event_id"] for m in receive_all(settings().inbound_queue_url)]


def process(messages: list[dict[str, Any]]) -> dict[str, Any]:
    event = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:test-InboundQueue")
    return dict(processor_handler(event, LambdaContext("inbound_processor")))


def processed_runs(event_id: str) -> list[dict[str, Any]]:
    record = events_table.get("alice", event_id)
    assert record is not None
    return [entry for entry in record["history"] if entry["action"] == "processed"]


@pytest.mark.parametrize(("service", "operation", "kind"), RECEIPT_CALLS)
def test_receipt_rides_out_transient_faults(
    api: InProcessApi, source_id: str, faults: FaultSet, service: str, operation: str, kind: str
) -> None:
    fault = faults(service, operation, kind=kind, times=2)
    reply = receive(api, source_id, stripe_event(f"evt_{operation}"))
    assert reply.status == 200, reply.body
    assert reply.json()["duplicate"] is False
    assert (fault.injected, fault.passed) == (2, 1)
    assert queued_event_ids() == [reply.json()["event_id"]]


@pytest.mark.parametrize(("service", "operation", "kind"), RECEIPT_CALLS)
def test_receipt_fault_keeps_nothing_and_the_provider_retry_is_received_once(
    api: InProcessApi, source_id: str, faults: FaultSet, service: str, operation: str, kind: str
) -> None:
    body = stripe_event(f"evt_down_{operation}")
    fault = faults(service, operation, kind=kind)
    refused = receive(api, source_id, body)
    assert refused.status in (500, 503), refused.body
    assert refused.headers.get("content-type", "").startswith("application/json")
    assert set(refused.json()) == {"error"} and b"Traceback" not in refused.body
    assert b"injected" not in refused.body
    fault.remove()
    assert queued_event_ids() == []

    retried = receive(api, source_id, body)  # the provider's retry, freshly signed
    assert retried.status == 200, retried.body
    answer = retried.json()
    assert answer["duplicate"] is False
    messages = receive_all(settings().inbound_queue_url)
    assert [json.loads(m["Body"])["event_id"] for m in messages] == [answer["event_id"]]
    assert process(messages) == {"batchItemFailures": []}
    assert len(processed_runs(answer["event_id"])) == 1
    again = receive(api, source_id, body)
    assert again.json() == {
        "received": True,
        "event_id": answer["event_id"],
        "duplicate": True,
    }


@pytest.mark.parametrize(("service", "operation", "kind"), PROCESSING_CALLS)
def test_processing_fault_fails_only_its_message_and_redelivery_processes_once(
    api: InProcessApi, source_id: str, faults: FaultSet, service: str, operation: str, kind: str
) -> None:
    first = receive(api, source_id, stripe_event("evt_first")).json()["event_id"]
    second = receive(api, source_id, stripe_event("evt_second")).json()["event_id"]
    messages = receive_all(settings().inbound_queue_url)
    by_event = {json.loads(m["Body"])["event_id"]: m for m in messages}
    assert set(by_event) == {first, second}

    fault = faults(service, operation, kind=kind)
    assert failed_ids(process([by_event[first]])) == {by_event[first]["MessageId"]}
    assert fault.injected >= 1
    fault.remove()
    # The record is written when processing ends: until then the message alone holds it.
    assert events_table.get("alice", first) is None
    assert process([by_event[second]]) == {"batchItemFailures": []}
    assert len(processed_runs(second)) == 1

    assert process([by_event[first]]) == {"batchItemFailures": []}  # SQS's redelivery
    assert len(processed_runs(first)) == 1
    assert process(messages) == {"batchItemFailures": []}  # and once more: nothing repeats
    assert (len(processed_runs(first)), len(processed_runs(second))) == (1, 1)

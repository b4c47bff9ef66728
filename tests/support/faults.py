"""AWS faults injected into our cached boto3 clients, and the delivery queue driven by hand.

`AwsFault` answers chosen calls the way AWS answers a throttled or failing request. It hooks
botocore's `before-send.<service>.<Operation>` event, which fires once per HTTP attempt, so
botocore's own retry loop (standard mode: the first try, then up to `max_attempts` = 4
retries) sees each injected answer and retries as it would against AWS. The attempt never
reaches moto (the hook points that one request at an address moto does not serve and answers
it itself): an injected throttle has no side effect, exactly like a real one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.retries.standard import ExponentialBackoff

from functions.delivery_worker.handler import lambda_handler as worker_handler
from infra.local.gateway import LambdaContext
from infra.local.pollers import sqs_event
from shared.aws import client

NOT_MOTO = "http://fault-injected.invalid/"
THROTTLES = {
    "dynamodb": "ProvisionedThroughputExceededException",
    "sqs": "ThrottlingException",
    "stepfunctions": "ThrottlingException",
    "secretsmanager": "ThrottlingException",
}


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


class AwsFault:
    """Answer `operation` of `service` with an error, `times` times (None: until removed).

    `kind` is "throttle" (HTTP 400 with the service's throttling code) or "5xx" (HTTP 500
    InternalServerError). `only_if(body)` narrows the fault to requests whose body matches.
    """

    def __init__(
        self,
        service: str,
        operation: str,
        *,
        kind: str = "throttle",
        times: int | None = None,
        only_if: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.client = client(service)
        self.event = (
            f"before-send.{self.client.meta.service_model.service_id.hyphenize()}.{operation}"
        )
        if kind == "throttle":
            self.status, self.code = 400, THROTTLES[service]
        else:
            self.status, self.code = 500, "InternalServerError"
        self.remaining = times
        self.only_if = only_if
        self.injected = 0  # error answers given
        self.passed = 0  # matching attempts let through to moto
        self.lock = threading.Lock()
        self.client.meta.events.register(self.event, self._hook)

    def _hook(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        if self.only_if is not None and not self.only_if(body):
            return None
        with self.lock:
            if self.remaining is not None and self.remaining <= 0:
                self.passed += 1
                return None
            if self.remaining is not None:
                self.remaining -= 1
            self.injected += 1
        request.url = NOT_MOTO  # moto's stubber serves AWS addresses only: it skips this one
        payload = json.dumps({"__type": self.code, "message": "injected by the test"}).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-RequestId": "injected-fault",
        }
        return AWSResponse(NOT_MOTO, self.status, headers, _Body(payload))  # type: ignore[arg-type]

    def clear(self) -> None:
        """The fault is over: later attempts reach moto."""
        with self.lock:
            self.remaining = 0

    def remove(self) -> None:
        self.client.meta.events.unregister(self.event, self._hook)


class FaultSet:
    """The faults of one test, all removed at its end."""

    def __init__(self) -> None:
        self.made: list[AwsFault] = []

    def __call__(self, service: str, operation: str, **kwargs: Any) -> AwsFault:
        fault = AwsFault(service, operation, **kwargs)
        self.made.append(fault)
        return fault

    def remove_all(self) -> None:
        for fault in self.made:
            fault.remove()


def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore waits up to 1 s, 2 s, 4 s between throttled attempts; tests need not."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.001)


# --- The delivery queue, driven as the event source mapping drives it --------------------


def receive_all(queue_url: str, visibility: int = 60) -> list[dict[str, Any]]:
    sqs = client("sqs")
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        messages += batch


def invoke_worker(messages: list[dict[str, Any]]) -> dict[str, Any]:
    event = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:test-DeliveryQueue")
    return dict(worker_handler(event, LambdaContext("delivery_worker")))


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}


def acknowledge(queue_url: str, messages: list[dict[str, Any]], response: dict[str, Any]) -> None:
    """Delete what the worker did not report, as the event source mapping does."""
    failed = failed_ids(response)
    for message in messages:
        if message["MessageId"] not in failed:
            client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def retry_executions(state_machine_arn: str) -> dict[str, dict[str, Any]]:
    """Retry executions by name → {"status", "input"} (input parsed, its message too)."""
    sfn = client("stepfunctions")
    found: dict[str, dict[str, Any]] = {}
    for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        given = json.loads(described["input"])
        given["message"] = json.loads(given["message"])
        found[execution["name"]] = {"status": described["status"], "input": given}
    return found


def wait_for_executions(state_machine_arn: str, timeout: float = 20.0) -> dict[str, Any]:
    """Bounded wait until no retry execution is running (moto runs them on threads)."""
    deadline = time.monotonic() + timeout
    found = retry_executions(state_machine_arn)
    while time.monotonic() < deadline:
        if all(item["status"] != "RUNNING" for item in found.values()):
            return found
        time.sleep(0.1)
        found = retry_executions(state_machine_arn)
    return found

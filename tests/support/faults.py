"""AWS faults injected into our cached boto3 clients, and the delivery queue driven by hand.

`AwsFault` answers chosen calls the way AWS answers a throttled or failing request. It hooks
botocore's `before-send.<service>.<Operation>` event, which fires once per HTTP attempt, so
botocore's own retry loop (standard mode: the first try, then up to `max_attempts` = 4
retries) sees each injected answer and retries as it would against AWS. The attempt never
reaches moto (the hook points that one request at an address moto does not serve and answers
it itself): an injected throttle has no side effect, exactly like a real one.

`AwsReply` answers a call moto does not implement with a given success body. `PartialBatch`
lets a batch call reach moto with only part of its items and answers the rest as AWS answers
the part of a batch it could not do (UnprocessedItems, UnprocessedKeys, `Failed` entries): moto
never does this, AWS does whenever a table or queue is throttled.
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
from shared.core.aws import client

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

    `kind` is "throttle" (HTTP 400 with the service's throttling code), "5xx" (HTTP 500
    InternalServerError) or "client" (HTTP 400 with `code` and `message`, an error the caller
    made). `only_if(body)` narrows the fault to requests whose body matches.
    """

    def __init__(
        self,
        service: str,
        operation: str,
        *,
        kind: str = "throttle",
        times: int | None = None,
        only_if: Callable[[bytes], bool] | None = None,
        code: str = "",
        message: str = "injected by the test",
    ) -> None:
        self.client = client(service)
        self.event = (
            f"before-send.{self.client.meta.service_model.service_id.hyphenize()}.{operation}"
        )
        if kind == "throttle":
            self.status, self.code = 400, THROTTLES[service]
        elif kind == "client":
            self.status, self.code = 400, code
        else:
            self.status, self.code = 500, "InternalServerError"
        self.message = message
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
        payload = json.dumps(self.payload()).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-RequestId": "injected-fault",
        }
        return AWSResponse(NOT_MOTO, self.status, headers, _Body(payload))  # type: ignore[arg-type]

    def payload(self) -> dict[str, Any]:
        return {"__type": self.code, "message": self.message}

    def clear(self) -> None:
        """The fault is over: later attempts reach moto."""
        with self.lock:
            self.remaining = 0

    def remove(self) -> None:
        self.client.meta.events.unregister(self.event, self._hook)


class AwsReply(AwsFault):
    """Answer `operation` with HTTP 200 and `answer` (a JSON-protocol service's body), e.g. for
    a call moto does not implement."""

    def __init__(self, service: str, operation: str, answer: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(service, operation, **kwargs)
        self.status, self.answer = 200, answer

    def payload(self) -> dict[str, Any]:
        return self.answer


class PartialBatch:
    """Let a batch call do only part of its work, `times` times (None: until removed).

    Every other item of a call with two or more is held back (with `everything=True`, all
    items of every call: moto never sees it): the call reaches moto without them, and the
    answer lists them as AWS lists the part it did not do. BatchWriteItem and BatchGetItem: as
    `UnprocessedItems` / `UnprocessedKeys` (AWS's answer when a table is throttled). SQS batch
    calls: as `Failed` entries with `SenderFault` false (a problem on SQS's side, worth
    re-sending) or, with `sender_fault=True`, true (refused as invalid).
    """

    def __init__(
        self,
        service: str,
        operation: str,
        *,
        times: int | None = None,
        sender_fault: bool = False,
        everything: bool = False,
    ) -> None:
        self.client = client(service)
        self.operation = operation
        self.sender_fault = sender_fault
        self.everything = everything
        self.remaining = times
        self.injected = 0  # calls answered in part
        self.held_back = 0  # items held back, over all calls
        self.lock = threading.Lock()
        service_id = self.client.meta.service_model.service_id.hyphenize()
        self.events = (
            (f"before-parameter-build.{service_id}.{operation}", self._hold_back),
            (f"before-send.{service_id}.{operation}", self._answer_nothing_done),
            (f"after-call.{service_id}.{operation}", self._answer),
        )
        for event, handler in self.events:
            self.client.meta.events.register(event, handler)

    def _take_turn(self) -> bool:
        with self.lock:
            if self.remaining is not None and self.remaining <= 0:
                return False
            if self.remaining is not None:
                self.remaining -= 1
            self.injected += 1
            return True

    def _hold_back(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        items = _batch_items(self.operation, params)
        if len(items) < (1 if self.everything else 2) or not self._take_turn():
            return
        if self.everything:
            held = items
            context["nothing_done"] = True  # the request stays whole; moto never sees it
        else:
            held = items[1::2]
            _set_batch_items(self.operation, params, items[0::2])
        context["held_back"] = held
        with self.lock:
            self.held_back += len(held)

    def _answer_nothing_done(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if not request.context.get("nothing_done"):
            return None
        request.url = NOT_MOTO
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "partial"}
        return AWSResponse(NOT_MOTO, 200, headers, _Body(b"{}"))  # type: ignore[arg-type]

    def _answer(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        held = context.pop("held_back", None)
        if held:
            _report_undone(self.operation, parsed, held, self.sender_fault)

    def remove(self) -> None:
        for event, handler in self.events:
            self.client.meta.events.unregister(event, handler)


def _batch_items(operation: str, params: dict[str, Any]) -> list[tuple[str, Any]]:
    """A batch call's items as (table or "", item) pairs, in request order."""
    if operation == "BatchWriteItem":
        return [(t, w) for t, writes in params["RequestItems"].items() for w in writes]
    if operation == "BatchGetItem":
        return [(t, k) for t, asked in params["RequestItems"].items() for k in asked["Keys"]]
    return [("", entry) for entry in params["Entries"]]


def _set_batch_items(operation: str, params: dict[str, Any], items: list[tuple[str, Any]]) -> None:
    """Replace the call's items (new containers: the caller's own stay untouched)."""
    if operation == "BatchWriteItem":
        params["RequestItems"] = _by_table(items)
    elif operation == "BatchGetItem":
        asked = params["RequestItems"]
        params["RequestItems"] = {
            table: {**asked[table], "Keys": keys} for table, keys in _by_table(items).items()
        }
    else:
        params["Entries"] = [entry for _, entry in items]


def _report_undone(
    operation: str, parsed: dict[str, Any], held: list[tuple[str, Any]], sender_fault: bool
) -> None:
    if operation == "BatchWriteItem":
        undone = parsed.setdefault("UnprocessedItems", {})
        for table, writes in _by_table(held).items():
            undone.setdefault(table, []).extend(writes)
    elif operation == "BatchGetItem":
        undone = parsed.setdefault("UnprocessedKeys", {})
        for table, keys in _by_table(held).items():
            undone.setdefault(table, {"ConsistentRead": True, "Keys": []})["Keys"].extend(keys)
    else:
        failed = parsed.setdefault("Failed", [])
        code = "InvalidParameterValue" if sender_fault else "InternalError"
        for _, entry in held:
            failed.append(
                {"Id": entry["Id"], "SenderFault": sender_fault, "Code": code, "Message": "held"}
            )


def _by_table(items: list[tuple[str, Any]]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for table, item in items:
        grouped.setdefault(table, []).append(item)
    return grouped


class FaultSet:
    """The faults of one test, all removed at its end."""

    def __init__(self) -> None:
        self.made: list[AwsFault | PartialBatch] = []

    def __call__(self, service: str, operation: str, **kwargs: Any) -> AwsFault:
        fault = AwsFault(service, operation, **kwargs)
        self.made.append(fault)
        return fault

    def reply(self, service: str, operation: str, answer: dict[str, Any]) -> AwsReply:
        made = AwsReply(service, operation, answer)
        self.made.append(made)
        return made

    def partial(self, service: str, operation: str, **kwargs: Any) -> PartialBatch:
        made = PartialBatch(service, operation, **kwargs)
        self.made.append(made)
        return made

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
    """Retry executions by name → {"status", "input"} (input parsed, its messages too)."""
    sfn = client("stepfunctions")
    found: dict[str, dict[str, Any]] = {}
    for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        given = json.loads(described["input"])
        given["messages"] = [json.loads(entry["MessageBody"]) for entry in given["entries"]]
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

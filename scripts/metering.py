"""Meters for the benchmark: AWS calls and billable units from botocore's own events, Lambda
handler CPU and wall time, and bytes written to stdout (what CloudWatch Logs would ingest).

AWS calls are counted on the cached clients of `shared.core.aws` (the clients every handler uses):
`before-call` counts a call, `before-parameter-build` keeps the request parameters and
`after-call` turns request + response into billable units:
- DynamoDB write request units: ceil(item KB) per item written (the larger of the item before
  and after the write, read with an uncounted probe client), x2 inside TransactWriteItems;
- DynamoDB read request units: ceil(item size / 4 KB) per item read (half for eventually
  consistent reads, GSI queries always are), a Query by the bytes it returned;
- SQS requests: one per call, SendMessage(Batch) one per 64 KB chunk of payload;
- S3 PUT-class and GET-class requests, Secrets Manager calls, Step Functions executions started.
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scripts import prices

SERVICES = ("dynamodb", "sqs", "s3", "secretsmanager", "stepfunctions")
S3_PUT_CLASS = frozenset(
    {
        "PutObject",
        "CopyObject",
        "ListObjects",
        "ListObjectsV2",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
    }
)
S3_GET_CLASS = frozenset({"GetObject", "HeadObject", "SelectObjectContent"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


# ---------------------------------------------------------------- DynamoDB item sizes


def _number_size(text: str) -> int:
    """1 byte per two significant digits + 1 (DynamoDB item size rules)."""
    digits = text.lstrip("-").replace(".", "").split("e")[0].split("E")[0]
    significant = digits.strip("0") or "0"
    return (len(significant) + 1) // 2 + 1


def attribute_value_size(value: dict[str, Any]) -> int:
    """Size of one typed attribute value (low-level format, e.g. {"S": "x"})."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(item).encode()) for item in inner)
    if kind == "NS":
        return sum(_number_size(str(item)) for item in inner)
    if kind == "BS":
        return sum(len(item) for item in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_value_size(item) for item in inner)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode()) + attribute_value_size(item) for name, item in inner.items()
        )
    return len(str(inner).encode())


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes DynamoDB bills for an item: names plus values (0 for a missing item)."""
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / prices.DYNAMODB_WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / prices.DYNAMODB_READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


# ---------------------------------------------------------------- usage


@dataclass
class Usage:
    """AWS usage of one operation: calls and the billable units they consumed."""

    calls: Counter[str] = field(default_factory=Counter)
    wru: float = 0.0
    rru: float = 0.0
    sqs_requests: float = 0.0
    s3_put: float = 0.0
    s3_get: float = 0.0
    secrets_calls: float = 0.0
    sfn_executions: float = 0.0
    log_bytes: float = 0.0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def describe_calls(self) -> str:
        if not self.calls:
            return "none"
        return ", ".join(f"{name} x{count}" for name, count in sorted(self.calls.items()))

    def scaled(self, factor: float) -> Usage:
        return Usage(
            calls=Counter(self.calls),
            wru=self.wru * factor,
            rru=self.rru * factor,
            sqs_requests=self.sqs_requests * factor,
            s3_put=self.s3_put * factor,
            s3_get=self.s3_get * factor,
            secrets_calls=self.secrets_calls * factor,
            sfn_executions=self.sfn_executions * factor,
            log_bytes=self.log_bytes * factor,
        )


class AwsMeter:
    """Counts the calls made through `shared.core.aws.client(...)` and their billable units."""

    def __init__(self, key_names: dict[str, tuple[str, ...]], probe: Any) -> None:
        from shared.core.aws import client

        self.key_names = key_names  # table name -> key attribute names
        self.probe = probe  # an uncounted DynamoDB client for item sizes before/after writes
        self.usage = Usage()
        self.recording = False
        self.probing = False
        self._clients = [client(service) for service in SERVICES]
        for aws_client in self._clients:
            events = aws_client.meta.events
            events.register("before-parameter-build", self._before_parameters)
            events.register("before-call", self._before_call)
            events.register("after-call", self._after_call)

    def close(self) -> None:
        for aws_client in self._clients:
            events = aws_client.meta.events
            events.unregister("before-parameter-build", self._before_parameters)
            events.unregister("before-call", self._before_call)
            events.unregister("after-call", self._after_call)

    @contextlib.contextmanager
    def record(self, probing: bool = True) -> Iterator[Usage]:
        """Meter everything inside the block into a fresh Usage."""
        self.usage = Usage()
        self.recording, self.probing = True, probing
        try:
            yield self.usage
        finally:
            self.recording = self.probing = False

    # botocore handlers ------------------------------------------------------

    def _before_parameters(
        self, params: dict[str, Any], model: Any, context: Any, **_: Any
    ) -> None:
        if not self.recording or context is None:
            return
        context["bench_params"] = params
        service = model.service_model.service_name
        if service == "dynamodb" and self.probing:
            context["bench_before"] = self._write_targets_sizes(model.name, params)

    def _before_call(self, model: Any, **_: Any) -> None:
        if self.recording:
            self.usage.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def _after_call(self, model: Any, parsed: dict[str, Any], context: Any, **_: Any) -> None:
        if not self.recording or context is None:
            return
        params: dict[str, Any] = context.get("bench_params") or {}
        service, operation = model.service_model.service_name, model.name
        if service == "dynamodb":
            self._dynamodb(operation, params, parsed, context.get("bench_before") or [])
        elif service == "sqs":
            self.usage.sqs_requests += _sqs_requests(operation, params)
        elif service == "s3":
            if operation in S3_PUT_CLASS:
                self.usage.s3_put += 1
            elif operation in S3_GET_CLASS:
                self.usage.s3_get += 1
        elif service == "secretsmanager":
            self.usage.secrets_calls += 1
        elif service == "stepfunctions" and operation == "StartExecution":
            self.usage.sfn_executions += 1

    # DynamoDB units ---------------------------------------------------------

    def _key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.key_names.get(table, ()) if name in item}

    def _probe_size(self, table: str, key: dict[str, Any]) -> int:
        if not self.probing or not key:
            return 0
        found = self.probe.get_item(TableName=table, Key=key, ConsistentRead=True)
        return item_size(found.get("Item"))

    def _write_targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, Any]]:
        """(table, key) of every item a write touches, in request order."""
        if operation in DYNAMODB_WRITES:
            table = params.get("TableName", "")
            key = params.get("Key") or self._key_of(table, params.get("Item") or {})
            return [(table, key)]
        if operation == "TransactWriteItems":
            targets = []
            for entry in params.get("TransactItems", []):
                (_, body), *_ = entry.items()
                table = body.get("TableName", "")
                targets.append(
                    (table, body.get("Key") or self._key_of(table, body.get("Item", {})))
                )
            return targets
        return []

    def _write_targets_sizes(self, operation: str, params: dict[str, Any]) -> list[int]:
        return [
            self._probe_size(table, key) for table, key in self._write_targets(operation, params)
        ]

    def _dynamodb(
        self, operation: str, params: dict[str, Any], parsed: dict[str, Any], before: list[int]
    ) -> None:
        usage = self.usage
        if operation in DYNAMODB_WRITES:
            table, key = self._write_targets(operation, params)[0]
            new = item_size(params["Item"]) if operation == "PutItem" else 0
            if operation == "UpdateItem":
                new = self._probe_size(table, key)
            old = before[0] if before else 0
            usage.wru += write_units(max(old, new))
        elif operation == "TransactWriteItems":
            targets = self._write_targets(operation, params)
            for position, entry in enumerate(params.get("TransactItems", [])):
                (kind, body), *_ = entry.items()
                old = before[position] if position < len(before) else 0
                new = item_size(body.get("Item")) if kind == "Put" else 0
                if kind == "Update":
                    new = self._probe_size(*targets[position])
                usage.wru += 2 * write_units(max(old, new))
        elif operation == "BatchWriteItem":
            for requests in params.get("RequestItems", {}).values():
                for request in requests:
                    if "PutRequest" in request:
                        usage.wru += write_units(item_size(request["PutRequest"]["Item"]))
                    else:
                        usage.wru += 1
        elif operation == "GetItem":
            usage.rru += read_units(
                item_size(parsed.get("Item")), bool(params.get("ConsistentRead"))
            )
        elif operation == "BatchGetItem":
            responses = parsed.get("Responses", {})
            for table, request in params.get("RequestItems", {}).items():
                consistent = bool(request.get("ConsistentRead"))
                found = {
                    _freeze(self._key_of(table, item)): item_size(item)
                    for item in responses.get(table, [])
                }
                for key in request.get("Keys", []):
                    usage.rru += read_units(found.get(_freeze(key), 0), consistent)
        elif operation in ("Query", "Scan"):
            returned = sum(item_size(item) for item in parsed.get("Items", []))
            consistent = bool(params.get("ConsistentRead")) and not params.get("IndexName")
            usage.rru += read_units(returned, consistent)
        elif operation == "TransactGetItems":
            for response in parsed.get("Responses", []):
                usage.rru += 2 * read_units(item_size(response.get("Item")), True)


def _freeze(key: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, repr(value)) for name, value in key.items()))


def _sqs_requests(operation: str, params: dict[str, Any]) -> float:
    """Billed SQS requests: every 64 KB chunk of a send's payload is one request."""
    if operation == "SendMessage":
        payload = len(str(params.get("MessageBody", "")).encode())
    elif operation == "SendMessageBatch":
        payload = sum(len(str(e.get("MessageBody", "")).encode()) for e in params["Entries"])
    else:
        return 1.0
    return float(max(1, math.ceil(payload / prices.SQS_CHUNK_BYTES)))


# ---------------------------------------------------------------- Lambda time


@dataclass
class Invocations:
    """CPU and wall seconds of each invocation, per function."""

    cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    wall: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def count(self, function: str) -> int:
        return len(self.cpu.get(function, []))


class LambdaMeter:
    """Times handler calls: time.process_time (CPU of this process, all its threads: the moto
    server runs in another process) and time.perf_counter (wall) around each invocation."""

    def __init__(self) -> None:
        self.current = Invocations()

    def reset(self) -> Invocations:
        self.current = Invocations()
        return self.current

    def call(
        self, function: str, handler: Callable[[Any, Any], Any], event: Any, context: Any
    ) -> Any:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return handler(event, context)
        finally:
            self.current.cpu[function].append(time.process_time() - cpu)
            self.current.wall[function].append(time.perf_counter() - wall)


# ---------------------------------------------------------------- stdout bytes


class CountingSink(io.TextIOBase):
    """A text stream that only counts the UTF-8 bytes written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode("utf-8", "replace"))
        return len(text)

    def writable(self) -> bool:
        return True


@contextlib.contextmanager
def captured_stdout() -> Iterator[CountingSink]:
    """Swallow (and count) what handlers print: Powertools logs and EMF metrics."""
    from shared.core.observability import logger

    sink = CountingSink()
    handler = logger.registered_handler
    stream = getattr(handler, "stream", None)
    saved = sys.stdout
    sys.stdout = sink
    if stream is not None:
        handler.setStream(sink)  # type: ignore[attr-defined]
    try:
        yield sink
    finally:
        sys.stdout = saved
        if stream is not None:
            handler.setStream(stream)  # type: ignore[attr-defined]

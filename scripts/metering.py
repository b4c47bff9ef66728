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
import json
import math
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scripts import prices
from scripts.indexwrites import Item, Write, item_writes
from scripts.itemsize import item_size
from shared.core.resources import Table

Key = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WriteRequest:
    """One item a DynamoDB write request writes (or checks, in a transaction)."""

    table: str  # the physical table name
    key: dict[str, Any]
    kind: str  # "Put", "Update", "Delete", "ConditionCheck"
    item: dict[str, Any] | None = None  # what a Put writes


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


# ---------------------------------------------------------------- DynamoDB units


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
    index_wru: float = 0.0  # the part of `wru` written to global secondary indexes
    s3_bytes_put: float = 0.0
    # Not scaled: what the metered run wrote, for the partition heat and storage tables.
    writes: list[Write] = field(default_factory=list)
    final_items: dict[tuple[str, Key], Item | None] = field(default_factory=dict)

    @property
    def table_wru(self) -> float:
        return self.wru - self.index_wru

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
            index_wru=self.index_wru * factor,
            s3_bytes_put=self.s3_bytes_put * factor,
        )


class AwsMeter:
    """Counts the calls made through `shared.core.aws.client(...)` and their billable units.

    DynamoDB writes are priced from the item before and after each write, table and indexes
    (scripts/indexwrites.py): before, read with an uncounted consistent GetItem just before the
    call; after, the request's item for a put, an uncounted consistent GetItem just after the call
    for an update, nothing for a delete. The bench runs one request per item at a time, so the
    two reads see exactly what the write changed.
    """

    def __init__(self, tables: dict[str, Table], probe: Any) -> None:
        from shared.core.aws import client

        self.tables = tables  # physical table name -> its declaration
        self.probe = probe  # an uncounted DynamoDB client for the items before/after writes
        self.usage = Usage()
        self.recording = False
        self.probing = False
        self.lock = threading.Lock()  # a worker batch's records run on threads
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
            requests = write_requests(model.name, params, self._key_of)
            context["bench_before"] = self._probe_all(requests)

    def _before_call(self, model: Any, **_: Any) -> None:
        if self.recording:
            with self.lock:
                self.usage.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def _after_call(self, model: Any, parsed: dict[str, Any], context: Any, **_: Any) -> None:
        if not self.recording or context is None:
            return
        params: dict[str, Any] = context.get("bench_params") or {}
        service, operation = model.service_model.service_name, model.name
        if service == "dynamodb":
            before = context.get("bench_before")
            after = self._items_after(operation, params, parsed, before)
            with self.lock:
                self._dynamodb(operation, params, parsed, before, after)
            return
        with self.lock:
            self._other(service, operation, params)

    def _other(self, service: str, operation: str, params: dict[str, Any]) -> None:
        usage = self.usage
        if service == "sqs":
            usage.sqs_requests += _sqs_requests(operation, params)
        elif service == "s3":
            if operation in S3_PUT_CLASS:
                usage.s3_put += 1
                usage.s3_bytes_put += _body_length(params.get("Body"))
            elif operation in S3_GET_CLASS:
                usage.s3_get += 1
        elif service == "secretsmanager":
            usage.secrets_calls += 1
        elif service == "stepfunctions" and operation == "StartExecution":
            usage.sfn_executions += 1

    # DynamoDB units ---------------------------------------------------------

    def _key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        spec = self.tables.get(table)
        names = (spec.partition_key, spec.sort_key) if spec else ()
        return {name: item[name] for name in names if name and name in item}

    def _probe(self, table: str, key: dict[str, Any]) -> Item | None:
        if not self.probing or not key:
            return None
        found: Item | None = self.probe.get_item(TableName=table, Key=key, ConsistentRead=True).get(
            "Item"
        )
        return found

    def _probe_all(self, requests: list[WriteRequest]) -> list[Item | None]:
        """The items before a write request: one uncounted GetItem for a single item, else
        uncounted consistent BatchGetItems of 100 keys (a BatchWriteItem of 25, a transaction of
        100: one read instead of one per item, which keeps large metered runs quick)."""
        if len(requests) <= 1:
            return [self._probe(r.table, r.key) for r in requests]
        wanted: dict[str, dict[Key, dict[str, Any]]] = defaultdict(dict)
        for request in requests:
            if request.key:
                wanted[request.table][_freeze(request.key)] = request.key
        found: dict[tuple[str, Key], Item] = {}
        for table, keys in wanted.items():
            for item in self._batch_probe(table, list(keys.values())):
                found[(table, _freeze(self._key_of(table, item)))] = item
        return [found.get((r.table, _freeze(r.key))) if r.key else None for r in requests]

    def _batch_probe(self, table: str, keys: list[dict[str, Any]]) -> list[Item]:
        items: list[Item] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                table: {"Keys": keys[start : start + 100], "ConsistentRead": True}
            }
            while request:
                reply = self.probe.batch_get_item(RequestItems=request)
                items += reply.get("Responses", {}).get(table, [])
                request = reply.get("UnprocessedKeys") or {}
        return items

    def _items_after(
        self,
        operation: str,
        params: dict[str, Any],
        parsed: dict[str, Any],
        before: list[Item | None] | None,
    ) -> list[Item | None]:
        """Each written item after the call: unchanged when the call failed (a condition)."""
        requests = write_requests(operation, params, self._key_of)
        olds = before if before is not None else [None] * len(requests)
        if "Error" in parsed:
            return list(olds)
        after: list[Item | None] = []
        for request, old in zip(requests, olds, strict=True):
            if request.kind == "Put":
                after.append(request.item)
            elif request.kind == "Update":
                after.append(self._probe(request.table, request.key))
            elif request.kind == "Delete":
                after.append(None)
            else:
                after.append(old)
        return after

    def _dynamodb(
        self,
        operation: str,
        params: dict[str, Any],
        parsed: dict[str, Any],
        before: list[Item | None] | None,
        after: list[Item | None],
    ) -> None:
        requests = write_requests(operation, params, self._key_of)
        if requests:
            olds = before if before is not None else [None] * len(requests)
            for request, old, new in zip(requests, olds, after, strict=True):
                self._item_write(request, old, new, operation == "TransactWriteItems")
            return
        self._dynamodb_read(operation, params, parsed)

    def _item_write(
        self, request: WriteRequest, old: Item | None, new: Item | None, transactional: bool
    ) -> None:
        spec = self.tables.get(request.table)
        if spec is None:
            return
        if not self.probing and request.kind == "Update":
            new = new or dict(request.key)  # unprobed: at least the table's own write
        writes = item_writes(spec, request.key, old, new, transactional)
        usage = self.usage
        usage.writes += writes
        usage.wru += sum(write.units for write in writes)
        usage.index_wru += sum(write.units for write in writes if write.index)
        if request.kind != "ConditionCheck" and old is not new:
            usage.final_items[(spec.logical_id, _freeze(request.key))] = new

    def _dynamodb_read(
        self, operation: str, params: dict[str, Any], parsed: dict[str, Any]
    ) -> None:
        usage = self.usage
        if operation == "GetItem":
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


KeyOf = Callable[[str, dict[str, Any]], dict[str, Any]]


def write_requests(operation: str, params: dict[str, Any], key_of: KeyOf) -> list[WriteRequest]:
    """Every item a DynamoDB write request writes, in request order (none for a read)."""
    if operation in DYNAMODB_WRITES:
        return [_single_write(operation.removesuffix("Item"), params, key_of)]
    if operation == "TransactWriteItems":
        return [
            _single_write(kind, body, key_of)
            for entry in params.get("TransactItems", [])
            for kind, body in entry.items()
        ]
    if operation == "BatchWriteItem":
        requests = []
        for table, entries in params.get("RequestItems", {}).items():
            for entry in entries:
                if "PutRequest" in entry:
                    item = entry["PutRequest"]["Item"]
                    requests.append(WriteRequest(table, key_of(table, item), "Put", item))
                else:
                    requests.append(WriteRequest(table, entry["DeleteRequest"]["Key"], "Delete"))
        return requests
    return []


def _single_write(kind: str, body: dict[str, Any], key_of: KeyOf) -> WriteRequest:
    table = body.get("TableName", "")
    item = body.get("Item")
    key = body.get("Key") or key_of(table, item or {})
    return WriteRequest(table, key, kind, item)


def _freeze(key: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, repr(value)) for name, value in key.items()))


def _body_length(body: Any) -> int:
    """Bytes of an S3 Body (botocore turns bytes into a file-like object on the way)."""
    if isinstance(body, bytes | bytearray):
        return len(body)
    if isinstance(body, str):
        return len(body.encode())
    if hasattr(body, "getbuffer"):
        return len(body.getbuffer())
    if hasattr(body, "seek") and hasattr(body, "tell"):
        here = body.tell()
        size = int(body.seek(0, io.SEEK_END))
        body.seek(here)
        return size
    return 0


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
    """A text stream that counts the UTF-8 bytes written to it and keeps the EMF documents
    (the metrics the handlers print) for the custom-metric count."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self.emf: list[dict[str, Any]] = []
        self._line = ""

    def write(self, text: str) -> int:
        self.bytes += len(text.encode("utf-8", "replace"))
        self._line += text
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            self._keep_emf(line)
        return len(text)

    def _keep_emf(self, line: str) -> None:
        if '"_aws"' not in line:
            return
        with contextlib.suppress(ValueError):
            document = json.loads(line)
            if isinstance(document, dict) and "CloudWatchMetrics" in document.get("_aws", {}):
                self.emf.append(document)

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

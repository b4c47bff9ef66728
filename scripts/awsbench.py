"""AWS calls per operation and the measurements the cost model needs.

moto runs as a server in a child process (with the test receiver), so the CPU time measured
around a handler call in this process is the handler's own work, not the emulator's. Requests go
through the local gateway in-process, as API Gateway calls the functions; the SQS consumers
are invoked directly with event-source-mapping events: delivery messages built from the publish
answers exactly as `shared.outbound.publishing.queue_message` puts them on the queue, inbound
messages read off the inbound queue.

Each operation is run once to warm the caches (clients, secrets, API keys), once metered (calls
and billable units, with probes that read item sizes), then `timed_runs` times unmetered for the
handlers' CPU and wall time (medians).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import declaration as decl
from infra.local.launch import free_port
from scripts.metering import AwsMeter, Invocations, LambdaMeter, Usage, captured_stdout

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "wk_bench_admin_key"
# Partition heat: enough events that each of the 32 shards of shared/store/shards.py draws ~62
# (their spread, +-8, is what the hottest shows), within a bounded share of `make bench`.
HEAT_EVENTS = 2000
HEAT_BATCH = 100  # events per POST /v1/events/batch (its limit)
HEAT_SECONDS = 60.0  # no new round after this: a busy machine meters fewer events (reported)
PREFIX = "bench"
EVENT_TYPE = "bench.created"
# A representative event: ~0.5 KB of JSON data (webhook payloads are typically 0.5-5 KB).
EVENT_DATA: dict[str, Any] = {
    "id": "usr_8f14e45fceea167a5a36dedd4bea2543",
    "email": "ada.lovelace@example.com",
    "name": "Ada Lovelace",
    "plan": "pro",
    "seats": 12,
    "company": {"id": "org_1679091c5a880faf6fb5e6087eb1b2dc", "name": "Analytical Engines Ltd"},
    "address": {"line1": "12 St James's Square", "city": "London", "postcode": "SW1Y 4JH"},
    "tags": ["beta", "enterprise", "eu"],
    "created_at": "2026-11-24T16:47:18Z",
    "metadata": {"source": "signup-form", "campaign": "autumn-2026", "referrer": "newsletter"},
}
GITHUB_BODY_TEMPLATE: dict[str, Any] = {
    "action": "opened",
    "number": 1347,
    "pull_request": {
        "id": 1,
        "title": "Amazing new feature",
        "user": {"login": "octocat", "id": 1},
        "body": "Please pull these awesome changes in!",
        "head": {"ref": "new-topic", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
        "base": {"ref": "master", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
    },
    "repository": {"id": 1296269, "full_name": "octocat/Hello-World", "private": False},
    "sender": {"login": "octocat", "id": 1},
}


def github_push(commits: int, seed: int = 1) -> bytes:
    """A GitHub push body of `commits` commits: JSON as GitHub sends it, its ids random hex (as
    incompressible as real ones), its keys repeated commit after commit."""
    draw = random.Random(seed)
    return json.dumps(
        {
            "ref": "refs/heads/main",
            "repository": {"id": 1296269, "full_name": "octocat/Hello-World", "private": False},
            "pusher": {"name": "octocat", "email": "octocat@github.com"},
            "commits": [
                {
                    "id": draw.randbytes(20).hex(),
                    "tree_id": draw.randbytes(20).hex(),
                    "url": f"https://github.com/octocat/Hello-World/commit/{number}",
                    "message": f"Fix the flaky test number {number}",
                    "timestamp": f"2026-11-24T16:{number % 60:02d}:18Z",
                    "author": {"name": "Ada", "email": "ada@example.com", "username": "ada"},
                    "added": [],
                    "removed": [],
                    "modified": [f"src/module_{number}.py"],
                }
                for number in range(commits)
            ],
        }
    ).encode()


LARGE_PUSH_COMMITS = 65  # github_push: ~25 KB, a large but ordinary push

# What a GitHub delivery carries besides its signatures and delivery id
# (https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers), and what
# API Gateway adds before the function sees it (HTTP API payload 2.0).
GITHUB_DELIVERY_HEADERS = {
    "Accept": "*/*",
    "User-Agent": "GitHub-Hookshot/044aadd",
    "X-GitHub-Event": "pull_request",
    "X-GitHub-Hook-ID": "292430182",
    "X-GitHub-Hook-Installation-Target-ID": "79929171",
    "X-GitHub-Hook-Installation-Target-Type": "repository",
    "Host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
    "X-Forwarded-For": "140.82.115.1",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
}

# ---------------------------------------------------------------- child process: moto + receiver


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def emulator() -> Iterator[tuple[int, int]]:
    """(moto port, receiver port) served by `python -m scripts.emulator`; stopped on exit."""
    moto_port, receiver_port = free_port(), free_port()
    command = [sys.executable, "-m", "scripts.emulator", str(moto_port), str(receiver_port)]
    # PurgeQueue at any time: the bench empties the delivery queue before each run (Bench.purge).
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (_listening(moto_port) and _listening(receiver_port)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the moto server child did not start within 60 s")
            time.sleep(0.1)
        yield moto_port, receiver_port
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# ---------------------------------------------------------------- results


@dataclass
class OpResult:
    """One operation: its metered AWS usage and its handlers' per-invocation times."""

    name: str
    usage: Usage
    invocations: dict[str, int]  # per run, by function
    cpu: dict[str, float] = field(default_factory=dict)  # median seconds per invocation
    wall: dict[str, float] = field(default_factory=dict)
    runs: int = 0
    emf: list[dict[str, Any]] = field(default_factory=list)  # metric documents it printed


@dataclass
class AwsResults:
    ops: dict[str, OpResult] = field(default_factory=dict)
    inbound_error: str | None = None
    retry_transitions: int = 0
    heat: Usage | None = None  # HEAT_EVENTS published events and their deliveries, metered
    heat_events: int = 0
    heat_seconds: float = 0.0  # the heat run's wall time (inside the cost section's)
    tenant: Usage | None = None  # one tenant set up: user, webhook, inbound source
    tenant_ids: set[str] = field(default_factory=set)  # every user, webhook and source id made

    def emf(self) -> list[dict[str, Any]]:
        return [document for op in self.ops.values() for document in op.emf]


# ---------------------------------------------------------------- the bench environment


class Bench:
    """The function environment pointed at the child's moto server, plus meters and helpers."""

    def __init__(self, moto_port: int, receiver_port: int) -> None:
        import boto3

        endpoint = f"http://127.0.0.1:{moto_port}"
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "MOTO_PORT": str(moto_port),
                "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1",
                "PUBLIC_BASE_URL": "https://hooks.example.com",
                "POWERTOOLS_SERVICE_NAME": "serverless-webhooks",
                "POWERTOOLS_METRICS_NAMESPACE": "ServerlessWebhooks",
                "POWERTOOLS_TRACE_DISABLED": "1",
                "POWERTOOLS_LOG_LEVEL": "INFO",
            }
        )
        from infra.local.provision import provision
        from shared.core import resources as res

        session = boto3.session.Session(region_name="us-east-1")
        self.env = provision(session, PREFIX, ADMIN_KEY)
        os.environ.update(self.env)
        _reset_process_caches()
        self.receiver = f"http://127.0.0.1:{receiver_port}"
        self.tenant_ids: set[str] = set()
        self.raw_sqs = session.client("sqs")  # uncounted: the bench's own queue reads
        tables = {self.env[table.env_var]: table for table in res.TABLES}
        self.aws = AwsMeter(tables, session.client("dynamodb"))
        self.lambdas = LambdaMeter()
        self.gateway = _instrumented_gateway(self.lambdas)

    def close(self) -> None:
        self.aws.close()

    # API through the gateway ------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        key: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = {"content-type": "application/json", **(headers or {})}
        if key:
            sent["x-api-key"] = key
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = self.gateway.handle(method, path, sent, data)
        payload = json.loads(response.body) if response.body else None
        return response.status, payload

    def expect(self, status: int, reply: tuple[int, Any]) -> Any:
        if reply[0] != status:
            raise RuntimeError(f"expected HTTP {status}, got {reply[0]}: {reply[1]}")
        return reply[1]

    def new_user(self, user_id: str) -> str:
        self.tenant_ids.add(user_id)
        reply = self.request(
            "POST", "/v1/admin/api-keys", ADMIN_KEY, {"user_id": user_id, "role": "user"}
        )
        return str(self.expect(201, reply)["api_key"])

    def add_webhooks(self, key: str, path: str, count: int) -> None:
        for _ in range(count):
            body = {"url": self.receiver + path, "events": ["bench.*"]}
            made = self.expect(201, self.request("POST", "/v1/webhooks", key, body))
            self.tenant_ids.add(str(made.get("id", "")))

    def add_source(self, key: str, secret: str) -> tuple[int, Any]:
        body = {"name": "github-bench", "provider": "github", "secret": secret}
        status, source = self.request("POST", "/v1/sources", key, body)
        if status == 201:
            self.tenant_ids.add(str(source["id"]))
        return status, source

    def publish(self, key: str) -> Any:
        body = {"type": EVENT_TYPE, "data": EVENT_DATA}
        return self.expect(202, self.request("POST", "/v1/events", key, body))

    def publish_batch(self, key: str, count: int) -> Any:
        body = {"events": [{"type": EVENT_TYPE, "data": EVENT_DATA} for _ in range(count)]}
        return self.expect(202, self.request("POST", "/v1/events/batch", key, body))

    # queues -----------------------------------------------------------------

    def purge(self, env_var: str) -> None:
        """Empty a queue nobody reads (the delivery queue: the bench builds the worker's messages
        itself). moto's SendMessage(Batch) walks every message already queued, so the thousands
        the runs leave there would slow every later publish (not change its calls or units)."""
        self.raw_sqs.purge_queue(QueueUrl=self.env[env_var])

    def drain(self, env_var: str) -> None:
        """Delete what is on a queue (PurgeQueue is limited to once a minute)."""
        url = self.env[env_var]
        for _ in range(200):
            messages = self.raw_sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
            ]
            self.raw_sqs.delete_message_batch(QueueUrl=url, Entries=entries)

    def receive(self, env_var: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Exactly `count` messages off a queue (the bench's own uncounted reads)."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            reply = self.raw_sqs.receive_message(
                QueueUrl=self.env[env_var],
                MaxNumberOfMessages=min(10, count - len(messages)),
                AttributeNames=["All"],
                WaitTimeSeconds=1,
            )
            messages.extend(reply.get("Messages", []))
        if len(messages) < count:
            raise RuntimeError(f"only {len(messages)} of {count} messages arrived on {env_var}")
        return messages

    def delivery_messages(self, user_id: str, answers: list[Any]) -> list[dict[str, Any]]:
        """The delivery queue's messages for published events, as SQS hands them out."""
        from shared.outbound.publishing import queue_message

        messages = []
        for answer in answers:
            for item in answer["deliveries"]:
                body = queue_message(
                    {
                        "delivery_id": item["delivery_id"],
                        "user_id": user_id,
                        "event_id": answer["event_id"],
                        "webhook_id": item["webhook_id"],
                    }
                )
                messages.append(
                    {
                        "MessageId": str(uuid.uuid4()),
                        "ReceiptHandle": uuid.uuid4().hex,
                        "Body": json.dumps(body, separators=(",", ":")),
                        "Attributes": {"ApproximateReceiveCount": "1"},
                    }
                )
        return messages

    def sqs_event(self, env_var: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        from infra.local.pollers import sqs_event

        arn = f"arn:aws:sqs:us-east-1:123456789012:{self.env[env_var].rsplit('/', 1)[-1]}"
        return sqs_event(messages, arn)

    def invoke(self, function: Any, event: dict[str, Any]) -> Any:
        """Invoke a consumer handler as its event source mapping would."""
        from infra.local.gateway import LambdaContext

        handler = self.gateway.invoker.handler(function)
        return self.lambdas.call(
            function.name, handler, event, LambdaContext(function.name, function.memory_mb)
        )

    # measuring --------------------------------------------------------------

    def measure(
        self,
        name: str,
        prepare: Callable[[], Any],
        run: Callable[[Any], None],
        timed_runs: int,
    ) -> OpResult:
        """Warm up, meter one run (calls and units), then time `timed_runs` more; the delivery
        queue emptied before each (`purge`)."""
        from shared.core import resources as res

        def prepared() -> Any:
            self.purge(res.DELIVERY_QUEUE.env_var)
            return prepare()

        with captured_stdout():
            run(prepared())
            state = prepared()
            self.lambdas.reset()
            with self.aws.record(probing=True) as usage, captured_stdout() as sink:
                run(state)
            usage.log_bytes = sink.bytes
            emf = sink.emf
            metered = self.lambdas.current
            invocations = {fn: metered.count(fn) for fn in metered.cpu}
            samples: list[Invocations] = []
            for _ in range(timed_runs):
                state = prepared()
                samples.append(self.lambdas.reset())
                run(state)
        result = OpResult(name, usage, invocations, runs=timed_runs, emf=emf)
        for function in invocations:
            cpu = [sum(s.cpu[function]) / len(s.cpu[function]) for s in samples if s.cpu[function]]
            wall = [
                sum(s.wall[function]) / len(s.wall[function]) for s in samples if s.wall[function]
            ]
            if cpu:
                result.cpu[function] = statistics.median(cpu)
                result.wall[function] = statistics.median(wall)
        return result


def _reset_process_caches() -> None:
    from shared.access import auth
    from shared.core.aws import reset_clients
    from shared.core.config import settings
    from shared.store import secrets

    settings.cache_clear()
    reset_clients()
    auth.reset_caches()
    secrets.clear_caches()


def _instrumented_gateway(meter: LambdaMeter) -> Any:
    """The local gateway with every handler call timed (the gateway's own work is not)."""
    from infra.local.gateway import Gateway, InProcess, LambdaContext

    class TimedInProcess(InProcess):
        def invoke(
            self, function: decl.Function, event: dict[str, Any], context: LambdaContext
        ) -> Any:
            return meter.call(function.name, self.handler(function), event, context)

    return Gateway(TimedInProcess())


# ---------------------------------------------------------------- the operations


def run_all(timed_runs: int, deadline: float) -> AwsResults:
    """Every operation the table and the cost model need (moto in a child process)."""
    results = AwsResults(retry_transitions=retry_transitions())
    saved = dict(os.environ)
    try:
        with emulator() as (moto_port, receiver_port):
            bench = Bench(moto_port, receiver_port)
            try:
                _outbound(bench, results, timed_runs, deadline)
                if time.monotonic() < deadline:
                    _tenant(bench, results)
                    _inbound(bench, results, timed_runs)
                else:
                    results.inbound_error = "skipped: the bench ran out of time"
                if time.monotonic() < deadline:  # last: the longest, and bounded by its budget
                    _heat(bench, results, budget=min(HEAT_SECONDS, deadline - time.monotonic()))
            finally:
                results.tenant_ids = bench.tenant_ids
                bench.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _reset_process_caches()
    return results


def _outbound(bench: Bench, results: AwsResults, timed_runs: int, deadline: float) -> None:
    from shared.core import resources as res
    from shared.outbound import worker as delivery

    queue = res.DELIVERY_QUEUE.env_var
    ops = results.ops

    def add(op: OpResult) -> None:
        ops[op.name] = op

    def nothing() -> None:
        return None

    # Publish to N matching webhooks (one event, single-event publish).
    for count in (1, 10, 100):
        key = bench.new_user(f"publish-{count}")
        bench.add_webhooks(key, "/ok", count)
        add(
            bench.measure(
                f"publish_{count}",
                nothing,
                lambda _, key=key: bench.publish(key),  # type: ignore[misc]
                timed_runs if count == 1 else (max(3, timed_runs // 2) if count == 10 else 0),
            )
        )
    key1 = bench.new_user("publish-batch")
    bench.add_webhooks(key1, "/ok", 1)

    def ten_singles(_: Any) -> None:
        for _ in range(10):
            bench.publish(key1)

    add(bench.measure("ten_single_publishes", nothing, ten_singles, 0))
    add(bench.measure("batch_of_10", nothing, lambda _: bench.publish_batch(key1, 10), 0))
    add(
        bench.measure(
            "batch_of_100",
            nothing,
            lambda _: bench.publish_batch(key1, 100),
            max(3, timed_runs // 2),
        )
    )

    # Deliveries: one attempt (shared.outbound.worker.attempt) and the worker on batches.
    ok_key = bench.new_user("deliver-ok")
    bench.add_webhooks(ok_key, "/ok", 1)
    fail_key = bench.new_user("deliver-fail")
    bench.add_webhooks(fail_key, "/fail", 1)
    users = {ok_key: "deliver-ok", fail_key: "deliver-fail"}
    for key in users:  # the user reads its signing secret once (created on first use)
        bench.expect(200, bench.request("GET", "/v1/secret", key))

    def queued(key: str, count: int) -> Callable[[], list[dict[str, Any]]]:
        def prepare() -> list[dict[str, Any]]:
            if count == 1:
                answers = [bench.publish(key)]
            else:
                answers = bench.publish_batch(key, count)["data"]
            return bench.delivery_messages(users[key], answers)

        return prepare

    def attempt_one(messages: list[dict[str, Any]]) -> None:
        delivery.attempt(json.loads(messages[0]["Body"]))

    def worker(messages: list[dict[str, Any]]) -> None:
        reply = bench.invoke(decl.DELIVERY_WORKER, bench.sqs_event(queue, messages))
        if reply.get("batchItemFailures"):
            raise RuntimeError(f"delivery worker reported failures: {reply}")

    add(bench.measure("delivery_ok", queued(ok_key, 1), attempt_one, 0))
    add(bench.measure("delivery_fail", queued(fail_key, 1), attempt_one, 0))
    if time.monotonic() > deadline:
        return
    add(bench.measure("worker_10_ok", queued(ok_key, 10), worker, timed_runs))

    def failing(messages: list[dict[str, Any]]) -> None:
        _worker(bench, messages, failing=True)

    add(bench.measure("worker_10_fail", queued(fail_key, 10), failing, max(3, timed_runs // 2)))
    add(bench.measure("worker_1_ok", queued(ok_key, 1), worker, timed_runs))
    if time.monotonic() < deadline:
        _later_failures(bench, results, queued(fail_key, 10))


def _later_failures(
    bench: Bench, results: AwsResults, prepare: Callable[[], list[dict[str, Any]]]
) -> None:
    """Failing batches of 10 at attempts 2, 3, ... (as many as an endpoint down 24 h sees with
    the default schedule), each metered: a later retry may ride another carrier than the first.
    Handler time is the first failing batch's (`worker_10_fail`)."""
    from scripts.costmodel import DOWN_SECONDS, attempts_while_down
    from shared.core.config import DEFAULT_RETRY_SCHEDULE

    first = results.ops["worker_10_fail"]
    failed, _ = attempts_while_down(DEFAULT_RETRY_SCHEDULE, DOWN_SECONDS)
    with captured_stdout():
        messages = prepare()
        for number in range(1, failed + 1):
            batch = [_at_attempt(message, number) for message in messages]
            if number == 1:
                _worker(bench, batch, failing=True)
                continue
            with bench.aws.record(probing=True) as usage, captured_stdout() as sink:
                _worker(bench, batch, failing=True)
            usage.log_bytes = sink.bytes
            name = f"worker_10_fail_at_{number}"
            results.ops[name] = OpResult(
                name,
                usage,
                dict(first.invocations),
                dict(first.cpu),
                dict(first.wall),
                emf=sink.emf,
            )


def _at_attempt(message: dict[str, Any], number: int) -> dict[str, Any]:
    """The queue message of a delivery's attempt `number` (as the retry carrier re-queues it)."""
    body = {**json.loads(message["Body"]), "attempt": number}
    return {
        **message,
        "MessageId": str(uuid.uuid4()),
        "Body": json.dumps(body, separators=(",", ":")),
    }


def _worker(bench: Bench, messages: list[dict[str, Any]], failing: bool = False) -> None:
    """One worker invocation on `messages`. A failing batch may hand its messages back to the
    queue as batch item failures (a retry carried by the visibility timeout): allowed there."""
    from shared.core import resources as res

    event = bench.sqs_event(res.DELIVERY_QUEUE.env_var, messages)
    reply = bench.invoke(decl.DELIVERY_WORKER, event)
    if reply.get("batchItemFailures") and not failing:
        raise RuntimeError(f"delivery worker reported failures: {reply}")


def _heat(
    bench: Bench, results: AwsResults, events: int = HEAT_EVENTS, budget: float = HEAT_SECONDS
) -> None:
    """One tenant, one webhook: `events` events in rounds of one batch publish (HEAT_BATCH
    events) and their deliveries in worker batches of 10, all metered (every write with its
    partition key value). A batch publish writes the items single publishes would, event by
    event: both are `shared.outbound.publishing.publish_many` (the same `prepare`, so the same
    keys and shards), in fewer requests. No round after the first starts once `budget` seconds
    are spent: `heat_events` is what was metered.

    The delivery queue is purged each round (`Bench.purge` says why); the worker gets messages
    built from the publish answers, as elsewhere in this module."""
    from shared.core import resources as res

    queue = res.DELIVERY_QUEUE.env_var
    key = bench.new_user("heat")
    bench.add_webhooks(key, "/ok", 1)
    bench.expect(200, bench.request("GET", "/v1/secret", key))
    bench.purge(queue)
    started = time.monotonic()
    published = 0
    with captured_stdout():
        _worker(bench, bench.delivery_messages("heat", [bench.publish(key)]))  # warm
        with bench.aws.record(probing=True) as usage:
            while published < events and (not published or time.monotonic() - started < budget):
                count = min(HEAT_BATCH, events - published)
                answers = bench.publish_batch(key, count)["data"]
                bench.purge(queue)
                messages = bench.delivery_messages("heat", answers)
                for start in range(0, len(messages), 10):
                    _worker(bench, messages[start : start + 10])
                published += count
    results.heat, results.heat_events = usage, published
    results.heat_seconds = time.monotonic() - started


def _tenant(bench: Bench, results: AwsResults) -> None:
    """The calls that set up one tenant: a user, a webhook, an inbound source, GET /v1/secret."""
    with captured_stdout(), bench.aws.record(probing=False) as usage:
        key = bench.new_user("tenant")
        bench.add_webhooks(key, "/ok", 1)
        status, reply = bench.add_source(key, "gh_webhook_secret_" + uuid.uuid4().hex)
        if status != 201:
            raise RuntimeError(f"POST /v1/sources answered {status}: {reply}")
        bench.expect(200, bench.request("GET", "/v1/secret", key))
    results.tenant = usage


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _inbound(bench: Bench, results: AwsResults, timed_runs: int) -> None:
    """Inbound receipt (new, duplicate) and processing, if the inbound routes exist yet."""
    from shared.core import resources as res

    missing = [
        f"functions/{function.name}/handler.py"
        for function in (decl.INBOUND, decl.INBOUND_PROCESSOR)
        if not (ROOT / "functions" / function.name / "handler.py").is_file()
    ]
    if missing:
        results.inbound_error = "not implemented yet: " + ", ".join(missing)
        return
    key = bench.new_user("inbound")
    secret = "gh_webhook_secret_" + uuid.uuid4().hex
    status, source = bench.add_source(key, secret)
    if status != 201:
        results.inbound_error = f"POST /v1/sources answered {status}: {source}"
        return
    source_id = source["id"]
    queue = res.INBOUND_QUEUE.env_var

    small = json.dumps(GITHUB_BODY_TEMPLATE, separators=(",", ":")).encode()

    def post(delivery_id: str, body: bytes = small, event: str = "pull_request") -> Any:
        headers = {
            **GITHUB_DELIVERY_HEADERS,
            "X-GitHub-Event": event,
            "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, "sha1").hexdigest(),
            "X-Hub-Signature-256": github_signature(secret, body),
            "X-GitHub-Delivery": delivery_id,
            "X-Amzn-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
            "Content-Length": str(len(body)),
        }
        reply = bench.request("POST", f"/inbound/{source_id}", raw=body, headers=headers)
        return bench.expect(200, reply)

    def fresh() -> str:
        return str(uuid.uuid4())

    def seen() -> str:
        delivery_id = fresh()
        post(delivery_id)
        return delivery_id

    def check_new(delivery_id: str) -> None:
        if post(delivery_id).get("duplicate"):
            raise RuntimeError("a new inbound event was answered as a duplicate")

    def check_duplicate(delivery_id: str) -> None:
        if not post(delivery_id).get("duplicate"):
            raise RuntimeError("a repeated X-GitHub-Delivery was not answered as a duplicate")

    ops = results.ops
    ops["inbound_new"] = bench.measure("inbound_new", fresh, check_new, timed_runs)
    ops["inbound_duplicate"] = bench.measure("inbound_duplicate", seen, check_duplicate, timed_runs)

    def ten_received() -> list[dict[str, Any]]:
        bench.drain(queue)
        for _ in range(10):
            post(str(uuid.uuid4()))
        return bench.receive(queue, 10)

    def process(messages: list[dict[str, Any]]) -> None:
        reply = bench.invoke(decl.INBOUND_PROCESSOR, bench.sqs_event(queue, messages))
        if reply and reply.get("batchItemFailures"):
            raise RuntimeError(f"inbound processor reported failures: {reply}")

    ops["processor_10"] = bench.measure(
        "processor_10", ten_received, process, max(3, timed_runs // 2)
    )

    # Pushes of LARGE_PUSH_COMMITS commits (~25 KB each, 4.6 KB deflated: too large inline).
    pushes = [github_push(LARGE_PUSH_COMMITS, seed) for seed in range(10)]

    def check_new_large(delivery_id: str) -> None:
        if post(delivery_id, pushes[0], "push").get("duplicate"):
            raise RuntimeError("a new inbound event was answered as a duplicate")

    def ten_large_received() -> list[dict[str, Any]]:
        bench.drain(queue)
        for body in pushes:
            post(str(uuid.uuid4()), body, "push")
        return bench.receive(queue, 10)

    ops["inbound_new_large"] = bench.measure(
        "inbound_new_large", fresh, check_new_large, max(3, timed_runs // 2)
    )
    ops["processor_10_large"] = bench.measure(
        "processor_10_large", ten_large_received, process, max(3, timed_runs // 2)
    )


def retry_transitions() -> int:
    """State transitions of one retry execution, as the cost model counts them: the start, every
    state on the path from StartAt to End (Wait, Task), and the end."""
    from infra.declaration import RETRY_STATE_MACHINE_DEFINITION as definition

    states: dict[str, dict[str, Any]] = definition["States"]  # type: ignore[assignment]
    name: str | None = str(definition["StartAt"])
    path = 0
    while name is not None and path < len(states):
        path += 1
        state = states[name]
        name = None if state.get("End") else state.get("Next")
    return path + 2

"""Local throughput: `python -m infra.local` in a subprocess, a real receiver on 127.0.0.1, one
user with one webhook; events published over HTTP (single publishes from a few client threads,
then batch publishes), counted at the receiver. Every loop is bounded in count and in time.

moto bounds these figures: moto (one process) and the HTTP gateway, the SQS pollers and the
handlers (a second process) share this machine's cores, so they say nothing about AWS's throughput.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import requests

from infra.local.launch import free_port, spawn, wait_healthy
from infra.local.server import LocalHTTPServer

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "wk_bench_throughput_admin"
EVENT: dict[str, Any] = {"type": "bench.created", "data": {"id": "usr_1", "plan": "pro"}}


@dataclass
class Phase:
    name: str
    events: int
    requests: int
    accepted: int = 0
    delivered: int = 0
    duplicates: int = 0
    accept_seconds: float = 0.0  # first send -> last 2xx answer
    deliver_seconds: float = 0.0  # first send -> last receipt
    latencies: list[float] = field(default_factory=list)  # publish sent -> receipt, seconds
    errors: list[str] = field(default_factory=list)

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.accept_seconds if self.accept_seconds else 0.0

    @property
    def delivered_per_second(self) -> float:
        return self.delivered / self.deliver_seconds if self.deliver_seconds else 0.0

    def percentile(self, fraction: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Throughput:
    phases: list[Phase] = field(default_factory=list)
    startup_seconds: float = 0.0
    error: str | None = None


class Receiver:
    """Records the first receipt time of each event id (X-Webhook-Event-Id)."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                at = time.time()
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event_id = self.headers.get("X-Webhook-Event-Id", "")
                with receiver.lock:
                    receiver.counts[event_id] = receiver.counts.get(event_id, 0) + 1
                    receiver.first.setdefault(event_id, at)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def received(self, ids: set[str]) -> int:
        with self.lock:
            return len(ids.intersection(self.first))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run(
    events: int = 300, threads: int = 4, batch_size: int = 100, budget: float = 150.0
) -> Throughput:
    result = Throughput()
    deadline = time.monotonic() + budget
    port, moto_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
        "WEBHOOKS_PORT": str(port),
        "MOTO_PORT": str(moto_port),
        "WEBHOOKS_ADMIN_API_KEY": ADMIN_KEY,
        "WEBHOOKS_RETRY_SCHEDULE": "1,2,4",
    }
    base = f"http://127.0.0.1:{port}"
    receiver = Receiver()
    with tempfile.TemporaryFile() as log:
        process = spawn(env, log)
        try:
            started = time.monotonic()
            if not wait_healthy(base, process, min(deadline, started + 90) - started):
                log.seek(0)
                tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
                result.error = "local mode did not become healthy: " + " | ".join(tail)
                return result
            result.startup_seconds = time.monotonic() - started
            session = requests.Session()
            key = _post(
                session, base, "/v1/admin/api-keys", ADMIN_KEY, {"user_id": "tp", "role": "user"}
            )["api_key"]
            hook = {"url": receiver.url, "events": ["bench.*"]}
            _post(session, base, "/v1/webhooks", key, hook)
            # Warm-up: handler imports and first-use caches are not part of the figures.
            warm = _phase("warm-up", 5, 1, 1, base, key, receiver, deadline)
            if warm.delivered < warm.events:
                result.error = f"warm-up: {warm.delivered}/{warm.events} delivered {warm.errors}"
                return result
            result.phases.append(
                _phase(
                    f"single publishes ({threads} client threads)",
                    events,
                    threads,
                    1,
                    base,
                    key,
                    receiver,
                    deadline,
                )
            )
            result.phases.append(
                _phase(
                    f"batch publishes of {batch_size} ({events // batch_size} requests, "
                    f"{min(threads, events // batch_size)} threads)",
                    events,
                    threads,
                    batch_size,
                    base,
                    key,
                    receiver,
                    deadline,
                )
            )
        finally:
            receiver.close()
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
    return result


def _post(session: requests.Session, base: str, path: str, key: str, body: Any) -> Any:
    reply = session.post(f"{base}{path}", json=body, headers={"x-api-key": key}, timeout=30)
    if reply.status_code >= 300:
        raise RuntimeError(f"POST {path}: HTTP {reply.status_code} {reply.text[:200]}")
    return reply.json()


def _phase(
    name: str,
    events: int,
    threads: int,
    batch: int,
    base: str,
    key: str,
    receiver: Receiver,
    deadline: float,
) -> Phase:
    """Publish `events` in requests of `batch` from `threads` threads; wait for the receipts."""
    request_count = max(1, events // batch)
    phase = Phase(name, request_count * batch, request_count)
    sent_at: dict[str, float] = {}
    answered: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session  # type: ignore[no-any-return]

    def publish(_: int) -> None:
        if time.monotonic() > deadline:
            return
        started = time.time()
        try:
            if batch == 1:
                ids = [_post(session(), base, "/v1/events", key, EVENT)["event_id"]]
            else:
                body = {"events": [EVENT] * batch}
                ids = [
                    item["event_id"]
                    for item in _post(session(), base, "/v1/events/batch", key, body)["data"]
                ]
        except (requests.RequestException, RuntimeError, KeyError) as error:
            with lock:
                phase.errors.append(str(error)[:200])
            return
        with lock:
            answered.append(time.time())
            for event_id in ids:
                sent_at[event_id] = started

    first_send = time.time()
    workers = min(threads, request_count)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(publish, range(request_count)))
    phase.accepted = len(sent_at)
    phase.accept_seconds = (max(answered) - first_send) if answered else 0.0
    ids = set(sent_at)
    _wait(lambda: receiver.received(ids) >= len(ids), min(deadline, time.monotonic() + 120))
    with receiver.lock:
        receipts = {
            event_id: receiver.first[event_id] for event_id in ids if event_id in receiver.first
        }
        phase.duplicates = sum(receiver.counts.get(event_id, 1) - 1 for event_id in receipts)
    phase.delivered = len(receipts)
    phase.deliver_seconds = (max(receipts.values()) - first_send) if receipts else 0.0
    phase.latencies = [receipts[event_id] - sent_at[event_id] for event_id in receipts]
    return phase


def _wait(check: Callable[[], bool], until: float) -> bool:
    while time.monotonic() < until:
        if check():
            return True
        time.sleep(0.05)
    return check()


def summary(phase: Phase) -> str:
    p50, p99 = phase.percentile(0.50), phase.percentile(0.99)
    latency = (
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
        if p50 is not None and p99 is not None
        else "no receipts"
    )
    return (
        f"{phase.accepted_per_second:.1f} events/s accepted, "
        f"{phase.delivered_per_second:.1f} deliveries/s completed, {latency}"
    )

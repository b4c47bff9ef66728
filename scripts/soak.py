"""Local-mode soak: does the emulator's memory level off under a long run of publishes?

`python -m infra.local` in a subprocess, one user with one webhook to a real receiver on
127.0.0.1, then N events published with caller ids (the transactional path) by a few client
threads, in rounds. After each round the AWS emulator's resident memory (VmRSS of the
`infra.local.emulator` child, read from /proc) is sampled, together with local mode's own and
its function containers'. Every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import requests

from infra.local.launch import free_port, spawn, wait_healthy
from infra.local.server import LocalHTTPServer

ADMIN_KEY = "wk_bench_soak_admin"


@dataclass
class Sample:
    published: int
    delivered: int
    emulator_mb: float
    local_mb: float
    containers_mb: float
    seconds: float


@dataclass
class SoakResult:
    events: int
    threads: int
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0

    @property
    def growth_second_half_mb(self) -> float:
        """Emulator RSS growth over the second half of the run (flat = bounded)."""
        if len(self.samples) < 2:
            return 0.0
        middle = self.samples[len(self.samples) // 2]
        return self.samples[-1].emulator_mb - middle.emulator_mb


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), cmdline))
    return found


class CountingReceiver:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/soak"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run(events: int, threads: int, rounds: int, deadline_seconds: float) -> SoakResult:
    port, moto_port = free_port(), free_port()
    env = {
        **os.environ,
        "WEBHOOKS_PORT": str(port),
        "MOTO_PORT": str(moto_port),
        "WEBHOOKS_ADMIN_API_KEY": ADMIN_KEY,
    }
    env.pop("AWS_ENDPOINT_URL", None)
    base = f"http://127.0.0.1:{port}"
    result = SoakResult(events=events, threads=threads)
    receiver = CountingReceiver()
    with tempfile.TemporaryFile() as log:
        process = spawn(env, log)
        try:
            if not wait_healthy(base, process, 120):
                raise RuntimeError("local mode did not start")
            result.samples = _soak(base, process.pid, receiver, result, rounds, deadline_seconds)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            receiver.close()
    return result


def _soak(
    base: str,
    pid: int,
    receiver: CountingReceiver,
    result: SoakResult,
    rounds: int,
    deadline_seconds: float,
) -> list[Sample]:
    reply = requests.post(
        f"{base}/v1/admin/api-keys",
        headers={"x-api-key": ADMIN_KEY},
        json={"user_id": "soak", "role": "user"},
        timeout=60,
    )
    reply.raise_for_status()
    session = requests.Session()
    session.headers["x-api-key"] = reply.json()["api_key"]
    session.post(
        f"{base}/v1/webhooks", json={"url": receiver.url, "events": ["soak.*"]}, timeout=60
    ).raise_for_status()
    started = time.monotonic()
    until = started + deadline_seconds
    per_round = result.events // rounds
    samples = [_sample(pid, 0, receiver, started)]
    published = 0
    lock = threading.Lock()

    def publish(number: int) -> None:
        nonlocal published
        if time.monotonic() > until:
            return
        sent = session.post(
            f"{base}/v1/events",
            json={"type": "soak.sent", "id": f"soak-{uuid.uuid4().hex}", "data": {"n": number}},
            timeout=60,
        )
        with lock:
            if sent.status_code == 202:
                published += 1
            else:
                result.errors += 1

    with ThreadPoolExecutor(result.threads) as pool:
        for round_number in range(rounds):
            first = round_number * per_round
            list(pool.map(publish, range(first, first + per_round)))
            while receiver.count < published and time.monotonic() < until:
                time.sleep(0.2)
            samples.append(_sample(pid, published, receiver, started))
            if time.monotonic() > until:
                break
    return samples


def _sample(pid: int, published: int, receiver: CountingReceiver, started: float) -> Sample:
    emulator = local_containers = 0.0
    for child, cmdline in children(pid):
        if "infra.local.emulator" in cmdline:
            emulator = rss_mb(child)
        else:
            local_containers += rss_mb(child)
    return Sample(
        published=published,
        delivered=receiver.count,
        emulator_mb=emulator,
        local_mb=rss_mb(pid),
        containers_mb=local_containers,
        seconds=time.monotonic() - started,
    )


def table(result: SoakResult) -> str:
    lines = [
        "| published | delivered | emulator RSS (MB) | local mode RSS (MB) | containers RSS (MB) "
        "| elapsed (s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for sample in result.samples:
        lines.append(
            f"| {sample.published:,} | {sample.delivered:,} | {sample.emulator_mb:.0f} "
            f"| {sample.local_mb:.0f} | {sample.containers_mb:.0f} | {sample.seconds:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--deadline", type=float, default=900.0)
    args = parser.parse_args()
    result = run(args.events, args.threads, args.rounds, args.deadline)
    print(table(result))
    print(
        f"errors: {result.errors}; emulator growth over the second half: "
        f"{result.growth_second_half_mb:+.0f} MB"
    )


if __name__ == "__main__":
    main()

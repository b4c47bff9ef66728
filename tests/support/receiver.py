"""A real HTTP receiver on 127.0.0.1 whose answers a test scripts per path."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from infra.local.server import LocalHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Script:
    """Status codes to answer in turn (the last one repeats), extra headers, a delay."""

    statuses: list[int] = field(default_factory=lambda: [200])
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    body: bytes = b"ok"


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.scripts: dict[str, Script] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = self.path
                with receiver.lock:
                    receiver.requests.append(
                        Received(path, dict(self.headers.items()), body, time.time())
                    )
                    script = receiver.scripts.get(path, Script())
                    index = min(receiver.counts[path], len(script.statuses) - 1)
                    receiver.counts[path] += 1
                if script.delay_seconds:
                    time.sleep(script.delay_seconds)
                self.send_response(script.statuses[index])
                for name, value in script.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(script.body)))
                self.end_headers()
                self.wfile.write(script.body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def script(self, path: str, script: Script) -> str:
        self.scripts[path] = script
        return self.url(path)

    def received(self, path: str) -> list[Received]:
        with self.lock:
            return [request for request in self.requests if request.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.received(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.received(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

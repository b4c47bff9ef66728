"""`make local`: moto server + the stack's resources + the HTTP API + SQS pollers, no Docker."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from infra import declaration as decl
from infra.local.containers import Pools
from infra.local.emulator import MotoProcess
from infra.local.gateway import Gateway, HttpResponse
from infra.local.pollers import QueuePoller
from infra.local.server import LocalHTTPServer

log = logging.getLogger("local")

# Ctrl-C or TERM to `make local` ends everything within this (the lifecycle test allows 5 s).
STOP_SECONDS = 3.0


class Service:
    """Everything `make local` runs, startable and stoppable from tests too."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        source = {**os.environ, **(env or {})}
        self.moto_port = int(source.get("MOTO_PORT", "5000"))
        self.port = int(source.get("WEBHOOKS_PORT", "8080"))
        self.admin_key = source.get("WEBHOOKS_ADMIN_API_KEY") or "wk_" + secrets.token_urlsafe(32)
        self.prefix = source.get("WEBHOOKS_PREFIX", "serverless-webhooks")
        self.pollers_per_queue = int(source.get("WEBHOOKS_LOCAL_POLLERS", "4"))
        # Containers per HTTP-invoked function (the API, inbound receipt): the
        # most concurrent invocations each may have; callers beyond that wait, as if throttled.
        self.concurrency = int(source.get("WEBHOOKS_LOCAL_CONCURRENCY", "4"))
        # moto answers far slower than AWS: HTTP-invoked functions get this many times their
        # declared timeout here (consumers keep theirs: their queues' visibility depends on it).
        self.timeout_scale = float(source.get("WEBHOOKS_LOCAL_TIMEOUT_SCALE", "3"))
        retry_visibility = source.get("WEBHOOKS_LOCAL_RETRY_VISIBILITY_SECONDS")
        self.retry_visibility = int(retry_visibility) if retry_visibility else None
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.threads: list[threading.Thread] = []
        self.moto: MotoProcess | None = None
        self.http: LocalHTTPServer | None = None
        self.pools: Pools | None = None

    def configure_environment(self) -> None:
        endpoint = f"http://127.0.0.1:{self.moto_port}"
        os.environ.update(
            {
                "MOTO_PORT": str(self.moto_port),  # moto's Step Functions tasks call back here
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
                "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "WEBHOOKS_ALLOW_PRIVATE_TARGETS": os.environ.get(
                    "WEBHOOKS_ALLOW_PRIVATE_TARGETS", "1"
                ),
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
                "POWERTOOLS_SERVICE_NAME": "serverless-webhooks",
                "POWERTOOLS_METRICS_NAMESPACE": "ServerlessWebhooks",
                "POWERTOOLS_TRACE_DISABLED": "1",
            }
        )

    def start(self) -> None:
        import boto3

        from infra.local.provision import provision

        self.configure_environment()
        self.moto = MotoProcess(self.moto_port)
        self.moto.start()
        session = boto3.session.Session(region_name="us-east-1")
        os.environ.update(provision(session, self.prefix, self.admin_key))

        # A consumer's pollers each hold at most one of its containers, like an event source
        # mapping whose maximum concurrency is the number of pollers.
        self.pools = Pools(
            {
                function.name: self.pollers_per_queue if function.consumes else self.concurrency
                for function in decl.FUNCTIONS
            },
            timeout_scale=self.timeout_scale,
        )
        gateway = Gateway(self.pools)
        self.http = LocalHTTPServer(("127.0.0.1", self.port), make_request_handler(gateway, self))
        self.threads.append(threading.Thread(target=self.http.serve_forever, daemon=True))

        sqs = session.client("sqs")
        for function in decl.FUNCTIONS:
            if function.consumes is None:
                continue
            for _ in range(self.pollers_per_queue):
                self.threads.append(
                    QueuePoller(
                        sqs=sqs,
                        queue_url=os.environ[function.consumes.env_var],
                        handler=self.pools[function].handler,
                        function_name=function.name,
                        batch_size=function.consumes.batch_size,
                        stop=self.stop_event,
                        retry_visibility_seconds=self.retry_visibility,
                    )
                )
        for thread in self.threads:
            thread.start()
        self.ready.set()

    def stop(self) -> None:
        """Everything down within STOP_SECONDS: in-flight invocations are cut short (their SQS
        messages come back after the visibility timeout, as when Lambda stops a container).
        Everything is asked to stop first, then waited for against one deadline; whatever is
        still running at the deadline is killed."""
        until = time.monotonic() + STOP_SECONDS
        self.stop_event.set()
        if self.moto:
            self.moto.request_stop()
        if self.pools:
            self.pools.close(until - 1.0)
        if self.http:
            self.http.shutdown()
            self.http.server_close()
        for thread in self.threads:  # daemon threads: one still running ends with the process
            thread.join(timeout=max(0.0, until - time.monotonic() - 0.5))
        if self.moto:
            self.moto.stop(timeout=max(0.1, until - time.monotonic()))


def make_request_handler(gateway: Gateway, service: Service) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.split("?")[0] == "/health" and not service.ready.is_set():
                response = HttpResponse(
                    503, {"content-type": "application/json"}, b'{"status":"starting"}'
                )
            else:
                try:
                    response = gateway.handle(
                        self.command, self.path, list(self.headers.items()), body
                    )
                except Exception:
                    log.exception("request failed")
                    response = HttpResponse(
                        500,
                        {"content-type": "application/json"},
                        json.dumps(
                            {"error": {"code": "internal_error", "message": "internal error"}}
                        ).encode(),
                    )
            self._answer(response)

        def _answer(self, response: HttpResponse) -> None:
            try:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    if name not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):  # the caller gave up: nothing to do
                self.close_connection = True

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """The HTTP server's own refusals (431, 414, 400, 501) in the API's JSON error shape."""
            status = HTTPStatus(code)
            body = json.dumps(
                {"error": {"code": status.name.lower(), "message": message or status.phrase}}
            ).encode()
            self.close_connection = True
            self._answer(HttpResponse(code, {"content-type": "application/json"}, body))

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

    return RequestHandler


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for chatty in ("werkzeug", "botocore", "boto3", "urllib3"):  # no SDK discovery lines
        logging.getLogger(chatty).setLevel(logging.WARNING)
    service = Service()
    service.start()
    print(
        f"Serverless Webhooks is running locally.\n"
        f"  API:           http://127.0.0.1:{service.port}  (GET /health)\n"
        f"  AWS emulator:  http://127.0.0.1:{service.moto_port}  (moto server)\n"
        f"  Admin API key: {service.admin_key}\n"
        f"Press Ctrl-C to stop.",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    print("stopping...", flush=True)
    service.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()

"""`-c publish_function_url=true`: publishers post to the publish function's own URL.

AWS: a function URL invokes its function with payload format 2.0, route key `$default`, for
any method and path; the function routes them itself.
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests
from webhooks_client import Webhooks

from functions.publish.handler import lambda_handler as publish_handler
from infra.local.gateway import LambdaContext, function_url_event, to_http_response
from infra.local.server import LocalHTTPServer
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi

HOOK = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}


def through_url(
    method: str, path: str, key: str | None, body: dict[str, Any] | None
) -> dict[str, Any]:
    """The publish function invoked as its function URL invokes it."""
    headers = {"content-type": "application/json", **({"x-api-key": key} if key else {})}
    raw = json.dumps(body).encode() if body is not None else b""
    event = function_url_event(method, path, headers, raw)
    return dict(publish_handler(event, LambdaContext("publish")))


def test_the_publish_function_answers_its_two_routes_through_its_own_url(
    api: InProcessApi, alice: str
) -> None:
    assert api.request("POST", "/v1/webhooks", alice, HOOK).status == 201
    event = {"type": "user.created", "data": {"n": 1}}

    single = through_url("POST", "/v1/events", alice, event)
    assert single["statusCode"] == 202, single
    event_id = json.loads(single["body"])["event_id"]
    assert api.request("GET", f"/v1/events/{event_id}", alice).json()["type"] == "user.created"
    batch = through_url("POST", "/v1/events/batch", alice, {"events": [event, event]})
    assert batch["statusCode"] == 202 and len(json.loads(batch["body"])["data"]) == 2

    for method in ("GET", "HEAD", "OPTIONS", "PUT"):
        refused = through_url(method, "/v1/events", alice, None)
        assert (refused["statusCode"], refused["headers"]["Allow"]) == (405, "POST"), method
        assert json.loads(refused["body"])["error"]["code"] == "method_not_allowed"
    for path in ("/v1/webhooks", "/v1/events/", "/"):
        missing = through_url("POST", path, alice, event)
        assert missing["statusCode"] == 404, path
    assert through_url("POST", "/v1/events", None, event)["statusCode"] == 401
    assert through_url("POST", "/v1/events", "wk_not_a_key", event)["statusCode"] == 401


@pytest.fixture
def publish_url(aws: dict[str, str]) -> Iterator[str]:
    """A 127.0.0.1 server standing in for the function URL: each request becomes the event a
    function URL hands the publish function."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            event = function_url_event(self.command, self.path, list(self.headers.items()), body)
            answer = to_http_response(publish_handler(event, LambdaContext("publish")))
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _serve

        def log_message(self, *_: Any) -> None:
            pass

    server = LocalHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_client_publishes_to_the_publish_url_and_reads_from_the_api(
    api: InProcessApi, alice: str, publish_url: str
) -> None:
    assert api.request("POST", "/v1/webhooks", alice, HOOK).status == 201
    nowhere = "http://127.0.0.1:9"  # the API: nothing listens, so only publishes may succeed
    hooks = Webhooks(nowhere, alice, publish_url=publish_url, timeout=5)

    published = hooks.publish("user.created", {"n": 1})
    admin = Webhooks(nowhere, ADMIN_KEY, publish_url=publish_url, timeout=5)
    batch = admin.for_user("alice").publish_batch([{"type": "user.created", "data": {}}])

    assert [d["status"] for d in published["deliveries"]] == ["queued"]
    assert len(batch) == 1 and batch[0]["event_id"] != published["event_id"]
    for event_id in (published["event_id"], batch[0]["event_id"]):  # both alice's
        assert api.request("GET", f"/v1/events/{event_id}", alice).status == 200
    with pytest.raises(requests.ConnectionError):
        hooks.list_events()

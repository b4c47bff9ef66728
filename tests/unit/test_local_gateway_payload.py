"""The local gateway builds the event an HTTP API sends a Lambda function (payload format 2.0).

The sample below follows the payload 2.0 structure documented at
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
(duplicate headers and query strings joined by commas, cookies moved out of the headers into a
`cookies` array, lower-case header names, path parameters decoded). Which bodies arrive as text:
the page says a binary body is base64-encoded without listing the types; observed on HTTP APIs,
only `text/*`, `application/json`, `application/xml` and `application/javascript` arrive as text;
everything else, form posts and a missing content type included, arrives base64-encoded.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from infra import declaration as decl
from infra.local.gateway import Gateway, build_event

DOCUMENTED_SAMPLE: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "ANY /v1/{proxy+}",
    "rawPath": "/v1/webhooks/wh%201",
    "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
    "cookies": ["cookie1=a", "cookie2=b"],
    "headers": {"header1": "value1", "header2": "value1,value2", "content-type": "text/plain"},
    "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
    "pathParameters": {"proxy": "webhooks/wh 1"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api-id",
        "domainName": "id.execute-api.us-east-1.amazonaws.com",
        "http": {
            "method": "POST",
            "path": "/v1/webhooks/wh%201",
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "agent",
        },
        "requestId": "id",
        "routeKey": "ANY /v1/{proxy+}",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    },
    "body": "Hello from Lambda",
    "isBase64Encoded": False,
}
VARYING = {"apiId", "domainName", "requestId", "time", "timeEpoch", "sourceIp", "userAgent"}


def _local_event(content_type: str, body: bytes) -> dict[str, Any]:
    gateway = Gateway()
    path = "/v1/webhooks/wh%201"
    route, parameters = gateway.match("POST", path) or (None, {})
    assert route is not None
    return build_event(
        "POST",
        path,
        "parameter1=value1&parameter1=value2&parameter2=value",
        {
            "Header1": "value1",
            "Header2": "value1",
            "header2": "value2",
            "Cookie": "cookie1=a; cookie2=b",
            "Content-Type": content_type,
        },
        body,
        route.key,
        parameters,
    )


def _compare(documented: Any, built: Any, path: str = "") -> list[str]:
    """Field-by-field differences: same keys, same types, same values except varying ones."""
    if isinstance(documented, dict):
        if not isinstance(built, dict):
            return [f"{path}: not an object"]
        problems = [f"{path}.{key}: missing" for key in documented.keys() - built.keys()]
        problems += [f"{path}.{key}: not in payload 2.0" for key in built.keys() - documented]
        for key in documented.keys() & built.keys():
            problems += _compare(documented[key], built[key], f"{path}.{key}")
        return problems
    if type(documented) is not type(built):
        return [f"{path}: {type(built).__name__} instead of {type(documented).__name__}"]
    if path.rsplit(".", 1)[-1] not in VARYING and documented != built:
        return [f"{path}: {built!r} instead of {documented!r}"]
    return []


def test_local_event_matches_the_documented_payload_field_by_field() -> None:
    built = _local_event("text/plain", b"Hello from Lambda")
    assert _compare(DOCUMENTED_SAMPLE, built) == []


def test_the_cookie_header_becomes_the_cookies_array() -> None:
    built = _local_event("application/json", b"{}")
    assert built["cookies"] == ["cookie1=a", "cookie2=b"]
    assert "cookie" not in built["headers"]


@pytest.mark.parametrize(
    ("content_type", "as_text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/plain", True),
        ("application/xml", True),
        ("application/javascript", True),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("application/octet-stream", False),
        ("application/vnd.api+json", False),
        ("", False),
    ],
)
def test_body_encoding_is_decided_as_api_gateway_decides(content_type: str, as_text: bool) -> None:
    body = b'{"a": "b"}'
    built = _local_event(content_type, body)
    assert built["isBase64Encoded"] is not as_text
    decoded = built["body"].encode() if as_text else base64.b64decode(built["body"])
    assert decoded == body


def test_a_text_body_that_is_not_utf8_still_arrives_byte_for_byte() -> None:
    built = _local_event("text/plain", b"\xff\xfe")
    assert built["isBase64Encoded"] is True
    assert base64.b64decode(built["body"]) == b"\xff\xfe"


class Recording:
    """An invoker that records which functions a request invoked, and answers 200."""

    def __init__(self) -> None:
        self.invoked: list[str] = []

    def invoke(self, function: decl.Function, event: dict[str, Any], context: Any) -> Any:
        self.invoked.append(function.name)
        return {"statusCode": 200, "body": ""}


@pytest.mark.parametrize("route", decl.ROUTES, ids=lambda route: route.key)
def test_a_request_is_one_invocation_of_its_function(route: decl.Route) -> None:
    """No authorizer in front (issue 14: a second invocation per request doubled the Lambda
    cost of a publish): the function that serves the route checks the API key itself."""
    invoker = Recording()
    path = "/nowhere" if route.path == decl.DEFAULT_ROUTE else route.path.replace("{", "x")
    path = path.replace("}", "").replace("+", "")
    Gateway(invoker).handle("GET" if route.method == "ANY" else route.method, path, {}, b"")
    assert invoker.invoked == [route.function.name]


def test_a_function_that_fails_is_answered_as_api_gateway_answers() -> None:
    """HTTP API: a Lambda integration that errors → 500 `{"message":"Internal Server Error"}`."""

    class Failing:
        def invoke(self, function: decl.Function, event: dict[str, Any], context: Any) -> Any:
            from infra.local.gateway import FunctionFailed

            raise FunctionFailed(function.name)

    reply = Gateway(Failing()).handle("GET", "/v1/webhooks", {}, b"")
    assert (reply.status, reply.body) == (500, b'{"message":"Internal Server Error"}')


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/inbound/src_00000000000000000000000000"), ("GET", "/nowhere"), ("PUT", "/health")],
)
def test_a_request_no_route_matches_gets_the_json_error_shape(
    aws: dict[str, str], method: str, path: str
) -> None:
    """The `$default` route (HTTP API: what no other route matches) sends it to the API, whose
    answer is the JSON error shape, not API Gateway's `{"message":"Not Found"}`."""
    reply = Gateway().handle(method, path, {}, b"")
    assert reply.status == 404
    assert json.loads(reply.body)["error"]["code"] == "route_not_found"


def test_the_local_servers_own_refusals_are_json_too(aws: dict[str, str]) -> None:
    """431 (a header too large), 414 (a request line too long) and 501 (an unknown method),
    answered by the HTTP server before any function runs, in the API's JSON error shape."""
    import socket
    import threading
    from types import SimpleNamespace

    from infra.local.__main__ import make_request_handler
    from infra.local.server import LocalHTTPServer

    service = SimpleNamespace(ready=threading.Event())
    service.ready.set()
    server = LocalHTTPServer(("127.0.0.1", 0), make_request_handler(Gateway(), service))  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    requests_sent = {
        431: b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
        414: b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
        501: b"BREW /health HTTP/1.1\r\n\r\n",
    }
    try:
        for status, raw in requests_sent.items():
            with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
                sock.sendall(raw)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b" ")[1] == str(status).encode(), head
            assert b"application/json" in head.lower()
            assert json.loads(body)["error"]["code"]
    finally:
        server.shutdown()
        server.server_close()

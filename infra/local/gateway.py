"""An HTTP API (payload 2.0) stand-in: request → function → response.

Routes come from `infra.declaration.ROUTES`, the same list the CDK stack turns into API routes.
Bodies are passed exactly: non-text bodies are base64-encoded as API Gateway does.
"""

from __future__ import annotations

import base64
import importlib
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

from infra import declaration as decl

log = logging.getLogger("local.gateway")
Headers = Mapping[str, str] | list[tuple[str, str]]  # a list keeps repeated headers
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
# HTTP APIs pass a body as text only for these content types; every other body, a missing
# content type and form posts included, arrives base64-encoded (`isBase64Encoded: true`).
TEXT_TYPES = re.compile(r"^\s*(text/[^;\s]+|application/(json|xml|javascript))\s*(;|$)", re.I)


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


# Modules (comma-separated) imported after a handler, e.g. `examples.inbound_handlers`: handlers
# that register themselves for local mode and tests only, never bundled into a Lambda.
EXTRA_MODULES_ENV = "WEBHOOKS_LOCAL_HANDLER_MODULES"


def load_handler(function: decl.Function) -> Handler:
    module = importlib.import_module(f"functions.{function.name}.handler")
    for extra in os.environ.get(EXTRA_MODULES_ENV, "").split(","):
        if extra.strip():
            importlib.import_module(extra.strip())
    return module.lambda_handler  # type: ignore[no-any-return]


def _route_regex(path: str) -> re.Pattern[str]:
    pattern = re.escape(path)
    pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", pattern)
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile(f"^{pattern}$")


class Invoker(Protocol):
    """Runs one invocation of a function (local mode: in one of its containers)."""

    def invoke(
        self, function: decl.Function, event: dict[str, Any], context: LambdaContext
    ) -> Any: ...


class FunctionFailed(Exception):
    """The function did not return: an unhandled exception, a timeout or a crash."""


class InProcess:
    """Handlers imported into this process and called directly: unit tests and the AWS bench.

    One request at a time only (module state is shared); local mode uses containers instead.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def handler(self, function: decl.Function) -> Handler:
        """Import a function's handler on first use, as a Lambda cold start would."""
        if function.name not in self._handlers:
            self._handlers[function.name] = load_handler(function)
        return self._handlers[function.name]

    def invoke(self, function: decl.Function, event: dict[str, Any], context: LambdaContext) -> Any:
        try:
            return self.handler(function)(event, context)
        except Exception as error:
            log.exception("%s raised", function.name)
            raise FunctionFailed(function.name) from error


INTERNAL_ERROR = HttpResponse(
    500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
)


class Gateway:
    """Routes a request to its function, as the CDK stack's HTTP API does: no route has an API
    Gateway authorizer (the API function checks API keys itself).

    A failed invocation is answered as API Gateway answers it (500 `Internal Server Error`).
    """

    def __init__(self, invoker: Invoker | None = None) -> None:
        self.routes = [
            (route, _route_regex(route.path))
            for route in decl.ROUTES
            if route.path != decl.DEFAULT_ROUTE
        ]
        self.default = next((r for r in decl.ROUTES if r.path == decl.DEFAULT_ROUTE), None)
        self.invoker: Invoker = invoker or InProcess()

    def match(self, method: str, path: str) -> tuple[decl.Route, dict[str, str]] | None:
        for route, regex in self.routes:  # specific routes are declared before the catch-all
            found = regex.match(path)
            if found and route.method in (method, "ANY"):
                return route, found.groupdict()
        return (self.default, {}) if self.default else None

    def handle(self, method: str, raw_path: str, headers: Headers, body: bytes) -> HttpResponse:
        path, _, query = raw_path.partition("?")
        matched = self.match(method, path)
        if matched is None:
            return HttpResponse(
                404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
            )
        route, path_parameters = matched
        event = build_event(method, path, query, headers, body, route.key, path_parameters)
        try:
            result = self.invoker.invoke(route.function, event, LambdaContext(route.function.name))
        except FunctionFailed:
            return INTERNAL_ERROR
        return to_http_response(result)


def build_event(
    method: str,
    path: str,
    query: str,
    headers: Headers,
    body: bytes,
    route_key: str,
    path_parameters: dict[str, str],
) -> dict[str, Any]:
    """API Gateway's HTTP API payload 2.0 for a request; a Lambda function URL sends the same
    format with route key `$default` and no path parameters (`function_url_event`)."""
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        key = name.lower()
        if key == "cookie":  # payload 2.0 moves cookies out of the headers into `cookies`
            cookies += [part.strip() for part in value.split(";") if part.strip()]
            continue
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    content_type = lowered.get("content-type", "")
    is_text = bool(TEXT_TYPES.match(content_type))
    if is_text:
        try:
            body_text, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            body_text, is_base64 = base64.b64encode(body).decode(), True
    else:
        body_text, is_base64 = base64.b64encode(body).decode(), True
    query_parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        query_parameters[name] = (
            f"{query_parameters[name]},{value}" if name in query_parameters else value
        )
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if query_parameters:
        event["queryStringParameters"] = query_parameters
    if path_parameters:
        event["pathParameters"] = {name: unquote(value) for name, value in path_parameters.items()}
    if body:
        event["body"] = body_text
    return event


def function_url_event(method: str, raw_path: str, headers: Headers, body: bytes) -> dict[str, Any]:
    """The event a Lambda function URL hands its function: payload 2.0, any method and path.
    https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads"""
    path, _, query = raw_path.partition("?")
    return build_event(method, path, query, headers, body, "$default", {})


def to_http_response(result: dict[str, Any]) -> HttpResponse:
    headers = {name.lower(): str(value) for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(str(value) for value in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    if "content-type" not in headers and body:
        headers["content-type"] = "application/json"
    return HttpResponse(int(result.get("statusCode", 200)), headers, body)

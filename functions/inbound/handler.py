"""`POST /inbound/{source_id}`: public provider webhooks, verified on the exact raw bytes.

The raw body is the base64-decoded body when API Gateway encoded it, else the text as UTF-8;
never Powertools' `decoded_body`, which would force text. Everything else is the service's:
any body that verifies is answered 200, whatever it holds (docs/inbound-handlers.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.core.errors import (
    DomainError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from shared.core.observability import logger, metrics
from shared.inbound.service import (
    MAX_BODY_BYTES,
    TOO_LARGE,
    Challenge,
    Received,
    receive,
)

MAX_ENCODED_BYTES = MAX_BODY_BYTES * 4 // 3 + 4  # base64 of 1 MB
# Each refusal's status; a provider retries a 5xx (Retry-After: 5 s on ServiceUnavailable).
STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (PayloadTooLarge, 413),
    (NotFound, 404),
    (Unauthorized, 401),
    (ServiceUnavailable, 503),
)


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a provider: status, JSON body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


INBOUND_PATH = re.compile(r"/inbound/([^/]+)")
NO_ROUTE = Answer(404, {"error": {"code": "not_found", "message": "no such route"}})
NOT_POST = Answer(
    405,
    {"error": {"code": "method_not_allowed", "message": "send provider webhooks by POST"}},
    {"Allow": "POST"},
)
BAD_BASE64 = Answer(400, {"error": {"code": "bad_request", "message": "body is not valid base64"}})
INTERNAL_ERROR = Answer(
    500, {"error": {"code": "internal_error", "message": "internal error, retry later"}}
)


def raw_body(event: dict[str, Any]) -> bytes:
    """The bytes the sender signed. A text body that decoded to a lone surrogate (an escaped one
    in the event's JSON) has no UTF-8 form: it is encoded as is, and the signature decides."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body, validate=True)
    return str(body).encode("utf-8", "surrogatepass")


def answer_of(result: Received | Challenge) -> Answer:
    if isinstance(result, Challenge):
        return Answer(200, {"challenge": result.challenge})
    return Answer(
        200, {"received": True, "event_id": result.event_id, "duplicate": result.duplicate}
    )


def refusal(error: DomainError) -> Answer:
    status = next((code for kind, code in STATUS if isinstance(error, kind)), 400)
    headers = {"Retry-After": "5"} if status == 503 else {}
    return Answer(status, error.body(), headers)


def http_response(answer: Answer) -> dict[str, Any]:
    return {
        "statusCode": answer.status,
        "headers": {"Content-Type": "application/json", **answer.headers},
        "body": json.dumps(answer.body),
    }


def count(answer: Answer) -> None:
    """EMF metrics (log lines, no API call): received, duplicates, signature rejections and other
    refusals. No metric has a per-source dimension: CloudWatch bills each dimension value as a
    custom metric ($0.30 a month each), so a per-source count would cost every source money while
    idle; the dashboard counts per source from the "inbound received" log lines instead."""
    duplicate = answer.body.get("duplicate")
    if answer.status == 200 and duplicate is False:
        metrics.add_metric(name="InboundReceived", unit=MetricUnit.Count, value=1)
    elif answer.status == 200:
        name = "InboundDuplicate" if duplicate is True else "InboundChallenge"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    elif answer.status == 401:
        metrics.add_metric(name="InboundRejected", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="InboundRefused", unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    routed = source_id_of(event)
    if isinstance(routed, Answer):  # a stray request to the function URL: not a provider's
        return http_response(routed)
    answer = answer_request(routed, event)
    count(answer)
    return http_response(answer)


def source_id_of(event: dict[str, Any]) -> str | Answer:
    """The source id: API Gateway's path parameter behind the route, else, from the function's
    own URL (README: Deploying to AWS), which hands over any method and path, `POST
    /inbound/{source_id}` parsed here (404 and 405 otherwise)."""
    parameters = event.get("pathParameters") or {}
    if "source_id" in parameters:
        return str(parameters["source_id"] or "")
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method")
    match = INBOUND_PATH.fullmatch(str(event.get("rawPath") or ""))
    if match is None:
        return NO_ROUTE
    if method != "POST":
        return NOT_POST
    return match.group(1)


def answer_request(source_id: str, event: dict[str, Any]) -> Answer:
    if len(event.get("body") or "") > MAX_ENCODED_BYTES:
        return refusal(PayloadTooLarge(TOO_LARGE))
    try:
        body = raw_body(event)
    except (binascii.Error, ValueError):
        return BAD_BASE64
    try:
        return answer_of(receive(source_id, event.get("headers") or {}, body))
    except DomainError as error:
        return refusal(error)
    except Exception:
        logger.exception("inbound receipt failed", extra={"source_id": source_id})
        return INTERNAL_ERROR

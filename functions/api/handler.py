"""Management API (all `/v1` routes): validate, call a service in `shared`, map the result."""

from __future__ import annotations

import base64
import binascii
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.context import check_access
from functions.api.responses import (
    JSON,
    error_response,
    json_response,
    status_of,
    validation_details,
)
from functions.api.routes import admin, deliveries, events, secret, sources, webhooks
from shared import __version__
from shared.core.errors import DomainError, InvalidRequest, NotFound, PayloadTooLarge
from shared.core.observability import logger

MAX_BODY_BYTES = 1024 * 1024


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("numbers must be finite")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> Any:
    """`json.loads` where every malformed body is a JSONDecodeError (a 422), never a 500:
    NaN/Infinity, overflowing numbers, huge integers, lone surrogates, nesting too deep."""
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
        json.dumps(value, ensure_ascii=False).encode()  # lone surrogates are not text
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        raise json.JSONDecodeError("body is not valid JSON", text, 0) from error
    return value


app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)
app.include_router(webhooks.router, prefix="/v1/webhooks")
app.include_router(secret.router, prefix="/v1/secret")
app.include_router(admin.router, prefix="/v1/admin")
app.include_router(events.router, prefix="/v1/events")
app.include_router(deliveries.router, prefix="/v1/deliveries")
app.include_router(sources.router, prefix="/v1/sources")


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(200, JSON, openapi_json())


@app.get("/v1/docs", include_in_schema=False)
def swagger_ui() -> Response[str]:
    return Response(200, "text/html; charset=utf-8", swagger_page())


@cache
def openapi_json() -> str:
    """Built on first use: Powertools' OpenAPI models cost ~240 ms to import, which every cold
    start would pay if the document (or `enable_swagger`, which imports them) were set up here."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    return app.get_openapi_json_schema(
        title="Serverless Webhooks",
        version=__version__,
        description="Webhooks in and out on your own AWS account. See README.md.",
        security_schemes={
            "apiKey": APIKey.model_validate({"name": "x-api-key", "in": APIKeyIn.header}),
            "bearer": HTTPBearer(),
        },
        security=[{"apiKey": []}, {"bearer": []}],
    )


@cache
def swagger_page() -> str:
    """Powertools' Swagger UI page with its bundled script and CSS inlined (no CDN needed)."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui as assets
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    folder = Path(assets.__file__).parent
    script = (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    style = (folder / "swagger-ui.min.css").read_text(encoding="utf-8")
    # `</` escaped so the document cannot close the page's <script> element.
    spec = openapi_json().replace("</", "<\\/")
    return generate_swagger_html(spec, script, style, None, None)  # type: ignore[arg-type]


@app.get("/health", include_in_schema=False)
def health() -> Response[str]:
    return json_response(200, {"status": "ok", "version": __version__})


@app.exception_handler(DomainError)
def handle_api_error(error: DomainError) -> Response[str]:
    return error_response(error)


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response[str]:
    details = validation_details(list(error.errors()))
    fields = ", ".join(detail["field"] for detail in details[:5])
    return error_response(InvalidRequest(f"invalid request: check {fields}", details=details))


@app.exception_handler(RequestUnsupportedContentType)
def handle_unsupported_content_type(_: RequestUnsupportedContentType) -> Response[str]:
    return json_response(
        415,
        {
            "error": {
                "code": "unsupported_media_type",
                "message": "send the body as JSON with Content-Type: application/json",
            }
        },
    )


@app.not_found
def handle_not_found(_: NotFoundError) -> Response[str]:
    return error_response(NotFound("no such route", code="route_not_found"))


@app.exception_handler(Exception)
def handle_unexpected(error: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return json_response(
        500, {"error": {"code": "internal_error", "message": "internal error, nothing was lost"}}
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        verdict = check_access(event)
        check_body(event)
    except DomainError as refused:
        return {
            "statusCode": status_of(refused),
            "headers": {"Content-Type": JSON},
            "body": json.dumps(refused.body()),
        }
    for actor in verdict.values():
        logger.append_keys(user_id=actor.caller.user_id, key_id=actor.caller.key_id)
    app.append_context(**verdict)
    return app.resolve(event, context)


def check_body(event: dict[str, Any]) -> None:
    """What is refused before the body is even validated, after the caller's right (401/403):
    413, then a body that is not text."""
    body = event.get("body") or ""
    is_base64 = bool(event.get("isBase64Encoded"))
    size = len(body) * 3 // 4 if is_base64 else len(body.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge("request body is larger than 1 MB")
    if body and is_base64 and not _is_utf8_base64(body):
        raise InvalidRequest("request body is not UTF-8 JSON", details=[{"field": "body"}])


def _is_utf8_base64(body: str) -> bool:
    try:
        base64.b64decode(body.encode(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return True

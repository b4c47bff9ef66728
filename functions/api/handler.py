"""Management API (all `/v1` routes): validate, call a service in `shared`, map the result."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.responses import JSON, error_response, json_response, validation_details
from functions.api.routes import admin, deliveries, events, secret, webhooks
from shared import __version__
from shared.errors import ApiError, InvalidRequest, NotFound, PayloadTooLarge
from shared.observability import logger, tracer

MAX_BODY_BYTES = 1024 * 1024
app = APIGatewayHttpResolver(enable_validation=True)
OPENAPI = {
    "title": "Serverless Webhooks",
    "version": __version__,
    "description": "Webhooks in and out on your own AWS account. See README.md.",
    "security_schemes": {
        "apiKey": APIKey(name="x-api-key", in_=APIKeyIn.header),
        "bearer": HTTPBearer(),
    },
    "security": [{"apiKey": []}, {"bearer": []}],
}
app.enable_swagger(path="/v1/docs", **OPENAPI)  # type: ignore[arg-type]
app.include_router(webhooks.router, prefix="/v1/webhooks")
app.include_router(secret.router, prefix="/v1/secret")
app.include_router(admin.router, prefix="/v1/admin")
app.include_router(events.router, prefix="/v1/events")
app.include_router(deliveries.router, prefix="/v1/deliveries")


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(200, JSON, openapi_json())


def openapi_json() -> str:
    return app.get_openapi_json_schema(**OPENAPI)  # type: ignore[arg-type]


@app.get("/health", include_in_schema=False)
def health() -> Response[str]:
    return json_response(200, {"status": "ok", "version": __version__})


@app.exception_handler(ApiError)
def handle_api_error(error: ApiError) -> Response[str]:
    return error_response(error)


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response[str]:
    details = validation_details(list(error.errors()))
    fields = ", ".join(detail["field"] for detail in details[:5])
    return error_response(InvalidRequest(f"invalid request: check {fields}", details=details))


@app.not_found
def handle_not_found(_: NotFoundError) -> Response[str]:
    return error_response(NotFound("no such route", code="route_not_found"))


@app.exception_handler(Exception)
def handle_unexpected(error: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return json_response(
        500, {"error": {"code": "internal_error", "message": "internal error, nothing was lost"}}
    )


@tracer.capture_lambda_handler
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    body = event.get("body") or ""
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:  # base64 of 1 MB, the largest body we read
        too_large = PayloadTooLarge("request body is larger than 1 MB")
        return {
            "statusCode": too_large.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(too_large.body()),
        }
    return app.resolve(event, context)

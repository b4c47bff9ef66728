"""Management API (every `/v1` route but publish, which has its own function): check the caller,
validate, call a service in `shared`, map the result.

Order of refusals: the caller (401/403, `check_access`) before anything about the input (413,
non-UTF-8, then the resolver's 422). The caller check costs no AWS call with the key cached,
else one GetItem (shared/access/auth.py).
"""

from __future__ import annotations

import json
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

from functions.api import docs
from functions.api.context import check_access
from functions.api.responses import JSON, error_response, json_response, validation_details
from functions.api.routes import (
    admin,
    deliveries,
    event_types,
    events,
    portal,
    secret,
    sources,
    webhooks,
)
from shared import __version__
from shared.access import http
from shared.access.http import NOT_JSON, UNEXPECTED, check_body, strict_json
from shared.core.errors import DomainError, InvalidRequest, NotFound
from shared.core.observability import logger

app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)
app.include_router(webhooks.router, prefix="/v1/webhooks")
app.include_router(secret.router, prefix="/v1/secret")
app.include_router(admin.router, prefix="/v1/admin")
app.include_router(events.router, prefix="/v1/events")
app.include_router(deliveries.router, prefix="/v1/deliveries")
app.include_router(sources.router, prefix="/v1/sources")
app.include_router(event_types.admin_router, prefix="/v1/admin/event-types")
app.include_router(event_types.router, prefix="/v1/event-types")
app.include_router(portal.router, prefix="/v1/portal")
app.include_router(portal.pages)


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(200, JSON, openapi_json())


@app.get("/v1/docs", include_in_schema=False)
def swagger_ui() -> Response[str]:
    return Response(200, "text/html; charset=utf-8", swagger_page())


API_KEY_HELP = (
    "An API key (`wk_...`) in the `x-api-key` header: a user key acts on its own account, "
    "an admin key on any (`?user_id=`) and on `/v1/admin`."
)
BEARER_HELP = (
    "The same API key as `Authorization: Bearer wk_...`, or a consumer portal session "
    "token (`wps_...`), which acts as its user with the user role."
)


@cache
def openapi_json() -> str:
    """Built on first use: Powertools' OpenAPI models cost ~240 ms to import, which every cold
    start would pay if the document (or `enable_swagger`, which imports them) were set up here."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    built = app.get_openapi_json_schema(
        title="Serverless Webhooks",
        version=__version__,
        description="Webhooks in and out on your own AWS account. See README.md.",
        security_schemes={
            "apiKey": APIKey.model_validate(
                {"name": "x-api-key", "in": APIKeyIn.header, "description": API_KEY_HELP}
            ),
            "bearer": HTTPBearer(description=BEARER_HELP),
        },
        security=[{"apiKey": []}, {"bearer": []}],
    )
    return json.dumps(docs.annotate(json.loads(built)))


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
    return error_response(NOT_JSON)


@app.not_found
def handle_not_found(_: NotFoundError) -> Response[str]:
    return error_response(NotFound("no such route", code="route_not_found"))


@app.exception_handler(Exception)
def handle_unexpected(error: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return error_response(UNEXPECTED)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The access check runs here, once, before routing; routes read its verdict (context.py)."""
    try:
        verdict = check_access(event)
        check_body(event)
    except DomainError as refused:
        return http.error_response(refused)
    for actor in verdict.values():
        logger.append_keys(user_id=actor.caller.user_id, key_id=actor.caller.key_id)
    app.append_context(**verdict)
    return app.resolve(event, context)

"""JSON responses and the mapping of every error to the `{"error": {...}}` shape (OpenAPI)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

from shared.core.errors import (
    BatchRefused,
    Conflict,
    DomainError,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)

JSON = "application/json"


def json_response(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body))


def no_content() -> Response[str]:
    """204: no body, so no Content-Type either (an empty body is not JSON)."""
    return Response(status_code=204, content_type=None, body="")


# Each domain error's HTTP status (a subclass takes its nearest listed ancestor's: BatchIncomplete
# is a ServiceUnavailable); anything else listed nowhere is a 400.
STATUS: dict[type[DomainError], int] = {
    InvalidRequest: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    ServiceUnavailable: 503,
    BatchRefused: 500,
}


def status_of(error: DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def error_response(error: DomainError) -> Response[str]:
    return json_response(status_of(error), error.body())


def validation_details(errors: list[Any]) -> list[dict[str, str]]:
    """pydantic errors → `[{"field": "body.url", "message": "..."}]` without echoing input."""
    details = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        details.append(
            {"field": ".".join(location) or "body", "message": str(error.get("msg", "invalid"))}
        )
    return details

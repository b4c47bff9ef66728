"""JSON responses of the resolver, and every error in the `{"error": {...}}` shape (OpenAPI).

Each domain error's status comes from shared/access/http.py, the one mapping both API functions
use."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

from shared.access.http import JSON, status_of
from shared.core.errors import DomainError


def json_response(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body))


def no_content() -> Response[str]:
    """204: no body, so no Content-Type either (an empty body is not JSON)."""
    return Response(status_code=204, content_type=None, body="")


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

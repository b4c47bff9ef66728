"""OpenAPI `responses` for a route: its success shape plus our JSON error shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.schemas.responses import ErrorBody

ERROR_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing or invalid API key",
    403: "Role too low, or acting for another user without admin",
    404: "Not found (or not yours), or past its retention: `event_expired`, `delivery_expired`",
    409: "Conflict with the current state",
    413: "Body too large",
    422: "Invalid input (details name the fields)",
    503: "AWS is throttling or failing (the key lookup, a batch write): try again shortly",
}
COMMON_ERRORS = (401, 413, 422, 503)


def responses(status: int, model: type[BaseModel] | None, *errors: int) -> dict[int, Any]:
    documented: dict[int, Any] = {}
    if model is None:
        # An empty `content`: else Powertools documents the handler's `Response[str]` as JSON.
        documented[status] = {"description": "No content", "content": {}}
    else:
        documented[status] = {
            "description": "Success",
            "content": {"application/json": {"model": model}},
        }
    for code in sorted({*COMMON_ERRORS, *errors}):
        documented[code] = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return documented

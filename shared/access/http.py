"""The HTTP edge both API functions share (`api` on the Powertools resolver, the lean `publish`):
the request checks made before validation, strict JSON, and each domain error's HTTP status.

Services raise domain errors without a status (shared/core/errors.py); `status_of` is the one
place that maps them, for both functions. No AWS calls here.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from shared.core.errors import (
    BatchRefused,
    Conflict,
    DomainError,
    Forbidden,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)

JSON = "application/json"
MAX_BODY_BYTES = 1024 * 1024
# The two errors no service raises: an unexpected exception (its detail is only in the logs)
# and a body that is not JSON.
UNEXPECTED = InternalError("internal error, nothing was lost")
NOT_JSON = UnsupportedMediaType("send the body as JSON with Content-Type: application/json")

# Each domain error's HTTP status (a subclass takes its nearest listed ancestor's: BatchIncomplete
# is a ServiceUnavailable); anything else listed nowhere is a 400.
STATUS: dict[type[DomainError], int] = {
    InvalidRequest: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    MethodNotAllowed: 405,
    PayloadTooLarge: 413,
    ServiceUnavailable: 503,
    BatchRefused: 500,
    InternalError: 500,
    UnsupportedMediaType: 415,
}


def status_of(error: DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def lambda_response(status: int, body: Any) -> dict[str, Any]:
    """A payload 2.0 proxy response with a JSON body (for a handler without the resolver)."""
    return {"statusCode": status, "headers": {"Content-Type": JSON}, "body": json.dumps(body)}


def error_response(error: DomainError) -> dict[str, Any]:
    response = lambda_response(status_of(error), error.body())
    if isinstance(error, MethodNotAllowed):
        response["headers"]["Allow"] = error.allow
    return response


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

"""Domain errors every layer may raise. They carry a machine-readable code and a message, never
an HTTP status: shared/access/http.py maps each to its status, in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, details: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class InvalidRequest(DomainError):
    code = "validation_error"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class MethodNotAllowed(DomainError):
    """A route asked with a method it does not take; `allow` names the ones it does."""

    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: str) -> None:
        super().__init__(message)
        self.allow = allow


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"


class UnsupportedMediaType(DomainError):
    """A request body sent as something else than JSON."""

    code = "unsupported_media_type"


class InternalError(DomainError):
    """Anything unexpected: answered without detail (the logs have it)."""

    code = "internal_error"


class BatchIncomplete(ServiceUnavailable):
    """AWS left part of a batch call undone (throttling) through every re-send: try again soon.

    The public message is fixed; `call` and `left` are for the logs.
    """

    def __init__(self, call: str, left: int) -> None:
        super().__init__("AWS is throttling this request; try again shortly")
        self.call = call
        self.left = left

    def __str__(self) -> str:
        return f"{self.call}: {self.left} item(s) left undone after every re-send"


class BatchRefused(DomainError):
    """AWS refused entries of a batch call as invalid (a sender fault): re-sending cannot help.

    An internal error (the request we built was wrong). `refused` maps each refused entry's id
    to AWS's error code, for the logs; the answer names no entry.
    """

    code = "internal_error"

    def __init__(self, call: str, refused: dict[str, str]) -> None:
        super().__init__("internal error: AWS refused part of a batch as invalid")
        self.call = call
        self.refused = refused

    def __str__(self) -> str:
        named = ", ".join(f"{entry} ({code})" for entry, code in sorted(self.refused.items()))
        return f"{self.call} refused entries {named}"

"""Who is calling: the authorizer's verdict, read from the request context."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from shared.auth import Principal
from shared.errors import Forbidden, Unauthorized


def principal(event: BaseProxyEvent) -> Principal:
    request_context = event.raw_event.get("requestContext") or {}
    context = (request_context.get("authorizer") or {}).get("lambda") or {}
    if context.get("auth_error") or not context.get("user_id"):
        raise Unauthorized(
            str(context.get("auth_error") or "missing API key: send x-api-key or Bearer")
        )
    return Principal(
        user_id=str(context["user_id"]),
        role="admin" if context.get("role") == "admin" else "user",
        key_id=str(context.get("key_id")),
    )


def require_admin(event: BaseProxyEvent) -> Principal:
    caller = principal(event)
    if not caller.is_admin:
        raise Forbidden("this route needs an admin API key")
    return caller


def acting_user(caller: Principal, requested: str | None) -> str:
    """Admins may act for another user; anyone may name themselves."""
    if not requested or requested == caller.user_id:
        return caller.user_id
    if not caller.is_admin:
        raise Forbidden("only an admin API key may act for another user")
    return requested

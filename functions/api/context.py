"""Who is calling, and for whom: the authorizer's verdict plus the admin's `?user_id=`.

Every `/v1` route takes its account from one dependency: `Owner` (user routes: the caller's own
account, or with an admin key the account `?user_id=` names) or `AdminCaller` (admin routes,
where `?user_id=` means nothing and is refused). No route reads `user_id` from the query itself,
so none can forget it: tests/unit/test_acting_for_users.py checks every declared route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from functions.api.params import UserId
from shared.access.auth import Principal
from shared.core.errors import Forbidden, InvalidRequest, ServiceUnavailable, Unauthorized
from shared.schemas.requests import USER_ID_RULE, is_valid_user_id

USER_ID_PARAMETER = "user_id"


def principal_from_context(context: Mapping[str, Any]) -> Principal:
    """The authorizer's verdict (`requestContext.authorizer.lambda`) as a principal."""
    if context.get("auth_unavailable"):
        raise ServiceUnavailable("the API key could not be checked right now; try again shortly")
    if context.get("auth_error") or not context.get("user_id"):
        raise Unauthorized(
            str(context.get("auth_error") or "missing API key: send x-api-key or Bearer")
        )
    return Principal(
        user_id=str(context["user_id"]),
        role="admin" if context.get("role") == "admin" else "user",
        key_id=str(context.get("key_id")),
    )


def principal(event: BaseProxyEvent) -> Principal:
    request_context = event.raw_event.get("requestContext") or {}
    return principal_from_context((request_context.get("authorizer") or {}).get("lambda") or {})


def require_admin(event: BaseProxyEvent) -> Principal:
    caller = principal(event)
    if not caller.is_admin:
        raise Forbidden("this route needs an admin API key")
    return caller


def requested_user(query: Mapping[str, str] | None) -> str | None:
    """The `?user_id=` of a request, if any (an empty value is still a value)."""
    return (query or {}).get(USER_ID_PARAMETER)


def acting_user(caller: Principal, requested: str | None) -> str:
    """Admins may act for another user; anyone may name themselves; others get 403."""
    if requested is None or requested == caller.user_id:
        return caller.user_id
    if not caller.is_admin:
        raise Forbidden("only an admin API key may act for another user")
    return requested


@dataclass(frozen=True)
class Actor:
    """The account a request acts on, and the key that asked."""

    caller: Principal
    user_id: str
    named_in_query: bool

    def for_body(self, body_user_id: str | None) -> str:
        """Publish may name its user in the body too; query and body must then agree."""
        if body_user_id is None:
            return self.user_id
        if self.named_in_query and body_user_id != self.user_id:
            raise InvalidRequest(
                "the query and the body name different users: name the user once",
                details=[{"field": "body.user_id", "message": "differs from query.user_id"}],
            )
        return acting_user(self.caller, body_user_id)


def act_for_user(request: Request, user_id: UserId = None) -> Actor:
    """The `Owner` dependency of every user route.

    `user_id` is declared so the OpenAPI document lists it on each route using this; Powertools
    hands dependencies only the request, so the value itself is read from the query here.
    """
    del user_id
    caller = principal(request.resolved_event)
    requested = requested_user(request.query_parameters)
    owner = acting_user(caller, requested)
    if requested is not None and not is_valid_user_id(owner):
        raise InvalidRequest(
            USER_ID_RULE,
            details=[{"field": "query.user_id", "message": "not a valid user id"}],
        )
    return Actor(caller=caller, user_id=owner, named_in_query=requested is not None)


def admin_caller(request: Request) -> Principal:
    """The `AdminCaller` dependency of every admin route: admin key, and no `?user_id=`."""
    caller = require_admin(request.resolved_event)
    if requested_user(request.query_parameters) is not None:
        raise InvalidRequest(
            "admin routes do not act for a user: leave out user_id",
            details=[{"field": "query.user_id", "message": "not accepted on admin routes"}],
        )
    return caller


Owner = Annotated[Actor, Depends(act_for_user)]
AdminCaller = Annotated[Principal, Depends(admin_caller)]

"""Who is calling, and for whom: the one access check, handed to every `/v1` route.

`admit` (shared/access/auth.py) decides before routing, so that a caller's right comes before
the validity of its input (401/403 before 413 or 422); `check_access` below runs it once per
request and leaves its verdict in the resolver's context. Every `/v1` route takes its account
from one dependency that reads that verdict: `Owner` (user routes: the caller's own account, or
with an admin key the account `?user_id=` names) or `AdminCaller` (admin routes, all under
`/v1/admin/`, checked as such). No route reads `user_id` from the query itself, so none can
forget it: tests/unit/test_acting_for_users.py checks every declared route.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.request import Request

from functions.api.params import UserId
from shared.access.auth import Actor, Principal, admit

ADMIN_PREFIX = "/v1/admin/"
# `/v1` paths anyone may read (the OpenAPI document and its page). Every other `/v1` path needs
# a key: the routes declared `authorized=True` in infra/declaration.py.
PUBLIC_PATHS = frozenset({"/v1/openapi.json", "/v1/docs"})
USER_VERDICT = "actor"  # keys of the resolver context holding `check_access`'s verdict
ADMIN_VERDICT = "admin"


def needs_key(path: str) -> bool:
    return path.startswith("/v1/") and path not in PUBLIC_PATHS


def check_access(event: dict[str, Any]) -> dict[str, Any]:
    """The access verdict of a request, for the resolver's context (empty for a public path).

    Raises the refusal (a domain error). AWS calls: those of `admit` (0 with the key cached).
    """
    path = str(event.get("rawPath", ""))
    if not needs_key(path):
        return {}
    admin = path.startswith(ADMIN_PREFIX)
    actor = admit(event.get("headers") or {}, event.get("queryStringParameters"), admin=admin)
    return {ADMIN_VERDICT if admin else USER_VERDICT: actor}


def act_for_user(request: Request, user_id: UserId = None) -> Actor:
    """The `Owner` dependency of every user route: the account `check_access` settled on.

    `user_id` is declared so the OpenAPI document lists it on each route using this; its value
    was already read and checked by `check_access`.
    """
    del user_id
    actor: Actor = request.context[USER_VERDICT]
    return actor


def admin_caller(request: Request) -> Principal:
    """The `AdminCaller` dependency of every admin route: the admin key `check_access` admitted."""
    actor: Actor = request.context[ADMIN_VERDICT]
    return actor.caller


Owner = Annotated[Actor, Depends(act_for_user)]
AdminCaller = Annotated[Principal, Depends(admin_caller)]

"""`/v1/portal/sessions`: short-lived links to the consumer portal (README "Consumer portal").

An admin key names the user (body `user_id`, or `?user_id=` like every user route); a user key
asks for itself. `pages` serves the page and its two assets (functions/api/portal/) with no key:
they hold no data, and the token stays in the URL fragment, which browsers never send.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from functions.api.context import Owner
from functions.api.docs import responses
from functions.api.responses import json_response, no_content
from shared.access import auth
from shared.access.auth import Actor
from shared.core.config import settings
from shared.core.errors import InvalidRequest
from shared.schemas.portal import PortalSessionCreate, PortalSessionOut

router = Router()
pages = Router()

PORTAL_DIR = Path(__file__).resolve().parent.parent / "portal"
# Scripts and styles from this origin only (no inline script can run), no framing, no referrer.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
ASSETS = {  # served name → content type
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
# The page is revalidated on every load; its assets (not fingerprinted) are kept 5 minutes, so a
# deploy reaches every open page within that.
CACHE_CONTROL = {"index.html": "no-cache", "app.js": "public, max-age=300"}
CACHE_CONTROL["app.css"] = CACHE_CONTROL["app.js"]


@router.post("/sessions", responses=responses(201, PortalSessionOut, 403))
def create_portal_session(
    owner: Owner, body: Annotated[PortalSessionCreate | None, Body()] = None
) -> Response[str]:
    request = body or PortalSessionCreate()
    user_id = portal_user(owner, request.user_id)
    session = auth.create_portal_session(owner.caller, user_id, request.ttl_seconds, base_url())
    return json_response(201, session)


@router.delete("/sessions/current", responses=responses(204, None, 403))
def end_portal_session(owner: Owner) -> Response[str]:
    auth.end_portal_session(owner.caller)
    return no_content()


def portal_user(owner: Actor, body_user_id: str | None) -> str:
    """Whose portal: an admin must name a user (it has no portal of its own)."""
    if owner.caller.is_admin and body_user_id is None and not owner.named_in_query:
        raise InvalidRequest(
            "an admin key names the user whose portal this is",
            details=[{"field": "body.user_id", "message": "required with an admin key"}],
        )
    return owner.for_body(body_user_id)


def base_url() -> str:
    """The API's public address (PUBLIC_BASE_URL, set by the stack and by local mode), else
    the host the request came to."""
    configured = settings().public_base_url
    if configured:
        return configured
    context = router.current_event.raw_event.get("requestContext") or {}
    return f"https://{context.get('domainName', '')}"


@pages.get("/portal", include_in_schema=False)
def portal_page() -> Response[str]:
    return static("index.html")


@pages.get("/portal/app.js", include_in_schema=False)
def portal_script() -> Response[str]:
    return static("app.js")


@pages.get("/portal/app.css", include_in_schema=False)
def portal_style() -> Response[str]:
    return static("app.css")


def static(name: str) -> Response[str]:
    """One of the page's files with its security headers. AWS calls: none."""
    return Response(
        200,
        ASSETS[name],
        read_asset(name),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": CACHE_CONTROL[name],
        },
    )


@cache
def read_asset(name: str) -> str:
    """Read once per container: the files ship in the function's bundle (infra/bundling.py)."""
    return (PORTAL_DIR / name).read_text(encoding="utf-8")

"""`/v1/admin`: API keys (and, later, the DLQs); admin role only."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from functions.api.context import require_admin
from functions.api.responses import json_response, no_content
from shared import auth
from shared.models import ApiKeyCreate

router = Router()


@router.post("/api-keys")
def create_api_key(body: Annotated[ApiKeyCreate, Body()]) -> Response[str]:
    require_admin(router.current_event)
    return json_response(201, auth.create_key(body.user_id, body.role))


@router.delete("/api-keys/<key_id>")
def revoke_api_key(key_id: str) -> Response[str]:
    require_admin(router.current_event)
    auth.revoke_key(key_id)
    return no_content()

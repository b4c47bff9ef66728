"""`/v1/admin`: API keys (and, later, the DLQs); admin role only."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from functions.api.context import require_admin
from functions.api.docs import responses
from functions.api.responses import json_response, no_content
from shared import auth, dlq
from shared.models import ApiKeyCreate, DlqRedrive
from shared.schemas import ApiKeyOut, DlqList, RedriveOut

router = Router()


@router.post("/api-keys", responses=responses(201, ApiKeyOut, 403))
def create_api_key(body: Annotated[ApiKeyCreate, Body()]) -> Response[str]:
    require_admin(router.current_event)
    return json_response(201, auth.create_key(body.user_id, body.role))


@router.delete("/api-keys/<key_id>", responses=responses(204, None, 403, 404))
def revoke_api_key(key_id: str) -> Response[str]:
    require_admin(router.current_event)
    auth.revoke_key(key_id)
    return no_content()


@router.get("/dlq", responses=responses(200, DlqList, 403))
def peek_dlq(queue: Annotated[Literal["delivery", "inbound"], Query()]) -> Response[str]:
    require_admin(router.current_event)
    return json_response(200, dlq.peek(queue))


@router.post("/dlq/redrive", responses=responses(202, RedriveOut, 403))
def redrive_dlq(body: Annotated[DlqRedrive, Body()]) -> Response[str]:
    require_admin(router.current_event)
    return json_response(202, dlq.redrive(body.queue, body.message_ids))

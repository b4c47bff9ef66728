"""`/v1/admin`: API keys and the DLQs; admin role only, never on behalf of a user."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from functions.api.context import AdminCaller
from functions.api.docs import responses
from functions.api.responses import json_response, no_content
from shared.access import auth
from shared.ops import dlq
from shared.schemas.requests import ApiKeyCreate, DlqRedrive
from shared.schemas.responses import ApiKeyOut, DlqList, RedriveOut

router = Router()


@router.post("/api-keys", responses=responses(201, ApiKeyOut, 403))
def create_api_key(admin: AdminCaller, body: Annotated[ApiKeyCreate, Body()]) -> Response[str]:
    return json_response(201, auth.create_key(body.user_id, body.role))


@router.delete("/api-keys/<key_id>", responses=responses(204, None, 403, 404))
def revoke_api_key(admin: AdminCaller, key_id: str) -> Response[str]:
    auth.revoke_key(key_id)
    return no_content()


@router.get("/dlq", responses=responses(200, DlqList, 403))
def peek_dlq(
    admin: AdminCaller, queue: Annotated[Literal["delivery", "inbound"], Query()]
) -> Response[str]:
    return json_response(200, dlq.peek(queue))


@router.post("/dlq/redrive", responses=responses(202, RedriveOut, 403, 409))
def redrive_dlq(admin: AdminCaller, body: Annotated[DlqRedrive, Body()]) -> Response[str]:
    return json_response(202, dlq.redrive(body.queue, body.message_ids))

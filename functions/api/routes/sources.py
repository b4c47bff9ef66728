"""`/v1/sources`: inbound sources (provider presets or a custom HMAC rule), never their secret."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from functions.api.context import acting_user, principal
from functions.api.docs import responses
from functions.api.params import Cursor, Limit, UserId
from functions.api.responses import json_response, no_content
from shared import sources
from shared.models import SourceCreate, SourceList, SourceOut, SourceUpdate

router = Router()


@router.post("", responses=responses(201, SourceOut))
def create_source(body: Annotated[SourceCreate, Body()]) -> Response[str]:
    caller = principal(router.current_event)
    return json_response(201, sources.create(caller.user_id, body))


@router.get("", responses=responses(200, SourceList, 403))
def list_sources(limit: Limit = 20, cursor: Cursor = None, user_id: UserId = None) -> Response[str]:
    owner = acting_user(principal(router.current_event), user_id)
    return json_response(200, sources.list_page(owner, limit, cursor))


@router.get("/<source_id>", responses=responses(200, SourceOut, 404))
def get_source(source_id: str) -> Response[str]:
    caller = principal(router.current_event)
    return json_response(200, sources.get(caller.user_id, source_id))


@router.patch("/<source_id>", responses=responses(200, SourceOut, 404))
def update_source(source_id: str, body: Annotated[SourceUpdate, Body()]) -> Response[str]:
    caller = principal(router.current_event)
    return json_response(200, sources.update(caller.user_id, source_id, body))


@router.delete("/<source_id>", responses=responses(204, None, 404))
def delete_source(source_id: str) -> Response[str]:
    caller = principal(router.current_event)
    sources.delete(caller.user_id, source_id)
    return no_content()

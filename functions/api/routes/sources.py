"""`/v1/sources`: inbound sources (provider presets or a custom HMAC rule), never their secret."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from functions.api.context import Owner
from functions.api.docs import responses
from functions.api.params import Cursor, Limit
from functions.api.responses import json_response, no_content
from shared.inbound import sources
from shared.schemas.requests import SourceCreate, SourceUpdate
from shared.schemas.responses import SourceList, SourceOut

router = Router()


@router.post("", responses=responses(201, SourceOut, 403))
def create_source(owner: Owner, body: Annotated[SourceCreate, Body()]) -> Response[str]:
    return json_response(201, sources.create(owner.user_id, body))


@router.get("", responses=responses(200, SourceList, 403))
def list_sources(owner: Owner, limit: Limit = 20, cursor: Cursor = None) -> Response[str]:
    return json_response(200, sources.list_page(owner.user_id, limit, cursor))


@router.get("/<source_id>", responses=responses(200, SourceOut, 403, 404))
def get_source(owner: Owner, source_id: str) -> Response[str]:
    return json_response(200, sources.get(owner.user_id, source_id))


@router.patch("/<source_id>", responses=responses(200, SourceOut, 403, 404))
def update_source(
    owner: Owner, source_id: str, body: Annotated[SourceUpdate, Body()]
) -> Response[str]:
    return json_response(200, sources.update(owner.user_id, source_id, body))


@router.delete("/<source_id>", responses=responses(204, None, 403, 404))
def delete_source(owner: Owner, source_id: str) -> Response[str]:
    sources.delete(owner.user_id, source_id)
    return no_content()

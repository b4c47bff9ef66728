"""The event type catalog (README "Event type catalog"): admins write it under
`/v1/admin/event-types`, any key reads it under `/v1/event-types`.

The catalog is one for the whole deployment, not per user: a user key reads the same list as
the admin. Publish applies it (functions/publish/handler.py, shared/outbound/event_types.py).
AWS calls: PUT 1 (UpdateItem), DELETE 1 (DeleteItem), GET one 1 (GetItem), list 1 Query per MB.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from functions.api.context import AdminCaller, Owner
from functions.api.docs import responses
from functions.api.responses import json_response, no_content
from shared.outbound import event_types
from shared.schemas.requests import EventTypePut
from shared.schemas.responses import EventTypeList, EventTypeOut

admin_router = Router()  # mounted at /v1/admin/event-types
router = Router()  # mounted at /v1/event-types


@admin_router.put("/<type>", responses=responses(200, EventTypeOut, 403))
def put_event_type(
    admin: AdminCaller, type: str, body: Annotated[EventTypePut, Body()]
) -> Response[str]:
    return json_response(200, event_types.put(type, body.description, body.schema_))


@admin_router.delete("/<type>", responses=responses(204, None, 403, 404))
def delete_event_type(admin: AdminCaller, type: str) -> Response[str]:
    event_types.delete(type)
    return no_content()


@router.get("", responses=responses(200, EventTypeList, 403))
def list_event_types(owner: Owner) -> Response[str]:
    return json_response(200, {"data": event_types.list_all()})


@router.get("/<type>", responses=responses(200, EventTypeOut, 403, 404))
def get_event_type(owner: Owner, type: str) -> Response[str]:
    return json_response(200, event_types.get(type))

"""`/v1/events`: list, inspect and replay (and, for the document only, publish)."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from functions.api.context import Owner
from functions.api.docs import responses
from functions.api.params import Cursor, Limit, OptionalText
from functions.api.responses import error_response, json_response
from shared.core.errors import NotFound
from shared.ops import events
from shared.schemas.requests import EventBatchPublish, EventPublish, ReplayRequest
from shared.schemas.responses import BatchPublishOut, EventDetail, EventList, PublishOut, ReplayOut

router = Router()

PUBLISH_FOR_USER = (
    'An admin key publishes for a user with `?user_id=` or `"user_id"` in the body; when both '
    "are given they must name the same user, else 422 (details name `body.user_id`)."
)


# Publishing is served by the `publish` function (functions/publish/handler.py): API Gateway
# sends `POST /v1/events` and `POST /v1/events/batch` there (infra/declaration.py), never here.
# They are declared here for the OpenAPI document and its request models only.


@router.post("", responses=responses(202, PublishOut, 403), description=PUBLISH_FOR_USER)
def publish_event(owner: Owner, body: Annotated[EventPublish, Body()]) -> Response[str]:
    return served_elsewhere()


@router.post("/batch", responses=responses(202, BatchPublishOut, 403), description=PUBLISH_FOR_USER)
def publish_batch(owner: Owner, body: Annotated[EventBatchPublish, Body()]) -> Response[str]:
    return served_elsewhere()


def served_elsewhere() -> Response[str]:
    """What this function answers if a misrouted publish reaches it: the route's 404."""
    return error_response(NotFound("no such route", code="route_not_found"))


@router.get("", responses=responses(200, EventList, 403))
def list_events(
    owner: Owner,
    direction: Annotated[Literal["inbound", "outbound"] | None, Query()] = None,
    type: OptionalText = None,
    source_id: OptionalText = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response[str]:
    return json_response(
        200,
        events.list_page(
            owner.user_id,
            direction=direction,
            event_type=type,
            source_id=source_id,
            limit=limit,
            cursor=cursor,
        ),
    )


@router.get("/<event_id>", responses=responses(200, EventDetail, 403, 404))
def get_event(owner: Owner, event_id: str) -> Response[str]:
    return json_response(200, events.get(owner.user_id, event_id))


@router.post("/<event_id>/replay", responses=responses(202, ReplayOut, 403, 404))
def replay_event(
    owner: Owner, event_id: str, body: Annotated[ReplayRequest | None, Body()] = None
) -> Response[str]:
    return json_response(
        202, events.replay(owner.user_id, event_id, (body or ReplayRequest()).webhook_id)
    )

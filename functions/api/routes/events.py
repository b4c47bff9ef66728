"""`/v1/events`: publish (one or a batch), list, inspect and replay."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from functions.api.context import acting_user, principal
from functions.api.docs import responses
from functions.api.params import Cursor, Limit, OptionalText, UserId
from functions.api.responses import json_response
from shared import events, publishing
from shared.models import EventBatchPublish, EventPublish, ReplayRequest
from shared.schemas import BatchPublishOut, EventDetail, EventList, PublishOut, ReplayOut

router = Router()


@router.post("", responses=responses(202, PublishOut, 403))
def publish_event(body: Annotated[EventPublish, Body()]) -> Response[str]:
    owner = acting_user(principal(router.current_event), body.user_id)
    status, answer = publishing.publish(owner, body)
    return json_response(status, answer)


@router.post("/batch", responses=responses(202, BatchPublishOut, 403))
def publish_batch(body: Annotated[EventBatchPublish, Body()]) -> Response[str]:
    caller = principal(router.current_event)
    by_owner: dict[str, list[int]] = {}
    for position, item in enumerate(body.events):
        by_owner.setdefault(acting_user(caller, item.user_id), []).append(position)
    results: list[dict[str, object]] = [{} for _ in body.events]
    for owner, positions in by_owner.items():
        answers = publishing.publish_many(owner, [body.events[p] for p in positions])
        for position, (status, answer) in zip(positions, answers, strict=True):
            results[position] = {**answer, "duplicate": status == 200}
    return json_response(202, {"data": results})


@router.get("", responses=responses(200, EventList, 403))
def list_events(
    direction: Annotated[Literal["inbound", "outbound"] | None, Query()] = None,
    type: OptionalText = None,
    source_id: OptionalText = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    user_id: UserId = None,
) -> Response[str]:
    owner = acting_user(principal(router.current_event), user_id)
    return json_response(
        200,
        events.list_page(
            owner,
            direction=direction,
            event_type=type,
            source_id=source_id,
            limit=limit,
            cursor=cursor,
        ),
    )


@router.get("/<event_id>", responses=responses(200, EventDetail, 403, 404))
def get_event(event_id: str, user_id: UserId = None) -> Response[str]:
    owner = acting_user(principal(router.current_event), user_id)
    return json_response(200, events.get(owner, event_id))


@router.post("/<event_id>/replay", responses=responses(202, ReplayOut, 404))
def replay_event(
    event_id: str, body: Annotated[ReplayRequest | None, Body()] = None
) -> Response[str]:
    caller = principal(router.current_event)
    return json_response(
        202, events.replay(caller.user_id, event_id, (body or ReplayRequest()).webhook_id)
    )

"""`/v1/events`: publish (one or a batch), list, inspect and replay."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from functions.api.context import Owner
from functions.api.docs import responses
from functions.api.params import Cursor, Limit, OptionalText
from functions.api.responses import json_response
from shared.ops import events
from shared.outbound import publishing
from shared.schemas.requests import EventBatchPublish, EventPublish, ReplayRequest
from shared.schemas.responses import BatchPublishOut, EventDetail, EventList, PublishOut, ReplayOut

router = Router()

PUBLISH_FOR_USER = (
    'An admin key publishes for a user with `?user_id=` or `"user_id"` in the body; when both '
    "are given they must name the same user, else 422 (details name `body.user_id`)."
)


@router.post("", responses=responses(202, PublishOut, 403), description=PUBLISH_FOR_USER)
def publish_event(owner: Owner, body: Annotated[EventPublish, Body()]) -> Response[str]:
    published = publishing.publish(owner.for_body(body.user_id), body)
    # A repeated caller id answers 200 with the first answer (README: Delivery semantics).
    return json_response(200 if published.duplicate else 202, published.answer)


@router.post("/batch", responses=responses(202, BatchPublishOut, 403), description=PUBLISH_FOR_USER)
def publish_batch(owner: Owner, body: Annotated[EventBatchPublish, Body()]) -> Response[str]:
    by_owner: dict[str, list[int]] = {}
    for position, item in enumerate(body.events):
        by_owner.setdefault(owner.for_body(item.user_id), []).append(position)
    results: list[dict[str, object]] = [{} for _ in body.events]
    for user_id, positions in by_owner.items():
        answers = publishing.publish_many(user_id, [body.events[p] for p in positions])
        for position, published in zip(positions, answers, strict=True):
            results[position] = {**published.answer, "duplicate": published.duplicate}
    return json_response(202, {"data": results})


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

"""Publish (`POST /v1/events`, `POST /v1/events/batch`): the hot path, in a function of its own.

Lean on purpose: no Powertools resolver and no pydantic, whose imports alone cost about an
`import boto3` (docs/benchmarks.md, cold start). The body is checked by shared/schemas/publish.py
(the rules of the documented models, same errors); the OpenAPI document is served by the `api`
function, which declares these routes for it (functions/api/routes/events.py).

It serves the API's two routes and, with `-c publish_function_url=true`, its own function URL
(README: Deploying to AWS), which hands over any method and path: `route_of` keeps the two.

AWS calls per single publish, the key cached: 3 (the webhook Query, the event written naming
its deliveries, one SendMessageBatch: shared/outbound/publishing.py); a key not cached adds one
GetItem.
Every event is checked against the event type catalog first (shared/outbound/event_types.py,
README "Event type catalog"): no call on a warm container, one Query per container per
`WEBHOOKS_EVENT_TYPE_CACHE_SECONDS`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.access.auth import Actor, admit
from shared.access.http import (
    JSON,
    NOT_JSON,
    UNEXPECTED,
    check_body,
    error_response,
    lambda_response,
    strict_json,
)
from shared.core.errors import DomainError, InvalidRequest, MethodNotAllowed, NotFound
from shared.core.observability import logger
from shared.outbound import event_types, publishing
from shared.outbound.event_types import Checked
from shared.schemas.publish import EventIn, parse_batch, parse_event

SINGLE = "POST /v1/events"
BATCH = "POST /v1/events/batch"
PATHS = {route.split(" ", 1)[1]: route for route in (SINGLE, BATCH)}


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return handle(event)
    except DomainError as error:
        return error_response(error)
    except Exception:
        logger.exception("unhandled error")
        return error_response(UNEXPECTED)


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """Who may publish, then the body, then the publish: the order the `api` function keeps."""
    route = route_of(event)
    actor = admit(event.get("headers") or {}, event.get("queryStringParameters"), admin=False)
    logger.append_keys(user_id=actor.caller.user_id, key_id=actor.caller.key_id)
    check_body(event)
    if not is_json(event):
        return error_response(NOT_JSON)
    body = json_body(event)
    if route == SINGLE:
        return publish_one(actor, in_catalog([parse_event(body)], batch=False)[0])
    return publish_batch(actor, in_catalog(parse_batch(body), batch=True))


def route_of(event: dict[str, Any]) -> str:
    """SINGLE or BATCH: API Gateway's route key behind the API, else, from the function's own
    URL (route key `$default`), the method and path; 404 for any other path, 405 for another
    method on these two."""
    route = str(event.get("routeKey") or "")
    if route == "$default":
        method = str(((event.get("requestContext") or {}).get("http") or {}).get("method"))
        path = str(event.get("rawPath") or "")
        if path in PATHS and method != "POST":
            raise MethodNotAllowed("publish events by POST", allow="POST")
        route = PATHS.get(path, "")
    if route not in (SINGLE, BATCH):
        raise NotFound("no such route", code="route_not_found")
    return route


def in_catalog(events: list[EventIn], batch: bool) -> list[EventIn]:
    """The events, once each fits the event type catalog; else InvalidRequest naming every
    failing path. All or nothing: one bad event refuses the whole batch, before any write.
    AWS calls: none on a warm container (shared/outbound/event_types.py)."""
    event_types.check(
        [
            Checked(f"body.events.{i}" if batch else "body", item.type, item.data)
            for i, item in enumerate(events)
        ]
    )
    return events


def publish_one(actor: Actor, event: EventIn) -> dict[str, Any]:
    published = publishing.publish(actor.for_body(event.user_id), event)
    # A repeated caller id answers 200 with the first answer (README: Delivery semantics).
    return lambda_response(200 if published.duplicate else 202, published.answer)


def publish_batch(actor: Actor, events: list[EventIn]) -> dict[str, Any]:
    """Events grouped by the user each names (an admin may publish for several at once)."""
    by_owner: dict[str, list[int]] = {}
    for position, item in enumerate(events):
        by_owner.setdefault(actor.for_body(item.user_id), []).append(position)
    results: list[dict[str, object]] = [{} for _ in events]
    for user_id, positions in by_owner.items():
        answers = publishing.publish_many(user_id, [events[p] for p in positions])
        for position, published in zip(positions, answers, strict=True):
            results[position] = {**published.answer, "duplicate": published.duplicate}
    return lambda_response(202, {"data": results})


def json_body(event: dict[str, Any]) -> Any:
    """The body as JSON (None when empty), refused as the `api` function's resolver refuses it:
    422 naming the position of malformed JSON."""
    text = event.get("body") or ""
    if event.get("isBase64Encoded"):
        text = base64.b64decode(text).decode("utf-8")  # UTF-8 already checked by check_body
    if not text:
        return None
    try:
        return strict_json(text)
    except json.JSONDecodeError as error:
        field = f"body.{error.pos}"
        raise InvalidRequest(
            f"invalid request: check {field}",
            details=[{"field": field, "message": "JSON decode error"}],
        ) from error


def is_json(event: dict[str, Any]) -> bool:
    """No Content-Type, or `application/json...`: what the resolver reads as JSON."""
    content_type = str((event.get("headers") or {}).get("content-type", "")).strip()
    return not content_type or content_type.startswith(JSON)

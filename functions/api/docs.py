"""The OpenAPI document's words, in one place: tags, and per operation its id, tag, summary,
description and examples; plus `responses` (a route's success shape and our JSON error shape).

Routes declare only what validates (their models and parameters); `annotate` lays this table
over the document the resolver builds (functions/api/handler.py `openapi_json`), so a new route
gets its docs by adding ONE row to `OPERATIONS`, keyed by its method and OpenAPI path:

    ("post", "/v1/webhooks/{webhook_id}/recover"): Op(
        "recoverWebhook", WEBHOOKS, "Recover missed events",
        "What it does, for whom, and its errors.",
        request={"since": "2026-11-30T00:00:00Z"}, response={"event_count": 3},
    ),

`operation_id` is lowerCamelCase (verb first: what client generators name methods after),
`request` is given when the operation has a body, `response` is the 2xx body (None for 204).
tests/unit/test_openapi.py fails on an operation with no row, and checks every example against
its schema. Then `python -m scripts.export_openapi` (`make openapi`) rewrites docs/openapi.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from shared.schemas.responses import ErrorBody

ERROR_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing or invalid API key",
    403: "Role too low, or acting for another user without admin",
    404: "Not found (or not yours), or past its retention: `event_expired`, `delivery_expired`",
    409: "Conflict with the current state",
    413: "Body too large",
    422: "Invalid input (details name the fields)",
    503: "AWS is throttling or failing (the key lookup, a batch write): try again shortly",
}
COMMON_ERRORS = (401, 413, 422, 503)


def responses(status: int, model: type[BaseModel] | None, *errors: int) -> dict[int, Any]:
    documented: dict[int, Any] = {}
    if model is None:
        # An empty `content`: else Powertools documents the handler's `Response[str]` as JSON.
        documented[status] = {"description": "No content", "content": {}}
    else:
        documented[status] = {
            "description": "Success",
            "content": {"application/json": {"model": model}},
        }
    for code in sorted({*COMMON_ERRORS, *errors}):
        documented[code] = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return documented


# --- Tags: one per resource, in the order the Swagger page shows them ---------------------------

WEBHOOKS = "webhooks"
EVENTS = "events"
DELIVERIES = "deliveries"
SECRET = "secret"
SOURCES = "sources"
EVENT_TYPES = "event types"
PORTAL = "portal"
ADMIN = "admin"
TAGS: list[dict[str, str]] = [
    {
        "name": WEBHOOKS,
        "description": "Endpoints that receive your events: URL, event type patterns, an "
        "optional payload filter, retry policy and headers; their deliveries; a test send.",
    },
    {
        "name": EVENTS,
        "description": "Publish events (one or a batch of up to 100), list and read what was "
        "published or received, and replay an event to its webhooks.",
    },
    {
        "name": DELIVERIES,
        "description": "One event sent to one webhook: its status, every attempt's status code, "
        "duration and response, and a manual retry of a failed one.",
    },
    {
        "name": SECRET,
        "description": "Your signing secret (every delivery is signed with it, "
        "Standard Webhooks headers) and its rotation with a grace period.",
    },
    {
        "name": SOURCES,
        "description": "Inbound sources: the URL a provider (Stripe, GitHub, Shopify, Slack, "
        "Standard Webhooks or a custom HMAC rule) posts to, its signature check and dedupe.",
    },
    {
        "name": EVENT_TYPES,
        "description": "The event type catalog: types with an optional JSON Schema (draft "
        "2020-12) that published `data` must match. Admins write it; any key reads it.",
    },
    {
        "name": PORTAL,
        "description": "The consumer portal: short-lived session tokens for one user and the "
        "page an end customer uses to manage their own webhooks.",
    },
    {
        "name": ADMIN,
        "description": "Admin key only: API keys and the dead-letter queues.",
    },
]


@dataclass(frozen=True)
class Op:
    """The docs of one operation (see the module docstring for how to add one)."""

    operation_id: str
    tag: str
    summary: str
    description: str
    request: Any = None
    response: Any = None


def annotate(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the tags and each operation's row of `OPERATIONS` applied.

    An operation without a row keeps what the resolver wrote (the test names it). A description
    the route itself declares is kept after the row's.
    """
    document["tags"] = TAGS
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            row = OPERATIONS.get((method, path))
            if row is not None:
                _apply(operation, row)
    return document


def _apply(operation: dict[str, Any], row: Op) -> None:
    operation["operationId"] = row.operation_id
    operation["tags"] = [row.tag]
    operation["summary"] = row.summary
    own = operation.get("description")
    operation["description"] = f"{row.description}\n\n{own}" if own else row.description
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and row.request is not None:
        body["example"] = row.request
    for code, answer in operation.get("responses", {}).items():
        media = answer.get("content", {}).get("application/json")
        if code.startswith("2") and media is not None and row.response is not None:
            media["example"] = row.response


# --- Examples shared by several operations ------------------------------------------------------

_AT = "2026-11-30T09:15:02.114Z"
_WH = "wh_0KX3T9A2B7QF4M8N1P5R6S2D"
_EVT = "evt_0KX3T9B4C2HJ7K9L3M5N8P1Q"
_DLV = "dlv_0KX3T9B4D6RS2T4V6W8X0Y3Z"
_SRC = "src_0KX3T8Z1Y4AB6CD8EF0GH2JK"
_KEY = "key_0KX3T7W2X5LM7NP9QR1ST3UV"
_CURSOR = "eyJrIjoid2hfMEtYM1Q5QTJCN1FGNE04TjFQNVI2UzJEIn0.c2ln"
_HOOK_IN = {
    "url": "https://example.com/webhooks",
    "events": ["order.*", "user.created"],
    "description": "Orders to the billing service",
    "filter": "data.amount > `100`",
}
_HOOK = {
    **_HOOK_IN,
    "id": _WH,
    "active": True,
    "retry": None,
    "headers": None,
    "created_at": _AT,
    "updated_at": _AT,
}
_EVENT_IN = {"type": "order.paid", "data": {"order_id": "ord_123", "amount": 4200}}
_QUEUED = {"webhook_id": _WH, "delivery_id": _DLV, "status": "queued"}
_DELIVERY = {
    "id": _DLV,
    "webhook_id": _WH,
    "event_id": _EVT,
    "event_type": "order.paid",
    "url": "https://example.com/webhooks",
    "status": "succeeded",
    "attempts": 1,
    "last_status_code": 200,
    "last_error": None,
    "next_attempt_at": None,
    "created_at": _AT,
    "updated_at": _AT,
}
_SUMMARY = {
    "id": _EVT,
    "direction": "outbound",
    "type": "order.paid",
    "status": "published",
    "created_at": _AT,
}
_SOURCE_IN = {"name": "stripe-prod", "provider": "stripe", "secret": "whsec_from_the_provider"}
_SOURCE = {
    "id": _SRC,
    "name": "stripe-prod",
    "provider": "stripe",
    "inbound_url": f"https://api.example.com/inbound/{_SRC}",
    "signature": None,
    "tolerance_seconds": 300,
    "dedupe": None,
    "dedupe_ttl_seconds": 604800,
    "forward_url": None,
    "secret_updated_at": _AT,
    "previous_secret_expires_at": None,
    "created_at": _AT,
    "updated_at": _AT,
}
_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "integer", "minimum": 0}},
    "required": ["order_id", "amount"],
}
_EVENT_TYPE = {
    "type": "order.paid",
    "description": "An order was paid",
    "schema": _SCHEMA,
    "created_at": _AT,
    "updated_at": _AT,
}
# The one `whcms_` string of the document: tests/unit/test_security.py knows it is no secret.
EXAMPLE_SECRET = "whcms_EXAMPLEq2w4F9Kx0b1Yt8Lm5Nc6Pd2Rs4Tu"

# --- One row per operation ----------------------------------------------------------------------

OPERATIONS: dict[tuple[str, str], Op] = {
    ("post", "/v1/webhooks"): Op(
        "createWebhook",
        WEBHOOKS,
        "Register a webhook",
        "Subscribes a URL to event types (exact, `prefix.*` or `*`), optionally narrowed by a "
        "JMESPath `filter` on the payload. The URL must be public HTTPS (422 otherwise).",
        request=_HOOK_IN,
        response=_HOOK,
    ),
    ("get", "/v1/webhooks"): Op(
        "listWebhooks",
        WEBHOOKS,
        "List webhooks",
        "Your webhooks, oldest first, a page at a time (`limit`, then `cursor`).",
        response={"data": [_HOOK], "next_cursor": _CURSOR},
    ),
    ("get", "/v1/webhooks/{webhook_id}"): Op(
        "getWebhook",
        WEBHOOKS,
        "Get a webhook",
        "One of your webhooks (404 if not yours).",
        response=_HOOK,
    ),
    ("patch", "/v1/webhooks/{webhook_id}"): Op(
        "updateWebhook",
        WEBHOOKS,
        "Update a webhook",
        'Changes only the fields given; `"filter": null` removes the filter. Setting '
        "`active` to true re-enables a webhook that was disabled.",
        request={"events": ["order.*"], "active": True},
        response=_HOOK,
    ),
    ("delete", "/v1/webhooks/{webhook_id}"): Op(
        "deleteWebhook",
        WEBHOOKS,
        "Delete a webhook",
        "Stops deliveries to it; queued deliveries to it end without being sent.",
    ),
    ("post", "/v1/webhooks/{webhook_id}/test"): Op(
        "testWebhook",
        WEBHOOKS,
        "Send a test event",
        "Queues a signed `webhook.test` event to this webhook only, whatever its event types.",
        response={"event_id": _EVT, "delivery_id": _DLV},
    ),
    ("get", "/v1/webhooks/{webhook_id}/deliveries"): Op(
        "listWebhookDeliveries",
        WEBHOOKS,
        "List a webhook's deliveries",
        "Newest first, optionally by `status`, a page at a time, from their first attempt on "
        "(a published delivery's record is written by its first attempt, normally within a "
        "second; until then its event and `GET /v1/deliveries/{id}` show it `queued`). A "
        "`status` page reads a bounded number of deliveries: it may come back short, even "
        "empty, with a `next_cursor`; follow it until it is null.",
        response={"data": [_DELIVERY], "next_cursor": None},
    ),
    ("get", "/v1/secret"): Op(
        "getSecret",
        SECRET,
        "Get the signing secret",
        "Your signing secret, created on first use. Receivers verify the `webhook-signature` "
        "header with it (README: Verifying signatures).",
        response={"secret": EXAMPLE_SECRET, "created_at": _AT, "previous_expires_at": None},
    ),
    ("post", "/v1/secret/rotate"): Op(
        "rotateSecret",
        SECRET,
        "Rotate the signing secret",
        "A new secret signs from now on; for `grace_seconds` deliveries carry signatures "
        "by both, so receivers can switch without dropping events.",
        request={"grace_seconds": 86400},
        response={"secret": EXAMPLE_SECRET, "previous_expires_at": "2026-12-01T09:15:02.114Z"},
    ),
    ("post", "/v1/events"): Op(
        "publishEvent",
        EVENTS,
        "Publish an event",
        "Queues one delivery per active webhook whose event types and filter match. A caller "
        "`id` makes the publish idempotent: a repeat answers 200 with the first answer. A type "
        "in the event type catalog with a schema must have valid `data` (422 naming "
        "`body.data.<path>`).",
        request={**_EVENT_IN, "id": "order-123-paid"},
        response={"event_id": _EVT, "deliveries": [_QUEUED]},
    ),
    ("post", "/v1/events/batch"): Op(
        "publishEvents",
        EVENTS,
        "Publish a batch of events",
        "Up to 100 events in one request. All or nothing on input: one invalid event (or one "
        "breaking its catalog schema, `body.events.<i>.data.<path>`) refuses the whole batch.",
        request={"events": [_EVENT_IN, {"type": "user.created", "data": {"id": "u_1"}}]},
        response={"data": [{"event_id": _EVT, "deliveries": [_QUEUED], "duplicate": False}]},
    ),
    ("get", "/v1/events"): Op(
        "listEvents",
        EVENTS,
        "List events",
        "Published (outbound) and received (inbound) events, newest first; filter by "
        "`direction`, `type` or `source_id`. A `type` or `source_id` page reads a bounded "
        "number of events: it may come back short, even empty, with a `next_cursor`; follow "
        "it until it is null.",
        response={"data": [_SUMMARY], "next_cursor": None},
    ),
    ("get", "/v1/events/{event_id}"): Op(
        "getEvent",
        EVENTS,
        "Get an event",
        "The event with its payload, headers, processing history and deliveries.",
        response={
            **_SUMMARY,
            "payload": _EVENT_IN["data"],
            "headers": {},
            "history": [],
            "deliveries": [_DELIVERY],
        },
    ),
    ("post", "/v1/events/{event_id}/replay"): Op(
        "replayEvent",
        EVENTS,
        "Replay an event",
        "An outbound event gets new deliveries to its matching webhooks (or only `webhook_id`); "
        "an inbound event is processed again from its stored raw body.",
        request={"webhook_id": _WH},
        response={"event_id": _EVT, "deliveries": [_QUEUED]},
    ),
    ("get", "/v1/deliveries/{delivery_id}"): Op(
        "getDelivery",
        DELIVERIES,
        "Get a delivery",
        "Its status and the log of every attempt: status code, duration, error and the first "
        "bytes of the receiver's answer. Before its first attempt, `queued` with an empty log.",
        response={
            **_DELIVERY,
            "attempt_log": [
                {
                    "attempt": 1,
                    "started_at": _AT,
                    "duration_ms": 84,
                    "status_code": 200,
                    "error": None,
                    "response_body": "ok",
                }
            ],
        },
    ),
    ("post", "/v1/deliveries/{delivery_id}/retry"): Op(
        "retryDelivery",
        DELIVERIES,
        "Retry a failed delivery",
        "Queues a failed delivery again with a fresh retry schedule (409 if it has not failed).",
        response={"delivery_id": _DLV, "status": "queued"},
    ),
    ("post", "/v1/sources"): Op(
        "createSource",
        SOURCES,
        "Create an inbound source",
        "Gives you an `inbound_url` to hand the provider. The provider secret is stored in "
        "Secrets Manager and never returned.",
        request=_SOURCE_IN,
        response=_SOURCE,
    ),
    ("get", "/v1/sources"): Op(
        "listSources",
        SOURCES,
        "List inbound sources",
        "Your sources, a page at a time.",
        response={"data": [_SOURCE], "next_cursor": None},
    ),
    ("get", "/v1/sources/{source_id}"): Op(
        "getSource",
        SOURCES,
        "Get an inbound source",
        "One of your sources (never its secret).",
        response=_SOURCE,
    ),
    ("patch", "/v1/sources/{source_id}"): Op(
        "updateSource",
        SOURCES,
        "Update an inbound source",
        "Changes only the fields given; a new `secret` keeps the old one valid for "
        "`secret_grace_seconds`.",
        request={"name": "stripe-live", "secret": "whsec_new", "secret_grace_seconds": 3600},
        response=_SOURCE,
    ),
    ("delete", "/v1/sources/{source_id}"): Op(
        "deleteSource",
        SOURCES,
        "Delete an inbound source",
        "Its inbound URL stops accepting events; events already received are kept.",
    ),
    ("put", "/v1/admin/event-types/{type}"): Op(
        "putEventType",
        EVENT_TYPES,
        "Declare an event type",
        "Admin key only. Adds or replaces a type of the catalog, with an optional JSON Schema "
        "(draft 2020-12, at most 64 KB, no remote `$ref`) that published `data` must match. "
        "Other publish containers see a change within `WEBHOOKS_EVENT_TYPE_CACHE_SECONDS`.",
        request={"description": "An order was paid", "schema": _SCHEMA},
        response=_EVENT_TYPE,
    ),
    ("delete", "/v1/admin/event-types/{type}"): Op(
        "deleteEventType",
        EVENT_TYPES,
        "Remove an event type",
        "Admin key only. Events of this type are no longer checked (or, with "
        "`WEBHOOKS_STRICT_EVENT_TYPES=1`, no longer accepted).",
    ),
    ("get", "/v1/event-types"): Op(
        "listEventTypes",
        EVENT_TYPES,
        "List event types",
        "The whole catalog, by type, for any key.",
        response={"data": [_EVENT_TYPE]},
    ),
    ("get", "/v1/event-types/{type}"): Op(
        "getEventType",
        EVENT_TYPES,
        "Get an event type",
        "One type of the catalog.",
        response=_EVENT_TYPE,
    ),
    # Rows for routes other work adds (recover, stats, portal sessions): used once they exist.
    ("post", "/v1/webhooks/{webhook_id}/recover"): Op(
        "recoverWebhook",
        WEBHOOKS,
        "Recover missed deliveries",
        "Queues again, once each, every `failed` or `skipped` delivery to this active webhook "
        "created between `since` and `until` (default now; at most 30 days back), with a new "
        "attempt series. A disabled webhook is 409: re-enable it first.",
        request={"since": "2026-11-29T00:00:00Z", "until": "2026-11-30T00:00:00Z"},
        response={"recovering": 12, "more": False},
    ),
    ("get", "/v1/webhooks/{webhook_id}/stats"): Op(
        "getWebhookStats",
        WEBHOOKS,
        "Get a webhook's delivery stats",
        "Attempts started in the `window` (1h, 24h or 7d; default 24h): counts, success rate, "
        "p50/p95 latency and the last success and failure (README: Webhook stats).",
        response={
            "window": "24h",
            "attempts": 120,
            "succeeded": 114,
            "failed": 6,
            "success_rate": 0.95,
            "p50_ms": 84,
            "p95_ms": 410,
            "last_success_at": _AT,
            "last_failure_at": "2026-11-30T08:02:11.020Z",
        },
    ),
    ("post", "/v1/portal/sessions"): Op(
        "createPortalSession",
        PORTAL,
        "Create a portal session",
        "A short-lived token (stored only hashed) and the portal URL carrying it in its "
        "fragment, for one user with the user role. An admin names the user; a user key gets "
        "a session for itself with an empty body.",
        request={"user_id": "alice"},
        response={
            "token": "wps_EXAMPLEr8Kq2Xw9Lm4Nc6Pd2Rs4Tu",
            "url": "https://api.example.com/portal#token=wps_EXAMPLEr8Kq2Xw9Lm4Nc6Pd2Rs4Tu",
            "expires_at": "2026-11-30T10:15:02.114Z",
        },
    ),
    ("delete", "/v1/portal/sessions/current"): Op(
        "endPortalSession",
        PORTAL,
        "End the portal session (sign out)",
        "Called with a portal session token (`wps_...`): the session is deleted and its token "
        "stops working (within the API key cache time, 10 s by default, in every function "
        "instance). Any other key is refused with 403.",
    ),
    ("post", "/v1/admin/api-keys"): Op(
        "createApiKey",
        ADMIN,
        "Create an API key",
        "A `user` key acts on its own account; an `admin` key on any (`?user_id=`). The key "
        "is shown once and stored only as its SHA-256.",
        request={"user_id": "alice", "role": "user"},
        response={
            "id": _KEY,
            "api_key": "wk_7Hq2mX9pL4vR8sT1nB6cY3zK0dF5gJ2w",
            "user_id": "alice",
            "role": "user",
            "created_at": _AT,
        },
    ),
    ("delete", "/v1/admin/api-keys/{key_id}"): Op(
        "revokeApiKey",
        ADMIN,
        "Revoke an API key",
        "Refused from then on (containers that cached it stop within the key cache window).",
    ),
    ("get", "/v1/admin/dlq"): Op(
        "listDeadLetters",
        ADMIN,
        "Peek at a dead-letter queue",
        "Messages of the `delivery` or `inbound` DLQ, without removing them.",
        response={
            "data": [
                {
                    "message_id": "5fea7756-0ea4-451a-a703-a558b933e274",
                    "body": {"delivery_id": _DLV},
                    "sent_at": _AT,
                    "receive_count": 5,
                }
            ]
        },
    ),
    ("post", "/v1/admin/dlq/redrive"): Op(
        "redriveDeadLetters",
        ADMIN,
        "Redrive dead letters",
        "Moves the given messages (or all of them) back to their queue (409 while a move "
        "of all is running).",
        request={"queue": "delivery", "message_ids": ["5fea7756-0ea4-451a-a703-a558b933e274"]},
        response={"redriven": 1, "not_found": [], "remaining": []},
    ),
}

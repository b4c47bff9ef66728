"""A thin, typed Python client for the Serverless Webhooks HTTP API, and `verify` for receivers.

    from webhooks_client import Webhooks, verify

    hooks = Webhooks("https://abc.execute-api.us-east-1.amazonaws.com", api_key="whk_...")
    endpoint = hooks.create_webhook("https://example.com/hooks", ["order.*"])
    hooks.publish("order.paid", {"amount": 250})

    # in the receiver, on the raw request body:
    event = verify(request.body, request.headers, secret="whcms_...")

Every method maps to one operation of the OpenAPI document (docs/openapi.json in the service's
repository) and returns its JSON answer as a typed dict. An error answer raises `ApiError` with
the service's `code`, `message` and `details`. An admin key acts for a user with
`hooks.for_user("user_id")`.
"""

from __future__ import annotations

from webhooks_client._client import ApiError, Webhooks
from webhooks_client._types import (
    ApiKey,
    Delivery,
    DeliveryPage,
    Event,
    EventPage,
    EventType,
    PortalSession,
    Published,
    Secret,
    Source,
    Stats,
    Webhook,
    WebhookPage,
)
from webhooks_client._verify import WebhookVerificationError, verify

__all__ = [
    "ApiError",
    "ApiKey",
    "Delivery",
    "DeliveryPage",
    "Event",
    "EventPage",
    "EventType",
    "PortalSession",
    "Published",
    "Secret",
    "Source",
    "Stats",
    "Webhook",
    "WebhookPage",
    "WebhookVerificationError",
    "Webhooks",
    "verify",
]

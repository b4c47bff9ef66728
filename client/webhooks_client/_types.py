"""The answers' shapes, as the service's OpenAPI document describes them."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

DeliveryStatus = Literal["queued", "retrying", "succeeded", "failed", "skipped"]


class Webhook(TypedDict, total=False):
    id: str
    url: str
    events: list[str]
    description: str
    active: bool
    filter: str | None
    retry: dict[str, Any] | None
    headers: dict[str, str] | None
    disabled_reason: str | None
    disabled_at: str | None
    created_at: str
    updated_at: str


class WebhookPage(TypedDict):
    data: list[Webhook]
    next_cursor: str | None


class Secret(TypedDict, total=False):
    secret: str
    created_at: str
    previous_expires_at: str | None


class QueuedDelivery(TypedDict):
    webhook_id: str | None
    delivery_id: str
    status: DeliveryStatus


class Published(TypedDict, total=False):
    event_id: str
    deliveries: list[QueuedDelivery]
    duplicate: bool


class Attempt(TypedDict):
    attempt: int
    started_at: str
    duration_ms: int
    status_code: int | None
    error: str | None
    response_body: str | None


class Delivery(TypedDict, total=False):
    id: str
    webhook_id: str | None
    event_id: str
    event_type: str
    url: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    updated_at: str
    attempt_log: list[Attempt]


class DeliveryPage(TypedDict):
    data: list[Delivery]
    next_cursor: str | None


class Event(TypedDict, total=False):
    id: str
    direction: Literal["inbound", "outbound"]
    type: str
    status: str | None
    created_at: str
    source_id: str | None
    payload: Any
    headers: dict[str, str]
    history: list[dict[str, Any]]
    deliveries: list[Delivery] | None
    raw_body_url: str | None


class EventPage(TypedDict):
    data: list[Event]
    next_cursor: str | None


class Source(TypedDict, total=False):
    id: str
    name: str
    provider: str
    inbound_url: str
    signature: dict[str, Any] | None
    tolerance_seconds: int
    dedupe: dict[str, Any] | None
    dedupe_ttl_seconds: int
    forward_url: str | None
    secret_updated_at: str | None
    previous_secret_expires_at: str | None
    created_at: str
    updated_at: str


class Stats(TypedDict):
    window: str
    attempts: int
    succeeded: int
    failed: int
    success_rate: float | None
    p50_ms: int | None
    p95_ms: int | None
    last_success_at: str | None
    last_failure_at: str | None


class EventType(TypedDict, total=False):
    type: str
    description: str
    schema: dict[str, Any] | None
    created_at: str
    updated_at: str


class ApiKey(TypedDict):
    id: str
    api_key: str
    user_id: str
    role: Literal["user", "admin"]
    created_at: str


class PortalSession(TypedDict):
    token: str
    url: str
    expires_at: str

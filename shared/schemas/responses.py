"""Response shapes, for the OpenAPI document (the services build plain dicts of these shapes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas.requests import DedupeRule, HmacSignatureRule, RetryPolicy, SourceProvider

DeliveryStatus = Literal["queued", "retrying", "succeeded", "failed", "skipped"]


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[Any] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    active: bool
    retry: RetryPolicy | None
    headers: dict[str, str] | None
    filter: str | None = None
    disabled_reason: Literal["failing", "gone"] | None = Field(
        default=None,
        description=(
            "Why the service disabled this webhook: `failing` (every attempt failed for "
            "WEBHOOKS_DISABLE_AFTER_SECONDS) or `gone` (the receiver answered 410). Null while "
            'active or when disabled by a PATCH; `PATCH {"active": true}` clears it.'
        ),
    )
    disabled_at: str | None = Field(
        default=None, description="When the service disabled it (null unless disabled_reason)."
    )
    created_at: str
    updated_at: str


class WebhookList(BaseModel):
    data: list[WebhookOut]
    next_cursor: str | None


class SecretOut(BaseModel):
    secret: str
    created_at: str
    previous_expires_at: str | None


class RotatedSecretOut(BaseModel):
    secret: str
    previous_expires_at: str | None


class ApiKeyOut(BaseModel):
    id: str
    api_key: str
    user_id: str
    role: Literal["user", "admin"]
    created_at: str


class QueuedDelivery(BaseModel):
    webhook_id: str | None
    delivery_id: str
    status: DeliveryStatus


class PublishOut(BaseModel):
    event_id: str
    deliveries: list[QueuedDelivery]


class BatchItemOut(PublishOut):
    duplicate: bool


class BatchPublishOut(BaseModel):
    data: list[BatchItemOut]


class DeliveryOut(BaseModel):
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
    source_id: str | None = None


class AttemptOut(BaseModel):
    attempt: int
    started_at: str
    duration_ms: int
    status_code: int | None
    error: str | None
    response_body: str | None


class DeliveryDetail(DeliveryOut):
    attempt_log: list[AttemptOut]


class DeliveryList(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


class TestSendOut(BaseModel):
    event_id: str
    delivery_id: str


class RetryOut(BaseModel):
    delivery_id: str
    status: DeliveryStatus


class RecoverOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"recovering": 42, "more": False}]})

    recovering: int = Field(
        description="Failed or skipped deliveries of the window queued again (at most 1,000)."
    )
    more: bool = Field(
        description="The 1,000 cap was reached: ask again with the same window for the rest."
    )


class WebhookStatsOut(BaseModel):
    """Over the attempts started in the window, read from the attempt logs of the webhook's newest
    2,000 deliveries created in it (README "Webhook stats")."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "window": "24h",
                    "attempts": 1250,
                    "succeeded": 1200,
                    "failed": 50,
                    "success_rate": 0.96,
                    "p50_ms": 84,
                    "p95_ms": 410,
                    "last_success_at": "2026-12-01T18:02:11.412Z",
                    "last_failure_at": "2026-12-01T17:40:03.007Z",
                }
            ]
        }
    )

    window: Literal["1h", "24h", "7d"]
    attempts: int
    succeeded: int
    failed: int
    success_rate: float | None = Field(description="0..1; null without attempts.")
    p50_ms: int | None
    p95_ms: int | None
    last_success_at: str | None
    last_failure_at: str | None


class EventSummary(BaseModel):
    id: str
    direction: Literal["inbound", "outbound"]
    type: str
    status: str | None
    created_at: str
    source_id: str | None = None


class EventList(BaseModel):
    data: list[EventSummary]
    next_cursor: str | None


class EventDetail(EventSummary):
    payload: Any = None
    headers: dict[str, str]
    history: list[dict[str, Any]]
    deliveries: list[DeliveryOut] | None = None
    raw_body_url: str | None = None


class ReplayOut(BaseModel):
    event_id: str
    deliveries: list[QueuedDelivery] | None = None
    status: str | None = None


class DlqMessage(BaseModel):
    message_id: str
    body: dict[str, Any]
    sent_at: str | None
    receive_count: int


class DlqList(BaseModel):
    data: list[DlqMessage]


class RedriveOut(BaseModel):
    redriven: int = Field(description="Messages moved back to their source queue.")
    not_found: list[str] = Field(
        description="Asked message ids that are not in the DLQ (already redriven or deleted)."
    )
    remaining: list[str] = Field(
        description="Message ids still in the DLQ that this request could not move in its time "
        "(or whose send failed): ask again for them. Empty when SQS's own move task redrives all."
    )


class SourceOut(BaseModel):
    """A source as the API answers it (the provider secret is never part of it)."""

    id: str
    name: str
    provider: SourceProvider
    inbound_url: str
    signature: HmacSignatureRule | None
    tolerance_seconds: int
    dedupe: DedupeRule | None
    dedupe_ttl_seconds: int
    forward_url: str | None
    secret_updated_at: str | None
    previous_secret_expires_at: str | None
    created_at: str
    updated_at: str


class SourceList(BaseModel):
    data: list[SourceOut]
    next_cursor: str | None


class EventTypeOut(BaseModel):
    type: str
    description: str
    schema_: dict[str, Any] | None = Field(alias="schema")
    created_at: str
    updated_at: str


class EventTypeList(BaseModel):
    data: list[EventTypeOut]

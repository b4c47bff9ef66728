"""Request bodies as pydantic models: the API validates with them and documents them (OpenAPI)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.config import settings
from shared.errors import InvalidRequest
from shared.patterns import is_valid_event_type, is_valid_pattern
from shared.ssrf import validate_url

MAX_EVENT_DATA_BYTES = 256 * 1024
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
# Headers a webhook may not set: they carry the signature, framing or routing of the request.
RESERVED_HEADER_PREFIXES = ("x-webhook-", "webhook-")
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection"}
)
USER_ID = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_url(value: str) -> str:
    try:
        return validate_url(value, allow_private=settings().allow_private_targets)
    except InvalidRequest as error:
        raise ValueError(error.message) from error


class RetryPolicy(StrictModel):
    """`attempts` counts retries after the first attempt (the default schedule has 5)."""

    attempts: int = Field(default=5, ge=0, le=20)
    backoff: Literal["exponential", "fixed"] = "exponential"
    initial_delay_seconds: int = Field(default=60, ge=1, le=86400)
    max_delay_seconds: int = Field(default=86400, ge=1, le=86400 * 7)

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> RetryPolicy:
        if self.max_delay_seconds < self.initial_delay_seconds:
            raise ValueError("max_delay_seconds must be at least initial_delay_seconds")
        return self


def _check_headers(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > 20:
        raise ValueError("at most 20 headers")
    for name, header_value in value.items():
        lowered = name.lower()
        if not HEADER_NAME.match(name):
            raise ValueError(f"header name {name!r} is not a valid HTTP header name")
        if lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_HEADER_PREFIXES):
            raise ValueError(f"header {name!r} is set by the service and cannot be overridden")
        if len(header_value) > 1024 or "\r" in header_value or "\n" in header_value:
            raise ValueError(f"header {name!r} has an invalid value")
    return value


def _check_patterns(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    bad = [pattern for pattern in value if not is_valid_pattern(pattern)]
    if bad:
        raise ValueError(
            f"invalid event pattern(s) {bad[:5]}: use an event type, 'prefix.*' or '*'"
        )
    return list(dict.fromkeys(value))


class WebhookCreate(StrictModel):
    url: str = Field(max_length=2048)
    events: list[str] = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    active: bool = True
    retry: RetryPolicy | None = None
    headers: dict[str, str] | None = None

    _url = field_validator("url")(_check_url)
    _events = field_validator("events")(_check_patterns)
    _headers = field_validator("headers")(_check_headers)


class WebhookUpdate(StrictModel):
    url: str | None = Field(default=None, max_length=2048)
    events: list[str] | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    active: bool | None = None
    retry: RetryPolicy | None = None
    headers: dict[str, str] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    _events = field_validator("events")(_check_patterns)
    _headers = field_validator("headers")(_check_headers)


class EventPublish(StrictModel):
    type: str = Field(max_length=200)
    data: dict[str, Any]
    id: str | None = Field(default=None, min_length=1, max_length=256)
    user_id: str | None = Field(default=None, description="Admin only: publish for this user.")

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not is_valid_event_type(value):
            raise ValueError("type must look like 'resource.action' (lowercase, dot-separated)")
        return value

    @field_validator("data")
    @classmethod
    def _data_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_EVENT_DATA_BYTES:
            raise ValueError("data is larger than 256 KB encoded")
        return value


class EventBatchPublish(StrictModel):
    events: list[EventPublish] = Field(min_length=1, max_length=100)


class ReplayRequest(StrictModel):
    webhook_id: str | None = None


class RotateSecret(StrictModel):
    grace_seconds: int = Field(default=86400, ge=0, le=604800)


class ApiKeyCreate(StrictModel):
    user_id: str
    role: Literal["user", "admin"] = "user"

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str) -> str:
        if not USER_ID.match(value):
            raise ValueError("user_id must be 1-128 characters of letters, digits and _.@:-")
        return value


class DlqRedrive(StrictModel):
    queue: Literal["delivery", "inbound"]
    message_ids: list[str] | None = Field(default=None, max_length=1000)

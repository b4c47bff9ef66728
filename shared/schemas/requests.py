"""Request bodies as pydantic models: the API validates with them and documents them (OpenAPI)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.core import clock
from shared.core.config import settings
from shared.core.errors import InvalidRequest
from shared.core.ids import OPS_USER_ID
from shared.core.patterns import (
    USER_ID_RULE,
    is_valid_event_type,
    is_valid_pattern,
    is_valid_user_id,
)
from shared.inbound.providers import Provider, standard_key
from shared.outbound import event_schemas
from shared.outbound.ssrf import validate_url

MAX_EVENT_DATA_BYTES = 256 * 1024
# Patterns are applied with fullmatch: `$` would also accept one trailing newline.
HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
# Visible ASCII, spaces and tabs (RFC 9110 field-value without obsolete bytes): no NUL, CR, LF.
HEADER_VALUE = re.compile(r"[\x20-\x7e\t]{0,1024}")
# Headers a webhook may not set: they carry the signature, framing or routing of the request.
RESERVED_HEADER_PREFIXES = ("x-webhook-", "webhook-")
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection"}
)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_url(value: str) -> str:
    try:
        return validate_url(value, allow_private=settings().allow_private_targets)
    except InvalidRequest as error:
        raise ValueError(error.message) from error


class RetryPolicy(StrictModel):
    """`attempts` counts retries after the first attempt (the default schedule has 5)."""

    attempts: StrictInt = Field(default=5, ge=0, le=20)
    backoff: Literal["exponential", "fixed"] = "exponential"
    initial_delay_seconds: StrictInt = Field(default=60, ge=1, le=86400)
    max_delay_seconds: StrictInt = Field(default=86400, ge=1, le=86400 * 7)

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
        if not HEADER_NAME.fullmatch(name):
            raise ValueError(f"header name {name!r} is not a valid HTTP header name")
        if lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_HEADER_PREFIXES):
            raise ValueError(f"header {name!r} is set by the service and cannot be overridden")
        if not HEADER_VALUE.fullmatch(header_value):
            raise ValueError(
                f"header {name!r}: a value is at most 1024 visible ASCII characters, spaces "
                "or tabs (no control characters)"
            )
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
    active: StrictBool = True
    retry: RetryPolicy | None = None
    headers: dict[str, str] | None = None
    filter: str | None = Field(
        default=None,
        max_length=1024,
        description="JMESPath over the delivered envelope; the event is sent only when truthy "
        "(README: Payload filters). Example: data.amount > `100` && data.currency == 'usd'",
    )

    _url = field_validator("url")(_check_url)
    _events = field_validator("events")(_check_patterns)
    _headers = field_validator("headers")(_check_headers)


class WebhookUpdate(StrictModel):
    url: str | None = Field(default=None, max_length=2048)
    events: list[str] | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    active: StrictBool | None = None
    retry: RetryPolicy | None = None
    headers: dict[str, str] | None = None
    filter: str | None = Field(
        default=None, max_length=1024, description="A JMESPath filter; null removes it."
    )

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
    user_id: str | None = Field(
        default=None,
        description="Admin only: publish for this user. With `?user_id=` too, both must name "
        "the same user (else 422).",
    )

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_user_id(value):
            raise ValueError(USER_ID_RULE)
        return value

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not is_valid_event_type(value):
            raise ValueError("type must look like 'resource.action' (lowercase, dot-separated)")
        return value

    @field_validator("data")
    @classmethod
    def _data_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Measured as the envelope encodes it (UTF-8, not \u-escaped): the bytes actually sent.
        encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        if len(encoded) > MAX_EVENT_DATA_BYTES:
            raise ValueError("data is larger than 256 KB encoded")
        return value


class EventBatchPublish(StrictModel):
    events: list[EventPublish] = Field(min_length=1, max_length=100)


class ReplayRequest(StrictModel):
    webhook_id: str | None = None


class RotateSecret(StrictModel):
    grace_seconds: StrictInt = Field(default=86400, ge=0, le=604800)


class ApiKeyCreate(StrictModel):
    user_id: str
    role: Literal["user", "admin"] = "user"

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str) -> str:
        if not is_valid_user_id(value):
            raise ValueError(USER_ID_RULE)
        if value == OPS_USER_ID:
            raise ValueError(f"{OPS_USER_ID} is reserved for operational events: no key acts as it")
        return value


RECOVER_MAX_DAYS = 30


class WebhookRecover(StrictModel):
    """A window of deliveries to queue again (README "Skipped deliveries and recover")."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"since": "2026-12-01T00:00:00Z", "until": "2026-12-01T12:00:00Z"},
                {"since": "2026-11-30T08:00:00+01:00"},
            ]
        },
    )

    since: AwareDatetime = Field(description="ISO 8601 with a zone; at most 30 days back.")
    until: AwareDatetime | None = Field(default=None, description="Defaults to now.")

    @field_validator("since")
    @classmethod
    def _since(cls, value: AwareDatetime) -> AwareDatetime:
        if value.timestamp() < clock.now() - RECOVER_MAX_DAYS * 86400:
            raise ValueError(f"since is more than {RECOVER_MAX_DAYS} days back")
        return value

    @field_validator("until")
    @classmethod
    def _until(cls, value: AwareDatetime | None, info: ValidationInfo) -> AwareDatetime | None:
        since = info.data.get("since")
        if value is not None and since is not None and value <= since:
            raise ValueError("until must be after since")
        return value


class EventTypePut(StrictModel):
    """An event type of the catalog (README "Event type catalog")."""

    description: str = Field(default="", max_length=1000)
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="JSON Schema (draft 2020-12, at most 64 KB) that `data` must match.",
    )

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else event_schemas.check(value)


class DlqRedrive(StrictModel):
    queue: Literal["delivery", "inbound"]
    message_ids: list[str] | None = Field(default=None, max_length=1000)


# Inbound sources ---------------------------------------------------------------------------------

SourceProvider = Provider  # one list of providers: shared/inbound/providers.py
DEDUPE_RULE = re.compile(
    r"header:[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}|body:[A-Za-z0-9_-]{1,100}(\.[A-Za-z0-9_-]{1,100}){0,9}"
)
MAX_SOURCE_SECRET_LENGTH = 4096


class HmacSignatureRule(StrictModel):
    """How a custom `hmac` source signs: which header, algorithm, encoding and signed bytes."""

    header: str = Field(min_length=1, max_length=100)
    algorithm: Literal["sha256", "sha1", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field(default="", max_length=50)
    signed_payload: Literal["body", "timestamp.body"] = "body"
    timestamp_header: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("header", "timestamp_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is not None and not HEADER_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid HTTP header name")
        return value.lower() if value is not None else None

    @model_validator(mode="after")
    def _timestamp_header_needed(self) -> HmacSignatureRule:
        if self.signed_payload == "timestamp.body" and not self.timestamp_header:
            raise ValueError("signed_payload 'timestamp.body' needs timestamp_header")
        return self


class DedupeRule(StrictModel):
    """`header:<Name>` or `body:<dot.path>`; by default a custom source dedupes on the body hash."""

    key: str = Field(max_length=1200)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not DEDUPE_RULE.fullmatch(value):
            raise ValueError("key must be 'header:<Name>' or 'body:<dot.path>'")
        return value


def _check_optional_url(value: str | None) -> str | None:
    return None if value is None else _check_url(value)


class SourceCreate(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    provider: SourceProvider
    secret: str = Field(min_length=1, max_length=MAX_SOURCE_SECRET_LENGTH, repr=False)
    signature: HmacSignatureRule | None = None
    tolerance_seconds: StrictInt = Field(default=300, ge=1, le=86400)
    dedupe: DedupeRule | None = None
    dedupe_ttl_seconds: StrictInt = Field(default=604800, ge=60, le=30 * 86400)
    forward_url: str | None = Field(default=None, max_length=2048)

    _forward_url = field_validator("forward_url")(_check_optional_url)

    @model_validator(mode="after")
    def _provider_rules(self) -> SourceCreate:
        check_source_settings(self.provider, self.secret, self.signature, self.dedupe)
        if self.provider == "hmac" and self.signature is None:
            # The default rule: `x-signature: <hex HMAC-SHA256(secret, raw body)>`.
            self.signature = HmacSignatureRule(header="x-signature")
        return self


class SourceUpdate(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    secret: str | None = Field(
        default=None, min_length=1, max_length=MAX_SOURCE_SECRET_LENGTH, repr=False
    )
    secret_grace_seconds: StrictInt | None = Field(
        default=None,
        ge=0,
        le=604800,
        description="With a new secret: how long the previous one still verifies (default 86400).",
    )
    signature: HmacSignatureRule | None = None
    tolerance_seconds: StrictInt | None = Field(default=None, ge=1, le=86400)
    dedupe: DedupeRule | None = None
    dedupe_ttl_seconds: StrictInt | None = Field(default=None, ge=60, le=30 * 86400)
    forward_url: str | None = Field(default=None, max_length=2048)

    _forward_url = field_validator("forward_url")(_check_optional_url)

    @model_validator(mode="after")
    def _grace_needs_secret(self) -> SourceUpdate:
        if self.secret_grace_seconds is not None and self.secret is None:
            raise ValueError("secret_grace_seconds applies only together with a new secret")
        return self


class SourceSettingError(ValueError):
    """A provider rule a source breaks, naming the field that breaks it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def check_source_settings(
    provider: str,
    secret: str | None,
    signature: HmacSignatureRule | None,
    dedupe: DedupeRule | None,
) -> None:
    """Rules that depend on the provider (raise SourceSettingError, reported as a 422)."""
    if provider != "hmac" and signature is not None:
        raise SourceSettingError("signature", "signature applies only to provider 'hmac'")
    if provider != "hmac" and dedupe is not None:
        raise SourceSettingError(
            "dedupe", "dedupe applies only to provider 'hmac'; presets use the provider's id"
        )
    if provider == "standard" and secret is not None:
        try:
            standard_key(secret)
        except ValueError:
            raise SourceSettingError(
                "secret", "a standard secret is 'whsec_' followed by base64"
            ) from None

"""Settings read from the environment the CDK stack (or local mode) gives each function."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cache

from shared.core import resources as res

API_VERSION = "2026-11-01"
DEFAULT_RETRY_SCHEDULE: tuple[int, ...] = (60, 300, 1800, 7200, 86400)
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
# How long events, deliveries and their attempt logs are kept (README: Retention): the CDK stack
# gives every function the same value it gives the raw-body bucket's lifecycle rule.
RETENTION_ENV = "WEBHOOKS_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
# README "Event type catalog": refuse publishing types missing from the catalog (CDK context
# `strict_event_types=true` sets it on the publish function).
STRICT_EVENT_TYPES_ENV = "WEBHOOKS_STRICT_EVENT_TYPES"
# The inbound function's own URL when the stack gives it one (README: Deploying to AWS).
INBOUND_BASE_URL_ENV = "INBOUND_BASE_URL"
MAX_RETENTION_DAYS = 3650
DISABLE_AFTER_ENV = "WEBHOOKS_DISABLE_AFTER_SECONDS"
DEFAULT_DISABLE_AFTER_SECONDS = 5 * 86400
MAX_DISABLE_AFTER_SECONDS = 365 * 86400


@dataclass(frozen=True)
class Settings:
    api_keys_table: str
    webhooks_table: str
    events_table: str
    deliveries_table: str
    sources_table: str
    dedupe_table: str
    delivery_queue_url: str
    delivery_dlq_url: str
    inbound_queue_url: str
    inbound_dlq_url: str
    raw_body_bucket: str
    retry_state_machine_arn: str
    admin_key_secret_id: str
    secret_prefix: str
    public_base_url: str
    inbound_base_url: str  # where providers send: the inbound function URL, else the API's
    allow_private_targets: bool
    retry_schedule: tuple[int, ...] | None
    dlq_move_task: bool
    delivery_timeout_seconds: float
    source_cache_seconds: float
    api_key_cache_seconds: float
    event_type_cache_seconds: float
    strict_event_types: bool
    retention_days: int
    disable_after_seconds: float


def parse_retry_schedule(text: str) -> tuple[int, ...] | None:
    """`WEBHOOKS_RETRY_SCHEDULE="1,2,4"` → (1, 2, 4); empty means the default."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        return None
    delays = tuple(int(part) for part in parts)
    if any(delay < 0 for delay in delays):
        raise ValueError("WEBHOOKS_RETRY_SCHEDULE takes non-negative seconds")
    return delays


def seconds(name: str, default: str, low: float, high: float) -> float:
    """A duration setting, refused unless a finite number within [low, high]: a bad value fails
    the function's first request with this message rather than, say, a revoked API key trusted
    forever (`inf`)."""
    text = os.environ.get(name, default)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be between {low:g} and {high:g} seconds, not {text!r}")
    return value


def retention_days(text: str) -> int:
    """`WEBHOOKS_RETENTION_DAYS`: whole days, 1 to 3650. Refused otherwise, at cold start: a typo
    must not keep data forever or expire it at once. Also read by the CDK app (infra/app.py)."""
    try:
        days = int(text.strip())
    except ValueError:
        raise ValueError(f"{RETENTION_ENV} must be a whole number of days, not {text!r}") from None
    if not 1 <= days <= MAX_RETENTION_DAYS:
        limits = f"between 1 and {MAX_RETENTION_DAYS}"
        raise ValueError(f"{RETENTION_ENV} must be {limits}, not {text!r}")
    return days


@cache
def settings() -> Settings:
    env = os.environ.get
    return Settings(
        api_keys_table=env(res.API_KEYS.env_var, ""),
        webhooks_table=env(res.WEBHOOKS.env_var, ""),
        events_table=env(res.EVENTS.env_var, ""),
        deliveries_table=env(res.DELIVERIES.env_var, ""),
        sources_table=env(res.SOURCES.env_var, ""),
        dedupe_table=env(res.DEDUPE.env_var, ""),
        delivery_queue_url=env(res.DELIVERY_QUEUE.env_var, ""),
        delivery_dlq_url=env(res.DELIVERY_QUEUE.dlq_env_var, ""),
        inbound_queue_url=env(res.INBOUND_QUEUE.env_var, ""),
        inbound_dlq_url=env(res.INBOUND_QUEUE.dlq_env_var, ""),
        raw_body_bucket=env(res.RAW_BODY_BUCKET_ENV, ""),
        retry_state_machine_arn=env(res.RETRY_STATE_MACHINE_ENV, ""),
        admin_key_secret_id=env(res.ADMIN_KEY_SECRET_ENV, ""),
        secret_prefix=env(res.SECRET_PREFIX_ENV, "serverless-webhooks"),
        public_base_url=env("PUBLIC_BASE_URL", "").rstrip("/"),
        inbound_base_url=(env(INBOUND_BASE_URL_ENV) or env("PUBLIC_BASE_URL", "")).rstrip("/"),
        allow_private_targets=env("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "").lower() in TRUE_WORDS,
        retry_schedule=parse_retry_schedule(env("WEBHOOKS_RETRY_SCHEDULE", "")),
        # "Redrive all" by SQS StartMessageMoveTask on AWS (moto lacks it: local mode leaves it off)
        dlq_move_task=env("WEBHOOKS_DLQ_MOVE_TASK", "").lower() in TRUE_WORDS,
        # 30 s per attempt (README: Delivery semantics); tests shorten it to exercise timeouts.
        delivery_timeout_seconds=seconds("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", "30", 0.1, 30),
        # How long inbound receipt keeps a source (and its secret) per container: a deleted
        # source or a replaced provider secret takes up to this long to be seen (README).
        source_cache_seconds=seconds("WEBHOOKS_SOURCE_CACHE_SECONDS", "60", 0, 3600),
        # How long the API function trusts a looked-up API key per container: a revoked key is
        # refused everywhere within this time (README).
        api_key_cache_seconds=seconds("WEBHOOKS_API_KEY_CACHE_SECONDS", "10", 0, 300),
        # How long publish keeps the event type catalog per container: a changed schema reaches
        # every container within this time (README "Event type catalog").
        event_type_cache_seconds=seconds("WEBHOOKS_EVENT_TYPE_CACHE_SECONDS", "60", 0, 3600),
        # Refuse event types missing from the catalog (422) instead of accepting them.
        strict_event_types=env(STRICT_EVENT_TYPES_ENV, "").lower() in TRUE_WORDS,
        retention_days=retention_days(env(RETENTION_ENV, str(DEFAULT_RETENTION_DAYS))),
        # A webhook whose attempts all failed for this long is disabled by its next failure
        # (README "Failing endpoints: auto-disable"): default 5 days, at most a year.
        disable_after_seconds=seconds(
            DISABLE_AFTER_ENV, str(DEFAULT_DISABLE_AFTER_SECONDS), 1, MAX_DISABLE_AFTER_SECONDS
        ),
    )

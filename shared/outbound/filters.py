"""Payload filters: a webhook's JMESPath expression over the envelope it would be sent.

A webhook may carry `filter` (README "Payload filters"): after its event-type patterns match, the
event is delivered only when the expression, evaluated against the delivered envelope
`{"id", "type", "created_at", "api_version", "data"}`, is truthy in JMESPath's sense (anything but
null, false, "", [] and {}; the number 0 is truthy). `jmespath` ships with boto3, so filters add
no dependency, and they cost no AWS call: fan-out evaluates them in memory.

Expressions are compiled once per container (`_compiled`, keyed by the text) and checked when a
webhook is created or updated (`check`), so a stored filter always parses. One that fails at run
time on some payload (a string compared with a number, a function given the wrong type) counts as
"no match" for that event and is logged once per webhook per container, never raised: one odd
payload must not fail a publish or a delivery.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from shared.core.observability import logger

MAX_FILTER_LENGTH = 1024

_logged_webhooks: set[str] = set()
_logged_lock = threading.Lock()


def check(expression: str) -> str:
    """The expression if it parses and fits, else ValueError with a message for `body.filter`."""
    if len(expression) > MAX_FILTER_LENGTH:
        raise ValueError(f"filter is longer than {MAX_FILTER_LENGTH} characters")
    if not expression.strip():
        raise ValueError("filter is empty; send null to remove it")
    try:
        _compiled(expression)
    except JMESPathError as error:
        raise ValueError(f"filter is not a valid JMESPath expression: {_reason(error)}") from None
    return expression


def matches(webhook_id: str, expression: str | None, envelope: dict[str, Any]) -> bool:
    """Whether a webhook's filter lets this envelope through (no filter: always)."""
    if expression is None:
        return True
    try:
        return _truthy(_compiled(expression).search(envelope))
    except (JMESPathError, TypeError, ValueError) as error:
        _log_once(webhook_id, error)
        return False


def envelope(
    event_id: str, event_type: str, created_at: str, api_version: str, data: Any
) -> dict[str, Any]:
    """The delivered envelope, the value a filter sees (shared/outbound/signing.py sends it)."""
    return {
        "id": event_id,
        "type": event_type,
        "created_at": created_at,
        "api_version": api_version,
        "data": data,
    }


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def _truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, "", [] and {} are false; every number is true."""
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


def _reason(error: Exception) -> str:
    """The parser's message on one line, without echoing more than the expression's position."""
    return " ".join(str(error).split())[:200]


def _log_once(webhook_id: str, error: Exception) -> None:
    with _logged_lock:
        if webhook_id in _logged_webhooks:
            return
        _logged_webhooks.add(webhook_id)
    logger.warning(
        "filter raised on a payload; counted as no match",
        extra={"webhook_id": webhook_id, "error": type(error).__name__},
    )

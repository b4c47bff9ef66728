"""When to try a failed delivery again: the schedule, jitter, Retry-After, and when to stop."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from typing import Any

from shared.core import clock
from shared.core.config import DEFAULT_RETRY_SCHEDULE, settings

JITTER = 0.10
DEFAULT_MAX_DELAY = 86400


def schedule(policy: dict[str, Any] | None) -> tuple[list[int], int]:
    """(delays between attempts, cap for Retry-After). A webhook's policy replaces the default."""
    if policy:
        initial = int(policy.get("initial_delay_seconds", 60))
        cap = int(policy.get("max_delay_seconds", DEFAULT_MAX_DELAY))
        count = int(policy.get("attempts", 5))
        if policy.get("backoff") == "fixed":
            return [min(initial, cap)] * count, cap
        return [min(initial * 2**step, cap) for step in range(count)], cap
    configured = settings().retry_schedule
    return list(configured if configured is not None else DEFAULT_RETRY_SCHEDULE), DEFAULT_MAX_DELAY


def retry_after_seconds(value: str | None) -> int | None:
    """`Retry-After` as seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int(moment.timestamp() - clock.now()))


def next_delay(
    policy: dict[str, Any] | None,
    failed_attempt: int,
    status_code: int | None,
    retry_after: str | None,
) -> int | None:
    """Seconds until the next attempt after attempt `failed_attempt` failed; None: give up."""
    delays, cap = schedule(policy)
    if failed_attempt > len(delays):
        return None
    base = delays[failed_attempt - 1]
    delay = round(base * random.uniform(1 - JITTER, 1 + JITTER))
    if status_code in (429, 503):
        asked = retry_after_seconds(retry_after)
        if asked is not None:
            delay = max(delay, min(asked, cap))
    return max(0, delay)

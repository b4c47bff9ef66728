"""A webhook's delivery statistics over a window (README "Webhook stats").

Computed at read time from the attempt logs of the webhook's deliveries that the stats route
reads (no counter is written per attempt: the delivery record the worker writes anyway is the
only source), so the figures are exact for the attempts read. Latency percentiles are
nearest-rank over the attempts' measured durations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400}


@dataclass(frozen=True)
class Attempt:
    """One attempt as the stats need it: when it started, how long it took, whether it worked."""

    started_at: str  # ISO 8601, UTC, `Z`: compares in time order as text
    duration_ms: int
    succeeded: bool


def percentile(sorted_values: list[int], fraction: float) -> int | None:
    """Nearest-rank percentile of ascending values (None for none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(window: str, since_iso: str, attempts: Iterable[Attempt]) -> dict[str, Any]:
    """The stats answer for the attempts started at or after `since_iso`."""
    inside = [attempt for attempt in attempts if attempt.started_at >= since_iso]
    succeeded = [attempt for attempt in inside if attempt.succeeded]
    failed = [attempt for attempt in inside if not attempt.succeeded]
    durations = sorted(attempt.duration_ms for attempt in inside)
    return {
        "window": window,
        "attempts": len(inside),
        "succeeded": len(succeeded),
        "failed": len(failed),
        "success_rate": round(len(succeeded) / len(inside), 4) if inside else None,
        "p50_ms": percentile(durations, 0.50),
        "p95_ms": percentile(durations, 0.95),
        "last_success_at": max((a.started_at for a in succeeded), default=None),
        "last_failure_at": max((a.started_at for a in failed), default=None),
    }

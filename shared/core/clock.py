"""Time helpers: ISO-8601 UTC with a `Z`, as the API writes every time (docs/openapi.json)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    return time.time()


def iso(epoch_seconds: float | None = None) -> str:
    moment = datetime.fromtimestamp(now() if epoch_seconds is None else epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

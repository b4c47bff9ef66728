"""Inbound webhooks: provider verification (`providers`), receipt and processing (`service`).

`InboundEvent` is what a registered handler receives: plain data, no Lambda event shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InboundEvent:
    """One received provider webhook, as a handler sees it (the body is the exact raw bytes)."""

    event_id: str
    user_id: str
    source_id: str
    provider: str
    type: str
    headers: dict[str, str]
    body: bytes = field(repr=False)
    content_type: str = ""
    received_at: str = ""

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.body)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

"""Inbound webhooks: provider verification (`providers`), receipt and processing (`service`),
reading bodies (`body`).

`InboundEvent` is what a registered handler receives: plain data, no Lambda event shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from shared.inbound.body import BodyNotReadable, Decoded, decode

__all__ = ["BodyNotReadable", "InboundEvent"]


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

    @cached_property
    def decoded(self) -> Decoded:
        return decode(self.body, self.content_type)

    def json(self) -> Any:
        """The provider's JSON: the body, or a form body's `payload` field (Slack interactivity,
        GitHub's form content type).

        Raises `BodyNotReadable` (a ValueError) when there is none; the event is then recorded
        as failed with the reason and not retried, since the body will never change.
        """
        return self.decoded.require_json()

    def form(self) -> dict[str, str]:
        """A form body's fields (Slack slash commands); `BodyNotReadable` when not a form."""
        return self.decoded.require_form()

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

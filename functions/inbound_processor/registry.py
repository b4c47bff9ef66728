"""A small decorator registry of inbound handlers, by provider and event type.

    from functions.inbound_processor.registry import on

    @on("stripe", "invoice.paid")
    def record_payment(event: InboundEvent) -> dict[str, Any]:
        ...

`provider` is a source's provider (`stripe`, `github`, `shopify`, `slack`, `standard`, `hmac`)
or `*`; `event_type` is an exact type, `*`, or a prefix ending in `*` (`invoice.*`,
`orders/*`). Every matching handler
runs, in registration order; what a handler returns is kept in the event's history (the
`handler_results` of its run's `processed` entry); an exception fails the message, which SQS
then retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.inbound import InboundEvent

Handler = Callable[[InboundEvent], Any]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class Registration:
    provider: str
    event_type: str
    handler: Handler

    def applies_to(self, provider: str, event_type: str) -> bool:
        if self.provider not in ("*", provider):
            return False
        if self.event_type.endswith("*"):
            return event_type.startswith(self.event_type[:-1])
        return self.event_type == event_type


class Registry:
    def __init__(self) -> None:
        self._registrations: list[Registration] = []

    def on(self, provider: str, event_type: str = "*") -> Callable[[H], H]:
        """Decorator: run the function for events of `provider` whose type matches."""

        def register(handler: H) -> H:
            self.add(provider, event_type, handler)
            return handler

        return register

    def add(self, provider: str, event_type: str, handler: Handler) -> None:
        if not provider or not event_type:
            raise ValueError("provider and event_type must not be empty")
        self._registrations.append(Registration(provider, event_type, handler))

    def handlers_for(self, provider: str, event_type: str) -> list[Handler]:
        return [
            registration.handler
            for registration in self._registrations
            if registration.applies_to(provider, event_type)
        ]


registry = Registry()
on = registry.on
handlers_for = registry.handlers_for

"""Example inbound handlers: copy one, change the provider and type, put your logic in it.

Not part of any Lambda bundle (infra/bundling.py ships `shared/` and `functions/<name>/` only):
the tests register them, and local mode does when `WEBHOOKS_LOCAL_HANDLER_MODULES` names this
module. A production handler must never claim a type a customer may send, as `test.fail` does.

Whatever a handler returns is kept in the event's history, as the `handler_results` of its
run's `processed` entry (`GET /v1/events/{id}` shows it). Handlers must be idempotent: SQS
delivers at least once and a failed message is retried.
"""

from __future__ import annotations

from typing import Any

from functions.inbound_processor.registry import on
from shared.inbound import InboundEvent

FAILING_TYPE = "test.fail"


class DeliberateFailure(RuntimeError):
    """Raised on purpose to exercise retries and the inbound DLQ."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@on("stripe", "invoice.paid")
def stripe_invoice_paid(event: InboundEvent) -> dict[str, Any]:
    """Summarise a paid Stripe invoice (where you would mark an order paid)."""
    invoice = _dict(_dict(_dict(event.json()).get("data")).get("object"))
    return {
        "invoice_id": invoice.get("id"),
        "customer": invoice.get("customer"),
        "amount_paid": invoice.get("amount_paid"),
        "currency": invoice.get("currency"),
    }


@on("github", "push")
def github_push(event: InboundEvent) -> dict[str, Any]:
    """Summarise a GitHub push (where you would trigger a build)."""
    push = _dict(event.json())
    commits = push.get("commits")
    return {
        "repository": _dict(push.get("repository")).get("full_name"),
        "ref": push.get("ref"),
        "commits": len(commits) if isinstance(commits, list) else 0,
        "pusher": _dict(push.get("pusher")).get("name"),
    }


@on("hmac", FAILING_TYPE)
def always_fail(event: InboundEvent) -> None:
    """Events of type `test.fail` from custom `hmac` sources always fail: send one to watch a
    message being retried and then parked in the inbound DLQ."""
    raise DeliberateFailure(f"{FAILING_TYPE} events fail on purpose")

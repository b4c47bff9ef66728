"""Payload filters, recover and stats end to end: local mode over real HTTP, a real receiver on
127.0.0.1 scripted to fail then succeed (README "Payload filters", "Skipped deliveries and
recover", "Webhook stats"). Each test has its own user and receiver paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.support.receiver import Receiver, Script

TIMEOUT = 15
Poll = Callable[..., Any]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


class Caller:
    """One user's API key speaking to local mode."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.base_url, self.headers = base_url, headers

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        reply = requests.request(
            method, self.base_url + path, headers=self.headers, timeout=TIMEOUT, **kwargs
        )
        assert reply.status_code == status, (method, path, reply.status_code, reply.text[:500])
        return reply.json() if reply.content else None

    def publish(self, data: dict[str, Any]) -> Any:
        return self.ok("POST", "/v1/events", 202, json={"type": "order.paid", "data": data})

    def status(self, delivery_id: str) -> str:
        return str(self.ok("GET", f"/v1/deliveries/{delivery_id}")["status"])


def test_filter_recover_and_stats_over_local_mode(
    local: Any, receiver: Receiver, poll: Poll
) -> None:
    user_id = f"frs-{uuid.uuid4().hex[:10]}"
    caller = Caller(local.base_url, local.new_user(user_id))
    path = f"/{user_id}/hook"
    url = receiver.script(path, Script(statuses=[500, 200]))  # down once, then up
    hook = caller.ok(
        "POST",
        "/v1/webhooks",
        201,
        json={
            "url": url,
            "events": ["order.*"],
            "filter": "data.amount > `100`",
            "retry": {"attempts": 0},
        },
    )["id"]

    # The filter: the small order is not delivered at all, the large one fails once (no retries).
    assert caller.publish({"amount": 5})["deliveries"] == []
    (large,) = caller.publish({"amount": 500})["deliveries"]
    assert poll(lambda: caller.status(large["delivery_id"]) == "failed", 30)
    assert len(receiver.received(path)) == 1

    # Recover the window: queued again with a new attempt series, delivered, its log kept.
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    answer = caller.ok("POST", f"/v1/webhooks/{hook}/recover", 202, json={"since": since})
    assert answer == {"recovering": 1, "more": False}
    assert poll(lambda: caller.status(large["delivery_id"]) == "succeeded", 30)
    view = caller.ok("GET", f"/v1/deliveries/{large['delivery_id']}")
    assert [entry["status_code"] for entry in view["attempt_log"]] == [500, 200]
    assert view["attempts"] == 1
    again = caller.ok("POST", f"/v1/webhooks/{hook}/recover", 202, json={"since": since})
    assert again["recovering"] == 0
    assert len(receiver.received(path)) == 2

    # Stats over the attempts the receiver saw: one failure, one success.
    stats = caller.ok("GET", f"/v1/webhooks/{hook}/stats?window=1h")
    assert (stats["attempts"], stats["succeeded"], stats["failed"]) == (2, 1, 1)
    assert stats["success_rate"] == 0.5
    assert stats["last_failure_at"] < stats["last_success_at"]
    bad = requests.get(
        f"{local.base_url}/v1/webhooks/{hook}/stats?window=1y",
        headers=caller.headers,
        timeout=TIMEOUT,
    )
    assert bad.status_code == 422
    assert "query.window" in {d["field"] for d in bad.json()["error"]["details"]}

    # A disabled webhook refuses recover.
    caller.ok("PATCH", f"/v1/webhooks/{hook}", json={"active": False})
    refused = requests.post(
        f"{local.base_url}/v1/webhooks/{hook}/recover",
        headers=caller.headers,
        json={"since": since},
        timeout=TIMEOUT,
    )
    assert refused.status_code == 409

"""A failing webhook is disabled after WEBHOOKS_DISABLE_AFTER_SECONDS of failures, and at once on
410 (README "Failing endpoints: auto-disable"); re-enabling restarts its failure streak.

The worker's clock (shared.core.clock.now) is the test's: it starts at the real time (signatures
stay within their tolerance) and moves only when the test moves it. Every delivery is a first
attempt: the retries are scheduled 600 s ahead and never picked up here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.core import clock
from shared.core.config import settings
from shared.store import webhooks as webhooks_table
from tests.support.api import InProcessApi
from tests.support.aws_calls import CallCounter
from tests.support.faults import invoke_worker, receive_all
from tests.support.receiver import Receiver, Script

DISABLE_AFTER = 100


class Clock:
    """The worker's clock, moved by the test: `at(seconds)` is the start plus `seconds`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.start = float(int(time.time()))
        self.now = self.start
        monkeypatch.setattr(clock, "now", lambda: self.now)

    def at(self, seconds: float) -> str:
        self.now = self.start + seconds
        return clock.iso(self.now)


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("WEBHOOKS_DISABLE_AFTER_SECONDS", str(DISABLE_AFTER))
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE", "600")
    settings.cache_clear()
    yield aws
    settings.cache_clear()


@pytest.fixture
def api(env: dict[str, str]) -> InProcessApi:
    return InProcessApi()


@pytest.fixture
def fake_clock(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def register(api: InProcessApi, key: str, url: str) -> str:
    reply = api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


def fail_once(api: InProcessApi, key: str, env: dict[str, str]) -> dict[str, Any]:
    """Publish one event and run the worker on its delivery; returns the worker's answer."""
    reply = api.request("POST", "/v1/events", key, {"type": "user.created", "data": {}})
    assert reply.status == 202, reply.body
    messages = receive_all(env["DELIVERY_QUEUE_URL"])
    assert messages
    return invoke_worker(messages)


def record_of(user_id: str, webhook_id: str) -> dict[str, Any]:
    found = webhooks_table.get(user_id, webhook_id)
    assert found is not None
    return found


def view_of(api: InProcessApi, key: str, webhook_id: str) -> dict[str, Any]:
    reply = api.request("GET", f"/v1/webhooks/{webhook_id}", key)
    assert reply.status == 200, reply.body
    return dict(reply.json())


def test_the_streak_is_recorded_once_and_disables_at_the_threshold(
    api: InProcessApi,
    alice: str,
    env: dict[str, str],
    receiver: Receiver,
    fake_clock: Clock,
    calls: CallCounter,
) -> None:
    hook = register(api, alice, receiver.script("/down", Script(statuses=[500])))
    started = fake_clock.at(0)
    assert fail_once(api, alice, env) == {"batchItemFailures": []}
    assert record_of("alice", hook)["failing_since"] == started

    # Within the streak no attempt touches the webhook: 2 calls and the retry's carrier share.
    fake_clock.at(DISABLE_AFTER - 1)
    api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {}})
    messages = receive_all(env["DELIVERY_QUEUE_URL"])
    calls.reset()
    assert invoke_worker(messages) == {"batchItemFailures": []}
    assert dict(calls.calls) == {
        "dynamodb.BatchGetItem": 1,
        "dynamodb.UpdateItem": 1,
        "sqs.SendMessageBatch": 1,
    }
    record = record_of("alice", hook)
    assert record["active"] is True and record["failing_since"] == started
    assert view_of(api, alice, hook)["disabled_reason"] is None

    # The first failure at failing_since + WEBHOOKS_DISABLE_AFTER_SECONDS disables it.
    disabled_at = fake_clock.at(DISABLE_AFTER)
    assert fail_once(api, alice, env) == {"batchItemFailures": []}
    view = view_of(api, alice, hook)
    assert view["active"] is False
    assert (view["disabled_reason"], view["disabled_at"]) == ("failing", disabled_at)
    assert len(receiver.received("/down")) == 3


def test_a_success_ends_the_streak(
    api: InProcessApi, alice: str, env: dict[str, str], receiver: Receiver, fake_clock: Clock
) -> None:
    hook = register(api, alice, receiver.script("/flaky", Script(statuses=[500, 200, 500])))
    fake_clock.at(0)
    fail_once(api, alice, env)
    assert "failing_since" in record_of("alice", hook)

    fake_clock.at(50)
    fail_once(api, alice, env)  # answered 200
    assert "failing_since" not in record_of("alice", hook)

    # Past the old streak's threshold, but a new streak starts: still active.
    restarted = fake_clock.at(DISABLE_AFTER + 20)
    fail_once(api, alice, env)
    record = record_of("alice", hook)
    assert record["active"] is True and record["failing_since"] == restarted


def test_410_disables_at_once_as_gone(
    api: InProcessApi, alice: str, env: dict[str, str], receiver: Receiver, fake_clock: Clock
) -> None:
    hook = register(api, alice, receiver.script("/gone", Script(statuses=[410])))
    at = fake_clock.at(0)
    assert fail_once(api, alice, env) == {"batchItemFailures": []}
    view = view_of(api, alice, hook)
    assert view["active"] is False
    assert (view["disabled_reason"], view["disabled_at"]) == ("gone", at)


def test_reenabling_clears_the_disable_and_restarts_the_streak(
    api: InProcessApi, alice: str, env: dict[str, str], receiver: Receiver, fake_clock: Clock
) -> None:
    hook = register(api, alice, receiver.script("/down", Script(statuses=[500])))
    fake_clock.at(0)
    fail_once(api, alice, env)
    fake_clock.at(DISABLE_AFTER)
    fail_once(api, alice, env)
    assert view_of(api, alice, hook)["disabled_reason"] == "failing"

    reply = api.request("PATCH", f"/v1/webhooks/{hook}", alice, {"active": True})
    assert reply.status == 200, reply.body
    view = reply.json()
    assert view["active"] is True
    assert (view["disabled_reason"], view["disabled_at"]) == (None, None)
    assert "failing_since" not in record_of("alice", hook)

    # The next failure starts a new streak instead of disabling it again.
    restarted = fake_clock.at(DISABLE_AFTER + 1)
    fail_once(api, alice, env)
    record = record_of("alice", hook)
    assert record["active"] is True and record["failing_since"] == restarted


def test_a_manual_disable_has_no_reason(
    api: InProcessApi, alice: str, env: dict[str, str], receiver: Receiver
) -> None:
    hook = register(api, alice, receiver.url("/fine"))
    reply = api.request("PATCH", f"/v1/webhooks/{hook}", alice, {"active": False})
    assert reply.status == 200, reply.body
    assert reply.json()["active"] is False
    assert (reply.json()["disabled_reason"], reply.json()["disabled_at"]) == (None, None)


@pytest.mark.parametrize("value", ["soon", "0", "-5", "inf", "nan", str(366 * 86400)])
def test_a_bad_disable_after_is_refused_at_cold_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("WEBHOOKS_DISABLE_AFTER_SECONDS", value)
    settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="WEBHOOKS_DISABLE_AFTER_SECONDS"):
            settings()
    finally:
        settings.cache_clear()


def test_the_default_is_five_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOKS_DISABLE_AFTER_SECONDS", raising=False)
    settings.cache_clear()
    try:
        assert settings().disable_after_seconds == 5 * 86400
    finally:
        settings.cache_clear()

"""Payload filters at fan-out, skipped deliveries, recover and stats, in-process over moto with a
real HTTP receiver (README "Payload filters", "Skipped deliveries and recover", "Webhook stats").

The delivery queue is drained by the test the way the event source mapping would (as in
tests/unit/test_publish_and_deliver.py). Deliveries "from two days ago" are made by moving the
clock that ids and timestamps read (`time.time` as shared/core/ids.py and clock.py see it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.core import clock, ids
from shared.core.aws import client
from shared.core.config import settings
from shared.outbound import deliveries as deliveries_service
from shared.store import webhooks as webhooks_table
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi
from tests.support.faults import FaultSet, invoke_worker, receive_all
from tests.support.receiver import Receiver, Script

TWO_DAYS = 2 * 86400


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE", "600,600,600")  # retries never come back here
    settings.cache_clear()
    yield aws
    settings.cache_clear()


@pytest.fixture
def api(env: dict[str, str]) -> InProcessApi:
    return InProcessApi()


class _Shifted:
    """`time` as shared/core/ids.py and clock.py see it, `offset` seconds away."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def days_ago(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`with days_ago(): ...` runs ids and clocks two days back (restored on leaving)."""

    class Back:
        def __enter__(self) -> None:
            monkeypatch.setattr(ids, "time", _Shifted(-TWO_DAYS))
            monkeypatch.setattr(clock, "time", _Shifted(-TWO_DAYS))

        def __exit__(self, *_: object) -> None:
            monkeypatch.setattr(ids, "time", time)
            monkeypatch.setattr(clock, "time", time)

    return Back


def path_of(request: pytest.FixtureRequest, name: str) -> str:
    return f"/{request.node.name}/{name}"


def register(api: InProcessApi, key: str, url: str, **fields: Any) -> str:
    reply = api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"], **fields})
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


def publish(api: InProcessApi, key: str, data: dict[str, Any], etype: str = "order.paid") -> Any:
    reply = api.request("POST", "/v1/events", key, {"type": etype, "data": data})
    assert reply.status == 202, reply.body
    return reply.json()


def by_webhook(answer: dict[str, Any]) -> dict[str, str]:
    return {d["webhook_id"]: d["status"] for d in answer["deliveries"]}


def drain(env: dict[str, str]) -> int:
    """One event source mapping cycle: receive, run the worker, delete what it did not report."""
    queue_url = env["DELIVERY_QUEUE_URL"]
    messages = receive_all(queue_url)
    response = invoke_worker(messages) if messages else {"batchItemFailures": []}
    failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
    for message in messages:
        if message["MessageId"] not in failed:
            client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


def auto_disable(user_id: str, webhook_id: str, reason: str = "failing") -> None:
    """What the delivery worker records when it disables a failing (or gone) endpoint."""
    fields = {"active": False, "disabled_reason": reason, "disabled_at": clock.iso()}
    assert webhooks_table.update(user_id, webhook_id, fields, [])


def enable(user_id: str, webhook_id: str) -> None:
    assert webhooks_table.update(user_id, webhook_id, {"active": True}, ["disabled_reason"])


def delivery(api: InProcessApi, key: str, delivery_id: str) -> dict[str, Any]:
    reply = api.request("GET", f"/v1/deliveries/{delivery_id}", key)
    assert reply.status == 200, reply.body
    return dict(reply.json())


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def hours_ago(hours: float) -> str:
    return iso(datetime.now(UTC) - timedelta(hours=hours))


def recover(api: InProcessApi, key: str, webhook_id: str, **window: str) -> Any:
    return api.request("POST", f"/v1/webhooks/{webhook_id}/recover", key, window)


# --- Payload filters at fan-out ------------------------------------------------------------


def test_publish_delivers_only_where_the_filter_is_truthy_at_no_extra_aws_call(
    api: InProcessApi,
    alice: str,
    receiver: Receiver,
    request: pytest.FixtureRequest,
    env: dict[str, str],
    calls: Any,
) -> None:
    big = register(
        api,
        alice,
        receiver.url(path_of(request, "big")),
        filter="data.amount > `100` && data.currency == 'usd'",
    )
    small = register(
        api, alice, receiver.url(path_of(request, "small")), filter="data.amount < `5`"
    )
    odd = register(api, alice, receiver.url(path_of(request, "odd")), filter="abs(data.currency)")
    plain = register(api, alice, receiver.url(path_of(request, "plain")))
    publish(api, alice, {"amount": 1, "currency": "usd"})  # warms the key cache
    drain(env)

    calls.reset()
    answer = publish(api, alice, {"amount": 250, "currency": "usd"})
    counted = dict(calls.calls)
    # The filter that raises (abs of a string) is no match, never a failed publish.
    assert by_webhook(answer) == {big: "queued", plain: "queued"}
    assert small not in by_webhook(answer) and odd not in by_webhook(answer)
    assert counted == {
        "dynamodb.Query": 1,
        "dynamodb.BatchWriteItem": 1,
        "sqs.SendMessageBatch": 1,
    }, counted
    assert drain(env) == 2
    assert len(receiver.received(path_of(request, "big"))) == 1
    assert receiver.received(path_of(request, "odd")) == []


def test_replay_applies_the_webhooks_current_filter_to_the_stored_envelope(
    api: InProcessApi, alice: str, receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    hook = register(api, alice, receiver.url(path_of(request, "a")), filter="data.amount > `100`")
    answer = publish(api, alice, {"amount": 250})
    assert by_webhook(answer) == {hook: "queued"}
    event_id = answer["event_id"]

    changed = api.request("PATCH", f"/v1/webhooks/{hook}", alice, {"filter": "data.amount > `500`"})
    assert changed.status == 200, changed.body
    replayed = api.request("POST", f"/v1/events/{event_id}/replay", alice)
    assert replayed.status == 202, replayed.body
    assert replayed.json()["deliveries"] == []
    named = api.request("POST", f"/v1/events/{event_id}/replay?webhook_id={hook}", alice)
    assert named.status == 202 and named.json()["deliveries"] == []

    api.request("PATCH", f"/v1/webhooks/{hook}", alice, {"filter": "type == 'order.paid'"})
    replayed = api.request("POST", f"/v1/events/{event_id}/replay", alice)
    assert by_webhook(replayed.json()) == {hook: "queued"}


def test_the_test_send_ignores_the_filter(
    api: InProcessApi, alice: str, receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    hook = register(api, alice, receiver.url(path_of(request, "t")), filter="data.amount > `1`")
    reply = api.request("POST", f"/v1/webhooks/{hook}/test", alice)
    assert reply.status == 202, reply.body
    assert delivery(api, alice, reply.json()["delivery_id"])["status"] == "queued"


# --- Skipped deliveries --------------------------------------------------------------------


def test_a_disabled_webhook_gets_skipped_deliveries_an_owner_inactive_one_none(
    api: InProcessApi,
    alice: str,
    receiver: Receiver,
    request: pytest.FixtureRequest,
    env: dict[str, str],
) -> None:
    live = register(api, alice, receiver.url(path_of(request, "live")))
    failing = register(api, alice, receiver.url(path_of(request, "failing")))
    gone = register(api, alice, receiver.url(path_of(request, "gone")), filter="data.n > `5`")
    paused = register(api, alice, receiver.url(path_of(request, "paused")), active=False)
    auto_disable("alice", failing)
    auto_disable("alice", gone, "gone")

    answer = publish(api, alice, {"n": 1})
    # The auto-disabled webhook's filter still applies: `gone` does not want n=1.
    assert by_webhook(answer) == {live: "queued", failing: "skipped"}
    assert paused not in by_webhook(answer)
    assert drain(env) == 1  # skipped deliveries are written, never queued
    assert receiver.received(path_of(request, "failing")) == []

    skipped_id = next(d["delivery_id"] for d in answer["deliveries"] if d["status"] == "skipped")
    record = delivery(api, alice, skipped_id)
    assert record["status"] == "skipped" and record["attempts"] == 0
    assert record["attempt_log"] == []
    listed = api.request("GET", f"/v1/webhooks/{failing}/deliveries?status=skipped", alice)
    assert listed.status == 200, listed.body
    assert [d["id"] for d in listed.json()["data"]] == [skipped_id]
    event = api.request("GET", f"/v1/events/{answer['event_id']}", alice).json()
    assert {d["status"] for d in event["deliveries"]} == {"succeeded", "skipped"}


# --- Recover -------------------------------------------------------------------------------


def test_recover_queues_skipped_and_failed_deliveries_of_the_window_once_each(
    api: InProcessApi,
    alice: str,
    receiver: Receiver,
    request: pytest.FixtureRequest,
    env: dict[str, str],
    days_ago: Any,
) -> None:
    url = receiver.script(path_of(request, "r"), Script(statuses=[500, 200]))
    hook = register(api, alice, url, retry={"attempts": 0})
    failed = publish(api, alice, {"n": 1})["deliveries"][0]["delivery_id"]
    drain(env)  # 500, no retries: failed
    assert delivery(api, alice, failed)["status"] == "failed"
    with days_ago():
        auto_disable("alice", hook)
        old = publish(api, alice, {"n": 0})["deliveries"][0]
    assert old["status"] == "skipped"
    skipped = publish(api, alice, {"n": 2})["deliveries"][0]["delivery_id"]
    assert api.request("GET", f"/v1/deliveries/{skipped}", alice).json()["status"] == "skipped"

    refused = recover(api, alice, hook, since=hours_ago(1))
    assert refused.status == 409 and refused.json()["error"]["code"] == "webhook_disabled"
    enable("alice", hook)

    first = recover(api, alice, hook, since=hours_ago(1))
    assert first.status == 202, first.body
    assert first.json() == {"recovering": 2, "more": False}  # not the one from two days ago
    again = recover(api, alice, hook, since=hours_ago(1))
    assert again.json() == {"recovering": 0, "more": False}
    assert drain(env) == 2
    assert len(receiver.received(path_of(request, "r"))) == 3

    retried = delivery(api, alice, failed)
    assert retried["status"] == "succeeded" and retried["id"] == failed
    assert retried["attempts"] == 1  # a new attempt series
    assert [a["status_code"] for a in retried["attempt_log"]] == [500, 200]  # the log is kept
    assert delivery(api, alice, skipped)["status"] == "succeeded"
    assert delivery(api, alice, old["delivery_id"])["status"] == "skipped"

    older = recover(api, alice, hook, since=hours_ago(72), until=hours_ago(24))
    assert older.json() == {"recovering": 1, "more": False}
    assert drain(env) == 1
    assert delivery(api, alice, old["delivery_id"])["status"] == "succeeded"


def test_two_concurrent_recovers_queue_each_delivery_once(
    api: InProcessApi,
    alice: str,
    receiver: Receiver,
    request: pytest.FixtureRequest,
    env: dict[str, str],
) -> None:
    hook = register(api, alice, receiver.url(path_of(request, "c")))
    auto_disable("alice", hook)
    for n in range(12):
        publish(api, alice, {"n": n})
    enable("alice", hook)
    since = time.time() - 3600
    counts: list[int] = []

    def run() -> None:
        counts.append(deliveries_service.recover("alice", hook, since, None)["recovering"])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 12
    assert len(receive_all(env["DELIVERY_QUEUE_URL"])) == 12


def test_recover_takes_the_newest_up_to_its_cap_and_the_next_call_the_rest(
    api: InProcessApi,
    alice: str,
    receiver: Receiver,
    request: pytest.FixtureRequest,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deliveries_service, "RECOVER_LIMIT", 3)  # 1,000 in service
    hook = register(api, alice, receiver.url(path_of(request, "cap")))
    auto_disable("alice", hook)
    made = [publish(api, alice, {"n": n})["deliveries"][0]["delivery_id"] for n in range(5)]
    enable("alice", hook)

    first = recover(api, alice, hook, since=hours_ago(1)).json()
    assert first == {"recovering": 3, "more": True}
    assert [delivery(api, alice, d)["status"] for d in made] == ["skipped"] * 2 + ["queued"] * 3
    assert recover(api, alice, hook, since=hours_ago(1)).json() == {"recovering": 2, "more": False}
    assert drain(env) == 5


def test_recover_applies_the_current_filter(
    api: InProcessApi,
    alice: str,
    receiver: Receiver,
    request: pytest.FixtureRequest,
    env: dict[str, str],
) -> None:
    hook = register(api, alice, receiver.url(path_of(request, "f")))
    auto_disable("alice", hook)
    small = publish(api, alice, {"amount": 50})["deliveries"][0]["delivery_id"]
    large = publish(api, alice, {"amount": 500})["deliveries"][0]["delivery_id"]
    api.request("PATCH", f"/v1/webhooks/{hook}", alice, {"filter": "data.amount > `100`"})
    enable("alice", hook)

    # An admin acts for alice with ?user_id=.
    reply = api.request(
        "POST", f"/v1/webhooks/{hook}/recover?user_id=alice", ADMIN_KEY, {"since": hours_ago(1)}
    )
    assert reply.status == 202, reply.body
    assert reply.json()["recovering"] == 1
    assert drain(env) == 1
    assert delivery(api, alice, large)["status"] == "succeeded"
    assert delivery(api, alice, small)["status"] == "skipped"


def test_a_recover_that_could_not_queue_puts_each_delivery_back_as_it_was(
    api: InProcessApi,
    alice: str,
    receiver: Receiver,
    request: pytest.FixtureRequest,
    env: dict[str, str],
    faults: FaultSet,
) -> None:
    url = receiver.script(path_of(request, "q"), Script(statuses=[500, 200]))
    hook = register(api, alice, url, retry={"attempts": 0})
    failed = publish(api, alice, {"n": 1})["deliveries"][0]["delivery_id"]
    drain(env)
    auto_disable("alice", hook)
    skipped = publish(api, alice, {"n": 2})["deliveries"][0]["delivery_id"]
    enable("alice", hook)

    fault = faults("sqs", "SendMessageBatch")
    reply = recover(api, alice, hook, since=hours_ago(1))
    assert reply.status == 500, reply.body
    assert fault.injected >= 1
    fault.clear()
    # Not stuck `queued` with nothing on the queue: as before, so asking again recovers them.
    before = delivery(api, alice, failed)
    assert (before["status"], before["attempts"]) == ("failed", 1)
    assert delivery(api, alice, skipped)["status"] == "skipped"
    assert recover(api, alice, hook, since=hours_ago(1)).json()["recovering"] == 2
    assert drain(env) == 2


def test_recover_refuses_bad_windows_and_unknown_webhooks(
    api: InProcessApi, alice: str, bob: str, receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    hook = register(api, alice, receiver.url(path_of(request, "w")))
    cases = {
        "body.until": {"since": hours_ago(1), "until": hours_ago(2)},
        "body.since": {"since": hours_ago(31 * 24)},
    }
    for field, window in cases.items():
        reply = recover(api, alice, hook, **window)
        assert reply.status == 422, reply.body
        assert field in {d["field"] for d in reply.json()["error"]["details"]}
    no_zone = recover(api, alice, hook, since="2026-12-01T00:00:00")
    assert no_zone.status == 422
    assert "body.since" in {d["field"] for d in no_zone.json()["error"]["details"]}
    assert recover(api, alice, "wh_missing", since=hours_ago(1)).status == 404
    assert recover(api, bob, hook, since=hours_ago(1)).status == 404  # not bob's


# --- Stats ---------------------------------------------------------------------------------


def test_stats_count_the_attempts_of_the_window_from_a_scripted_receiver(
    api: InProcessApi,
    alice: str,
    receiver: Receiver,
    request: pytest.FixtureRequest,
    env: dict[str, str],
    days_ago: Any,
) -> None:
    url = receiver.script(path_of(request, "s"), Script(statuses=[500, 200, 200, 503]))
    hook = register(api, alice, url)
    empty = api.request("GET", f"/v1/webhooks/{hook}/stats", alice)
    assert empty.status == 200, empty.body
    assert empty.json() == {
        "window": "24h",
        "attempts": 0,
        "succeeded": 0,
        "failed": 0,
        "success_rate": None,
        "p50_ms": None,
        "p95_ms": None,
        "last_success_at": None,
        "last_failure_at": None,
    }
    with days_ago():
        publish(api, alice, {"n": 0})
        drain(env)  # 500, two days ago
    for n in range(3):
        publish(api, alice, {"n": n + 1})
        drain(env)  # 200, 200, 503

    day = api.request("GET", f"/v1/webhooks/{hook}/stats", alice).json()
    assert (day["window"], day["attempts"], day["succeeded"], day["failed"]) == ("24h", 3, 2, 1)
    assert day["success_rate"] == pytest.approx(0.6667)
    assert isinstance(day["p50_ms"], int) and day["p50_ms"] <= day["p95_ms"]
    assert day["last_success_at"] and day["last_failure_at"]
    assert day["last_success_at"] < day["last_failure_at"]  # the 503 came last
    week = api.request("GET", f"/v1/webhooks/{hook}/stats?window=7d", alice).json()
    assert (week["attempts"], week["succeeded"], week["failed"]) == (4, 2, 2)
    hour = api.request("GET", f"/v1/webhooks/{hook}/stats?window=1h&user_id=alice", ADMIN_KEY)
    assert hour.status == 200 and hour.json()["attempts"] == 3

    bad = api.request("GET", f"/v1/webhooks/{hook}/stats?window=2d", alice)
    assert bad.status == 422
    assert "query.window" in {d["field"] for d in bad.json()["error"]["details"]}
    assert api.request("GET", "/v1/webhooks/wh_nope/stats", alice).status == 404

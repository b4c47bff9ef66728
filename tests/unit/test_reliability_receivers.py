"""Receiver faults, end to end in-process: publish → delivery worker → attempt record → retry.

Each fault is a real server on 127.0.0.1 misbehaving in one way. The worker must answer every
one of them with a failed attempt (status code, error text, duration), the delivery `retrying`,
and a Step Functions retry execution with the schedule's delay, which moto runs: after the
(1 s) wait the delivery message is back on the delivery queue. A receiver failure is never an
SQS retry, so the worker reports no batch item failures.

One event goes to several misbehaving webhooks at once where the faults are alike; the worker
handles a batch's records in parallel, as it does in Lambda. One deadline bounds each attempt as a
whole (tests/unit/test_http_deadline.py covers every stage of it against the sender alone).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import InProcessApi
from tests.support.bad_receivers import (
    RawReceiver,
    closes_after,
    cut_short,
    endless,
    hang_up,
    ok,
    reset,
    silent,
    trickle,
    trickle_head,
    untrusted_tls,
)
from tests.support.faults import acknowledge, invoke_worker, receive_all, retry_executions
from tests.support.receiver import Receiver, Script

HUGE = 50 * 1024 * 1024


@pytest.fixture
def one_second_timeout(setting: Callable[[str, str], None]) -> None:
    setting("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", "1")


@pytest.fixture
def two_second_timeout(setting: Callable[[str, str], None]) -> None:
    setting("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", "2")


@pytest.fixture
def raw() -> Iterator[Callable[[Any], RawReceiver]]:
    """Start `RawReceiver`s that are closed when the test ends."""
    made: list[RawReceiver] = []

    def start(answer: Any) -> RawReceiver:
        made.append(RawReceiver(answer))
        return made[-1]

    yield start
    for server in made:
        server.close()


def first_attempts(
    api: InProcessApi, key: str, aws: dict[str, str], urls: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """A webhook per URL, one event to all of them, one worker run: deliveries by name."""
    names = {}
    for name, url in urls.items():
        reply = api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
        assert reply.status == 201, reply.body
        names[reply.json()["id"]] = name
    published = api.request("POST", "/v1/events", key, {"type": "user.created", "data": {"n": 1}})
    assert published.status == 202, published.body
    messages = receive_all(aws["DELIVERY_QUEUE_URL"])
    assert len(messages) == len(urls)
    response = invoke_worker(messages)
    assert response == {"batchItemFailures": []}  # a receiver fault is no SQS retry
    acknowledge(aws["DELIVERY_QUEUE_URL"], messages, response)
    return {
        names[item["webhook_id"]]: delivery(api, key, item["delivery_id"])
        for item in published.json()["deliveries"]
    }


def delivery(api: InProcessApi, key: str, delivery_id: str) -> dict[str, Any]:
    reply = api.request("GET", f"/v1/deliveries/{delivery_id}", key)
    assert reply.status == 200, reply.body
    return dict(reply.json())


def assert_failed_attempt(found: dict[str, Any], *, status_code: int | None, error: str) -> Any:
    """One attempt, failed with exactly this error; the delivery is waiting for its retry."""
    (entry,) = found["attempt_log"]
    assert entry["attempt"] == 1
    assert (entry["status_code"], entry["error"]) == (status_code, error), entry
    assert isinstance(entry["duration_ms"], int) and entry["duration_ms"] >= 0
    assert found["status"] == "retrying" and found["attempts"] == 1
    assert (found["last_status_code"], found["last_error"]) == (status_code, error)
    assert found["next_attempt_at"] is not None
    return entry


def queue_message(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "delivery_id": found["id"],
        "user_id": "alice",
        "event_id": found["event_id"],
        "webhook_id": found["webhook_id"],
        "attempt": found["attempts"] + 1,
    }


def assert_retries_scheduled(aws: dict[str, str], *failed: dict[str, Any]) -> list[Any]:
    """Each failed delivery comes back on the delivery queue after the schedule's delay (1,1,1
    ± 10 % → 1 s, SQS DelaySeconds: no retry execution). Returns the re-queued messages."""
    requeued: list[Any] = []

    def all_back() -> bool:
        requeued.extend(receive_all(aws["DELIVERY_QUEUE_URL"]))
        return len(requeued) >= len(failed)

    assert wait_until(all_back)
    assert retry_executions(aws["RETRY_STATE_MACHINE_ARN"]) == {}
    bodies = sorted((json.loads(m["Body"]) for m in requeued), key=lambda b: b["delivery_id"])
    assert bodies == sorted((queue_message(f) for f in failed), key=lambda b: b["delivery_id"])
    return requeued


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


# --- Faults --------------------------------------------------------------------------------


def test_receiver_sleeping_past_the_timeout_then_recovering(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    receiver: Receiver,
    one_second_timeout: None,
) -> None:
    url = receiver.script("/sleepy", Script(statuses=[200], delay_seconds=4))
    found = first_attempts(api, alice, aws, {"sleepy": url})["sleepy"]
    entry = assert_failed_attempt(
        found,
        status_code=None,
        error="timeout: deadline of 1 s exceeded while waiting for a response",
    )
    assert 1000 <= entry["duration_ms"] < 4000  # gave up at the deadline, not at the answer
    (requeued,) = assert_retries_scheduled(aws, found)

    # The receiver is quick again: the re-queued message is attempt 2, and it succeeds.
    receiver.script("/sleepy", Script(statuses=[200]))
    assert invoke_worker([requeued]) == {"batchItemFailures": []}
    done = delivery(api, alice, found["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 2
    assert [entry["status_code"] for entry in done["attempt_log"]] == [None, 200]
    attempts = [request.headers["X-Webhook-Attempt"] for request in receiver.received("/sleepy")]
    assert attempts == ["1", "2"]


def test_refused_connections_and_tls_errors(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    tls = RawReceiver(ok, tls=untrusted_tls(tmp_path))
    reserved = socket.socket()  # bound, never listening: every connect is refused
    reserved.bind(("127.0.0.1", 0))
    try:
        urls = {
            "refused": f"http://127.0.0.1:{reserved.getsockname()[1]}/nobody",
            "untrusted": tls.url("/tls"),
            "not_tls": receiver.script("/plain", Script()).replace("http:", "https:"),
        }
        found = first_attempts(api, alice, aws, urls)
        # The signed body never went over a connection we could not verify.
        assert wait_until(lambda: tls.seen.handshakes_failed == 1)
        assert tls.seen.requests == 0
    finally:
        tls.close()
        reserved.close()
    refused = assert_failed_attempt(
        found["refused"], status_code=None, error="connection_error: connection refused"
    )
    assert refused["response_body"] is None
    for name, prefix in (
        ("untrusted", "tls_error: certificate rejected (self"),  # "self-signed certificate"
        ("not_tls", "tls_error: handshake failed ("),  # "wrong version number"
    ):
        error = str(found[name]["last_error"])
        assert error.startswith(prefix), error
        assert_failed_attempt(found[name], status_code=None, error=error)
    assert receiver.received("/plain") == []
    assert_retries_scheduled(aws, *found.values())


def test_slow_trickle_meets_the_deadline_however_the_body_is_framed(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    raw: Callable[[Any], RawReceiver],
    one_second_timeout: None,
) -> None:
    # 200 and headers at once, then one byte every 0.25 s: the 1 KB we read would take 256 s.
    servers = {
        "content_length": raw(trickle(chunked=False, interval=0.25)),
        "chunked": raw(trickle(chunked=True, interval=0.25)),
    }
    found = first_attempts(
        api, alice, aws, {name: server.url("/trickle") for name, server in servers.items()}
    )
    for name, server in servers.items():
        entry = assert_failed_attempt(
            found[name],
            status_code=None,
            error="timeout: deadline of 1 s exceeded while reading the body",
        )
        # The deadline bounds the attempt (plus one socket read at most): a read that waits
        # for 128 bytes before looking at the clock would take 32 s here.
        assert entry["duration_ms"] < 3000, name
        assert wait_until(lambda server=server: server.seen.cut_off == 1), name
        assert server.seen.bytes_sent < 64, name
    assert_retries_scheduled(aws, *found.values())


def test_trickled_cut_short_and_reset_answers_fail_within_one_deadline(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    raw: Callable[[Any], RawReceiver],
    two_second_timeout: None,
) -> None:
    """A receiver answering `200 OK\r\nX-Slow: ` then a byte at a time held the worker for
    minutes (per-read timeouts restart with each byte), long enough for SQS to hand the message
    out again; heads cut short were recorded as successes; a reset after the request was sent
    read "could not connect". Each now fails with what happened, within the one deadline."""
    servers = {
        "trickled_headers": raw(trickle_head(interval=0.5)),  # 20 s at its own pace
        "silent": raw(silent),
        "stalled_tls": raw(ok),  # spoken to over https: it waits for a request that never comes
        "cut_status_line": raw(closes_after(b"HTTP/1.1 200 OK")),
        "cut_headers": raw(closes_after(b"HTTP/1.1 200 OK\r\nContent-Len")),
        "reset": raw(reset),
        "hung_up": raw(hang_up),
    }
    urls = {name: server.url("/bad") for name, server in servers.items()}
    urls["stalled_tls"] = urls["stalled_tls"].replace("http:", "https:")
    started = time.monotonic()
    found = first_attempts(api, alice, aws, urls)
    assert time.monotonic() - started < 15  # the trickle alone would take 20 s
    deadline = "timeout: deadline of 2 s exceeded while"
    after = "after the request was sent, before a response"
    expected = {
        "trickled_headers": f"{deadline} reading headers",
        "silent": f"{deadline} waiting for a response",
        "stalled_tls": f"{deadline} negotiating TLS",
        "cut_status_line": "response_error: response cut short in the status line",
        "cut_headers": "response_error: response cut short in the headers",
        "reset": f"connection_error: connection reset {after}",
        "hung_up": f"connection_error: connection closed {after}",
    }
    for name, error in expected.items():
        entry = assert_failed_attempt(found[name], status_code=None, error=error)
        assert entry["duration_ms"] < 7000, name  # deadline + 5 s, generously
        assert entry["response_body"] is None, name
    assert servers["trickled_headers"].seen.bytes_sent < 20
    assert servers["reset"].seen.requests == 1  # the whole request had arrived
    assert_retries_scheduled(aws, *found.values())


def test_huge_redirecting_and_cut_short_answers(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    receiver: Receiver,
    raw: Callable[[Any], RawReceiver],
) -> None:
    huge = {
        "huge_ok": raw(endless(200, HUGE)),
        "huge_error": raw(endless(500, HUGE)),
        "huge_redirect": raw(endless(302, HUGE, location=receiver.url("/elsewhere"))),
    }
    dies = raw(cut_short(200, promised=100, sent=b"partial"))
    found = first_attempts(
        api,
        alice,
        aws,
        {**{name: server.url("/big") for name, server in huge.items()}, "dies": dies.url("/x")},
    )
    for name, server in huge.items():
        (entry,) = found[name]["attempt_log"]
        assert entry["response_body"] == "z" * 1024, name  # the first 1 KB, nothing more
        # We hung up after 1 KB: the receiver could not push its 50 MB into the connection.
        assert wait_until(lambda server=server: server.seen.cut_off == 1), name
        assert server.seen.bytes_sent < HUGE // 2, name

    assert found["huge_ok"]["status"] == "succeeded"
    assert found["huge_ok"]["attempt_log"][0]["status_code"] == 200
    assert found["huge_ok"]["attempt_log"][0]["error"] is None
    assert_failed_attempt(found["huge_error"], status_code=500, error="HTTP 500")
    assert_failed_attempt(found["huge_redirect"], status_code=302, error="HTTP 302")
    assert_failed_attempt(
        found["dies"],
        status_code=None,
        error="response_error: response cut short while reading the body",
    )
    assert receiver.received("/elsewhere") == []
    assert_retries_scheduled(aws, found["huge_error"], found["huge_redirect"], found["dies"])


def test_redirects_are_failures_and_never_followed(
    api: InProcessApi, alice: str, aws: dict[str, str], receiver: Receiver
) -> None:
    statuses = (301, 302, 303, 307, 308)
    urls = {
        str(status): receiver.script(
            f"/moved/{status}",
            Script(statuses=[status], headers={"Location": receiver.url("/elsewhere")}),
        )
        for status in statuses
    }
    found = first_attempts(api, alice, aws, urls)
    for status in statuses:
        entry = assert_failed_attempt(
            found[str(status)], status_code=status, error=f"HTTP {status}"
        )
        assert entry["response_body"] == "ok"
        assert len(receiver.received(f"/moved/{status}")) == 1
    assert_retries_scheduled(aws, *found.values())
    assert receiver.received("/elsewhere") == []

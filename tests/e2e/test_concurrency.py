"""Concurrent callers through local mode: each request is isolated as Lambda isolates it.

Local mode once ran every handler on threads of one process, sharing the Powertools resolver
and its current event: under concurrency webhooks were created in *another user's* account,
PATCHes answered 404 and 500, and publishes answered with a neighbour's event id. Each function
now runs in containers that serve one invocation at a time (infra/local/containers.py); these
tests hold that line over real HTTP.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.support.local_api import unique
from tests.support.receiver import Receiver

USERS = 4
THREADS_PER_USER = 2
WEBHOOKS_PER_THREAD = 20
EVENTS_PER_THREAD = 6


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


class Caller:
    """One user's session; every status it ever got is kept for the 5xx check."""

    def __init__(self, base_url: str, headers: dict[str, str], user_id: str) -> None:
        self.base_url = base_url
        self.user_id = user_id
        self.session = requests.Session()
        self.session.headers.update(headers)
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        reply = self.session.request(method, self.base_url + path, timeout=60, **kwargs)
        with self.lock:
            self.statuses[reply.status_code] += 1
        return reply


def _run_all(jobs: list[Callable[[], None]]) -> None:
    failures: list[BaseException] = []

    def guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not [thread for thread in threads if thread.is_alive()], "a caller hung"
    if failures:
        raise failures[0]


def _exercise(
    caller: Caller, receiver: Receiver, lane: int, created: dict[str, str], sent: set[Any]
) -> None:
    """Create, list, patch and publish as one user, all the while others do the same."""
    for number in range(WEBHOOKS_PER_THREAD):
        path = f"/{caller.user_id}/{lane}/{number}"
        reply = caller.call(
            "POST", "/v1/webhooks", json={"url": receiver.url(path), "events": ["iso.*"]}
        )
        assert reply.status_code == 201, reply.text
        webhook = reply.json()
        assert webhook["url"].endswith(path)
        created[webhook["id"]] = path
        listed = caller.call("GET", "/v1/webhooks", params={"limit": 100})
        assert listed.status_code == 200, listed.text
        for item in listed.json()["data"]:
            assert f"/{caller.user_id}/" in item["url"], "another user's webhook in my list"
        patched = caller.call(
            "PATCH", f"/v1/webhooks/{webhook['id']}", json={"description": caller.user_id}
        )
        assert patched.status_code == 200, patched.text
        assert (patched.json()["id"], patched.json()["description"]) == (
            webhook["id"],
            caller.user_id,
        )
    for number in range(EVENTS_PER_THREAD):
        event_id = f"{caller.user_id}-{lane}-{number}"
        reply = caller.call(
            "POST",
            "/v1/events",
            json={"type": "iso.sent", "id": event_id, "data": {"owner": caller.user_id}},
        )
        assert reply.status_code == 202, reply.text
        for delivery in reply.json()["deliveries"]:
            sent.add((reply.json()["event_id"], delivery["webhook_id"]))


def test_four_users_at_once_each_object_stays_with_its_owner(
    local: Any, receiver: Receiver, poll: Any
) -> None:
    callers = []
    for _ in range(USERS):
        user_id = unique("iso")
        callers.append(Caller(local.base_url, local.new_user(user_id), user_id))
    created: dict[str, dict[str, str]] = {caller.user_id: {} for caller in callers}
    sent: dict[str, set[Any]] = {caller.user_id: set() for caller in callers}
    jobs = [
        (
            lambda c=caller, lane=lane: _exercise(
                c, receiver, lane, created[c.user_id], sent[c.user_id]
            )
        )
        for caller in callers
        for lane in range(THREADS_PER_USER)
    ]
    _run_all(jobs)

    for caller in callers:
        assert not [code for code in caller.statuses if code >= 500], caller.statuses
        listed = caller.call("GET", "/v1/webhooks", params={"limit": 100}).json()["data"]
        assert sorted(item["id"] for item in listed) == sorted(created[caller.user_id])
        assert all(item["description"] == caller.user_id for item in listed)

        # Every delivery a publish answered with goes to one of the publisher's own webhooks.
        assert {webhook_id for _, webhook_id in sent[caller.user_id]} <= set(
            created[caller.user_id]
        )

    expected = {
        (event_id, created[caller.user_id][webhook_id])
        for caller in callers
        for event_id, webhook_id in sent[caller.user_id]
    }
    assert len(expected) >= USERS * THREADS_PER_USER * EVENTS_PER_THREAD
    assert poll(lambda: len(receiver.requests) >= len(expected), timeout=120)
    for request in receiver.requests:  # each delivery carries its owner's payload
        owner = request.path.split("/")[1]
        assert json.loads(request.body)["data"]["owner"] == owner
    delivered = Counter((r.headers["X-Webhook-Event-Id"], r.path) for r in receiver.requests)
    assert set(delivered) == expected and set(delivered.values()) == {1}

"""Pagination cursors: each list takes back only the cursors it issued, for the same user and
filters; every other cursor (another list's, another user's, hand-made) is a 422, never a 500."""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass
from typing import Any

import pytest

from shared.core.config import settings
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi, Reply
from tests.support.faults import invoke_worker, receive_all

HOOK_URL = "http://127.0.0.1:9/hook"


def assert_invalid_cursor(reply: Reply) -> None:
    assert reply.status == 422, (reply.status, reply.body[:300])
    error = reply.json()["error"]
    assert set(error) <= {"code", "message", "details"}
    assert error["code"] == "invalid_cursor", error
    assert [detail["field"] for detail in error["details"]] == ["query.cursor"]


@dataclass
class Account:
    key: str
    hooks: list[str]

    @property
    def lists(self) -> dict[str, str]:
        """Each list of this account, as the path of its first page."""
        return {
            "webhooks": "/v1/webhooks",
            "events": "/v1/events",
            "sources": "/v1/sources",
            "deliveries": f"/v1/webhooks/{self.hooks[0]}/deliveries",
        }


def ok(reply: Reply, status: int = 200) -> Any:
    assert reply.status == status, (reply.status, reply.body[:300])
    return reply.json()


def filled_account(api: InProcessApi, user_id: str) -> Account:
    """Three of everything, so that every list has a second page at `limit=1`."""
    key = api.new_user_key(ADMIN_KEY, user_id)
    hooks = [
        ok(api.request("POST", "/v1/webhooks", key, {"url": HOOK_URL, "events": ["*"]}), 201)["id"]
        for _ in range(3)
    ]
    for position in range(3):
        event = {"type": "user.created", "data": {"n": position}}
        ok(api.request("POST", "/v1/events", key, event), 202)
        source = {"name": f"s{position}", "provider": "hmac", "secret": "x"}
        ok(api.request("POST", "/v1/sources", key, source), 201)
    # One attempt each (refused: nothing listens on port 9) writes the deliveries' records.
    invoke_worker(receive_all(settings().delivery_queue_url))
    return Account(key, hooks)


def next_cursor(api: InProcessApi, key: str, path: str) -> str:
    joiner = "&" if "?" in path else "?"
    cursor = ok(api.request("GET", f"{path}{joiner}limit=1", key))["next_cursor"]
    assert isinstance(cursor, str) and cursor
    return cursor


def with_cursor(path: str, cursor: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}limit=1&cursor={cursor}"


@pytest.fixture
def alice(api: InProcessApi) -> Account:
    return filled_account(api, "alice")


@pytest.fixture
def bob(api: InProcessApi) -> Account:
    return filled_account(api, "bob")


def test_each_list_follows_its_own_cursor_to_the_end(api: InProcessApi, alice: Account) -> None:
    for name, path in alice.lists.items():
        seen, cursor = [], None
        while True:
            page = ok(api.request("GET", with_cursor(path, cursor or ""), alice.key))
            seen += [item["id"] for item in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 3, (name, seen)


def test_a_cursor_of_one_list_is_refused_by_every_other_list(
    api: InProcessApi, alice: Account
) -> None:
    """Before cursors were signed, a webhooks cursor sent to /v1/events reached DynamoDB as an
    ExclusiveStartKey of the wrong shape: a 500."""
    cursors = {name: next_cursor(api, alice.key, path) for name, path in alice.lists.items()}
    for issued_by, used_on in itertools.permutations(alice.lists, 2):
        reply = api.request("GET", with_cursor(alice.lists[used_on], cursors[issued_by]), alice.key)
        assert_invalid_cursor(reply)


def test_a_cursor_of_one_webhooks_deliveries_is_refused_for_another_webhook(
    api: InProcessApi, alice: Account
) -> None:
    first, second = (f"/v1/webhooks/{hook}/deliveries" for hook in alice.hooks[:2])
    cursor = next_cursor(api, alice.key, first)
    assert_invalid_cursor(api.request("GET", with_cursor(second, cursor), alice.key))


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_forged_cursors_are_refused_by_every_list(api: InProcessApi, alice: Account) -> None:
    real = next_cursor(api, alice.key, "/v1/webhooks")
    payload, _, mac = real.partition(".")
    position = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = [
        _b64({"user_id": "alice"}),
        _b64({"user_id": "alice", "webhook_id": "wh_0"}),
        _b64({"user_id": "alice", "event_id": "evt_0"}),
        _b64({"user_id": "alice", "source_id": "src_0"}),
        _b64(position),  # the real position, unsigned (the old cursor format)
        f"{_b64({**position, 'user_id': 'bob'})}.{mac}",  # a signed cursor, edited
        f"{payload}.{mac[:-2]}AA",
        f"{payload}.",
        f".{mac}",
        "e30.e30",
        "%C3%A9.%C3%A9",
    ]
    for path in alice.lists.values():
        for cursor in forged:
            assert_invalid_cursor(api.request("GET", with_cursor(path, cursor), alice.key))


def test_a_cursor_issued_to_one_user_is_refused_for_another(
    api: InProcessApi, alice: Account, bob: Account
) -> None:
    for name in ("webhooks", "events", "sources"):
        cursor = next_cursor(api, alice.key, alice.lists[name])
        assert_invalid_cursor(api.request("GET", with_cursor(bob.lists[name], cursor), bob.key))
        # An admin acting for bob is bob: alice's cursor is not his either.
        as_bob = f"{bob.lists[name]}?user_id=bob"
        assert_invalid_cursor(api.request("GET", with_cursor(as_bob, cursor), ADMIN_KEY))
        # An admin acting for alice reads alice's list, and her cursor goes on with it.
        as_alice = f"{alice.lists[name]}?user_id=alice"
        assert ok(api.request("GET", with_cursor(as_alice, cursor), ADMIN_KEY))["data"]


@pytest.mark.parametrize(
    ("issued_for", "used_for"),
    [
        ("type=user.created", "type=user.created&direction=outbound"),
        ("type=user.created", "direction=outbound"),
        ("type=user.created", ""),
        ("direction=outbound", ""),
        ("direction=outbound", "direction=inbound"),
        ("", "direction=outbound"),
        ("", "source_id=src_01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
    ],
)
def test_an_events_cursor_is_refused_with_other_filters(
    api: InProcessApi, alice: Account, issued_for: str, used_for: str
) -> None:
    cursor = next_cursor(api, alice.key, f"/v1/events?{issued_for}")
    reply = api.request("GET", with_cursor(f"/v1/events?{used_for}", cursor), alice.key)
    assert_invalid_cursor(reply)


def test_a_deliveries_cursor_is_refused_with_another_status_filter(
    api: InProcessApi, alice: Account
) -> None:
    path = alice.lists["deliveries"]
    retrying = next_cursor(api, alice.key, f"{path}?status=retrying")
    for other in (path, f"{path}?status=failed"):
        assert_invalid_cursor(api.request("GET", with_cursor(other, retrying), alice.key))
    unfiltered = next_cursor(api, alice.key, path)
    reply = api.request("GET", with_cursor(f"{path}?status=retrying", unfiltered), alice.key)
    assert_invalid_cursor(reply)
    # The same filters take the cursor.
    assert ok(api.request("GET", with_cursor(f"{path}?status=retrying", retrying), alice.key))[
        "data"
    ]

"""Operations over local mode: list, inspect and replay events (both directions), user
isolation on each of those routes, and the dead-letter queues (peek, redrive one, redrive all).

The local service (and its DLQs) is shared by every e2e file, so each test works with its own
users and receiver paths, and only looks at the DLQ messages of the deliveries it created.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.support.local_api import (
    LocalApi,
    error_code,
    github_body,
    github_headers,
    hmac_headers,
    unique,
    wait_until,
)
from tests.support.receiver import Receiver, Script

ISO_Z = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"


def user_api(local: Any, prefix: str) -> tuple[str, LocalApi]:
    user_id = unique(prefix)
    return user_id, LocalApi(local.base_url, local.new_user(user_id))


def admin_api(local: Any) -> LocalApi:
    return LocalApi(local.base_url, {"x-api-key": local.admin_key})


def publish_in_order(api: LocalApi, types: list[str], marker: str) -> list[str]:
    """Publish one event per type, oldest first, a few ms apart (ids order by millisecond)."""
    published = []
    for position, event_type in enumerate(types):
        published.append(api.publish(event_type, {"n": position, "marker": marker})["event_id"])
        time.sleep(0.005)
    return published


def wait_delivered(api: LocalApi, delivery_id: str, status: str = "succeeded") -> dict[str, Any]:
    found = wait_until(
        lambda: (view := api.delivery(delivery_id))["status"] == status and view, timeout=60
    )
    assert found, api.delivery(delivery_id)
    return dict(found)


# --- outbound: list, inspect, replay -------------------------------------------------------------


def test_list_is_newest_first_filtered_and_paginated(local: Any) -> None:
    _, api = user_api(local, "ops-list")
    types = ["order.created", "user.updated", "order.created", "user.updated", "order.created"]
    published = publish_in_order(api, types, unique("marker"))

    everything = api.ok("GET", "/v1/events", params={"limit": 100})
    assert [event["id"] for event in everything["data"]] == published[::-1]
    assert everything["next_cursor"] is None
    first = everything["data"][0]
    assert first["direction"] == "outbound" and first["type"] == "order.created"
    assert set(first) >= {"id", "direction", "type", "status", "created_at"}
    assert "payload" not in first  # the list is a summary; inspect one event for the payload

    outbound = api.ok("GET", "/v1/events", params={"direction": "outbound"})["data"]
    assert [event["id"] for event in outbound] == published[::-1]
    assert api.ok("GET", "/v1/events", params={"direction": "inbound"})["data"] == []

    orders = api.ok("GET", "/v1/events", params={"type": "order.created"})["data"]
    assert [event["id"] for event in orders] == [published[4], published[2], published[0]]
    user_outbound = {"type": "user.updated", "direction": "outbound"}
    both = api.ok("GET", "/v1/events", params=user_outbound)["data"]
    assert [event["id"] for event in both] == [published[3], published[1]]
    nothing = api.ok("GET", "/v1/events", params={"type": "user.updated", "direction": "inbound"})
    assert nothing == {"data": [], "next_cursor": None}

    # Pagination: pages of 2, each following the previous page's cursor, newest first throughout.
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.ok("GET", "/v1/events", params=params)
        assert len(page["data"]) <= 2
        seen += [event["id"] for event in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
        assert pages < 10
    assert seen == published[::-1]
    assert pages == 3

    # Filtered pagination too: the type index pages the same way.
    page = api.ok("GET", "/v1/events", params={"type": "order.created", "limit": 2})
    assert [event["id"] for event in page["data"]] == [published[4], published[2]]
    rest = api.ok(
        "GET",
        "/v1/events",
        params={"type": "order.created", "limit": 2, "cursor": page["next_cursor"]},
    )
    assert [event["id"] for event in rest["data"]] == [published[0]]
    assert rest["next_cursor"] is None

    # A cursor of another query, or garbage, is refused (never a 500).
    wrong = api.get("/v1/events", params={"type": "user.updated", "cursor": page["next_cursor"]})
    assert wrong.status_code in (400, 422) and error_code(wrong) == "invalid_cursor"
    garbage = api.get("/v1/events", params={"cursor": "not-a-cursor!"})
    assert garbage.status_code in (400, 422)
    for bad in ({"limit": 0}, {"limit": 101}, {"direction": "sideways"}):
        assert api.get("/v1/events", params=bad).status_code == 422, bad


def test_inspect_shows_payload_headers_status_and_deliveries(local: Any, receiver: Any) -> None:
    _, api = user_api(local, "ops-inspect")
    path = "/" + unique("inspect")
    hook = api.create_webhook(receiver.script(path, Script(statuses=[200])), ["invoice.paid"])
    data = {"invoice": unique("inv"), "amount": 4200, "lines": [{"sku": "a", "qty": 2}]}
    published = api.publish("invoice.paid", data)
    (queued,) = published["deliveries"]
    assert queued["webhook_id"] == hook["id"]
    wait_delivered(api, queued["delivery_id"])

    event = api.event(published["event_id"])
    assert event["id"] == published["event_id"]
    assert event["direction"] == "outbound"
    assert event["type"] == "invoice.paid"
    assert event["payload"] == data
    assert isinstance(event["headers"], dict)
    assert isinstance(event["status"], str) and event["status"]
    assert re.match(ISO_Z, event["created_at"])
    assert event["history"] == []
    (delivery,) = event["deliveries"]
    assert delivery["id"] == queued["delivery_id"]
    assert delivery["webhook_id"] == hook["id"]
    assert delivery["status"] == "succeeded"
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200
    assert delivery["url"] == hook["url"]

    (request,) = receiver.received(path)
    assert request.headers["X-Webhook-Event-Id"] == event["id"]


def test_replay_to_all_matching_webhooks_and_to_one(local: Any, receiver: Any) -> None:
    _, api = user_api(local, "ops-replay")
    paths = {name: "/" + unique(name) for name in ("first", "second", "other")}
    first = api.create_webhook(receiver.script(paths["first"], Script()), ["order.*"])
    second = api.create_webhook(receiver.script(paths["second"], Script()), ["order.shipped"])
    api.create_webhook(receiver.script(paths["other"], Script()), ["user.created"])
    published = api.publish("order.shipped", {"order": unique("ord")})
    event_id = published["event_id"]
    assert len(published["deliveries"]) == 2
    for name in ("first", "second"):
        assert len(receiver.wait_for(paths[name], 1)) == 1

    everyone = api.ok("POST", f"/v1/events/{event_id}/replay", 202, json={})
    assert everyone["event_id"] == event_id
    assert {d["webhook_id"] for d in everyone["deliveries"]} == {first["id"], second["id"]}
    assert all(d["status"] == "queued" for d in everyone["deliveries"])
    original_ids = {d["delivery_id"] for d in published["deliveries"]}
    assert not original_ids & {d["delivery_id"] for d in everyone["deliveries"]}
    for name in ("first", "second"):
        requests_seen = receiver.wait_for(paths[name], 2)
        assert len(requests_seen) == 2
        # The same event (id and bytes) again, in a new delivery.
        assert {r.headers["X-Webhook-Event-Id"] for r in requests_seen} == {event_id}
        assert requests_seen[0].body == requests_seen[1].body
        assert (
            requests_seen[0].headers["X-Webhook-Delivery-Id"]
            != requests_seen[1].headers["X-Webhook-Delivery-Id"]
        )

    one = api.ok("POST", f"/v1/events/{event_id}/replay", 202, json={"webhook_id": second["id"]})
    assert [d["webhook_id"] for d in one["deliveries"]] == [second["id"]]
    assert len(receiver.wait_for(paths["second"], 3)) == 3
    for delivery in [*everyone["deliveries"], *one["deliveries"]]:
        wait_delivered(api, delivery["delivery_id"])
    time.sleep(0.5)  # nothing else is on its way
    assert len(receiver.received(paths["first"])) == 2
    assert receiver.received(paths["other"]) == []

    event = api.event(event_id)
    replays = [entry for entry in event["history"] if entry["action"] == "replay"]
    assert len(replays) == 2
    assert replays[0].get("webhook_id") is None and replays[0]["deliveries"] == 2
    assert replays[1]["webhook_id"] == second["id"] and replays[1]["deliveries"] == 1
    assert all(re.match(ISO_Z, entry["at"]) for entry in replays)
    assert len(event["deliveries"]) == 5
    assert {d["status"] for d in event["deliveries"]} == {"succeeded"}

    # A webhook that is not there (or not this user's) is a 404, and nothing is recorded.
    missing = api.post(f"/v1/events/{event_id}/replay", json={"webhook_id": "wh_missing"})
    assert missing.status_code == 404
    assert len(api.event(event_id)["history"]) == 2


# --- inbound: list, inspect, replay --------------------------------------------------------------


def actions(event: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [entry for entry in event["history"] if entry["action"] == action]


def wait_processed(api: LocalApi, event_id: str, runs: int = 1) -> dict[str, Any]:
    """The event once its history holds `runs` processing runs and it is `processed`."""

    def done() -> dict[str, Any] | None:
        reply = api.get(f"/v1/events/{event_id}")  # 404 until processing writes the record
        assert reply.status_code in (200, 404), reply.text[:800]
        if reply.status_code == 404:
            return None
        event = dict(reply.json())
        finished = event["status"] == "processed" and len(actions(event, "processed")) >= runs
        return event if finished else None

    found = wait_until(done, timeout=60)
    assert found, api.event(event_id)
    return dict(found)


def send_github(api: LocalApi, source_id: str, secret: str, event: str = "push") -> str:
    body = github_body(unique("gh"), repository={"full_name": "acme/app"})
    answer = api.inbound(source_id, body, github_headers(secret, body, event=event))
    assert answer["received"] is True and answer["duplicate"] is False
    return str(answer["event_id"])


def test_inbound_list_inspect_and_replay(local: Any) -> None:
    _, api = user_api(local, "ops-inbound")
    secret = unique("github-secret")
    source = api.create_source("github", secret)
    other_source = api.create_source("github", secret)
    outbound_id = api.publish("repo.changed", {"n": 1})["event_id"]
    time.sleep(0.005)
    body = github_body(
        unique("marker"),
        commits=[{"id": "a"}, {"id": "b"}],
        repository={"full_name": "acme/app"},
        pusher={"name": "octocat"},
    )
    headers = github_headers(secret, body)
    answer = api.inbound(source["id"], body, headers)
    assert answer["received"] is True and answer["duplicate"] is False
    event_id = answer["event_id"]
    time.sleep(0.005)
    other_id = send_github(api, other_source["id"], secret, event="issues")

    event = wait_processed(api, event_id)
    # Inspect: the parsed payload, the provider's headers, status, history with handler results.
    assert event["id"] == event_id
    assert event["direction"] == "inbound"
    assert event["type"] == "push"
    assert event["source_id"] == source["id"]
    assert event["payload"] == json.loads(body)
    assert event["headers"]["x-github-event"] == "push"
    assert event["headers"]["x-github-delivery"] == headers["X-GitHub-Delivery"]
    assert re.match(ISO_Z, event["created_at"])
    (run,) = actions(event, "processed")
    assert re.match(ISO_Z, run["at"])
    (result,) = run["handler_results"]
    assert result["handler"].endswith("github_push")
    assert result["result"] == {
        "repository": "acme/app",
        "ref": "refs/heads/main",
        "commits": 2,
        "pusher": "octocat",
    }
    assert not event.get("deliveries")
    assert event.get("raw_body_url") is None  # the payload is inline

    # List: newest first, by direction, by source, by source and type.
    def listed(**params: Any) -> list[str]:
        return [e["id"] for e in api.ok("GET", "/v1/events", params=params)["data"]]

    wait_processed(api, other_id)
    assert listed() == [other_id, event_id, outbound_id]
    assert listed(direction="inbound") == [other_id, event_id]
    assert listed(direction="outbound") == [outbound_id]
    assert listed(source_id=source["id"]) == [event_id]
    assert listed(source_id=other_source["id"]) == [other_id]
    assert listed(source_id=source["id"], type="push") == [event_id]
    assert listed(source_id=source["id"], type="issues") == []
    assert listed(source_id=source["id"], direction="inbound") == [event_id]
    assert listed(source_id=source["id"], direction="outbound") == []
    assert listed(type="issues", direction="inbound") == [other_id]
    assert listed(source_id="src_unknown") == []
    first = api.ok("GET", "/v1/events", params={"direction": "inbound", "limit": 1})
    assert [e["id"] for e in first["data"]] == [other_id]
    rest = api.ok(
        "GET",
        "/v1/events",
        params={"direction": "inbound", "limit": 1, "cursor": first["next_cursor"]},
    )
    assert [e["id"] for e in rest["data"]] == [event_id]
    summary = api.ok("GET", "/v1/events", params={"source_id": source["id"]})["data"][0]
    assert summary["source_id"] == source["id"] and summary["direction"] == "inbound"

    # The same delivery again is a duplicate: same event, nothing processed again.
    again = api.inbound(source["id"], body, headers)
    assert again == {"received": True, "event_id": event_id, "duplicate": True}
    assert listed(source_id=source["id"]) == [event_id]

    # Replay: processed again from the stored raw body, recorded in the history.
    replayed = api.ok("POST", f"/v1/events/{event_id}/replay", 202, json={})
    assert replayed["event_id"] == event_id
    event = wait_processed(api, event_id, runs=2)
    assert [entry["action"] for entry in event["history"]] == ["processed", "replay", "processed"]
    first_run, replay, second_run = event["history"]
    assert replay["run_id"] == second_run["run_id"] != first_run["run_id"]
    assert second_run["handler_results"] == first_run["handler_results"]
    assert event["payload"] == json.loads(body)
    assert listed(source_id=source["id"]) == [event_id]  # a replay is not a new event


def test_inbound_body_over_256_kb_is_linked_not_inlined(local: Any) -> None:
    _, api = user_api(local, "ops-inbound-big")
    secret = unique("github-secret")
    source = api.create_source("github", secret)
    body = github_body(unique("big"), padding="x" * (300 * 1024))
    event_id = api.inbound(source["id"], body, github_headers(secret, body))["event_id"]
    event = wait_processed(api, event_id)
    assert event["payload"] is None
    assert event["headers"]["x-github-event"] == "push"
    link = event["raw_body_url"]
    assert link.startswith("http")
    raw = requests.get(link, timeout=15)
    assert raw.status_code == 200
    assert raw.content == body


# --- user isolation on list, inspect and replay ---------------------------------------------------


def test_user_isolation_on_list_inspect_and_replay(local: Any, receiver: Any) -> None:
    owner_id, owner = user_api(local, "ops-owner")
    _, other = user_api(local, "ops-other")
    admin = admin_api(local)
    path = "/" + unique("isolation")
    hook = owner.create_webhook(receiver.script(path, Script()), ["doc.signed"])
    event_id = owner.publish("doc.signed", {"doc": unique("doc")})["event_id"]
    receiver.wait_for(path, 1)

    # Another user: the event does not exist for them.
    assert other.ok("GET", "/v1/events")["data"] == []
    for params in ({"type": "doc.signed"}, {"direction": "outbound"}):
        assert other.ok("GET", "/v1/events", params=params)["data"] == []
    for reply in (
        other.get(f"/v1/events/{event_id}"),
        other.post(f"/v1/events/{event_id}/replay", json={}),
        other.post(f"/v1/events/{event_id}/replay", json={"webhook_id": hook["id"]}),
    ):
        assert reply.status_code == 404, reply.text
        assert error_code(reply) == "not_found"
    # ...and the owner's webhook is not theirs to replay to, even with their own event.
    own_event = other.publish("doc.signed", {"doc": "mine"})["event_id"]
    reply = other.post(f"/v1/events/{own_event}/replay", json={"webhook_id": hook["id"]})
    assert reply.status_code == 404

    # Acting for another user is for admins only.
    for path_ in ("/v1/events", f"/v1/events/{event_id}"):
        reply = other.get(path_, params={"user_id": owner_id})
        assert reply.status_code == 403, reply.text
        assert error_code(reply) == "forbidden"
    # Naming yourself is fine.
    assert owner.ok("GET", "/v1/events", params={"user_id": owner_id})["data"][0]["id"] == event_id

    # An admin sees that user's events with ?user_id=, and only theirs.
    listed = admin.ok("GET", "/v1/events", params={"user_id": owner_id})
    assert [event["id"] for event in listed["data"]] == [event_id]
    filtered = admin.ok(
        "GET", "/v1/events", params={"user_id": owner_id, "type": "doc.signed", "limit": 1}
    )
    assert [event["id"] for event in filtered["data"]] == [event_id]
    assert admin.ok("GET", f"/v1/events/{event_id}", params={"user_id": owner_id})["id"] == event_id
    # Without ?user_id= the admin is a user like any other: not their event.
    assert admin.get(f"/v1/events/{event_id}").status_code == 404

    # Nothing the other user tried was recorded or delivered.
    assert owner.event(event_id)["history"] == []
    time.sleep(0.3)
    assert len(receiver.received(path)) == 1


def test_user_isolation_on_inbound_events(local: Any) -> None:
    owner_id, owner = user_api(local, "ops-in-owner")
    _, other = user_api(local, "ops-in-other")
    admin = admin_api(local)
    secret = unique("github-secret")
    source = owner.create_source("github", secret)
    event_id = send_github(owner, source["id"], secret)
    wait_processed(owner, event_id)

    for params in ({}, {"direction": "inbound"}, {"source_id": source["id"]}, {"type": "push"}):
        assert other.ok("GET", "/v1/events", params=params)["data"] == [], params
    for reply in (
        other.get(f"/v1/events/{event_id}"),
        other.post(f"/v1/events/{event_id}/replay", json={}),
        other.get(f"/v1/sources/{source['id']}"),
    ):
        assert reply.status_code == 404, reply.text
    for path in ("/v1/events", f"/v1/events/{event_id}"):
        reply = other.get(path, params={"user_id": owner_id, "direction": "inbound"})
        assert reply.status_code == 403 and error_code(reply) == "forbidden"

    for params in ({"direction": "inbound"}, {"source_id": source["id"]}):
        listed = admin.ok("GET", "/v1/events", params={"user_id": owner_id, **params})
        assert [event["id"] for event in listed["data"]] == [event_id], params
    seen = admin.ok("GET", f"/v1/events/{event_id}", params={"user_id": owner_id})
    assert seen["source_id"] == source["id"] and seen["payload"]
    assert admin.get(f"/v1/events/{event_id}").status_code == 404

    time.sleep(0.3)
    event = owner.event(event_id)
    assert [entry["action"] for entry in event["history"]] == ["processed"]


# --- dead-letter queues ---------------------------------------------------------------------------


@dataclass
class DeadLetters:
    user_id: str
    api: LocalApi
    receiver: Receiver
    path: str
    deliveries: list[str]


def mine(messages: list[dict[str, Any]], user_id: str) -> dict[str, dict[str, Any]]:
    """DLQ messages of one user's deliveries, by delivery id."""
    return {
        message["body"]["delivery_id"]: message
        for message in messages
        if message["body"].get("user_id") == user_id
    }


def visible_in_sqs(local: Any, logical_id: str) -> dict[str, str]:
    """Message id → body of every message another SQS consumer can receive now (each is held
    for a moment, then released)."""
    sqs = local.client("sqs")
    url = local.queue_url(logical_id)
    held: dict[str, dict[str, Any]] = {}
    for _ in range(200):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=20, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            break
        held.update({message["MessageId"]: message for message in messages})
    for message in held.values():
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return {message_id: message["Body"] for message_id, message in held.items()}


@pytest.fixture(scope="module")
def dead_lettered(local: Any) -> Iterator[DeadLetters]:
    """Three deliveries of one user to a receiver that always answers 500, dead-lettered."""
    receiver = Receiver()
    user_id, api = user_api(local, "ops-dlq")
    path = "/" + unique("always-500")
    api.create_webhook(receiver.script(path, Script(statuses=[500])), ["job.failed"])
    deliveries = [
        api.publish("job.failed", {"job": n})["deliveries"][0]["delivery_id"] for n in range(3)
    ]
    admin = admin_api(local)
    parked = wait_until(lambda: len(mine(admin.dlq(), user_id)) == 3, timeout=30, interval=0.5)
    assert parked, [api.delivery(d) for d in deliveries]
    yield DeadLetters(user_id, api, receiver, path, deliveries)
    receiver.close()


def test_dlq_routes_need_an_admin_key(local: Any) -> None:
    _, user = user_api(local, "ops-dlq-user")
    for queue in ("delivery", "inbound"):
        reply = user.get("/v1/admin/dlq", params={"queue": queue})
        assert reply.status_code == 403 and error_code(reply) == "forbidden"
    reply = user.post("/v1/admin/dlq/redrive", json={"queue": "delivery"})
    assert reply.status_code == 403 and error_code(reply) == "forbidden"
    anonymous = LocalApi(local.base_url, {})
    assert anonymous.get("/v1/admin/dlq", params={"queue": "delivery"}).status_code == 401
    admin = admin_api(local)
    assert isinstance(admin.dlq("inbound"), list)
    assert admin.get("/v1/admin/dlq", params={"queue": "nope"}).status_code == 422
    assert admin.get("/v1/admin/dlq").status_code == 422


def test_dlq_peek_shows_the_same_messages_twice(local: Any, dead_lettered: DeadLetters) -> None:
    admin = admin_api(local)
    first = mine(admin.dlq(), dead_lettered.user_id)
    second = mine(admin.dlq(), dead_lettered.user_id)
    assert set(first) == set(dead_lettered.deliveries)
    assert {d: m["message_id"] for d, m in first.items()} == {
        d: m["message_id"] for d, m in second.items()
    }
    assert [m["body"] for m in first.values()] == [m["body"] for m in second.values()]
    # Still in the queue and visible to anyone else (the console's "poll for messages" view).
    # Their bodies are plain, self-describing JSON, as the console shows them.
    raw = visible_in_sqs(local, "DeliveryQueueDLQ")
    for message in first.values():
        assert json.loads(raw[message["message_id"]]) == message["body"]
    assert set(mine(admin.dlq(), dead_lettered.user_id)) == set(first)

    # Each message describes itself.
    delivery_id = dead_lettered.deliveries[0]
    message = first[delivery_id]
    body = message["body"]
    view = dead_lettered.api.delivery(delivery_id)
    assert body["kind"] == "delivery_failed"
    assert body["delivery_id"] == delivery_id
    assert body["event_id"] == view["event_id"]
    assert body["webhook_id"] == view["webhook_id"]
    assert body["user_id"] == dead_lettered.user_id
    assert body["url"] == view["url"]
    assert body["event_type"] == "job.failed"
    assert body["attempts"] == 4  # WEBHOOKS_RETRY_SCHEDULE=1,1,1: the first attempt + 3 retries
    assert body["last_status_code"] == 500
    assert body["first_attempt_at"] <= body["last_attempt_at"]
    assert re.match(ISO_Z, message["sent_at"])
    assert isinstance(message["receive_count"], int)
    assert view["status"] == "failed" and view["attempts"] == 4


def test_redrive_one_moves_only_that_message(local: Any, dead_lettered: DeadLetters) -> None:
    admin = admin_api(local)
    before = mine(admin.dlq(), dead_lettered.user_id)
    assert len(before) >= 2
    chosen, *others = sorted(before)
    received = len(dead_lettered.receiver.received(dead_lettered.path))
    dead_lettered.receiver.script(dead_lettered.path, Script(statuses=[200]))

    answer = admin.ok(
        "POST",
        "/v1/admin/dlq/redrive",
        202,
        json={"queue": "delivery", "message_ids": [before[chosen]["message_id"]]},
    )
    assert answer == {"redriven": 1, "not_found": [], "remaining": []}
    after = mine(admin.dlq(), dead_lettered.user_id)
    assert set(after) == set(others)
    assert {d: after[d]["message_id"] for d in others} == {
        d: before[d]["message_id"] for d in others
    }

    # The redriven delivery gets one more attempt, which the receiver now answers 200.
    delivered = wait_delivered(dead_lettered.api, chosen)
    assert delivered["attempts"] == 5
    assert delivered["last_status_code"] == 200
    attempts = [entry["status_code"] for entry in delivered["attempt_log"]]
    assert attempts == [500, 500, 500, 500, 200]
    time.sleep(0.5)
    newly = dead_lettered.receiver.received(dead_lettered.path)[received:]
    assert [r.headers["X-Webhook-Delivery-Id"] for r in newly] == [chosen]
    for other in others:
        assert dead_lettered.api.delivery(other)["status"] == "failed"
    # Redriving a message that is no longer there moves nothing.
    again = admin.ok(
        "POST",
        "/v1/admin/dlq/redrive",
        202,
        json={"queue": "delivery", "message_ids": [before[chosen]["message_id"]]},
    )
    assert again == {
        "redriven": 0,
        "not_found": [before[chosen]["message_id"]],
        "remaining": [],
    }
    assert set(mine(admin.dlq(), dead_lettered.user_id)) == set(others)


def test_redrive_all_empties_the_dlq(local: Any, dead_lettered: DeadLetters) -> None:
    admin = admin_api(local)
    dead_lettered.receiver.script(dead_lettered.path, Script(statuses=[200]))
    before = admin.dlq()
    waiting = mine(before, dead_lettered.user_id)
    assert waiting

    answer = admin.ok("POST", "/v1/admin/dlq/redrive", 202, json={"queue": "delivery"})
    assert answer["redriven"] >= len(before)
    # Every message that was there is gone (deliveries of other test files that fail again
    # come back as new messages, so compare message ids).
    after = admin.dlq()
    assert not {m["message_id"] for m in after} & {m["message_id"] for m in before}
    for delivery_id in waiting:
        assert wait_delivered(dead_lettered.api, delivery_id)["attempts"] == 5
    assert mine(admin.dlq(), dead_lettered.user_id) == {}
    assert all(
        dead_lettered.api.delivery(d)["status"] == "succeeded" for d in dead_lettered.deliveries
    )


def test_inbound_dlq_peek_and_redrive(local: Any) -> None:
    """An inbound event whose handler always fails lands in the inbound DLQ after the receive
    limit; peeking leaves it there, redriving it processes it again."""
    user_id, api = user_api(local, "ops-in-dlq")
    admin = admin_api(local)
    secret = unique("hmac-secret")
    source = api.create_source("hmac", secret, signature={"header": "X-Signature"})
    body = json.dumps({"type": "test.fail", "id": unique("job")}).encode()
    event_id = api.inbound(source["id"], body, hmac_headers(secret, body))["event_id"]

    def parked() -> dict[str, dict[str, Any]]:
        return {
            message["body"]["event_id"]: message
            for message in admin.dlq("inbound")
            if message["body"].get("user_id") == user_id
        }

    assert wait_until(lambda: event_id in parked(), timeout=30, interval=0.5), api.event(event_id)
    first, second = parked()[event_id], parked()[event_id]
    assert first["message_id"] == second["message_id"]
    assert first["body"] == second["body"]
    assert first["body"]["kind"] == "inbound_event"
    assert first["body"]["source_id"] == source["id"]
    assert first["receive_count"] >= 3
    failed = api.event(event_id)
    assert failed["status"] == "failed"
    attempts = len(actions(failed, "failed"))
    assert attempts >= 3

    answer = admin.ok(
        "POST",
        "/v1/admin/dlq/redrive",
        202,
        json={"queue": "inbound", "message_ids": [first["message_id"]]},
    )
    assert answer == {"redriven": 1, "not_found": [], "remaining": []}
    assert first["message_id"] not in {m["message_id"] for m in admin.dlq("inbound")}
    # Processed again (and, as its handler still fails, failed again).
    assert wait_until(lambda: len(actions(api.event(event_id), "failed")) > attempts, timeout=60)

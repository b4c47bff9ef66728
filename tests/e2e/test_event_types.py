"""The event type catalog end to end (README "Event type catalog"): local mode over real HTTP,
a real receiver on 127.0.0.1. An event that matches its type's schema is delivered; one that
does not is refused with the failing path and never reaches the receiver.

Local mode runs with WEBHOOKS_EVENT_TYPE_CACHE_SECONDS=1 (tests/support/local_service.py): the
PUT is made by an `api` container, and each `publish` container sees it once its copy of the
catalog is older than that.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_api import LocalApi, unique, wait_until
from tests.support.local_service import LocalService
from tests.support.receiver import Receiver

CACHE_SECONDS = 1.0
SCHEMA = {
    "type": "object",
    "properties": {"amount": {"type": "integer", "minimum": 0}},
    "required": ["amount"],
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_a_valid_event_is_delivered_and_an_invalid_one_refused_with_its_path(
    local: LocalService, receiver: Receiver
) -> None:
    event_type = f"{unique('catalog').replace('-', '_')}.paid"
    admin = LocalApi(local.base_url, {"x-api-key": local.admin_key})
    user = LocalApi(local.base_url, local.new_user(unique("catalog")))
    path = f"/{unique('hook')}"
    user.create_webhook(receiver.url(path), [event_type])
    declared = admin.ok(
        "PUT", f"/v1/admin/event-types/{event_type}", json={"description": "e2e", "schema": SCHEMA}
    )
    assert declared["schema"] == SCHEMA
    assert user.ok("GET", f"/v1/event-types/{event_type}") == declared
    time.sleep(CACHE_SECONDS + 0.2)  # every publish container's copy is now older than the PUT

    good = user.publish(event_type, {"amount": 5})
    bad = user.post("/v1/events", json={"type": event_type, "data": {"amount": "5"}})
    assert bad.status_code == 422, bad.text
    assert fields(bad) == ["body.data.amount"]
    batch = {
        "events": [{"type": event_type, "data": {"amount": 1}}, {"type": event_type, "data": {}}]
    }
    refused = user.post("/v1/events/batch", json=batch)
    assert refused.status_code == 422, refused.text
    assert fields(refused) == ["body.events.1.data"]

    assert wait_until(lambda: user.delivery(delivered(good))["status"] == "succeeded")
    received = [json.loads(request.body)["id"] for request in receiver.received(path)]
    assert received == [good["event_id"]]
    listed = user.ok("GET", "/v1/events")["data"]
    assert [event["id"] for event in listed] == [good["event_id"]]
    admin.ok("DELETE", f"/v1/admin/event-types/{event_type}", 204)


def fields(reply: Any) -> list[str]:
    return [detail["field"] for detail in reply.json()["error"]["details"]]


def delivered(published: dict[str, Any]) -> str:
    return str(published["deliveries"][0]["delivery_id"])

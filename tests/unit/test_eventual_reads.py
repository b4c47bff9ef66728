"""The worker reads eventually consistent, and an item such a read misses is read again strongly.

DynamoDB: "An eventually consistent read might not reflect the results of a recently completed
write operation" and costs half of a strongly consistent one
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
moto is always consistent, so the lag is injected at botocore's `after-call` event: the answer
to an eventually consistent BatchGetItem loses its items, as it can on AWS for a delivery the
publish wrote milliseconds before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.core.aws import client
from shared.outbound.publishing import queue_message
from shared.outbound.worker import attempt
from shared.store import deliveries as deliveries_table
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi
from tests.support.receiver import Script


class ReadLag:
    """Records every BatchGetItem's ConsistentRead flags; while `lagging`, an eventually
    consistent answer comes back empty (the items reported as not found)."""

    def __init__(self) -> None:
        self.reads: list[set[bool]] = []
        self.lagging = False
        self.events = client("dynamodb").meta.events
        self.events.register("before-parameter-build.dynamodb.BatchGetItem", self._asked)
        self.events.register("after-call.dynamodb.BatchGetItem", self._answered)

    def _asked(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        flags = {asked.get("ConsistentRead", False) for asked in params["RequestItems"].values()}
        self.reads.append(flags)
        context["eventual"] = flags == {False}

    def _answered(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self.lagging and context.get("eventual"):
            parsed["Responses"] = {table: [] for table in parsed.get("Responses", {})}

    def remove(self) -> None:
        self.events.unregister("before-parameter-build.dynamodb.BatchGetItem", self._asked)
        self.events.unregister("after-call.dynamodb.BatchGetItem", self._answered)


@pytest.fixture
def lag(aws: dict[str, str]) -> Iterator[ReadLag]:
    recorder = ReadLag()
    yield recorder
    recorder.remove()


def _published(user: str, receiver: Any, path: str) -> dict[str, Any]:
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, user)
    url = receiver.script(path, Script(statuses=[200]))
    api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
    published = api.request("POST", "/v1/events", key, {"type": "a.b", "data": {}}).json()
    delivery = deliveries_table.get(user, published["deliveries"][0]["delivery_id"])
    assert delivery is not None
    return delivery


def test_an_attempt_reads_once_and_eventually_consistent(lag: ReadLag, receiver: Any) -> None:
    delivery = _published("reads-user", receiver, "/reads")
    lag.reads.clear()

    assert attempt(queue_message(delivery)) == "succeeded"

    assert lag.reads == [{False}]
    assert len(receiver.received("/reads")) == 1


def test_items_an_eventual_read_missed_are_read_again_strongly(lag: ReadLag, receiver: Any) -> None:
    """Without the strong re-read the delivery would look gone ("missing") and never be sent."""
    delivery = _published("lag-user", receiver, "/lag")
    lag.reads.clear()
    lag.lagging = True

    assert attempt(queue_message(delivery)) == "succeeded"

    assert lag.reads == [{False}, {True}]
    assert len(receiver.received("/lag")) == 1
    recorded = deliveries_table.get("lag-user", delivery["delivery_id"])
    assert recorded is not None and recorded["status"] == "succeeded"

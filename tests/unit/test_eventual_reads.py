"""The delivery worker and the inbound processor read eventually consistent, and an item such a
read misses is read again strongly before anything is called gone.

DynamoDB: "An eventually consistent read might not reflect the results of a recently completed
write operation" and costs half of a strongly consistent one
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
moto is always consistent, so the lag is injected at botocore's `after-call` event: the answer
to an eventually consistent BatchGetItem loses its items, as it can on AWS for a delivery the
publish wrote milliseconds before.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.core import clock
from shared.inbound import sources
from shared.outbound import deliveries as deliveries_service
from shared.outbound import worker
from shared.outbound.publishing import queue_message
from shared.outbound.worker import attempt
from shared.store import deliveries as deliveries_table
from shared.store import events as events_table
from tests.conftest import ADMIN_KEY
from tests.inbound_signers import sign
from tests.support.api import InProcessApi
from tests.support.read_lag import ReadLag
from tests.support.receiver import Script
from tests.unit.test_inbound_service import (
    create_source,
    drain_inbound,
    post_inbound,
    process,
    stripe_body,
)


def _published(user: str, receiver: Any, path: str) -> dict[str, Any]:
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, user)
    url = receiver.script(path, Script(statuses=[200]))
    api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
    published = api.request("POST", "/v1/events", key, {"type": "a.b", "data": {}}).json()
    delivery = deliveries_service.get_record(user, published["deliveries"][0]["delivery_id"])
    assert delivery is not None
    return delivery


def test_an_attempt_reads_once_and_eventually_consistent(lag: ReadLag, receiver: Any) -> None:
    delivery = _published("reads-user", receiver, "/reads")
    lag.reads.clear()

    assert attempt(queue_message(delivery)) == "succeeded"

    assert lag.reads == [{False}]
    assert len(receiver.received("/reads")) == 1


def test_items_an_eventual_read_missed_are_read_again_strongly(lag: ReadLag, receiver: Any) -> None:
    """Without the strong re-read the event would look gone (its delivery has no record until
    this attempt writes one) and the delivery would never be sent."""
    delivery = _published("lag-user", receiver, "/lag")
    lag.reads.clear()
    lag.lagging = True

    assert attempt(queue_message(delivery)) == "succeeded"

    assert lag.reads == [{False}, {True}]
    assert len(receiver.received("/lag")) == 1
    recorded = deliveries_table.get("lag-user", delivery["delivery_id"])
    assert recorded is not None and recorded["status"] == "succeeded"


def test_a_replayed_delivery_the_eventual_read_missed_is_read_again_strongly(
    lag: ReadLag, receiver: Any
) -> None:
    """A replay writes its delivery before queueing it: unlike a published delivery's first
    attempt (whose record that attempt writes), its absence is a lag, and without the strong
    re-read the delivery would look gone and never be sent."""
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, "replay-user")
    url = receiver.script("/replayed", Script(statuses=[200]))
    api.request("POST", "/v1/webhooks", key, {"url": url, "events": ["*"]})
    event_id = api.request("POST", "/v1/events", key, {"type": "a.b", "data": {}}).json()[
        "event_id"
    ]
    replayed = api.request("POST", f"/v1/events/{event_id}/replay", key, {}).json()
    delivery_id = replayed["deliveries"][0]["delivery_id"]
    delivery = deliveries_table.get("replay-user", delivery_id)
    assert delivery is not None
    lag.reads.clear()
    lag.lagging = True

    assert attempt(queue_message(delivery)) == "succeeded"

    assert lag.reads == [{False}, {True}]
    recorded = deliveries_table.get("replay-user", delivery_id)
    assert recorded is not None and recorded["status"] == "succeeded"


def test_a_dlq_redrive_reads_its_reopened_delivery_strongly(lag: ReadLag, receiver: Any) -> None:
    """A redrive first reopens its delivery (`failed` to `queued`), then reads it: an eventually
    consistent read may return the item as it was before that write, and the redrive would be
    skipped as a finished delivery. AWS: "the response might not reflect the results of a
    recently completed write operation".
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html
    """
    delivery = _published("dlq-user", receiver, "/dlq")
    assert attempt(queue_message(delivery)) == "succeeded"
    assert deliveries_table.set_status("dlq-user", delivery["delivery_id"], {"status": "failed"})
    lag.reads.clear()

    assert attempt(worker.dlq_record(delivery, 1, {}, clock.iso())) == "succeeded"

    assert lag.reads == [{True}]
    assert len(receiver.received("/dlq")) == 2


@pytest.fixture
def key(aws: dict[str, str]) -> str:
    return InProcessApi().new_user_key(ADMIN_KEY, "alice")


def _received(api: InProcessApi, key: str, name: str) -> str:
    sources.clear_cache()
    source = create_source(api, key, "stripe")
    body = stripe_body(name)
    reply = post_inbound(api, source["id"], body, sign("stripe", body))
    assert reply.status == 200, reply.body
    return str(reply.json()["event_id"])


def test_a_first_run_reads_once_though_its_record_is_not_written_yet(
    lag: ReadLag, api: InProcessApi, key: str
) -> None:
    """The first run's message carries the record: the event's absence is expected, not a lag,
    so it is not read again (the source was found)."""
    event_id = _received(api, key, "evt_first_run")
    lag.reads.clear()

    assert process(drain_inbound()) == {"batchItemFailures": []}

    assert lag.reads == [{False}]
    record = events_table.get("alice", event_id)
    assert record is not None and record["status"] == "processed"


def test_a_replayed_record_the_read_missed_is_read_again_strongly(
    lag: ReadLag, api: InProcessApi, key: str
) -> None:
    """Without the strong re-read the replay would look like one of an event that is gone."""
    event_id = _received(api, key, "evt_replayed")
    assert process(drain_inbound()) == {"batchItemFailures": []}
    reply = api.request("POST", f"/v1/events/{event_id}/replay", key, {})
    assert reply.status == 202, reply.body
    lag.reads.clear()
    lag.lagging = True

    assert process(drain_inbound()) == {"batchItemFailures": []}

    assert lag.reads == [{False}, {True}]
    record = events_table.get("alice", event_id)
    assert record is not None and record["status"] == "processed"
    runs = [entry for entry in record["history"] if entry.get("action") == "processed"]
    assert len(runs) == 2, record["history"]

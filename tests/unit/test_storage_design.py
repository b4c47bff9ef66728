"""Storage design: write units per delivery (index writes counted), retention by TTL, and the
table layouts behind the list routes. In-process over moto with a real HTTP receiver."""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scripts.awsbench import GITHUB_DELIVERY_HEADERS
from shared.core import clock
from shared.core import resources as res
from shared.core.aws import client
from shared.core.config import retention_days, settings
from shared.inbound import sources
from shared.store import deliveries as deliveries_table
from shared.store import dynamo
from shared.store import events as events_table
from shared.store import webhooks as webhooks_table
from tests.inbound_signers import sign
from tests.support.api import InProcessApi
from tests.support.aws_calls import CallCounter
from tests.support.faults import invoke_worker, receive_all
from tests.support.receiver import Receiver, Script
from tests.support.write_units import WriteMeter
from tests.unit.test_inbound_service import (
    create_source,
    drain_inbound,
    github_push,
    post_inbound,
    process,
    stripe_body,
)

DAY = 86400


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def ok(reply: Any, status: int = 200) -> Any:
    assert reply.status == status, (reply.status, reply.body[:300])
    return reply.json()


def hook(api: InProcessApi, key: str, url: str) -> str:
    body = {"url": url, "events": ["*"]}
    return str(ok(api.request("POST", "/v1/webhooks", key, body), 201)["id"])


def publish(api: InProcessApi, key: str, **extra: Any) -> dict[str, Any]:
    body = {"type": "user.created", "data": {"name": "Ada"}, **extra}
    return dict(ok(api.request("POST", "/v1/events", key, body), 202))


def drain() -> None:
    """Every queued delivery attempted, in worker batches of 10: a published delivery's first
    attempt writes its record."""
    messages = receive_all(settings().delivery_queue_url)
    for start in range(0, len(messages), 10):
        assert invoke_worker(messages[start : start + 10]) == {"batchItemFailures": []}


def expire(table: res.Table, key: dict[str, str], seconds_ago: int = 60) -> None:
    """Put an item past its TTL, as DynamoDB may still hold it for days before sweeping it.

    AWS: an expired item not yet deleted still shows in reads, queries and scans (moto never
    expires anything): reads must leave it out themselves.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html
    """
    names = {res.EVENTS: settings().events_table, res.DELIVERIES: settings().deliveries_table}
    client("dynamodb").update_item(
        TableName=names[table],
        Key=dynamo.to_item(key),
        UpdateExpression="SET expires_at = :t",
        ExpressionAttributeValues={":t": {"N": str(int(time.time()) - seconds_ago)}},
    )


# --- Write units ----------------------------------------------------------------------------


def test_a_first_try_delivery_is_one_write_beside_its_events_and_no_index_write(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    """Before: every index projected ALL, so the delivery's put and the worker's record of the
    attempt each wrote both delivery indexes (6 WRU per delivery) and the event two more; then
    the event still wrote a by_direction index (now the table's own key) and a KEYS_ONLY by_type
    index (now a filter on the list's Queries); then the delivery was put at publish and written
    again by its attempt (now only its attempt writes it: the event names it until then).

    AWS: every write of an item to a table bills a write to each of its global secondary indexes
    the item lands in.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes
    """
    hook(api, alice, receiver.url("/cost"))
    meter = WriteMeter()
    try:
        publish(api, alice)
        drain()
        units = meter.settle()
    finally:
        meter.close()
    assert len(receiver.received("/cost")) == 1
    delivery_units = sum(n for name, n in units.items() if name.startswith("Deliveries"))
    assert delivery_units == 1, units
    assert units.get("Events") == 1, units
    assert not [name for name in units if "/" in name], units  # no index anywhere


def github_delivery(secret_name: str, body: bytes) -> dict[str, str]:
    """Every header a GitHub delivery reaches the function with (the bench's set)."""
    return {**GITHUB_DELIVERY_HEADERS, **sign(secret_name, body, event_header="pull_request")}


def test_an_inbound_record_is_billed_for_its_body_deflated(api: InProcessApi, alice: str) -> None:
    """A 15 KB GitHub push with every header GitHub and API Gateway send: the dedupe claim
    (1 WRU) and the record's one write (4 WRU: its body deflated to 2.9 KB, its headers, less
    API Gateway's own, deflated too). Before, such a body went to S3 and its JSON sat beside it
    on the record as `payload`: 14 WRU.

    AWS: a write consumes 1 WRU per KB of the item, the larger of before and after; an item's
    size is its attribute names plus values.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
    """
    sources.clear_cache()
    source = create_source(api, alice, "github")
    body = github_push(40)
    meter = WriteMeter()
    try:
        ok(post_inbound(api, source["id"], body, github_delivery("github", body)))
        assert process(drain_inbound()) == {"batchItemFailures": []}
        units = meter.settle()
    finally:
        meter.close()
    assert dict(units) == {"Dedupe": 1, "Events": 4}, units


def test_a_large_inbound_body_is_kept_once_in_s3_and_its_record_stays_one_write(
    api: InProcessApi, alice: str, calls: Any
) -> None:
    """A JSON body past the inline limit (12 KB that does not deflate): one PutObject, and the
    record stays under 1 KB (1 WRU). Before, the record also held the body's JSON as `payload`
    for the API to show: 13 WRU for this body, a WRU per KB of any large body.

    AWS: a write consumes 1 WRU per KB of the item.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
    """
    sources.clear_cache()
    source = create_source(api, alice, "github")
    text = base64.b64encode(random.Random(7).randbytes(9_000)).decode()
    body = json.dumps({"action": "opened", "pull_request": {"body": text}}).encode()
    meter = WriteMeter()
    try:
        ok(post_inbound(api, source["id"], body, github_delivery("github", body)))
        calls.reset()
        assert process(drain_inbound()) == {"batchItemFailures": []}
        units = meter.settle()
    finally:
        meter.close()
    assert dict(units) == {"Dedupe": 1, "Events": 1}, units
    assert calls.calls["s3.PutObject"] == 1


def batch_reads(
    handle_batch: Callable[[], dict[str, Any]],
) -> tuple[dict[str, int], list[tuple[int, bool]]]:
    """Run a queue handler on a batch (nothing may fail): its AWS calls, and per table of each
    BatchGetItem the number of keys asked and whether strongly consistent."""
    asked: list[tuple[int, bool]] = []

    def count_keys(params: dict[str, Any], **_: Any) -> None:
        for table in params["RequestItems"].values():
            asked.append((len(table["Keys"]), bool(table.get("ConsistentRead"))))

    event = "provide-client-params.dynamodb.BatchGetItem"
    dynamodb = client("dynamodb")
    counter = CallCounter()
    dynamodb.meta.events.register(event, count_keys)
    try:
        assert handle_batch() == {"batchItemFailures": []}
    finally:
        dynamodb.meta.events.unregister(event, count_keys)
        counter.close()
    return dict(counter.calls), asked


def test_a_worker_batch_reads_its_items_once_each_in_one_call(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    """Ten deliveries to one webhook share its webhook and account items: one eventually
    consistent BatchGetItem of 22 keys for the batch (11 RRU), where a read per message asked
    40 (20 RRU) in 10 calls.

    AWS: BatchGetItem refuses a request that names one key twice, and bills each item read
    (up to 4 KB: 1 RRU strongly consistent, 0.5 eventually).
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
    """
    hook(api, alice, receiver.url("/batch-read"))
    batch = {"events": [{"type": "user.created", "data": {"n": n}} for n in range(10)]}
    ok(api.request("POST", "/v1/events/batch", alice, batch), 202)
    messages = receive_all(settings().delivery_queue_url)
    assert len(messages) == 10
    calls, asked = batch_reads(lambda: invoke_worker(messages))
    assert calls["dynamodb.BatchGetItem"] == 1, calls
    assert calls["dynamodb.UpdateItem"] == 10, calls
    assert asked == [(10, False), (10, False), (2, False)]  # the webhook and the account once
    assert len(receiver.received("/batch-read")) == 10


def test_a_processor_batch_reads_its_source_once_in_one_call(api: InProcessApi, alice: str) -> None:
    """Ten new events from one source: one BatchGetItem of 11 keys (their records, which a first
    run does not expect to find and does not read again strongly, and the source once)."""
    sources.clear_cache()
    source = create_source(api, alice, "stripe")
    for number in range(10):
        body = stripe_body(f"evt_batch_read_{number}")
        ok(post_inbound(api, source["id"], body, sign("stripe", body)))
    messages = drain_inbound(max_rounds=5)
    assert len(messages) == 10
    calls, asked = batch_reads(lambda: process(messages))
    assert calls["dynamodb.BatchGetItem"] == 1, calls
    assert sorted(asked) == [(1, False), (10, False)]  # the records, the source once
    listed = ok(api.request("GET", f"/v1/events?source_id={source['id']}", alice))["data"]
    assert {event["status"] for event in listed} == {"processed"} and len(listed) == 10


def test_a_redriven_message_beside_a_copy_of_its_delivery_reads_after_reopening(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    """A dead-lettered delivery's DLQ message redriven into the same batch as a late copy of its
    last attempt's message: the batch read saw the delivery `failed`, but the redrive reopens it
    first and must read it again, or both messages are skipped and the redrive does nothing."""
    url = receiver.script("/redriven", Script(statuses=[500, 200]))
    body = {"url": url, "events": ["*"], "retry": {"attempts": 0}}
    ok(api.request("POST", "/v1/webhooks", alice, body), 201)
    delivery_id = publish(api, alice)["deliveries"][0]["delivery_id"]
    (message,) = receive_all(settings().delivery_queue_url)
    assert invoke_worker([message]) == {"batchItemFailures": []}
    record = deliveries_table.get("alice", delivery_id)
    assert record is not None and record["status"] == "failed"
    (redriven,) = receive_all(settings().delivery_dlq_url)
    late_copy = {**message, "MessageId": "late-copy", "ReceiptHandle": "late-copy"}

    assert invoke_worker([late_copy, redriven]) == {"batchItemFailures": []}

    assert len(receiver.received("/redriven")) == 2
    record = deliveries_table.get("alice", delivery_id)
    assert record is not None and record["status"] == "succeeded"


def test_a_malformed_message_fails_alone_beside_the_batch_read(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    """The batch read runs before the records: a message it cannot make keys of (a `not_before`
    of NaN, a list for an id) must leave the read to the others and fail on its own, not fail the
    whole invocation (SQS would then hand every message of the batch out again)."""
    hook(api, alice, receiver.url("/beside-malformed"))
    publish(api, alice)
    (good,) = receive_all(settings().delivery_queue_url)
    bad = [
        {"MessageId": "nan", "ReceiptHandle": "nan", "Body": '{"not_before": NaN}'},
        {"MessageId": "list", "ReceiptHandle": "list", "Body": '{"user_id": ["a"]}'},
    ]
    response = invoke_worker([*bad, good])
    assert sorted(item["itemIdentifier"] for item in response["batchItemFailures"]) == [
        "list",
        "nan",
    ]
    assert len(receiver.received("/beside-malformed")) == 1
    bad_inbound = {"MessageId": "src", "ReceiptHandle": "src", "Body": '{"source_id": ["x"]}'}
    sources.clear_cache()
    source = create_source(api, alice, "stripe")
    body = stripe_body("evt_beside_malformed")
    ok(post_inbound(api, source["id"], body, sign("stripe", body)))
    response = process([bad_inbound, *drain_inbound()])
    assert response == {"batchItemFailures": [{"itemIdentifier": "src"}]}


def test_updating_an_event_writes_no_index(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    hook(api, alice, receiver.url("/replay-cost"))
    event_id = publish(api, alice)["event_id"]
    meter = WriteMeter()
    try:
        ok(api.request("POST", f"/v1/events/{event_id}/replay", alice, {}), 202)
        units = meter.settle()
    finally:
        meter.close()
    assert not [name for name in units if "/" in name], units


def test_neither_events_nor_deliveries_have_an_index() -> None:
    assert res.EVENTS.indexes == res.DELIVERIES.indexes == ()


# --- Hot partitions ---------------------------------------------------------------------------


def test_one_tenant_publishing_to_one_webhook_spreads_every_key_over_shards(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    """Before: every event of a user went to the key `alice` of the table and of each index,
    and every delivery to `alice` (ULID sort keys: DynamoDB cannot split such a key). At 32
    shards no key may take more than a few times its 1/32 share (10,000 events/s: <= 1,000/s)."""
    hook(api, alice, receiver.url("/heat"))
    meter = WriteMeter()
    try:
        for _ in range(4):
            batch = {"events": [{"type": "user.created", "data": {"n": n}} for n in range(80)]}
            ok(api.request("POST", "/v1/events/batch", alice, batch), 202)
        drain()
    finally:
        meter.close()
    writes: dict[str, int] = {}
    for name, count in meter.heat.items():
        where = name.split(" ")[0]
        writes[where] = writes.get(where, 0) + count
        assert count <= 320 // 8, (name, count)  # expected 10, a key at 40 would be 1,250/s
    assert writes["Events"] == writes["Deliveries"] == 320
    assert not [where for where in writes if "/" in where], writes  # no index written
    shards_used = {name for name in meter.heat if name.startswith("Deliveries ")}
    assert len(shards_used) > 16


def test_lists_merge_their_shards_in_order_page_by_page(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    """A type filter runs on the table's own Queries (no index): a rare type (every ninth
    event) still lists whole, in order, page by page."""
    webhook_id = hook(api, alice, receiver.url("/merge"))
    types = ["user.deleted" if n % 9 == 4 else "user.created" for n in range(45)]
    batch = {"events": [{"type": name, "data": {"n": n}} for n, name in enumerate(types)]}
    published = ok(api.request("POST", "/v1/events/batch", alice, batch), 202)["data"]
    drain()
    events = sorted((p["event_id"] for p in published), reverse=True)
    rare = [p["event_id"] for p, t in zip(published, types, strict=True) if t == "user.deleted"]
    rare.sort(reverse=True)
    created = sorted(set(events) - set(rare), reverse=True)
    deliveries = sorted((p["deliveries"][0]["delivery_id"] for p in published), reverse=True)
    assert len(rare) == 5
    for path, expected in (
        ("/v1/events?limit=7", events),
        ("/v1/events?type=user.created&limit=7", created),
        ("/v1/events?type=user.deleted&limit=2", rare),
        ("/v1/events?direction=outbound&type=user.deleted&limit=7", rare),
        ("/v1/events?direction=outbound&limit=7", events),
        (f"/v1/webhooks/{webhook_id}/deliveries?limit=7", deliveries),
        (f"/v1/webhooks/{webhook_id}/deliveries?status=succeeded&limit=7", deliveries),
    ):
        seen, cursor = [], ""
        while True:
            page = ok(api.request("GET", f"{path}&cursor={cursor}", alice))
            assert len(page["data"]) <= 7
            seen += [item["id"] for item in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == expected, path


@pytest.mark.parametrize("rare_at", ["every ninth", "oldest"])
def test_a_filtered_list_stops_at_its_read_budget_and_its_cursor_skips_nothing(
    api: InProcessApi,
    alice: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    rare_at: str,
) -> None:
    """A filter that matches rarely must not read on past the API's time limit: past its read
    budget a page comes back short (even empty) with a cursor, and following the cursors still
    lists every match once, newest first. With the only matches the oldest events, every shard
    stops before finding one: the first page is empty and must still carry a cursor.

    AWS: a Query reads at most 1 MB per call and applies a FilterExpression after reading, so a
    page of a rare match may need many calls; API Gateway ends an integration after 29 s.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.FilterExpression.html
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
    """
    hook(api, alice, receiver.url("/budget"))
    if rare_at == "oldest":
        types = ["user.deleted"] * 5 + ["user.created"] * 195
    else:
        types = ["user.deleted" if n % 9 == 4 else "user.created" for n in range(200)]
    published = []
    for start in (0, 100):
        chunk = [{"type": t, "data": {"n": start + n}} for n, t in enumerate(types[start:][:100])]
        reply = api.request("POST", "/v1/events/batch", alice, {"events": chunk})
        published += ok(reply, 202)["data"]
    rare = [p["event_id"] for p, t in zip(published, types, strict=True) if t == "user.deleted"]
    rare.sort(reverse=True)
    monkeypatch.setattr(dynamo, "SELECTIVE_SHARD_READ", 1)
    monkeypatch.setattr(dynamo, "SELECTIVE_READ_BUDGET", 8)
    seen: list[str] = []
    sizes: list[int] = []
    cursor = ""
    while True:
        path = f"/v1/events?type=user.deleted&limit=5&cursor={cursor}"
        page = ok(api.request("GET", path, alice))
        seen += [event["id"] for event in page["data"]]
        sizes.append(len(page["data"]))
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == rare
    assert min(sizes[:-1]) < 5, sizes  # the budget cut a page short
    if rare_at == "oldest":
        assert sizes[0] == 0, sizes  # nothing found yet, and still a cursor


def test_a_filtered_page_that_found_nothing_before_its_budget_still_has_a_cursor(
    api: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two shards of eleven events, the one match the oldest of each: every shard stops at the
    budget with nothing found, so the page is empty, and its cursor must lead on to both."""
    table = settings().events_table
    rows = [(shard, n, "user.created") for shard in "01" for n in range(1, 11)]
    rows += [(shard, 0, "user.deleted") for shard in "01"]
    for shard, n, event_type in rows:
        event_id = f"evt_01{n:02d}{'A' * 21}{shard}"
        item = {
            "pk": events_table.partition("carol", "outbound", shard),
            "event_id": event_id,
            "user_id": "carol",
            "direction": "outbound",
            "type": event_type,
            "expires_at": dynamo.expiry(),
        }
        client("dynamodb").put_item(TableName=table, Item=dynamo.to_item(item))
    monkeypatch.setattr(dynamo, "SELECTIVE_SHARD_READ", 1)
    monkeypatch.setattr(dynamo, "SELECTIVE_READ_BUDGET", 1)
    pages, cursor = [], None
    for _ in range(10):
        found, cursor = events_table.list_page(
            "carol",
            direction="outbound",
            event_type="user.deleted",
            source_id=None,
            limit=5,
            cursor=cursor,
        )
        pages.append([event["event_id"] for event in found])
        if not cursor:
            break
    assert pages[0] == [], pages
    listed = [event_id for page in pages for event_id in page]
    assert listed == [f"evt_0100{'A' * 21}1", f"evt_0100{'A' * 21}0"]  # once each, newest first


# --- A webhook's deliveries and an event's deliveries without indexes -----------------------


def test_delivery_ids_carry_their_webhooks_tag_and_keep_the_public_shape() -> None:
    made = deliveries_table.new_id("wh_01ABC")
    assert len(made) == len("dlv_") + 26 and made.startswith("dlv_")
    shard = made[-1]
    expected = f"alice#{deliveries_table.tag('wh_01ABC')}{shard}"
    assert deliveries_table.partition("alice", made) == expected


def add_twin(webhook_id: str, url: str) -> str:
    """Another webhook of alice's whose id has the same tag (1 in 1,024 pairs do), to `url`."""
    record = webhooks_table.get("alice", webhook_id)
    assert record is not None
    twin = next(
        f"wh_{number:026d}"
        for number in range(100000)
        if deliveries_table.tag(f"wh_{number:026d}") == deliveries_table.tag(webhook_id)
    )
    webhooks_table.put({**record, "webhook_id": twin, "url": url})
    return twin


def test_a_webhook_sharing_a_tag_never_shows_another_webhooks_deliveries(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    first = hook(api, alice, receiver.url("/first"))
    twin = add_twin(first, receiver.url("/first"))
    publish(api, alice)
    drain()
    first_list = ok(api.request("GET", f"/v1/webhooks/{first}/deliveries", alice))["data"]
    twin_list = ok(api.request("GET", f"/v1/webhooks/{twin}/deliveries", alice))["data"]
    assert [d["webhook_id"] for d in first_list] == [first]
    assert [d["webhook_id"] for d in twin_list] == [twin]


def test_a_published_delivery_shows_queued_until_its_first_attempt_writes_it(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    """Publish writes the event only; the delivery is found through it (by id, on the event),
    `queued`, until its first attempt creates its record, which then answers instead."""
    url = receiver.url("/first-write")
    webhook_id = hook(api, alice, url)
    answer = publish(api, alice)
    delivery_id = answer["deliveries"][0]["delivery_id"]
    assert deliveries_table.get("alice", delivery_id) is None  # nothing written yet

    shown = ok(api.request("GET", f"/v1/deliveries/{delivery_id}", alice))
    assert shown["status"] == "queued" and shown["attempts"] == 0 and shown["attempt_log"] == []
    assert (shown["webhook_id"], shown["event_id"], shown["url"]) == (
        webhook_id,
        answer["event_id"],
        url,
    )
    event_view = ok(api.request("GET", f"/v1/events/{answer['event_id']}", alice))
    assert [(d["id"], d["status"]) for d in event_view["deliveries"]] == [(delivery_id, "queued")]
    retried = api.request("POST", f"/v1/deliveries/{delivery_id}/retry", alice, {})
    assert retried.status == 409 and retried.json()["error"]["code"] == "delivery_not_failed"
    listed = ok(api.request("GET", f"/v1/webhooks/{webhook_id}/deliveries", alice))["data"]
    assert listed == []  # a webhook's list shows deliveries from their first attempt on

    drain()

    shown = ok(api.request("GET", f"/v1/deliveries/{delivery_id}", alice))
    assert shown["status"] == "succeeded" and [e["attempt"] for e in shown["attempt_log"]] == [1]
    assert shown["created_at"] == event_view["created_at"]
    event_view = ok(api.request("GET", f"/v1/events/{answer['event_id']}", alice))
    assert [(d["id"], d["status"]) for d in event_view["deliveries"]] == [
        (delivery_id, "succeeded")
    ]
    listed = ok(api.request("GET", f"/v1/webhooks/{webhook_id}/deliveries", alice))["data"]
    assert [d["id"] for d in listed] == [delivery_id]


def test_two_webhooks_with_one_tag_get_two_deliveries(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    """A published delivery's id is derived from its event and its webhook's tag: the second
    webhook of a tag gets an id of its own, written at publish, and both are delivered."""
    first = hook(api, alice, receiver.url("/tag-a"))
    add_twin(first, receiver.url("/tag-b"))
    answer = publish(api, alice)
    ids = [d["delivery_id"] for d in answer["deliveries"]]
    assert len(set(ids)) == 2
    derived = [i for i in ids if deliveries_table.is_for_event(i, answer["event_id"])]
    assert len(derived) == 1
    (own,) = set(ids) - set(derived)
    assert deliveries_table.get("alice", own) is not None  # written at publish
    assert deliveries_table.get("alice", derived[0]) is None  # written by its first attempt
    drain()
    assert len(receiver.received("/tag-a")) == len(receiver.received("/tag-b")) == 1
    view = ok(api.request("GET", f"/v1/events/{answer['event_id']}", alice))
    assert sorted((d["id"], d["status"]) for d in view["deliveries"]) == sorted(
        (i, "succeeded") for i in ids
    )


def test_a_queued_delivery_to_a_deleted_webhook_ends_failed_with_a_record(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    webhook_id = hook(api, alice, receiver.url("/deleted"))
    delivery_id = publish(api, alice)["deliveries"][0]["delivery_id"]
    assert api.request("DELETE", f"/v1/webhooks/{webhook_id}", alice).status == 204
    drain()
    record = deliveries_table.get("alice", delivery_id)
    assert record is not None and record["status"] == "failed"
    assert record["last_error"] == "webhook was deleted or disabled"
    assert record["event_id"] and record["created_at"] and record["expires_at"]
    assert record["url"] == receiver.url("/deleted")  # as published, the webhook being gone
    assert "source_id" not in record  # as a put at publish left it out
    assert receiver.received("/deleted") == []


class _Later:
    """`time` as shared/core/clock.py sees it, `days` ahead."""

    def __init__(self, days: int) -> None:
        self.offset = days * DAY

    def time(self) -> float:
        return time.time() + self.offset


def test_a_swept_delivery_of_a_replayed_event_is_gone_not_queued_again(
    api: InProcessApi, alice: str, receiver: Receiver, setting: Any, monkeypatch: Any
) -> None:
    """A replay keeps its event as long as its new deliveries, longer than those published with
    it: once their records expire and are swept, the event still names them, but they are gone
    (404), not `queued` again."""
    from infra.local.moto_fixes import expire_ttl_items

    setting("WEBHOOKS_RETENTION_DAYS", "7")
    hook(api, alice, receiver.url("/swept-replay"))
    answer = publish(api, alice)
    drain()
    delivery_id = answer["deliveries"][0]["delivery_id"]
    monkeypatch.setattr(clock, "time", _Later(6))
    replayed = ok(api.request("POST", f"/v1/events/{answer['event_id']}/replay", alice, {}), 202)
    monkeypatch.setattr(clock, "time", _Later(8))
    assert expire_ttl_items(now=time.time() + 8 * DAY) >= 1  # the published delivery's record

    reply = api.request("GET", f"/v1/deliveries/{delivery_id}", alice)
    assert reply.status == 404 and reply.json()["error"]["code"] == "not_found", reply.body
    view = ok(api.request("GET", f"/v1/events/{answer['event_id']}", alice))
    assert [d["id"] for d in view["deliveries"]] == [replayed["deliveries"][0]["delivery_id"]]


def test_an_event_lists_its_deliveries_and_those_of_its_replays(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    hook(api, alice, receiver.url("/listed"))
    answer = publish(api, alice)
    event_id = answer["event_id"]
    replayed = ok(api.request("POST", f"/v1/events/{event_id}/replay", alice, {}), 202)
    view = ok(api.request("GET", f"/v1/events/{event_id}", alice))
    expected = [d["delivery_id"] for d in answer["deliveries"] + replayed["deliveries"]]
    assert [d["id"] for d in view["deliveries"]] == expected


# --- Retention ------------------------------------------------------------------------------


def test_events_and_deliveries_expire_after_the_retention_setting(
    api: InProcessApi, alice: str, receiver: Receiver, setting: Any
) -> None:
    setting("WEBHOOKS_RETENTION_DAYS", "7")
    hook(api, alice, receiver.url("/ttl"))
    before = int(time.time())
    answer = publish(api, alice)
    drain()
    event = events_table.get("alice", answer["event_id"])
    delivery = deliveries_table.get("alice", answer["deliveries"][0]["delivery_id"])
    assert event is not None and delivery is not None
    for record in (event, delivery):
        assert before + 7 * DAY <= record["expires_at"] <= int(time.time()) + 7 * DAY
    assert res.EVENTS.ttl_attribute == res.DELIVERIES.ttl_attribute == "expires_at"


def test_each_direction_lists_from_its_own_partitions_without_an_index(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    """The direction is in the table's key (no by_direction index to write on every event):
    a direction lists only its own events, no direction lists both newest first, and a get by
    id alone finds either (it asks for both keys)."""
    sources.clear_cache()
    hook(api, alice, receiver.url("/both-directions"))
    source = create_source(api, alice, "stripe")
    outbound_first = publish(api, alice)["event_id"]
    body = stripe_body("evt_direction_in")
    inbound = ok(post_inbound(api, source["id"], body, sign("stripe", body)))["event_id"]
    process(drain_inbound())
    outbound_last = publish(api, alice)["event_id"]

    def listed(query: str) -> list[str]:
        return [e["id"] for e in ok(api.request("GET", f"/v1/events{query}", alice))["data"]]

    assert listed("") == [outbound_last, inbound, outbound_first]
    assert listed("?direction=outbound") == [outbound_last, outbound_first]
    assert listed("?direction=inbound") == [inbound]
    for event_id, direction in ((inbound, "inbound"), (outbound_first, "outbound")):
        assert ok(api.request("GET", f"/v1/events/{event_id}", alice))["direction"] == direction
    assert res.EVENTS.indexes == ()


def test_an_inbound_event_expires_and_lists_by_source_across_shards(
    api: InProcessApi, alice: str
) -> None:
    sources.clear_cache()
    source = create_source(api, alice, "stripe")
    received = []
    for number in range(3):
        body = stripe_body(f"evt_ttl_{number}")
        reply = post_inbound(api, source["id"], body, sign("stripe", body))
        received.append(ok(reply)["event_id"])
    process(drain_inbound())  # the record is written when processing ends
    record = events_table.get("alice", received[0])
    assert record is not None
    assert record["expires_at"] >= int(time.time()) + 30 * DAY - 5
    seen, cursor = [], ""
    while True:
        path = f"/v1/events?source_id={source['id']}&limit=1&cursor={cursor}"
        page = ok(api.request("GET", path, alice))
        seen += [event["id"] for event in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(received, reverse=True)


@pytest.mark.parametrize("text", ["0", "3651", "-1", "30.5", "thirty", ""])
def test_a_bad_retention_setting_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="WEBHOOKS_RETENTION_DAYS"):
        retention_days(text)


def test_an_expired_event_is_404_with_the_reason_for_get_and_replay(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    hook(api, alice, receiver.url("/expired-event"))
    event_id = publish(api, alice)["event_id"]
    expire(res.EVENTS, events_table.key("alice", event_id, "outbound"))
    for method, path in (
        ("GET", f"/v1/events/{event_id}"),
        ("POST", f"/v1/events/{event_id}/replay"),
    ):
        reply = api.request(method, path, alice, {} if method == "POST" else None)
        assert reply.status == 404, reply.body
        error = reply.json()["error"]
        assert error["code"] == "event_expired"
        assert "expired" in error["message"] and "30 days" in error["message"]


def test_an_expired_delivery_is_404_with_the_reason_for_get_and_retry(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    hook(api, alice, receiver.url("/expired-delivery"))
    delivery_id = publish(api, alice)["deliveries"][0]["delivery_id"]
    client("dynamodb").update_item(
        TableName=settings().deliveries_table,
        Key=dynamo.to_item(deliveries_table.key("alice", delivery_id)),
        UpdateExpression="SET #s = :f",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":f": {"S": "failed"}},
    )
    expire(res.DELIVERIES, deliveries_table.key("alice", delivery_id))
    for method, path in (
        ("GET", f"/v1/deliveries/{delivery_id}"),
        ("POST", f"/v1/deliveries/{delivery_id}/retry"),
    ):
        reply = api.request(method, path, alice, {} if method == "POST" else None)
        assert reply.status == 404, reply.body
        assert reply.json()["error"]["code"] == "delivery_expired"
    assert receive_all(settings().delivery_queue_url)  # the publish's message, not a retry's
    unknown = api.request("GET", "/v1/deliveries/dlv_01ZZZZZZZZZZZZZZZZZZZZZZZZ", alice)
    assert unknown.status == 404 and unknown.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("query", ["", "?direction=outbound", "?type=user.created"])
def test_lists_skip_expired_events(
    api: InProcessApi, alice: str, receiver: Receiver, query: str
) -> None:
    hook(api, alice, receiver.url("/expired-list"))
    kept, gone = publish(api, alice), publish(api, alice)
    expire(res.EVENTS, events_table.key("alice", gone["event_id"], "outbound"))
    listed = ok(api.request("GET", f"/v1/events{query}", alice))["data"]
    assert [e["id"] for e in listed] == [kept["event_id"]]


def test_lists_skip_expired_deliveries(api: InProcessApi, alice: str, receiver: Receiver) -> None:
    webhook_id = hook(api, alice, receiver.url("/expired-deliveries"))
    kept, gone = publish(api, alice), publish(api, alice)
    drain()
    gone_id = gone["deliveries"][0]["delivery_id"]
    expire(res.DELIVERIES, deliveries_table.key("alice", gone_id))
    listed = ok(api.request("GET", f"/v1/webhooks/{webhook_id}/deliveries", alice))["data"]
    assert [d["id"] for d in listed] == [kept["deliveries"][0]["delivery_id"]]
    event_view = ok(api.request("GET", f"/v1/events/{gone['event_id']}", alice))
    assert event_view["deliveries"] == []


def test_local_modes_sweep_deletes_expired_events_and_deliveries(
    api: InProcessApi, alice: str, receiver: Receiver
) -> None:
    """Both tables are provisioned with their TTL attribute, so the emulator's sweep (as
    DynamoDB's) deletes them; after it, the event is simply not found."""
    from infra.local.moto_fixes import expire_ttl_items

    webhook_id = hook(api, alice, receiver.url("/swept"))
    answer = publish(api, alice)
    drain()
    assert expire_ttl_items(now=time.time() + 31 * DAY) >= 2
    assert events_table.get("alice", answer["event_id"]) is None
    assert deliveries_table.get("alice", answer["deliveries"][0]["delivery_id"]) is None
    reply = api.request("GET", f"/v1/events/{answer['event_id']}", alice)
    assert reply.status == 404 and reply.json()["error"]["code"] == "not_found"
    listed = ok(api.request("GET", f"/v1/webhooks/{webhook_id}/deliveries", alice))["data"]
    assert listed == []

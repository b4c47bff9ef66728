"""The cost model's DynamoDB write units: the table's and each global secondary index's.

DynamoDB bills a write to every index an item enters, changes in or leaves, by the size of the
projected item; an index key change is a delete plus a put; an item without the index's key
attributes is not in that (sparse) index; moto reports none of this, so the bench counts it
(scripts/indexwrites.py) and these tests pin the arithmetic to AWS's rules:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations
"""

from __future__ import annotations

from typing import Any

from scripts.indexwrites import Write, item_writes, projected
from shared.core.resources import Index, Table

BY_STATUS = Index("by_status", "user_status", "item_id")
TABLE = Table("Things", "THINGS_TABLE", "user_id", "item_id", indexes=(BY_STATUS,))
KEY = {"user_id": {"S": "u1"}, "item_id": {"S": "i1"}}


def item(**extra: str) -> dict[str, Any]:
    return {**KEY, **{name: {"S": value} for name, value in extra.items()}}


def with_projection(projection: str, included: tuple[str, ...] = ()) -> Table:
    index = Index("by_status", "user_status", "item_id", projection, included)
    return Table("Things", "THINGS_TABLE", "user_id", "item_id", indexes=(index,))


def units(writes: list[Write], index: str) -> list[tuple[str, int]]:
    return [(write.kind, write.units) for write in writes if write.index == index]


def test_a_put_with_the_index_key_writes_the_table_and_the_index() -> None:
    """GSI.html#GSI.ThroughputConsiderations: a new item that defines the indexed attribute
    costs one more write, in the index."""
    writes = item_writes(TABLE, KEY, None, item(user_status="u1#queued", body="x"))

    assert units(writes, "") == [("table", 1)]
    assert units(writes, "by_status") == [("put", 1)]
    assert {write.partition for write in writes} == {"u1", "u1#queued"}


def test_a_put_without_the_index_key_leaves_a_sparse_index_alone() -> None:
    """GSI.html#GSI.ThroughputConsiderations: an item not in the index before or after the write
    costs the index nothing."""
    writes = item_writes(TABLE, KEY, None, item(body="x"))

    assert units(writes, "by_status") == []
    assert sum(write.units for write in writes) == 1


def test_index_writes_are_sized_by_the_projected_item_keys_only_versus_all() -> None:
    """1 WRU per started KB of the projected item, per index (GSI.html#GSI.ThroughputConsiderations:
    larger index entries need more write units): a 2.5 KB item costs 3 in an ALL index, 1 in a
    KEYS_ONLY one."""
    big = item(user_status="u1#queued", body="x" * 2500)

    all_writes = item_writes(with_projection("ALL"), KEY, None, big)
    keys_writes = item_writes(with_projection("KEYS_ONLY"), KEY, None, big)

    assert units(all_writes, "by_status") == [("put", 3)]
    assert units(keys_writes, "by_status") == [("put", 1)]
    assert units(keys_writes, "") == [("table", 3)]


def test_an_update_of_an_attribute_outside_the_projection_costs_the_index_nothing() -> None:
    """GSI.html#GSI.ThroughputConsiderations: only a change to projected attributes (or keys) is
    written to the index."""
    old = item(user_status="u1#queued", body="x", attempts="1")
    new = item(user_status="u1#queued", body="x", attempts="2")

    assert units(item_writes(with_projection("ALL"), KEY, old, new), "by_status") == [("update", 1)]
    assert units(item_writes(with_projection("KEYS_ONLY"), KEY, old, new), "by_status") == []
    include_body = with_projection("INCLUDE", ("body",))
    assert units(item_writes(include_body, KEY, old, new), "by_status") == []
    include_attempts = with_projection("INCLUDE", ("attempts",))
    assert units(item_writes(include_attempts, KEY, old, new), "by_status") == [("update", 1)]


def test_an_update_that_changes_the_index_key_is_a_delete_and_a_put() -> None:
    """GSI.html#GSI.ThroughputConsiderations: changing an indexed key attribute from A to B takes
    two writes, one deleting the old index item and one putting the new."""
    old = item(user_status="u1#queued")
    new = item(user_status="u1#delivered")

    writes = item_writes(with_projection("KEYS_ONLY"), KEY, old, new)

    assert units(writes, "by_status") == [("delete", 1), ("put", 1)]
    assert [w.partition for w in writes if w.index] == ["u1#queued", "u1#delivered"]


def test_removing_the_index_key_or_deleting_the_item_deletes_it_from_the_index() -> None:
    """GSI.html#GSI.ThroughputConsiderations: a write that removes the indexed attribute costs one
    write, to delete the index item."""
    old = item(user_status="u1#queued", body="x")

    assert units(item_writes(TABLE, KEY, old, item(body="x")), "by_status") == [("delete", 1)]
    assert units(item_writes(TABLE, KEY, old, None), "by_status") == [("delete", 1)]


def test_a_transaction_doubles_the_table_writes_and_propagates_to_indexes_once() -> None:
    """Inside TransactWriteItems DynamoDB writes each item twice (prepare, commit); the change
    reaches the indexes after the transaction completed, once
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html)."""
    writes = item_writes(TABLE, KEY, None, item(user_status="u1#queued"), transactional=True)

    assert units(writes, "") == [("table", 2)]
    assert units(writes, "by_status") == [("put", 1)]


def test_a_failed_condition_writes_the_table_units_only() -> None:
    """A write whose condition failed leaves the item as it was (`new` is `old`): the table's
    units, no index write."""
    old = item(user_status="u1#queued")

    writes = item_writes(TABLE, KEY, old, old)

    assert [(w.index, w.kind) for w in writes] == [("", "table")]


def test_the_projection_holds_the_table_and_index_keys_and_the_included_attributes() -> None:
    included = with_projection("INCLUDE", ("attempts",))
    index = included.indexes[0]
    full = item(user_status="u1#queued", attempts="2", body="x")

    assert projected(included, index, full) == {
        **KEY,
        "user_status": {"S": "u1#queued"},
        "attempts": {"S": "2"},
    }
    assert projected(included, index, item(body="x")) is None

"""DynamoDB write units of one item write, table and global secondary indexes, as AWS bills them.

The tables and their indexes come from shared/core/resources.py (`Table.indexes`, each with its
`projection` and `non_key_attributes`), so the count follows every change made there.

Rules (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations,
and the write-unit rules of the DynamoDB developer guide):
- the table: 1 WRU per started KB of the larger of the item before and after the write;
- an index holds an item only if the item has every key attribute of the index (sparse index);
  its copy there is the projected item: the table's keys, the index's keys and, with `ALL`,
  every attribute or, with `INCLUDE`, the listed ones;
- the item enters an index (put, 1 write), leaves it (delete, 1 write), changes its index key
  (delete + put, 2 writes), or stays with a changed projection (1 write); a write that leaves the
  projection as it was costs that index nothing;
- each index write is 1 WRU per started KB of the projected item (the larger of before and after
  for an in-place update);
- inside TransactWriteItems the table's units count twice (DynamoDB prepares and commits each
  item: two underlying writes); the index writes once, as elsewhere: they are propagated after
  the transaction completed (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html,
  "changes propagate to global secondary indexes"), not part of its two phases. This matches the
  figures measured in issue 14 (inbound: 8 table + 12 index WRU); TRANSACTION_INDEX_FACTOR is the
  one place to change should AWS's bill say otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scripts import prices
from scripts.itemsize import item_size
from shared.core.resources import Index, Table

Item = dict[str, Any]
TRANSACTION_TABLE_FACTOR = 2
TRANSACTION_INDEX_FACTOR = 1


@dataclass(frozen=True)
class Write:
    """Write units that landed on one partition key value of a table (`index` "") or an index."""

    table: str  # the table's logical id
    index: str
    kind: str  # "table", "put", "update", "delete"
    partition: str  # the partition key value written (its typed value as text)
    units: int


def write_units(size: int) -> int:
    """1 WRU per started KB, at least 1."""
    return max(1, math.ceil(size / prices.DYNAMODB_WRITE_UNIT_BYTES))


def table_keys(table: Table) -> tuple[str, ...]:
    return tuple(name for name in (table.partition_key, table.sort_key) if name)


def index_keys(index: Index) -> tuple[str, ...]:
    return tuple(name for name in (index.partition_key, index.sort_key) if name)


def projected(table: Table, index: Index, item: Item | None) -> Item | None:
    """The item's copy in `index`, or None when the item is not in it (a key attribute missing)."""
    if not item or any(name not in item for name in index_keys(index)):
        return None
    if index.projection == "ALL":
        return dict(item)
    kept = {*table_keys(table), *index_keys(index)}
    if index.projection == "INCLUDE":
        kept.update(index.non_key_attributes)
    return {name: value for name, value in item.items() if name in kept}


def _partition(item: Item, name: str) -> str:
    (_, value), *_ = item[name].items()
    return str(value)


def index_writes(table: Table, index: Index, old: Item | None, new: Item | None) -> list[Write]:
    """The writes a table write makes in one index: none, put, update, delete, or delete + put."""
    before, after = projected(table, index, old), projected(table, index, new)
    key = index.partition_key

    def write(kind: str, item: Item, size: int) -> Write:
        return Write(table.logical_id, index.name, kind, _partition(item, key), write_units(size))

    if before is None and after is None:
        return []
    if before is None:
        assert after is not None
        return [write("put", after, item_size(after))]
    if after is None:
        return [write("delete", before, item_size(before))]
    if any(before[name] != after[name] for name in index_keys(index)):
        return [write("delete", before, item_size(before)), write("put", after, item_size(after))]
    if before == after:
        return []
    return [write("update", after, max(item_size(before), item_size(after)))]


def item_writes(
    table: Table,
    key: Item,
    old: Item | None,
    new: Item | None,
    transactional: bool = False,
) -> list[Write]:
    """Every write unit of one item write: the table's (x2 in a transaction), then each index's.

    `key` is the item's primary key, `old` the item before the write (None if absent), `new`
    after it (None once deleted; equal to `old` for a failed condition or a ConditionCheck)."""
    table_factor = TRANSACTION_TABLE_FACTOR if transactional else 1
    index_factor = TRANSACTION_INDEX_FACTOR if transactional else 1
    partition = _partition(key, table.partition_key) if table.partition_key in key else ""
    units = write_units(max(item_size(old), item_size(new))) * table_factor
    writes = [Write(table.logical_id, "", "table", partition, units)]
    for index in table.indexes:
        writes += [
            Write(w.table, w.index, w.kind, w.partition, w.units * index_factor)
            for w in index_writes(table, index, old, new)
        ]
    return writes

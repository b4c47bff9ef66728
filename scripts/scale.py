"""Partition heat and storage: what the metered runs wrote, key by key and byte by byte.

Heat. DynamoDB serves at most 1,000 write units per second on one partition, and a partition key
whose sort keys grow monotonically (ULIDs) cannot be split, so a key value hotter than that
throttles. From the writes of a metered run of `events` events (scripts/indexwrites.py gives
each write's table or index and partition key value), a key value written `units` WRU in the run
takes `units / events x load` WRU/s at a load of `load` events per second. A key value that only
one event of the run writes (an event id) is rated as if one event in `events` wrote it: an upper
bound, 1/`events` of the load. Sampled: with the load spread over S shard values, each shard
draws `events / S` events give or take `shard_draw`'s deviation, so the hottest of them sits above
the even spread (also given) by chance, the more so the smaller the run.

Storage. Each item the run left behind is stored with 100 bytes of overhead in its table and, as
its projected copy plus 100 bytes, in every index it is in. Kept `days` days at `per_month`
events a month, `per_month x days / (365 / 12)` events' items are stored at any time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from scripts import prices
from scripts.indexwrites import Item, Write, projected
from scripts.itemsize import item_size
from shared.core.ids import CROCKFORD
from shared.core.resources import Table
from shared.store.shards import SHARDS

WRITE_UNITS_PER_PARTITION = 1000


@dataclass(frozen=True)
class Heat:
    """The hottest partition key value of one table or index at a load, beside its shards' mean."""

    table: str
    index: str  # "" for the table itself
    keys: int  # distinct key values the run wrote
    hottest: str
    units_per_second: float
    mean_per_second: float  # over the key values written
    spread_per_second: float  # the hottest value's family spread evenly over its shard values
    shard_values: int  # of that family: `shards` when sharded, else 1 (the value alone)

    @property
    def where(self) -> str:
        return f"{self.table}.{self.index}" if self.index else self.table

    @property
    def within_limit(self) -> bool:
        return self.units_per_second <= WRITE_UNITS_PER_PARTITION


def family(value: str) -> str:
    """A key value without its shard: its last character (shared/store/shards.py)."""
    return value[:-1]


def heat(writes: list[Write], events: int, load: float, shards: int = SHARDS) -> list[Heat]:
    """Per table and index, hottest first: its hottest key value's WRU/s at `load` events/s.

    Beside it, the same WRU/s if the WRU of the hottest value's family (the value without its
    last character) were spread evenly over `shards` values: what a sample shows without the
    chance of its draw. A family is taken as sharded when the run wrote more than one of its
    values and they differ in a shard character (CROCKFORD); else it is the value alone."""
    by_key: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for write in writes:
        by_key[(write.table, write.index)][write.partition] += write.units
    rows = []
    for (table, index), units in by_key.items():
        hottest = max(units, key=lambda value: units[value])
        rate = units[hottest] / events * load
        mean = sum(units.values()) / len(units) / events * load
        kin = [value for value in units if family(value) == family(hottest)]
        sharded = len(kin) > 1 and all(value[-1:] in CROCKFORD for value in kin)
        spread_over = shards if sharded else 1
        spread = sum(units[value] for value in kin) / spread_over / events * load
        rows.append(Heat(table, index, len(units), hottest, rate, mean, spread, spread_over))
    return sorted(rows, key=lambda row: (-row.units_per_second, row.where))


def shard_draw(events: int, shards: int = SHARDS) -> tuple[float, float]:
    """Events a shard draws of `events` spread at random over `shards`: mean and standard
    deviation (binomial), the chance in the hottest of a sample."""
    share = 1 / shards
    return events * share, math.sqrt(events * share * (1 - share))


def stored_bytes(
    tables: dict[str, Table], items: dict[tuple[str, object], Item | None]
) -> dict[str, int]:
    """Bytes each table and index holds for `items` (by table logical id), overhead included."""
    overhead = prices.DYNAMODB_ITEM_OVERHEAD_BYTES
    stored: dict[str, int] = defaultdict(int)
    for (logical_id, _), item in items.items():
        table = tables.get(logical_id)
        if table is None or not item:
            continue
        stored[logical_id] += item_size(item) + overhead
        for index in table.indexes:
            copy = projected(table, index, item)
            if copy is not None:
                stored[f"{logical_id}.{index.name}"] += item_size(copy) + overhead
    return dict(stored)


@dataclass(frozen=True)
class Storage:
    """Dollars per month for `per_month` events a month kept `days` days."""

    days: int
    dynamodb_bytes: float  # stored at any time
    s3_bytes: float

    @property
    def dynamodb_dollars(self) -> float:
        return self.dynamodb_bytes * prices.DYNAMODB_STORAGE.per_unit()

    @property
    def s3_dollars(self) -> float:
        return self.s3_bytes * prices.S3_STORAGE.per_unit()

    @property
    def total(self) -> float:
        return self.dynamodb_dollars + self.s3_dollars


def storage(
    dynamodb_bytes_per_event: float, s3_bytes_per_event: float, per_month: float, days: int
) -> Storage:
    kept = per_month * days / prices.DAYS_PER_MONTH
    return Storage(days, dynamodb_bytes_per_event * kept, s3_bytes_per_event * kept)

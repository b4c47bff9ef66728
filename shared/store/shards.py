"""Write sharding of hot partition keys, and the merged, paginated Query that lists them.

One tenant publishing 10,000 events/s to one webhook would otherwise write 10,000 items/s under
one partition key of the events table (the user), and as many first-attempt records under one of
the deliveries table (the user's webhook tag), more with retries.
DynamoDB caps a partition at 1,000 write units/s and cannot split a key whose sort keys only
grow (ULIDs), so these keys get a shard suffix: the last character of the item's id. ULID
randomness is 16 Crockford characters of 80 random bits, so that character is uniform over
`SHARDS` = 32 values, and a get by id computes its key from the id alone.

Why 32: at 10,000 events/s the busiest key takes 10,000 / 32 = 313 event puts/s, and a delivery
key as many attempt records: under 1,000 with room for retries' writes and items of 2-3 KB. 16
would put a key at 625/s before retries; 64 would double what every list reads for no need.

A list merges its shards: one Query per shard (in parallel), newest first, each resumed below
the last item handed out, so the cursor is one sort key (`{"before": id}`), signed for the list.
AWS calls of a list page: one Query per shard key, 8 at a time (32; 64 for events of both
directions), plus one more Query for a shard that holds more of the page than its first read
(rare: each first reads twice its share). A filtered list (a status, type or source) reads on
until its page fills, at most `budget` items beyond the first reads (`Merge`). Read cost ~16 RRU
unfiltered: each eventually consistent Query bills at least half a unit. Lists are rare next to
writes; the hot paths (publish, delivery) do no list.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.core.aws import client
from shared.core.ids import CROCKFORD
from shared.store import cursors
from shared.store.cursors import Scope

SHARDS = len(CROCKFORD)  # 32
PARALLEL_QUERIES = 8
MAX_READ = 1000  # a shard read again (filtered out, or holding more of the page) reads wider


def shard_of(item_id: str) -> str:
    """The shard of an item: its id's last character (uniform: see the module docstring)."""
    return item_id[-1:]


def all_shards() -> tuple[str, ...]:
    return tuple(CROCKFORD)


def open_position(cursor: str | None, scope: Scope, prefix: str) -> str | None:
    """The sort key a page starts below, from a cursor this list issued (else 422)."""
    if not cursor:
        return None
    position = cursors.open_cursor(cursor, scope)
    before = position.get("before")
    if set(position) != {"before"} or not isinstance(before, str):
        raise cursors.invalid_cursor()
    if not before.startswith(prefix) or len(before) > 64:
        raise cursors.invalid_cursor()
    return before


class Merge:
    """The items of one Query per shard key, merged newest first, read lazily page by page."""

    def __init__(
        self,
        base: dict[str, Any],
        key_name: str,
        keys: list[str],
        sort_name: str,
        before: str | None,
        page_size: int,
        between: tuple[str, str] | None = None,
        budget: int | None = None,
    ) -> None:
        """`before` (exclusive) resumes a list; `between` (inclusive bounds) reads a window of
        sort keys instead, e.g. the ULIDs of a time range (shared/store/deliveries.py).

        `budget`: how many items the reads after each shard's first may scan in all (a filtered
        list whose matches are rare would otherwise read on past the API's 29 s). Once it is
        spent, a shard that needs another read stops, and the merge stops at the newest position
        down to which every shard was read (`boundary`): a page may come back short, even empty,
        with a cursor that resumes there, and no item is skipped."""
        self.sort_name = sort_name
        self.between = between
        self.requests = [self._request(base, key_name, key, before, page_size) for key in keys]
        self.buffers: list[list[dict[str, Any]]] = [[] for _ in keys]
        self.pending: list[bool] = [True for _ in keys]  # more to read from DynamoDB
        self.budget = budget
        self.scanned = 0  # by the reads after each shard's first
        self.boundary: str | None = None  # no item below it may be handed out this time
        self.halted = False  # the stream ended at the boundary, not at the end of the data
        self._lock = threading.Lock()

    def _request(
        self, base: dict[str, Any], key_name: str, key: str, before: str | None, size: int
    ) -> dict[str, Any]:
        names = {**base.get("ExpressionAttributeNames", {}), "#k": key_name}
        values = {**base.get("ExpressionAttributeValues", {}), ":k": {"S": key}}
        condition = "#k = :k"
        if before is not None:
            names["#sort"] = self.sort_name
            values[":before"] = {"S": before}
            condition += " AND #sort < :before"
        elif self.between is not None:
            names["#sort"] = self.sort_name
            values[":low"], values[":high"] = {"S": self.between[0]}, {"S": self.between[1]}
            condition += " AND #sort BETWEEN :low AND :high"
        return {
            **base,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": size,
        }

    def _read(self, shard: int) -> None:
        request = self.requests[shard]
        again = "ExclusiveStartKey" in request
        response = client("dynamodb").query(**request)
        self.buffers[shard].extend(response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        self.pending[shard] = bool(last)
        if last:
            request["ExclusiveStartKey"] = last
            request["Limit"] = min(MAX_READ, request["Limit"] * 2)
        if again:
            with self._lock:
                self.scanned += int(response.get("ScannedCount", 0))

    def _fill(self, shard: int) -> None:
        """Read until the shard has a buffered item or nothing more (filters may empty pages),
        or, the budget spent, stop it where it was read to."""
        while not self.buffers[shard] and self.pending[shard]:
            start = self.requests[shard].get("ExclusiveStartKey")
            if start is not None and self.budget is not None and self.scanned >= self.budget:
                with self._lock:
                    self.boundary = max(self.boundary or "", start[self.sort_name]["S"])
                return
            self._read(shard)

    def items(self) -> Generator[dict[str, Any], None, None]:
        """Every item (DynamoDB's typed form), newest first; first reads run in parallel."""
        with ThreadPoolExecutor(PARALLEL_QUERIES) as pool:
            list(pool.map(self._fill, range(len(self.requests))))
        heap = [self._head(shard) for shard in range(len(self.requests)) if self.buffers[shard]]
        heapq.heapify(heap)
        while heap:
            if self.boundary is not None and heap[0][0].value < self.boundary:
                self.halted = True  # a stopped shard may hold items newer than this one
                return
            _, shard = heapq.heappop(heap)
            yield self.buffers[shard].pop(0)
            self._fill(shard)
            if self.buffers[shard]:
                heapq.heappush(heap, self._head(shard))
        # Every buffer ran dry, some shard stopped by the budget: resume at the boundary (also
        # when nothing was handed out: an empty page that still has a cursor).
        self.halted = self.boundary is not None

    def _head(self, shard: int) -> tuple[Any, int]:
        sort_key = self.buffers[shard][0][self.sort_name]["S"]
        return (_Descending(sort_key), shard)

    def more(self) -> bool:
        return any(self.buffers) or any(self.pending)


class _Descending:
    """Orders a heap of sort keys largest first."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return self.value > other.value


def page(merge: Merge, limit: int, scope: Scope) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` items (DynamoDB's typed form), and the cursor after the last one handed
    out, or at the boundary where the read budget stopped the merge (`Merge`); None when
    nothing is left."""
    stream = merge.items()
    taken = [item for _, item in zip(range(limit), stream, strict=False)]
    if not merge.more():
        return taken, None
    resume = merge.boundary if merge.halted else None
    if resume is None and taken:
        resume = taken[-1][merge.sort_name]["S"]
    return taken, (cursors.seal({"before": resume}, scope) if resume is not None else None)

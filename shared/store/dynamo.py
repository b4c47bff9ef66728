"""Typed-attribute conversion, opaque pagination cursors and TTL-aware conditions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from shared.core import clock
from shared.core.aws import client
from shared.core.config import settings
from shared.core.resources import Table
from shared.store import batch_retry, cursors, shards
from shared.store.cursors import Scope

log = logging.getLogger(__name__)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100
TRANSACT_LIMIT = 100


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set):
        return [_plain(item) for item in value]
    return value


def _storable(value: Any) -> Any:
    """Floats become Decimals; nested nulls are kept (a payload's `null` is data)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def to_item(record: dict[str, Any]) -> dict[str, Any]:
    """Plain dict → DynamoDB attribute map (None values are left out: absent means null)."""
    return {
        key: _serializer.serialize(_storable(value))
        for key, value in record.items()
        if value is not None
    }


def to_value(value: Any) -> dict[str, Any]:
    return _serializer.serialize(_storable(value))  # type: ignore[no-any-return]


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def encode_cursor(last_key: dict[str, Any] | None, scope: Scope) -> str | None:
    """The next page's cursor, signed for this list's scope (see shared/store/cursors.py)."""
    if not last_key:
        return None
    return cursors.seal(from_item(last_key), scope)


def decode_cursor(
    cursor: str | None, scope: Scope, expected: dict[str, str], attributes: list[str]
) -> dict[str, Any] | None:
    """The ExclusiveStartKey in a cursor this list issued for this scope.

    Beyond the signature, the key must name exactly this Query's key attributes as strings and
    its partition, so even a cursor signed with a leaked key never reaches DynamoDB malformed.
    """
    if not cursor:
        return None
    key = cursors.open_cursor(cursor, scope)
    if sorted(key) != sorted(attributes) or not all(isinstance(v, str) for v in key.values()):
        raise cursors.invalid_cursor()
    if any(key.get(name) != value for name, value in expected.items()):
        raise cursors.invalid_cursor()
    return to_item(key)


def key_attributes(table: Table, index: str | None = None) -> list[str]:
    """The attributes that make a pagination key for the table or one of its indexes."""
    names = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
    for declared in table.indexes:
        if declared.name == index:
            names += [declared.partition_key] + ([declared.sort_key] if declared.sort_key else [])
    return list(dict.fromkeys(names))


FILTERED_PAGE_READ = 1000
SELECTIVE_SHARD_READ = 200
# Items a filtered list page may scan past its shards' first reads (~10 MB of 1 KB items, about
# 1,250 eventually consistent RRU, a second or two of parallel Queries): then it answers what it
# found with a cursor to go on from (shared/store/shards.py `Merge`), well inside the API's 29 s.
SELECTIVE_READ_BUDGET = 10_000


def expiry(now: float | None = None) -> int:
    """The TTL value (epoch seconds) of an event or delivery written now: DynamoDB deletes it
    after WEBHOOKS_RETENTION_DAYS (README: Retention)."""
    moment = clock.now() if now is None else now
    return int(moment) + settings().retention_days * 86400


def expired(record: dict[str, Any], now: float | None = None) -> bool:
    """Past its TTL: gone, whether or not DynamoDB's sweeper has deleted it yet (it deletes within
    about two days, and until then the item still shows in reads, queries and scans:
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html)."""
    expires_at = record.get("expires_at")
    moment = clock.now() if now is None else now
    return isinstance(expires_at, int | float) and expires_at < moment


def _unexpired_clause(table: Table, names: dict[str, str], values: dict[str, Any]) -> str | None:
    """The filter that hides items past their TTL not yet swept (tables with a TTL only)."""
    if not table.ttl_attribute:
        return None
    names["#ttl"] = table.ttl_attribute
    values[":now"] = to_value(int(clock.now()))
    return "(attribute_not_exists(#ttl) OR #ttl >= :now)"


def _filter_expression(
    table: Table, filters: dict[str, Any] | None, names: dict[str, str], values: dict[str, Any]
) -> str | None:
    """The FilterExpression of `filters` (equalities; a tuple: any of its values) and the TTL,
    adding its attribute names and values to `names` and `values`."""
    clauses = []
    for position, (name, value) in enumerate((filters or {}).items()):
        names[f"#f{position}"] = name
        if isinstance(value, tuple):
            options = [f":f{position}_{n}" for n in range(len(value))]
            values.update({option: to_value(v) for option, v in zip(options, value, strict=True)})
            clauses.append(f"#f{position} IN ({', '.join(options)})")
            continue
        values[f":f{position}"] = to_value(value)
        clauses.append(f"#f{position} = :f{position}")
    unexpired = _unexpired_clause(table, names, values)
    if unexpired:
        clauses.append(unexpired)
    return " AND ".join(clauses) or None


def query_page(
    *,
    table: Table,
    table_name: str,
    key_name: str,
    key_value: str,
    limit: int,
    cursor: str | None,
    index: str | None = None,
    newest_first: bool = True,
    scope: Scope,
    filters: dict[str, Any] | None = None,
    sort_prefix: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a key Query (never a Scan); filters are equalities on other attributes.

    `scope` names the list, its acting user and its filters: the cursor is signed for it.

    With filters DynamoDB may return short pages; we read on until the page is full or the
    partition ends, and the cursor then points just after the last item handed out.
    """
    names = {"#k": key_name}
    values: dict[str, Any] = {":k": to_value(key_value)}
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeyConditionExpression": "#k = :k",
        "ScanIndexForward": not newest_first,
    }
    if index:
        kwargs["IndexName"] = index
    if sort_prefix is not None:  # only items whose (table) sort key starts with it
        names["#sk"] = str(table.sort_key)
        values[":sk"] = to_value(sort_prefix)
        kwargs["KeyConditionExpression"] += " AND begins_with(#sk, :sk)"
    expression = _filter_expression(table, filters, names, values)
    if expression:
        kwargs["FilterExpression"] = expression
    kwargs["ExpressionAttributeNames"] = names
    kwargs["ExpressionAttributeValues"] = values
    items: list[dict[str, Any]] = []
    attributes = key_attributes(table, index)
    next_key = decode_cursor(cursor, scope, {key_name: key_value}, attributes)
    while len(items) < limit:
        # A filtered page may skip most of what it reads; read wide so it takes few round trips
        # (DynamoDB charges by data read, not by request, and caps each page at 1 MB).
        kwargs["Limit"] = FILTERED_PAGE_READ if filters else limit - len(items)
        if next_key:
            kwargs["ExclusiveStartKey"] = next_key
        response = client("dynamodb").query(**kwargs)
        page = response.get("Items", [])
        next_key = response.get("LastEvaluatedKey")
        room = limit - len(items)
        if len(page) > room:
            items.extend(page[:room])
            last = page[room - 1]
            next_key = {name: last[name] for name in attributes if name in last}
            break
        items.extend(page)
        if not next_key:
            break
    return [from_item(item) for item in items], encode_cursor(next_key, scope)


def sharded_page(
    *,
    table: Table,
    table_name: str,
    key_name: str,
    key_values: list[str],
    sort_name: str,
    sort_prefix: str,
    limit: int,
    cursor: str | None,
    scope: Scope,
    filters: dict[str, Any] | None = None,
    selective: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page, newest first, of the shards `key_values` of a table (shared/store/shards.py),
    expired items left out and `filters` (equalities) applied by DynamoDB.

    `selective`: the filters may skip most of what is read (a status, type or source filter), so
    each shard's first read is wide (`SELECTIVE_SHARD_READ` items): DynamoDB bills by data read,
    not by request, so this costs no more and saves the round trips of doubling reads. Its reads
    beyond those stop after `SELECTIVE_READ_BUDGET` items: a page of a rare match may come back
    short (even empty) with a cursor to go on from.
    """
    before = shards.open_position(cursor, scope, sort_prefix)
    base: dict[str, Any] = {"TableName": table_name}
    _server_filter(base, table, filters)
    # A page's items are spread evenly over the shards: each first reads twice its share.
    size = max(2, -(-2 * limit // len(key_values)))
    budget = None
    if selective:
        size = max(size, SELECTIVE_SHARD_READ)
        budget = SELECTIVE_READ_BUDGET
    merge = shards.Merge(base, key_name, key_values, sort_name, before, size, budget=budget)
    items, next_cursor = shards.page(merge, limit, scope)
    return [from_item(item) for item in items], next_cursor


def sharded_window(
    *,
    table: Table,
    table_name: str,
    key_name: str,
    key_values: list[str],
    sort_name: str,
    between: tuple[str, str],
    limit: int,
    filters: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` items, newest first, of the shards `key_values` whose sort key lies in
    `between` (inclusive), expired items left out and `filters` applied in DynamoDB (a value, or
    a tuple of values any of which matches).

    AWS calls: one Query per shard (32, 8 at a time), each first reading twice its share of
    `limit`, plus one more per shard that holds more than that (each read doubles, up to 1,000
    items or 1 MB). Every item in the window is billed as read, filtered out or not.
    """
    base: dict[str, Any] = {"TableName": table_name}
    _server_filter(base, table, filters)
    size = min(shards.MAX_READ, max(2, -(-2 * limit // len(key_values))))
    merge = shards.Merge(base, key_name, key_values, sort_name, None, size, between=between)
    stream = merge.items()
    try:
        return [from_item(item) for _, item in zip(range(limit), stream, strict=False)]
    finally:
        stream.close()


def _server_filter(request: dict[str, Any], table: Table, filters: dict[str, Any] | None) -> None:
    """A FilterExpression of the equalities (a tuple: any of its values) and the TTL, added to a
    Query `request`."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    expression = _filter_expression(table, filters, names, values)
    if expression:
        request["FilterExpression"] = expression
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values


def query_all(**kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Query, following LastEvaluatedKey."""
    while True:
        response = client("dynamodb").query(**kwargs)
        for item in response.get("Items", []):
            yield from_item(item)
        if not response.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def batch_put(records: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """BatchWriteItem of (table, record) pairs, 25 a call across tables, unprocessed re-sent."""
    _batch_write([(table, {"PutRequest": {"Item": to_item(r)}}) for table, r in records])


def batch_delete(keys: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """BatchWriteItem deletes of (table, key) pairs; deleting an absent item is no error."""
    _batch_write([(table, {"DeleteRequest": {"Key": to_item(key)}}) for table, key in keys])


def _batch_write(pending: list[tuple[str, dict[str, Any]]]) -> None:
    """Every write done, `UnprocessedItems` re-sent with backoff (shared/store/batch_retry.py)."""
    batch_retry.complete(_write_once, pending, what="BatchWriteItem")


def _write_once(pending: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """One BatchWriteItem per 25 writes; returns the writes DynamoDB left unprocessed."""
    left: list[tuple[str, dict[str, Any]]] = []
    for chunk in batch_retry.chunks(pending, BATCH_WRITE_LIMIT):
        request: dict[str, list[dict[str, Any]]] = {}
        for table_name, write in chunk:
            request.setdefault(table_name, []).append(write)
        response = client("dynamodb").batch_write_item(RequestItems=request)
        for table_name, writes in (response.get("UnprocessedItems") or {}).items():
            left.extend((table_name, write) for write in writes)
    return left


def transact_put(puts: list[tuple[str, dict[str, Any], str | None, dict[str, Any] | None]]) -> None:
    """One TransactWriteItems of puts: (table, record, condition, condition values)."""
    items = []
    for table_name, record, condition, values in puts:
        put: dict[str, Any] = {"TableName": table_name, "Item": to_item(record)}
        if condition:
            put["ConditionExpression"] = condition
            put["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            if values:
                put["ExpressionAttributeValues"] = {k: to_value(v) for k, v in values.items()}
        items.append({"Put": put})
    client("dynamodb").transact_write_items(TransactItems=items)


def batch_get(
    keys: dict[str, list[dict[str, Any]]], *, consistent: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """BatchGetItem across tables, `UnprocessedKeys` asked again with backoff
    (shared/store/batch_retry.py); 100 keys a call. Strongly consistent (2x the read cost) unless
    `consistent=False`: lists and views, which may lag a write by a second, read eventually."""
    unique = {
        (t, key_of(key, key)): (t, key) for t, table_keys in keys.items() for key in table_keys
    }
    pending = [(table, to_item(key)) for table, key in unique.values()]  # DynamoDB refuses repeats
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in keys}

    def get_once(asked: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
        left: list[tuple[str, dict[str, Any]]] = []
        for chunk in batch_retry.chunks(asked, BATCH_GET_LIMIT):
            request: dict[str, dict[str, Any]] = {}
            for table, key in chunk:
                asking = request.setdefault(table, {"Keys": [], "ConsistentRead": consistent})
                asking["Keys"].append(key)
            response = client("dynamodb").batch_get_item(RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                found[table].extend(from_item(item) for item in items)
            for table, unprocessed in (response.get("UnprocessedKeys") or {}).items():
                left.extend((table, key) for key in unprocessed.get("Keys", []))
        return left

    batch_retry.complete(get_once, pending, what="BatchGetItem")
    return found


def batch_get_eventually(
    keys: dict[str, list[dict[str, Any]]], *, optional: Iterable[tuple[str, dict[str, Any]]] = ()
) -> dict[str, list[dict[str, Any]]]:
    """`batch_get` eventually consistent (half the read units), then the keys it missed once
    more, strongly (all but the (table, key) pairs in `optional`, which may well not exist yet):
    an eventual read may miss an item written moments before, which must not be taken for one
    that is gone. AWS calls: 1 BatchGetItem (per 100 keys); 2 when an item was missed."""
    found = batch_get(keys, consistent=False)
    skip = {(table, key_of(key, key)) for table, key in optional}
    missed: dict[str, list[dict[str, Any]]] = {}
    for table, asked in keys.items():
        seen = {key_of(item, asked[0]) for item in found[table]} if asked else set()
        for key in asked:
            if key_of(key, key) not in seen and (table, key_of(key, key)) not in skip:
                missed.setdefault(table, []).append(key)
    for table, items in batch_get(missed).items() if missed else ():
        found[table].extend(items)
    return found


@dataclass(frozen=True)
class Shelf:
    """Items read together for several consumers (a queue batch's messages), by table and key:
    the keys asked (a consumer whose keys were not all asked reads its own) and the items found."""

    asked: frozenset[tuple[str, tuple[Any, ...]]] = frozenset()
    items: dict[tuple[str, tuple[Any, ...]], dict[str, Any]] = field(default_factory=dict)

    def holds(self, keys: dict[str, list[dict[str, Any]]]) -> bool:
        return key_ids(keys) <= self.asked

    def take(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self.items.get((table, key_of(key, key)))


def shelve(
    keys: dict[str, list[dict[str, Any]]],
    *,
    optional: Iterable[tuple[str, dict[str, Any]]] = (),
    strong: bool = False,
) -> Shelf:
    """`batch_get_eventually` of `keys` (`strong`: one strongly consistent `batch_get`, for a
    reader that has just written one of them), each asked once, as a Shelf to take items from."""
    found = batch_get(keys) if strong else batch_get_eventually(keys, optional=optional)
    asked = frozenset(key_ids(keys))
    items = {
        (table, key_of(item, keys[table][0])): item
        for table, table_items in found.items()
        for item in table_items
    }
    return Shelf(asked, items)


# What one consumer reads: its keys by table, and the (table, key) pairs it may not find yet.
Reads = tuple[dict[str, list[dict[str, Any]]], list[tuple[str, dict[str, Any]]]]


def shelve_batch(messages: Iterable[Any], reads_of: Callable[[Any], Reads | None]) -> Shelf:
    """One `shelve` for a whole queue batch, each key once, so messages that share items (a
    webhook, a source) read them once. `reads_of(message)` names a message's reads, or None for
    one that must read by itself; a message it cannot name keys for (malformed) is left out to
    fail on its own run, and a failed read leaves every message to read by itself (an empty
    Shelf). A key one message may miss but another needs is read again strongly when missed.
    AWS calls: 1 BatchGetItem (per 100 keys); 2 when a needed item was missed."""
    wanted: dict[str, list[dict[str, Any]]] = {}
    optional: list[tuple[str, dict[str, Any]]] = []
    needed: set[tuple[str, tuple[Any, ...]]] = set()
    for message in messages:
        try:
            reads = reads_of(message)
            if reads is None:
                continue
            keys, maybe = reads
            skippable = {(table, key_of(key, key)) for table, key in maybe}
            needed |= key_ids(keys) - skippable
        except Exception as error:
            log.info("message left to read alone", extra={"error": type(error).__name__})
            continue
        for table, table_keys in keys.items():
            wanted.setdefault(table, []).extend(table_keys)
        optional += maybe
    if not wanted:
        return Shelf()
    optional = [(t, k) for t, k in optional if (t, key_of(k, k)) not in needed]
    try:
        return shelve(wanted, optional=optional)
    except Exception as error:
        log.warning("batch read failed", extra={"error": type(error).__name__})
        return Shelf()


def key_ids(keys: dict[str, list[dict[str, Any]]]) -> set[tuple[str, tuple[Any, ...]]]:
    """(table, key) of every key, hashable (TypeError for a key holding a list or a map)."""
    return {(table, key_of(key, key)) for table, table_keys in keys.items() for key in table_keys}


def key_of(item: Mapping[str, Any], like: Mapping[str, Any]) -> tuple[Any, ...]:
    """An item's key as a hashable tuple, by the attribute names of the key `like`."""
    return tuple((name, item.get(name)) for name in sorted(like))


def update(
    table_name: str,
    key: dict[str, Any],
    sets: dict[str, Any],
    *,
    condition: str | None = None,
    condition_values: dict[str, Any] | None = None,
    condition_names: dict[str, str] | None = None,
    appends: dict[str, list[Any]] | None = None,
    set_if_absent: dict[str, Any] | None = None,
    removals: list[str] | None = None,
    return_new: bool = False,
) -> dict[str, Any] | None:
    """UpdateItem from plain values; None when the condition failed."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    clauses = []
    for position, (name, value) in enumerate(sets.items()):
        names[f"#s{position}"] = name
        values[f":s{position}"] = to_value(value)
        clauses.append(f"#s{position} = :s{position}")
    for position, (name, value) in enumerate((set_if_absent or {}).items()):
        names[f"#n{position}"] = name
        values[f":n{position}"] = to_value(value)
        clauses.append(f"#n{position} = if_not_exists(#n{position}, :n{position})")
    for position, (name, entries) in enumerate((appends or {}).items()):
        names[f"#a{position}"] = name
        values[f":a{position}"] = to_value(entries)
        values[":empty"] = {"L": []}
        clauses.append(
            f"#a{position} = list_append(if_not_exists(#a{position}, :empty), :a{position})"
        )
    removed = []
    for position, name in enumerate(removals or []):
        names[f"#r{position}"] = name
        removed.append(f"#r{position}")
    for name, value in (condition_values or {}).items():
        values[name] = to_value(value)
    names.update(condition_names or {})
    expression = ("SET " + ", ".join(clauses)) if clauses else ""
    if removed:
        expression += " REMOVE " + ", ".join(removed)
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "Key": to_item(key),
        "UpdateExpression": expression.strip(),
        "ExpressionAttributeNames": names,
        "ReturnValues": "ALL_NEW" if return_new else "NONE",
    }
    if values:
        kwargs["ExpressionAttributeValues"] = values
    if condition:
        kwargs["ConditionExpression"] = condition
    dynamodb = client("dynamodb")
    try:
        response = dynamodb.update_item(**kwargs)
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return None
    return from_item(response.get("Attributes", {}))

"""Typed-attribute conversion, opaque pagination cursors and TTL-aware conditions."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from shared.aws import client
from shared.errors import InvalidRequest
from shared.resources import Table

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
BATCH_WRITE_LIMIT = 25
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


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(from_item(last_key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, expected: dict[str, str]) -> dict[str, Any] | None:
    """Decode a cursor and check it belongs to this query (its partition values match)."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest("cursor is not valid", code="invalid_cursor") from error
    if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
        raise InvalidRequest("cursor is not valid", code="invalid_cursor")
    if any(key.get(name) != value for name, value in expected.items()):
        raise InvalidRequest("cursor is not valid", code="invalid_cursor")
    return to_item(key)


def key_attributes(table: Table, index: str | None = None) -> list[str]:
    """The attributes that make a pagination key for the table or one of its indexes."""
    names = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
    for declared in table.indexes:
        if declared.name == index:
            names += [declared.partition_key] + ([declared.sort_key] if declared.sort_key else [])
    return list(dict.fromkeys(names))


FILTERED_PAGE_READ = 1000


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
    filters: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a key Query (never a Scan); filters are equalities on other attributes.

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
    if filters:
        clauses = []
        for position, (name, value) in enumerate(filters.items()):
            names[f"#f{position}"] = name
            values[f":f{position}"] = to_value(value)
            clauses.append(f"#f{position} = :f{position}")
        kwargs["FilterExpression"] = " AND ".join(clauses)
    kwargs["ExpressionAttributeNames"] = names
    kwargs["ExpressionAttributeValues"] = values
    items: list[dict[str, Any]] = []
    next_key = decode_cursor(cursor, {key_name: key_value})
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
            next_key = {name: last[name] for name in key_attributes(table, index) if name in last}
            break
        items.extend(page)
        if not next_key:
            break
    return [from_item(item) for item in items], encode_cursor(next_key)


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
    for start in range(0, len(pending), BATCH_WRITE_LIMIT):
        request: dict[str, list[dict[str, Any]]] = {}
        for table_name, write in pending[start : start + BATCH_WRITE_LIMIT]:
            request.setdefault(table_name, []).append(write)
        for _ in range(8):
            response = client("dynamodb").batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
            if not request:
                break
        if request:
            raise RuntimeError("DynamoDB left items unprocessed after retries")


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


def batch_get(keys: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """BatchGetItem across tables (strongly consistent), re-asking for unprocessed keys."""
    request = {
        table: {"Keys": [to_item(key) for key in table_keys], "ConsistentRead": True}
        for table, table_keys in keys.items()
        if table_keys
    }
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in keys}
    for _ in range(8):
        response = client("dynamodb").batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            found[table].extend(from_item(item) for item in items)
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return found
    raise RuntimeError("DynamoDB left keys unprocessed after retries")


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

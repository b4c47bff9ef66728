"""Write units as DynamoDB bills them, index writes included, from the requests our code sends.

moto shows no index writes (NOTES), so this meter prices each write request the way the AWS page
on GSI write costs describes
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations):
the table write, 1 WRU per started KB of the item, plus one write to every index the item lands
in (it carries the index's keys), sized by the projected item; an update writes an index only
when it sets or removes an attribute that index projects or is keyed on. A transaction costs
twice. Item sizes as DynamoDB computes them (scripts/itemsize.py, the bench's own rule).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import boto3

from scripts.itemsize import item_size as _size
from shared.core import resources as res
from shared.core.aws import client
from shared.core.config import settings


def _value(typed: dict[str, Any]) -> str:
    return str(next(iter(typed.values())))


def _units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _table_keys(table: res.Table) -> set[str]:
    return {table.partition_key, *([table.sort_key] if table.sort_key else [])}


def _projected(table: res.Table, index: res.Index, item: dict[str, Any]) -> dict[str, Any]:
    keys = _table_keys(table) | {index.partition_key, *([index.sort_key] if index.sort_key else [])}
    if index.projection == "ALL":
        return item
    kept = keys | set(index.non_key_attributes)
    return {name: value for name, value in item.items() if name in kept}


def _lands_in(index: res.Index, item: dict[str, Any]) -> bool:
    return index.partition_key in item and (not index.sort_key or index.sort_key in item)


class WriteMeter:
    """Counts WRU per "<logical table id>" and "<logical table id>/<index>"."""

    def __init__(self) -> None:
        self.units: Counter[str] = Counter()
        # writes per partition key value: "<table>[/<index>] <value>"
        self.heat: Counter[str] = Counter()
        self.updated: list[tuple[res.Table, dict[str, Any]]] = []
        client("dynamodb").meta.events.register("before-parameter-build.dynamodb", self._meter)

    def close(self) -> None:
        client("dynamodb").meta.events.unregister("before-parameter-build.dynamodb", self._meter)

    def _table(self, name: str) -> res.Table:
        config = settings()
        by_name = {getattr(config, f"{t.logical_id.lower()}_table", ""): t for t in res.TABLES}
        by_name[config.api_keys_table] = res.API_KEYS
        return by_name[name]

    def _meter(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "PutItem":
            self._put(params["TableName"], params["Item"])
        elif model.name == "BatchWriteItem":
            for name, writes in params["RequestItems"].items():
                for write in writes:
                    if "PutRequest" in write:
                        self._put(name, write["PutRequest"]["Item"])
        elif model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                if "Put" in entry:
                    self._put(entry["Put"]["TableName"], entry["Put"]["Item"], factor=2)
        elif model.name == "UpdateItem":
            self._update(params)

    def _put(self, name: str, item: dict[str, Any], factor: int = 1) -> None:
        table = self._table(name)
        self.units[table.logical_id] += factor * _units(_size(item))
        self.heat[f"{table.logical_id} {_value(item[table.partition_key])}"] += 1
        for index in table.indexes:
            if _lands_in(index, item):
                projected = _size(_projected(table, index, item))
                self.units[f"{table.logical_id}/{index.name}"] += factor * _units(projected)
                where = f"{table.logical_id}/{index.name}"
                self.heat[f"{where} {_value(item[index.partition_key])}"] += 1

    def _update(self, params: dict[str, Any]) -> None:
        """1 WRU now; `settle` adds the updated item's size beyond 1 KB."""
        table = self._table(params["TableName"])
        names = params.get("ExpressionAttributeNames", {})
        tokens = re.findall(r"#\w+", params["UpdateExpression"])
        touched = {names.get(token, token) for token in tokens}
        self.units[table.logical_id] += 1
        self.heat[f"{table.logical_id} {_value(params['Key'][table.partition_key])}"] += 1
        self.updated.append((table, params["Key"]))
        for index in table.indexes:
            keys = {index.partition_key, *([index.sort_key] if index.sort_key else [])}
            watched = keys | set(index.non_key_attributes)
            if index.projection == "ALL" or watched & touched:
                self.units[f"{table.logical_id}/{index.name}"] += 1

    def settle(self) -> Counter[str]:
        """The units, each update priced by its item as it is now (read outside the meter)."""
        reader = boto3.client("dynamodb")
        config = settings()
        names = {res.EVENTS: config.events_table, res.DELIVERIES: config.deliveries_table}
        for table, key in self.updated:
            name = names.get(table)
            item = reader.get_item(TableName=name, Key=key).get("Item") if name else None
            if item:
                self.units[table.logical_id] += _units(_size(item)) - 1
        self.updated.clear()
        return self.units

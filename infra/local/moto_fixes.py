"""Make moto behave like the real services under local mode's concurrent, queue-heavy load.

* DynamoDB: moto runs a cancelled TransactWriteItems by restoring deep copies of the tables it
  touched, without a lock: any write another thread made meanwhile is silently lost. Every
  DynamoDB request therefore runs under one lock.
* DynamoDB: before every TransactWriteItems moto deep-copies each whole table the transaction
  names, to restore it if the transaction is cancelled: a publish with a caller id (a
  transaction) cost O(table size), so 2,000 such publishes took minutes and the emulator's
  memory grew with every copy. Only the items the transaction targets are saved and restored
  now (requests are serialized, so nothing else can change meanwhile).
* DynamoDB: moto stores TTL settings but never deletes expired items, so the emulator's memory
  grew with every event ever stored. `expire_ttl_items` deletes them as DynamoDB's TTL process
  does (AWS deletes within days of expiry; reads already treat `ttl < now` as absent).
* SQS: moto checks each received message's retention by computing *all* queue attributes, which
  counts every message in the queue, so receiving n messages from a queue of N costs O(n x N)
  and a backlog of 20,000 deliveries crawls. The retention check reads the one attribute it
  needs, and the message counts read the clock once per call instead of once or twice per
  message. Behaviour is unchanged; only the cost is.
* SQS: moto's SendMessage reads one attribute (ContentBasedDeduplication) through the property
  that computes them all, message counts included: every message sent walked the whole queue
  three times, so a batch publish of 100 events to 20 webhooks (2,000 messages) into a backlog
  took tens of seconds. While a send runs (in its thread) the counts are not computed; they are
  not part of what a send reads or answers.
* SQS: moto deletes a message by rebuilding the queue's message list without the lock its sends
  take, so a message sent meanwhile is appended to the discarded list and lost for good (10
  deliveries of a 20,000-delivery load test vanished this way). Deletes and receives take the
  queue's own lock; a long poll still releases it while it waits.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_lock = threading.RLock()
_applied: set[str] = set()


def apply_all() -> None:
    serialize_dynamodb()
    roll_back_transactions_by_item()
    speed_up_sqs_receive()
    lock_sqs_message_lists()


def serialize_dynamodb() -> None:
    if "dynamodb" in _applied:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _applied.add("dynamodb")


def roll_back_transactions_by_item() -> None:
    if "dynamodb-transactions" in _applied:
        return
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models.table import Table

    original = dynamodb_models.DynamoDBBackend.transact_write_items

    class TablesByReference:
        """moto's `copy` module as its transaction code sees it: tables are not copied."""

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = [_saved_item(self, entry) for entry in transact_items]
        try:
            original(self, transact_items)
        except Exception:
            for found in reversed(saved):
                if found is not None:
                    _restore_item(self, *found)
            raise

    dynamodb_models.copy = TablesByReference  # type: ignore[assignment]
    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _applied.add("dynamodb-transactions")


def _saved_item(backend: Any, entry: dict[str, Any]) -> tuple[str, dict[str, Any], Any] | None:
    """(table, key, the item's attributes or None) for one operation of a transaction."""
    _, operation = next(iter(entry.items()))
    table = backend.tables.get(operation.get("TableName"))
    if table is None:
        return None
    key = operation.get("Key")
    if key is None:
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        key = {name: operation.get("Item", {}).get(name) for name in names}
    try:
        current = backend.get_item(table.name, key)
    except Exception:  # an invalid key: moto refuses the transaction before writing anything
        return None
    attributes = copy.deepcopy(current.to_json()["Attributes"]) if current else None
    return table.name, key, attributes


def _restore_item(backend: Any, table_name: str, key: dict[str, Any], attributes: Any) -> None:
    if attributes is None:
        backend.delete_item(table_name, key)
    else:
        backend.put_item(table_name, attributes, overwrite=True)


def expire_ttl_items(now: float) -> int:
    """Delete every item whose TTL attribute is a number of epoch seconds before `now`.

    Runs in the emulator process under the DynamoDB lock; returns how many items went.
    """
    from moto.backends import get_backend

    removed = 0
    with _lock:
        for regions in get_backend("dynamodb").values():
            for backend in regions.values():
                for table in list(backend.tables.values()):
                    removed += _expire_table(table, now)
    return removed


def _expire_table(table: Any, now: float) -> int:
    if table.ttl.get("TimeToLiveStatus") != "ENABLED":
        return 0
    attribute = table.ttl.get("AttributeName")
    expired = []
    for item in table.all_items():
        value = item.attrs.get(attribute)
        if value is not None and value.type == "N" and float(value.value) < now:
            expired.append(item)
    for item in expired:
        table.delete_item(item.hash_key, item.range_key)
    return len(expired)


_sending = threading.local()  # set while this thread runs moto's SendMessage


def _counting(count: Any) -> Any:
    """A message count that a send (which only reads ContentBasedDeduplication) skips."""

    @functools.wraps(count)
    def counted(queue: Any) -> int:
        return 0 if getattr(_sending, "active", False) else int(count(queue))

    return counted


def speed_up_sqs_receive() -> None:
    if "sqs" in _applied:
        return
    from moto.core.utils import unix_time, unix_time_millis
    from moto.sqs.models import Message, Queue, SQSBackend

    def is_message_valid_based_on_retention_period(
        self: SQSBackend, queue_name: str, message: Message
    ) -> bool:
        retention_seconds = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
        return bool(retention_seconds + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]

    def visible_messages(self: Queue) -> list[Message]:
        now = unix_time_millis()
        return [
            message
            for message in self._messages
            if now > message.visible_at and not now < message.delayed_until
        ]

    def delayed_count(self: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for message in self._messages if now < message.delayed_until)

    def not_visible_count(self: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for message in self._messages if not now > message.visible_at)

    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )

    def visible_count(self: Queue) -> int:
        return len(visible_messages(self))

    original_send = SQSBackend.send_message

    @functools.wraps(original_send)
    def send_message(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        _sending.active = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            _sending.active = False

    Queue.messages = property(visible_messages)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages = property(_counting(visible_count))  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_delayed = property(_counting(delayed_count))  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_not_visible = property(_counting(not_visible_count))  # type: ignore[assignment,method-assign]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]
    _applied.add("sqs")


def lock_sqs_message_lists() -> None:
    if "sqs-lock" in _applied:
        return
    from moto.sqs.models import Queue, SQSBackend

    original_delete = Queue.delete_message
    original_receive = SQSBackend.receive_message

    @functools.wraps(original_delete)
    def delete_message(self: Queue, receipt_handle: str) -> None:
        with self._messages_lock:
            original_delete(self, receipt_handle)

    @functools.wraps(original_receive)
    def receive_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        # The queue's lock is a Condition over an RLock: moto's long-poll wait re-enters it and
        # releases it entirely while waiting, so sends are not held up by a waiting receive.
        with self.get_queue(queue_name)._messages_lock:  # type: ignore[attr-defined]
            return original_receive(self, queue_name, *args, **kwargs)

    Queue.delete_message = delete_message  # type: ignore[method-assign]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    _applied.add("sqs-lock")

"""Make moto behave like the real services under local mode's concurrent, queue-heavy load.

* DynamoDB: moto runs a cancelled TransactWriteItems by restoring deep copies of the tables it
  touched, without a lock: any write another thread made meanwhile is silently lost. Every
  DynamoDB request therefore runs under one lock.
* SQS: moto checks each received message's retention by computing *all* queue attributes, which
  counts every message in the queue, so receiving n messages from a queue of N costs O(n x N)
  and a backlog of 20,000 deliveries crawls. The retention check reads the one attribute it
  needs, and the message counts read the clock once per call instead of once or twice per
  message (moto also computes them on every send). Behaviour is unchanged; only the cost is.
* SQS: moto deletes a message by rebuilding the queue's message list without the lock its sends
  take, so a message sent meanwhile is appended to the discarded list and lost for good (10
  deliveries of a 20,000-delivery load test vanished this way). Deletes and receives take the
  queue's own lock; a long poll still releases it while it waits.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.RLock()
_applied: set[str] = set()


def apply_all() -> None:
    serialize_dynamodb()
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
    Queue.messages = property(visible_messages)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_delayed = property(delayed_count)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_not_visible = property(not_visible_count)  # type: ignore[assignment,method-assign]
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

"""Make moto's DynamoDB safe under concurrent requests, as the real service is.

moto runs a cancelled TransactWriteItems by restoring deep copies of the tables it touched,
without a lock: any write another thread made meanwhile is silently lost. Local mode serves
several handlers and pollers at once, so every DynamoDB request is run under one lock.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.RLock()
_applied = False


def serialize_dynamodb() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _applied = True

"""Dead-letter queues: peek without consuming, redrive selected messages or all.

SQS has no peek: messages are received with a short visibility timeout, then made visible again
at once, so they stay in the queue (and in the console's "poll for messages" view). A redrive
sends each chosen message to its source queue first and deletes it from the DLQ after: stopped
half way, a message may be redriven twice (at-least-once), never lost.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from shared.aws import client
from shared.config import settings

QueueName = Literal["delivery", "inbound"]
HOLD_SECONDS = 30
MAX_MESSAGES = 1000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuePair:
    source_url: str
    dlq_url: str


def queues(name: QueueName) -> QueuePair:
    config = settings()
    if name == "delivery":
        return QueuePair(config.delivery_queue_url, config.delivery_dlq_url)
    return QueuePair(config.inbound_queue_url, config.inbound_dlq_url)


def _receive_all(queue_url: str, limit: int = MAX_MESSAGES) -> list[dict[str, Any]]:
    """Every message (up to `limit`), each held invisible for HOLD_SECONDS."""
    sqs = client("sqs")
    seen: dict[str, dict[str, Any]] = {}
    empty_rounds = 0
    while len(seen) < limit and empty_rounds < 2:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=HOLD_SECONDS,
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = response.get("Messages", [])
        new = [message for message in messages if message["MessageId"] not in seen]
        empty_rounds = 0 if new else empty_rounds + 1
        for message in new:
            seen[message["MessageId"]] = message
    return list(seen.values())


def _release(queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make held messages visible again now."""
    sqs = client("sqs")
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(position), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
            for position, message in enumerate(messages[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def _view(message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    try:
        body: Any = json.loads(message["Body"])
    except ValueError:
        body = {"raw": message["Body"]}
    sent = attributes.get("SentTimestamp")
    from shared import clock

    return {
        "message_id": message["MessageId"],
        "body": body,
        "sent_at": clock.iso(int(sent) / 1000) if sent else None,
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
    }


def peek(name: QueueName) -> dict[str, Any]:
    pair = queues(name)
    messages = _receive_all(pair.dlq_url)
    _release(pair.dlq_url, messages)
    views = sorted((_view(message) for message in messages), key=lambda v: v["sent_at"] or "")
    return {"data": views}


def _queue_attribute(queue_url: str, name: str) -> str:
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=[name])
    return str(attributes["Attributes"][name])


def _move_all(pair: QueuePair) -> dict[str, Any]:
    """Redrive all with SQS's own move task: it runs server-side and survives our timeout."""
    waiting = int(_queue_attribute(pair.dlq_url, "ApproximateNumberOfMessages"))
    client("sqs").start_message_move_task(
        SourceArn=_queue_attribute(pair.dlq_url, "QueueArn"),
        DestinationArn=_queue_attribute(pair.source_url, "QueueArn"),
    )
    return {"redriven": waiting}


def redrive(name: QueueName, message_ids: list[str] | None) -> dict[str, Any]:
    pair = queues(name)
    if message_ids is None and settings().dlq_move_task:
        return _move_all(pair)
    sqs = client("sqs")
    messages = _receive_all(pair.dlq_url)
    wanted = set(message_ids) if message_ids is not None else None
    chosen = [m for m in messages if wanted is None or m["MessageId"] in wanted]
    others = [m for m in messages if m not in chosen]
    _release(pair.dlq_url, others)
    redriven = 0
    for message in chosen:
        sqs.send_message(QueueUrl=pair.source_url, MessageBody=message["Body"])
        sqs.delete_message(QueueUrl=pair.dlq_url, ReceiptHandle=message["ReceiptHandle"])
        redriven += 1
    log.info("redrove messages", extra={"queue": name, "count": redriven})
    return {"redriven": redriven}

"""Dead-letter queues: peek without consuming, redrive selected messages or all.

SQS has no peek: messages are received with a short visibility timeout, then made visible again
at once, so they stay in the queue (and in the console's "poll for messages" view). Every receive
long-polls: a short poll (`WaitTimeSeconds=0`) asks only a sample of SQS's servers and often
answers a small queue with nothing or with part of it
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html).

A redrive sends the chosen messages to their source queue first (SendMessageBatch, batches on
threads) and deletes them from the DLQ after: stopped half way, a message may be redriven twice
(at-least-once), never lost. It works within a time budget under the API's timeout and answers
what it moved, which of the asked ids are not in the DLQ and which are left for another call.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from time import monotonic
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from shared.core import clock
from shared.core.aws import CLIENT_CONFIG
from shared.core.config import settings
from shared.core.errors import BatchIncomplete, BatchRefused, Conflict
from shared.core.resources import API_TIMEOUT_SECONDS
from shared.store import batch_retry
from shared.store import queues as queue_store

QueueName = Literal["delivery", "inbound"]
HOLD_SECONDS = 30  # outlasts the API's timeout: a request never receives a message twice
MAX_MESSAGES = 1000
WAIT_SECONDS = 1  # long polling: SQS asks all its servers and answers once it has a message
# The API function's timeout, less one AWS read timeout for the calls still in flight at the end.
BUDGET_SECONDS = API_TIMEOUT_SECONDS - int(CLIENT_CONFIG.read_timeout)
RECEIVE_SHARE = 0.5  # finding the messages may take this part of the budget; moving the rest
MOVE_WORKERS = 8  # SendMessageBatch + DeleteMessageBatch pairs in flight at once
# AWS allows one move task per queue at a time and refuses another with this code (the same a
# bad argument gets, so the queue's tasks are checked before answering 409).
MOVE_TASK_REFUSALS = ("InvalidParameterValue", "UnsupportedOperation")
ACTIVE_MOVE_TASK = ("RUNNING", "CANCELLING")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuePair:
    source_url: str
    dlq_url: str


@dataclass(frozen=True)
class Held:
    """Messages received and held invisible, by message id."""

    messages: dict[str, dict[str, Any]]
    complete: bool  # every wanted message that is in the DLQ is among them


def queues(name: QueueName) -> QueuePair:
    config = settings()
    if name == "delivery":
        return QueuePair(config.delivery_queue_url, config.delivery_dlq_url)
    return QueuePair(config.inbound_queue_url, config.inbound_dlq_url)


def _receive(queue_url: str, until: float, wanted: set[str] | None = None) -> Held:
    """Messages (all, or until every `wanted` id is found), each held for HOLD_SECONDS.

    Stops at an empty long poll (the queue has no more), at MAX_MESSAGES or at `until`.
    """
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < MAX_MESSAGES and monotonic() < until:
        if wanted is not None and wanted <= seen.keys():
            return Held(seen, complete=True)
        received = queue_store.receive_held(queue_url, HOLD_SECONDS, WAIT_SECONDS)
        new = [m for m in received if m["MessageId"] not in seen]
        if not new:
            return Held(seen, complete=True)
        seen.update((message["MessageId"], message) for message in new)
    return Held(seen, complete=wanted is not None and wanted <= seen.keys())


def _release(queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make held messages visible again now (if that fails, they reappear after the hold)."""
    try:
        queue_store.release(queue_url, messages)
    except (BatchIncomplete, BatchRefused) as error:
        log.warning("DLQ messages stay hidden until their hold ends", extra={"error": str(error)})


def _view(message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    try:
        body: Any = json.loads(message["Body"])
    except ValueError:
        body = {"raw": message["Body"]}
    sent = attributes.get("SentTimestamp")
    return {
        "message_id": message["MessageId"],
        "body": body,
        "sent_at": clock.iso(int(sent) / 1000) if sent else None,
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
    }


def peek(name: QueueName) -> dict[str, Any]:
    pair = queues(name)
    messages = list(_receive(pair.dlq_url, monotonic() + BUDGET_SECONDS).messages.values())
    _release(pair.dlq_url, messages)
    views = sorted((_view(message) for message in messages), key=lambda v: v["sent_at"] or "")
    return {"data": views}


def _move_task_running(source_arn: str, error: ClientError) -> bool:
    """Whether StartMessageMoveTask was refused because a task on this DLQ is still active."""
    if error.response.get("Error", {}).get("Code") not in MOVE_TASK_REFUSALS:
        return False
    return any(status in ACTIVE_MOVE_TASK for status in queue_store.move_task_statuses(source_arn))


def _move_all(pair: QueuePair) -> dict[str, Any]:
    """Redrive all with SQS's own move task: it runs server-side and survives our timeout."""
    waiting = int(queue_store.queue_attribute(pair.dlq_url, "ApproximateNumberOfMessages"))
    source_arn = queue_store.queue_attribute(pair.dlq_url, "QueueArn")
    try:
        queue_store.start_move_task(
            source_arn, queue_store.queue_attribute(pair.source_url, "QueueArn")
        )
    except ClientError as error:
        if _move_task_running(source_arn, error):
            raise Conflict(
                "a redrive of this queue is already running; try again when it has finished"
            ) from error
        raise
    return {"redriven": waiting, "not_found": [], "remaining": []}


def _move_batch(pair: QueuePair, batch: list[dict[str, Any]], deadline: float) -> list[str]:
    """Send up to ten messages to the source queue, then delete them from the DLQ.

    Returns the ids moved: none if the deadline has passed or a call failed (a message sent but
    not deleted stays in the DLQ and may be redriven again later: at-least-once).
    """
    if monotonic() >= deadline:
        return []
    try:
        queue_store.send_raw_batch(pair.source_url, [message["Body"] for message in batch])
        queue_store.delete_batch(pair.dlq_url, batch)
    except (BotoCoreError, ClientError, BatchIncomplete, BatchRefused) as error:
        log.warning("could not redrive a batch", extra={"error": type(error).__name__})
        return []
    return [message["MessageId"] for message in batch]


def _move(pair: QueuePair, messages: list[dict[str, Any]], deadline: float) -> set[str]:
    """Move messages in batches of ten, MOVE_WORKERS batches at a time, until the deadline."""
    batches = list(batch_retry.chunks(messages, queue_store.SEND_BATCH_LIMIT))
    if not batches:
        return set()
    with ThreadPoolExecutor(max_workers=min(MOVE_WORKERS, len(batches))) as pool:
        moved = pool.map(lambda batch: _move_batch(pair, batch, deadline), batches)
        return {message_id for ids in moved for message_id in ids}


def redrive(name: QueueName, message_ids: list[str] | None) -> dict[str, Any]:
    """Move the asked messages (all when `message_ids` is None) back to their source queue.

    Answers `redriven` (how many moved), `not_found` (asked ids not in the DLQ) and `remaining`
    (ids still in the DLQ when the time budget ran out or a send failed: ask again for them).
    """
    pair = queues(name)
    if message_ids is None and settings().dlq_move_task:
        return _move_all(pair)
    started = monotonic()
    wanted = set(message_ids) if message_ids is not None else None
    held = _receive(pair.dlq_url, started + BUDGET_SECONDS * RECEIVE_SHARE, wanted)
    chosen = [m for key, m in held.messages.items() if wanted is None or key in wanted]
    moved = _move(pair, chosen, started + BUDGET_SECONDS)
    _release(pair.dlq_url, [m for key, m in held.messages.items() if key not in moved])
    unseen = sorted((wanted or set()) - held.messages.keys())
    left = sorted(m["MessageId"] for m in chosen if m["MessageId"] not in moved)
    log.info("redrove messages", extra={"queue": name, "count": len(moved), "left": len(left)})
    return {
        "redriven": len(moved),
        "not_found": unseen if held.complete else [],
        "remaining": left if held.complete else sorted(left + unseen),
    }

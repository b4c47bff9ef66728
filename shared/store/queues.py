"""SQS sends: batches of ten, failed entries re-sent, JSON bodies readable in the console."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from shared.core.aws import client
from shared.core.errors import BatchRefused
from shared.store import batch_retry

SEND_BATCH_LIMIT = 10  # the most entries any SQS batch call takes
# The longest DelaySeconds SQS takes on a message (15 min): shorter retries ride the queue itself.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
MAX_DELAY_SECONDS = 900
log = logging.getLogger(__name__)


def send_batch(queue_url: str, bodies: list[dict[str, Any]]) -> None:
    """SendMessageBatch of JSON bodies (see `send_raw_batch`)."""
    send_raw_batch(queue_url, [json.dumps(body, separators=(",", ":")) for body in bodies])


def send_raw_batch(queue_url: str, bodies: list[str]) -> None:
    """SendMessageBatch per ten bodies, every one sent or an error raised.

    Entries SQS failed on its side are re-sent with backoff (shared/store/batch_retry.py) until the
    attempts run out (BatchIncomplete); an entry refused as invalid raises BatchRefused.
    """
    entries = [{"Id": str(position), "MessageBody": body} for position, body in enumerate(bodies)]
    batch_call(client("sqs").send_message_batch, queue_url, entries, what="SendMessageBatch")


def send_delayed_batch(queue_url: str, delayed: list[tuple[dict[str, Any], int]]) -> None:
    """SendMessageBatch of (JSON body, DelaySeconds) pairs: each message becomes visible after its
    own delay (0..900 s), one call per ten. Retries use it instead of a Step Functions execution."""
    entries = delayed_entries(delayed)
    batch_call(client("sqs").send_message_batch, queue_url, entries, what="SendMessageBatch")


def delayed_entries(delayed: list[tuple[dict[str, Any], int]]) -> list[dict[str, Any]]:
    """SendMessageBatch entries (ids unique per call), each with its own DelaySeconds."""
    return [
        {
            "Id": str(position),
            "MessageBody": json.dumps(body, separators=(",", ":")),
            "DelaySeconds": clamp_delay(seconds),
        }
        for position, (body, seconds) in enumerate(delayed)
    ]


def clamp_delay(seconds: int) -> int:
    """A DelaySeconds SQS accepts: 0..900 (it refuses anything longer)."""
    return max(0, min(int(seconds), MAX_DELAY_SECONDS))


def batch_call(
    call: Callable[..., dict[str, Any]],
    queue_url: str,
    entries: list[dict[str, Any]],
    *,
    what: str,
) -> None:
    """Any SQS batch call (send, delete, change visibility) over `entries` (unique `Id`s).

    SQS answers each entry alone: `Failed` entries with `SenderFault: false` (a problem on its
    side) are re-sent; an entry with `SenderFault: true` was refused as invalid and would be
    refused again, so the call stops at once with BatchRefused naming those entries.
    """

    def once(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
        left: list[dict[str, Any]] = []
        for chunk in batch_retry.chunks(pending, SEND_BATCH_LIMIT):
            response = call(QueueUrl=queue_url, Entries=chunk)
            left += _to_resend(chunk, response.get("Failed", []), what)
        return left

    batch_retry.complete(once, entries, what=what)


def _to_resend(
    chunk: list[dict[str, Any]], failed: list[dict[str, Any]], what: str
) -> list[dict[str, Any]]:
    """The entries of `chunk` worth sending again; raises BatchRefused on a sender fault."""
    refused = {item["Id"]: str(item.get("Code", "")) for item in failed if item.get("SenderFault")}
    if refused:
        log.error("SQS refused batch entries as invalid", extra={"call": what, "refused": refused})
        raise BatchRefused(what, refused)
    again = {item["Id"] for item in failed}
    return [entry for entry in chunk if entry["Id"] in again]


def send(queue_url: str, body: dict[str, Any]) -> str:
    response = client("sqs").send_message(
        QueueUrl=queue_url, MessageBody=json.dumps(body, separators=(",", ":"), default=str)
    )
    return str(response["MessageId"])


# Dead-letter queues (shared/ops/dlq.py): SQS has no peek, so messages are received and held. --


def receive_held(queue_url: str, hold_seconds: int, wait_seconds: int) -> list[dict[str, Any]]:
    """One long-polling ReceiveMessage of up to ten, each held invisible for `hold_seconds`."""
    response = client("sqs").receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=hold_seconds,
        AttributeNames=["All"],
        WaitTimeSeconds=wait_seconds,
    )
    return list(response.get("Messages", []))


def release(queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make held messages visible again now (ChangeMessageVisibilityBatch, timeout 0)."""
    entries = [
        {"Id": str(position), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
        for position, message in enumerate(messages)
    ]
    batch_call(
        client("sqs").change_message_visibility_batch,
        queue_url,
        entries,
        what="ChangeMessageVisibilityBatch",
    )


def delete_batch(queue_url: str, messages: list[dict[str, Any]]) -> None:
    """DeleteMessageBatch of held messages (ten at the most)."""
    entries = [
        {"Id": str(position), "ReceiptHandle": message["ReceiptHandle"]}
        for position, message in enumerate(messages)
    ]
    batch_call(client("sqs").delete_message_batch, queue_url, entries, what="DeleteMessageBatch")


def queue_attribute(queue_url: str, name: str) -> str:
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=[name])
    return str(attributes["Attributes"][name])


def start_move_task(source_arn: str, destination_arn: str) -> None:
    """SQS's own redrive of a whole DLQ (StartMessageMoveTask); ClientError when refused."""
    client("sqs").start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)


def move_task_statuses(source_arn: str) -> list[str]:
    """The status of the DLQ's latest move task, if any (ListMessageMoveTasks)."""
    tasks = client("sqs").list_message_move_tasks(SourceArn=source_arn, MaxResults=1)
    return [str(task.get("Status")) for task in tasks.get("Results", [])]

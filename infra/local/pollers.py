"""SQS pollers that feed consumer handlers the way a Lambda event source mapping does.

A batch is received, handed to the handler as an SQS event, and only the messages the handler
did not report in `batchItemFailures` are deleted. Failed messages come back after the
visibility timeout; the queue's redrive policy moves them to the DLQ after maxReceiveCount.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from infra.local.gateway import Handler, LambdaContext

log = logging.getLogger("local.pollers")

# moto's ReceiveMessage checks and marks each message without a lock: two pollers receiving at
# the same moment can both get the same message (about 1 in 1,000 under load), a duplicate SQS
# itself would hardly ever deliver. Receives from one queue therefore take turns.
_receive_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


def receive_lock(queue_url: str) -> threading.Lock:
    with _locks_lock:
        return _receive_locks.setdefault(queue_url, threading.Lock())


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    records = []
    for message in messages:
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


class QueuePoller(threading.Thread):
    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        function_name: str,
        batch_size: int,
        stop: threading.Event,
        retry_visibility_seconds: int | None = None,
    ) -> None:
        super().__init__(name=f"poller-{function_name}", daemon=True)
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.stop_event = stop
        self.retry_visibility_seconds = retry_visibility_seconds
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception:  # a poller never dies; the next poll tries again
                if self.stop_event.is_set():  # local mode is stopping: the emulator may be gone
                    return
                log.exception("poller %s failed", self.function_name)
                self.stop_event.wait(1)

    def poll_once(self) -> int:
        with receive_lock(self.queue_url):
            if self.stop_event.is_set():  # pollers queue on this lock: none polls once stopping
                return 0
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        try:
            result = self.handler(
                sqs_event(messages, self.queue_arn), LambdaContext(self.function_name)
            )
            failed = {
                item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])
            }
        except Exception:  # an invocation error fails the whole batch, as with Lambda
            if self.stop_event.is_set():  # cut short by local mode stopping: they come back
                return len(messages)
            log.exception("handler %s raised; the whole batch will be retried", self.function_name)
            failed = {message["MessageId"] for message in messages}
        done = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(position), "ReceiptHandle": message["ReceiptHandle"]}
                for position, message in enumerate(done[start : start + 10])
            ]
            response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if response.get("Failed"):  # they come back after the visibility timeout
                log.warning(
                    "poller %s could not delete %d message(s): %s",
                    self.function_name,
                    len(response["Failed"]),
                    sorted({failure.get("Code", "?") for failure in response["Failed"]}),
                )
        if self.retry_visibility_seconds is not None:
            for message in messages:
                if message["MessageId"] in failed:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=self.retry_visibility_seconds,
                    )
        return len(messages)

"""SQS sends: batches of ten, failed entries re-sent, JSON bodies readable in the console."""

from __future__ import annotations

import json
from typing import Any

from shared.aws import client

SEND_BATCH_LIMIT = 10


def send_batch(queue_url: str, bodies: list[dict[str, Any]]) -> None:
    """SendMessageBatch per ten bodies; raises if any entry still fails after re-sending."""
    sqs = client("sqs")
    for start in range(0, len(bodies), SEND_BATCH_LIMIT):
        entries = [
            {"Id": str(position), "MessageBody": json.dumps(body, separators=(",", ":"))}
            for position, body in enumerate(bodies[start : start + SEND_BATCH_LIMIT])
        ]
        for _ in range(5):
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            failed_ids = {failure["Id"] for failure in response.get("Failed", [])}
            entries = [entry for entry in entries if entry["Id"] in failed_ids]
            if not entries:
                break
        if entries:
            raise RuntimeError(f"SQS refused {len(entries)} message(s) after retries")


def send(queue_url: str, body: dict[str, Any]) -> str:
    response = client("sqs").send_message(
        QueueUrl=queue_url, MessageBody=json.dumps(body, separators=(",", ":"), default=str)
    )
    return str(response["MessageId"])

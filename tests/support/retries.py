"""What the worker scheduled, read back without waiting for it: the delayed SendMessageBatch
entries it put on the delivery queue (seen through botocore's own event hook, since a delayed
message is invisible to a receive until its delay is over) and the retry executions it started."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from shared.core.aws import client


@dataclass(frozen=True)
class Scheduled:
    """One retry: the message that will come back and the seconds until it does."""

    message: dict[str, Any]
    delay: int
    carrier: str  # "queue" (DelaySeconds) or the execution's name


@contextmanager
def requeued_entries(queue_url: str) -> Iterator[list[dict[str, Any]]]:
    """Every delayed SendMessageBatch entry sent to `queue_url` while the block runs (the
    publish's own sends carry no DelaySeconds)."""
    entries: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        if params["QueueUrl"] == queue_url:
            entries.extend(entry for entry in params["Entries"] if "DelaySeconds" in entry)

    events = client("sqs").meta.events
    events.register("provide-client-params.sqs.SendMessageBatch", capture)
    try:
        yield entries
    finally:
        events.unregister("provide-client-params.sqs.SendMessageBatch", capture)


def executions(machine_arn: str) -> dict[str, dict[str, Any]]:
    """Retry executions by name → their input (wait_seconds, SendMessageBatch entries)."""
    sfn = client("stepfunctions")
    found = {}
    for execution in sfn.list_executions(stateMachineArn=machine_arn)["executions"]:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        found[execution["name"]] = json.loads(described["input"])
    return found


def scheduled(entries: list[dict[str, Any]], machine_arn: str) -> list[Scheduled]:
    """Every retry scheduled so far, by either carrier, oldest first."""
    found = [
        Scheduled(json.loads(entry["MessageBody"]), int(entry["DelaySeconds"]), "queue")
        for entry in entries
    ]
    for name, given in executions(machine_arn).items():
        wait = int(given["wait_seconds"])
        for entry in given["entries"]:
            body = json.loads(entry["MessageBody"])
            found.append(Scheduled(body, wait + int(entry["DelaySeconds"]), name))
    return found


def for_delivery(found: list[Scheduled], delivery_id: str) -> list[Scheduled]:
    return [item for item in found if item.message["delivery_id"] == delivery_id]

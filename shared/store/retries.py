"""The long-delay retry carrier: a Standard execution of the retry state machine that Waits, then
re-queues up to ten delivery messages in one SendMessageBatch (infra/declaration.py), each with
its own DelaySeconds (its jitter, 0..900 s). No Lambda waits.

Retries due within 15 min never come here: they are re-queued on the delivery queue with
DelaySeconds (shared/store/queues.py). See README, "Retry schedule", for what each costs.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from shared.core.aws import client
from shared.core.config import settings
from shared.store.queues import SEND_BATCH_LIMIT, delayed_entries

Delayed = tuple[dict[str, Any], int]  # (delivery message, DelaySeconds after the wait)


def execution_input(wait_seconds: int, delayed: list[Delayed]) -> str:
    """The state machine's input: the wait, then SendMessageBatch entries (ids unique per call)."""
    if not 1 <= len(delayed) <= SEND_BATCH_LIMIT:
        raise ValueError(f"one execution re-queues 1..{SEND_BATCH_LIMIT} messages")
    entries = delayed_entries(delayed)
    return json.dumps({"wait_seconds": max(0, int(wait_seconds)), "entries": entries})


def start(execution_name: str, wait_seconds: int, delayed: list[Delayed]) -> None:
    """One StartExecution for up to ten messages. A name already used is refused by Step
    Functions (ExecutionAlreadyExists), so a repeated start with the same name never runs twice."""
    client("stepfunctions").start_execution(
        stateMachineArn=settings().retry_state_machine_arn,
        name=execution_name,
        input=execution_input(wait_seconds, delayed),
    )


def start_unless_started(execution_name: str, wait_seconds: int, delayed: list[Delayed]) -> None:
    """`start`, where an execution of this name already running or done counts as started."""
    stepfunctions = client("stepfunctions")
    with contextlib.suppress(stepfunctions.exceptions.ExecutionAlreadyExists):
        start(execution_name, wait_seconds, delayed)

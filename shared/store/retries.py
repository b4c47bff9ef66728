"""The retry scheduler: a Standard execution of the retry state machine per failed attempt. It
Waits the delay, then puts the message back on the delivery queue (no Lambda waits)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from shared.core.aws import client
from shared.core.config import settings


def start(execution_name: str, delay_seconds: int, message: dict[str, Any]) -> None:
    """One StartExecution. The same name for the same attempt: a duplicate start is refused by
    Step Functions (ExecutionAlreadyExists), not run twice."""
    client("stepfunctions").start_execution(
        stateMachineArn=settings().retry_state_machine_arn,
        name=execution_name,
        input=json.dumps({"delay_seconds": delay_seconds, "message": json.dumps(message)}),
    )


def start_unless_started(execution_name: str, delay_seconds: int, message: dict[str, Any]) -> None:
    """`start`, where an execution of this name already running or done counts as started."""
    stepfunctions = client("stepfunctions")
    with contextlib.suppress(stepfunctions.exceptions.ExecutionAlreadyExists):
        start(execution_name, delay_seconds, message)

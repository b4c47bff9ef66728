"""How a scheduled retry gets back onto the delivery queue, at the lowest price (README, "Retry
schedule"):

- due within 15 min (SQS's DelaySeconds maximum, jitter included): re-queued on the delivery
  queue with DelaySeconds. One SendMessageBatch per ten retries of a worker batch; no execution.
- later: the retry state machine (shared/store/retries.py). The long retries of a worker batch
  that fall due in the same step share ONE execution: it Waits until the earliest is due, then
  re-queues them all in one SendMessageBatch, each entry's DelaySeconds carrying its own jitter.
  An entry due more than 15 min after the earliest is sent with 900 s and a `not_before` time; the
  worker puts it back (`hold`, one SQS send, no table read) until then.
- a retry lost in a crash (`Retry.recovery`): its own execution named after the attempt, which Step
  Functions refuses to start twice, so a redelivered message never doubles the retry chain.

AWS calls: one SendMessageBatch per ten short retries, one StartExecution per group of long ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.core import clock
from shared.core.config import settings
from shared.core.ids import new_id
from shared.store import queues, retries

log = logging.getLogger(__name__)

# Long retries whose delays lie within this share of the earliest one (or 15 min) fall due in the
# same step: ±10 % jitter spreads one step over 0.9..1.1 of its base, at most 22 % of the earliest.
STEP_SPREAD = 0.25
BATCH_EXECUTION_PREFIX = "rtb"  # a batch execution's name: never a recovery's `<delivery>-<n>`


@dataclass(frozen=True)
class Retry:
    """A delivery message to put back on the queue `delay` seconds from now.

    `name` is unique to the attempt it is for (`{delivery_id}-{failed attempt}`): a recovery
    starts its execution under that name, so a second start for the same attempt is refused.
    """

    name: str
    message: dict[str, Any]
    delay: int
    recovery: bool = False
    due_at: float = field(default=0.0, compare=False)  # epoch seconds; 0 = now + delay

    def due(self) -> float:
        return self.due_at or clock.now() + self.delay


@dataclass(frozen=True)
class Group:
    """Long retries of one step: one execution waits `wait` s, then re-queues its entries."""

    wait: int
    entries: tuple[tuple[Retry, int], ...]  # (retry, DelaySeconds after the wait)


def rides_the_queue(retry: Retry) -> bool:
    return retry.delay <= queues.MAX_DELAY_SECONDS and not retry.recovery


def group_by_step(long: list[Retry]) -> list[Group]:
    """Greedy from the earliest: a retry joins the open group while it falls due within the step's
    spread of the group's wait and the group has room (one SendMessageBatch: ten entries)."""
    groups: list[Group] = []
    open_group: list[tuple[Retry, int]] = []
    wait = 0
    for retry in sorted(long, key=lambda item: item.delay):
        spread = max(queues.MAX_DELAY_SECONDS, int(wait * STEP_SPREAD))
        if open_group and (
            retry.delay - wait > spread or len(open_group) == queues.SEND_BATCH_LIMIT
        ):
            groups.append(Group(wait, tuple(open_group)))
            open_group = []
        if not open_group:
            wait = retry.delay
        open_group.append((retry, retry.delay - wait))
    if open_group:
        groups.append(Group(wait, tuple(open_group)))
    return groups


def entry(retry: Retry, offset: int) -> tuple[dict[str, Any], int]:
    """(message, DelaySeconds): an offset beyond 15 min goes as 900 s plus `not_before`."""
    if offset <= queues.MAX_DELAY_SECONDS:
        return retry.message, offset
    return {**retry.message, "not_before": int(retry.due())}, queues.MAX_DELAY_SECONDS


def schedule(pending: list[Retry]) -> list[Retry]:
    """Carry every retry; returns those that could not be scheduled (their SQS message must be
    reported as a batch item failure, so its redelivery recovers them)."""
    short = [retry for retry in pending if rides_the_queue(retry)]
    recoveries = [retry for retry in pending if retry.recovery]
    long = [retry for retry in pending if not rides_the_queue(retry) and not retry.recovery]
    lost = _send_short(short)
    for group in group_by_step(long):
        lost += _start_group(group)
    for retry in recoveries:
        lost += _start_recovery(retry)
    return lost


def _send_short(short: list[Retry]) -> list[Retry]:
    if not short:
        return []
    delayed = [(retry.message, retry.delay) for retry in short]
    url = settings().delivery_queue_url
    return _carry(short, "re-queueing retries", lambda: queues.send_delayed_batch(url, delayed))


def _start_group(group: Group) -> list[Retry]:
    delayed = [entry(retry, offset) for retry, offset in group.entries]
    members = [retry for retry, _ in group.entries]
    return _carry(
        members,
        "starting a retry execution",
        lambda: retries.start(new_id(BATCH_EXECUTION_PREFIX), group.wait, delayed),
    )


def _start_recovery(retry: Retry) -> list[Retry]:
    def start() -> None:
        retries.start_unless_started(retry.name, retry.delay, [(retry.message, 0)])

    return _carry([retry], "recovering a lost retry", start)


def _carry(carried: list[Retry], what: str, call: Callable[[], None]) -> list[Retry]:
    """Run one carrier call; on any error the retries it carried are returned as not scheduled
    (the handler reports their messages as batch item failures: nothing is lost)."""
    try:
        call()
    except Exception as error:
        log.warning(f"{what} failed", extra={"error": type(error).__name__})
        return carried
    return []

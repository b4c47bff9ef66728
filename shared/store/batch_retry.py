"""Finishing AWS batch calls: the part a batch leaves undone is sent again, with backoff.

A batch call can succeed while doing only part of its work: BatchWriteItem answers the writes it
had no capacity for as `UnprocessedItems`, BatchGetItem the keys as `UnprocessedKeys`, and the SQS
batch calls list entries they could not handle in `Failed`. botocore's own retries only repeat
whole calls that fail, so this module re-sends just the leftover, with exponential backoff and
full jitter, as AWS asks
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.BatchOperations).

Attempts and the total sleep are bounded (an API request has a timeout): when they run out the
caller gets `BatchIncomplete`, a 503 at the API, which the publish path undoes like any failure.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from shared.core.errors import BatchIncomplete

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # the first call and four re-sends of what is left
FIRST_DELAY_SECONDS = 0.05
MAX_DELAY_SECONDS = 1.0
MAX_TOTAL_SLEEP_SECONDS = 2.5

Item = TypeVar("Item")


def chunks(items: Sequence[Item], size: int) -> Iterator[list[Item]]:
    """`items` in lists of at most `size` (an AWS batch call's limit)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Full jitter: a random pause up to FIRST_DELAY x 2^(attempt - 1), capped at MAX_DELAY."""
    ceiling = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (attempt - 1))
    return ceiling * rand()


def complete(
    send: Callable[[list[Item]], list[Item]],
    pending: list[Item],
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Call `send(pending)`, which does what it can and returns what is left, until nothing is.

    Raises BatchIncomplete after MAX_ATTEMPTS calls that left something (or when the sleep
    budget is spent): the items not done are named in the log, never their contents.
    """
    slept = 0.0
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            pause = min(delay(attempt), MAX_TOTAL_SLEEP_SECONDS - slept)
            sleep(pause)
            slept += pause
        pending = send(pending)
        if not pending:
            return
    log.warning("AWS left part of a batch undone", extra={"call": what, "left": len(pending)})
    raise BatchIncomplete(what, len(pending))

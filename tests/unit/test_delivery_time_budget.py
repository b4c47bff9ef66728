"""The delivery deadline, the worker's function timeout and the delivery queue's visibility
timeout agree, so SQS never hands a message out again while an attempt of it is in flight.

An attempt is in flight at most until the worker's invocation ends, and Lambda ends it at the
function timeout at the latest. So the visibility timeout must outlast the function timeout, and
the function timeout must outlast the worst batch (or a batch is cut off mid-way).
"""

from __future__ import annotations

import math

import pytest

from infra.declaration import DELIVERY_WORKER
from shared.core import batch, config
from shared.core.resources import DELIVERY_QUEUE
from shared.outbound import http_sender

# The AWS calls around one send (load, sign, record, schedule the retry or dead-letter): well
# under a second each normally; this much is left for them to be slow in the worst batch.
AWS_CALLS_MARGIN_SECONDS = 20


def worst_batch_seconds() -> float:
    """Records of a batch run `batch.MAX_WORKERS` at a time; each send has one deadline."""
    rounds = math.ceil(DELIVERY_QUEUE.batch_size / batch.MAX_WORKERS)
    return rounds * http_sender.MAX_DEADLINE_SECONDS + AWS_CALLS_MARGIN_SECONDS


def test_the_queue_outlasts_the_worker_which_outlasts_its_worst_batch() -> None:
    """AWS: "Your function's timeout must be less than or equal to the queue's visibility
    timeout" (moto does not check it): an invocation is over, its attempts with it, before a
    message it holds can be received again.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"""
    assert DELIVERY_WORKER.consumes is DELIVERY_QUEUE
    assert DELIVERY_WORKER.timeout_seconds > worst_batch_seconds()
    assert DELIVERY_QUEUE.visibility_timeout_seconds > DELIVERY_WORKER.timeout_seconds
    assert DELIVERY_QUEUE.visibility_timeout_seconds > worst_batch_seconds()


def test_a_visibility_timeout_below_six_worker_timeouts_says_why() -> None:
    """AWS: "set the source queue's visibility timeout to at least six times the timeout that
    you configure on your function" (for the mapping's retries of a throttled invocation);
    a smaller value carries its reason in shared/core/resources.py.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"""
    six_times = DELIVERY_QUEUE.visibility_timeout_seconds >= 6 * DELIVERY_WORKER.timeout_seconds
    assert six_times or DELIVERY_QUEUE.visibility_reason.strip()


def test_the_default_deadline_is_the_maximum_the_timeouts_are_sized_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README: success is any 2xx within 30 s. A larger WEBHOOKS_DELIVERY_TIMEOUT_SECONDS is
    capped (tests/unit/test_http_deadline.py shows the cap at work)."""
    monkeypatch.delenv("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", raising=False)
    default = config.settings.__wrapped__().delivery_timeout_seconds
    assert default == http_sender.MAX_DEADLINE_SECONDS == 30

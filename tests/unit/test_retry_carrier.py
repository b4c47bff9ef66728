"""How retries travel: within 15 min on the delivery queue (DelaySeconds), later one Step
Functions execution per worker batch and step, and messages held back until `not_before`."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from shared.core import clock
from shared.core.aws import client
from shared.core.config import DEFAULT_RETRY_SCHEDULE
from shared.outbound.retry_carrier import Retry, entry, group_by_step, schedule
from shared.outbound.retry_policy import JITTER
from shared.store import queues, retries
from tests.support.faults import invoke_worker, receive_all
from tests.support.retries import executions, requeued_entries


def _retry(n: int, delay: int) -> Retry:
    message = {"delivery_id": f"dlv_{n}", "user_id": "u", "event_id": "e", "attempt": 2}
    return Retry(f"dlv_{n}-1", message, delay, due_at=clock.now() + delay)


@pytest.mark.parametrize("base", [base for base in DEFAULT_RETRY_SCHEDULE if base > 900])
def test_a_batch_of_one_step_shares_one_execution(base: int) -> None:
    """Ten deliveries failing at the same step, each with its own ±10 % jitter: one group."""
    rng = random.Random(base)
    delays = [round(base * rng.uniform(1 - JITTER, 1 + JITTER)) for _ in range(10)]
    delays[:2] = [round(base * (1 - JITTER)), round(base * (1 + JITTER))]  # the extremes
    (group,) = group_by_step([_retry(n, delay) for n, delay in enumerate(delays)])
    assert group.wait == min(delays)
    assert sorted(group.wait + offset for _, offset in group.entries) == sorted(delays)


def test_groups_hold_ten_at_most_and_steps_apart_never_share() -> None:
    pending = [_retry(n, 1800) for n in range(12)] + [_retry(20, 7200), _retry(21, 86400)]
    groups = group_by_step(pending)
    assert [(group.wait, len(group.entries)) for group in groups] == [
        (1800, 10),
        (1800, 2),
        (7200, 1),
        (86400, 1),
    ]


def test_an_entry_due_beyond_15_min_after_the_wait_carries_not_before() -> None:
    near, far = _retry(1, 80000), _retry(2, 90000)
    (group,) = group_by_step([near, far])
    sent = [entry(retry, offset) for retry, offset in group.entries]
    assert sent[0] == (near.message, 0)
    message, delay = sent[1]
    assert delay == queues.MAX_DELAY_SECONDS
    assert message == {**far.message, "not_before": int(far.due())}


def test_delay_seconds_never_exceed_sqs_limit(aws: dict[str, str]) -> None:
    """AWS refuses DelaySeconds above 900 (15 min) on SendMessage and each SendMessageBatch
    entry; moto accepts more in a batch, so the limit is checked on what we send:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatchRequestEntry.html
    """
    with requeued_entries(aws["DELIVERY_QUEUE_URL"]) as sent:
        queues.send_delayed_batch(aws["DELIVERY_QUEUE_URL"], [({"a": 1}, 5000), ({"b": 2}, -3)])
    assert [entry["DelaySeconds"] for entry in sent] == [900, 0]
    given = json.loads(retries.execution_input(5000, [({"a": 1}, 5000)]))
    assert given["wait_seconds"] == 5000 and given["entries"][0]["DelaySeconds"] == 900


def test_short_retries_of_a_batch_take_one_send_and_no_execution(
    aws: dict[str, str], calls: Any
) -> None:
    calls.reset()
    assert schedule([_retry(n, 60 + n) for n in range(10)]) == []
    assert dict(calls.calls) == {"sqs.SendMessageBatch": 1}
    assert executions(aws["RETRY_STATE_MACHINE_ARN"]) == {}


def test_long_retries_of_a_batch_take_one_execution(aws: dict[str, str], calls: Any) -> None:
    calls.reset()
    assert schedule([_retry(n, 7200 + 60 * n) for n in range(10)]) == []
    assert dict(calls.calls) == {"stepfunctions.StartExecution": 1}
    ((name, given),) = executions(aws["RETRY_STATE_MACHINE_ARN"]).items()
    assert given["wait_seconds"] == 7200
    assert [entry["DelaySeconds"] for entry in given["entries"]] == [60 * n for n in range(10)]
    assert name.startswith("rtb_")


def test_the_state_machine_requeues_its_batch_after_the_wait(aws: dict[str, str]) -> None:
    """The very definition CDK deploys, run by moto: Wait, then one SendMessageBatch whose
    entries each keep their own DelaySeconds."""
    first = {"delivery_id": "dlv_a", "attempt": 3}
    second = {"delivery_id": "dlv_b", "attempt": 3}
    retries.start("rtb_machine_test", 1, [(first, 0), (second, 5)])
    machine = aws["RETRY_STATE_MACHINE_ARN"]
    arn = machine.replace(":stateMachine:", ":execution:") + ":rtb_machine_test"
    sfn = client("stepfunctions")
    for _ in range(100):  # moto runs the execution on its own thread; wait for it to end
        status = sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            break
        time.sleep(0.1)
    assert status == "SUCCEEDED"
    queue_url = aws["DELIVERY_QUEUE_URL"]
    assert [json.loads(m["Body"]) for m in receive_all(queue_url)] == [first]
    later: list[dict[str, Any]] = []
    for _ in range(150):  # the second entry's own delay (5 s)
        later += [json.loads(m["Body"]) for m in receive_all(queue_url)]
        if later:
            break
        time.sleep(0.1)
    assert later == [second]


def test_a_message_before_its_not_before_goes_back_without_a_table_read(
    aws: dict[str, str], calls: Any
) -> None:
    message = {
        "delivery_id": "dlv_x",
        "user_id": "u",
        "event_id": "evt_x",
        "attempt": 6,
        "not_before": int(clock.now()) + 5000,
    }
    with requeued_entries(aws["DELIVERY_QUEUE_URL"]) as sent:
        calls.reset()
        response = invoke_worker(
            [{"MessageId": "m1", "ReceiptHandle": "r1", "Body": json.dumps(message)}]
        )
    assert response == {"batchItemFailures": []}
    assert dict(calls.calls) == {"sqs.SendMessageBatch": 1}  # no DynamoDB call at all
    (hop,) = sent
    assert json.loads(hop["MessageBody"]) == message
    assert hop["DelaySeconds"] == queues.MAX_DELAY_SECONDS

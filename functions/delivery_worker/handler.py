"""Delivery queue consumer: one signed POST per message (shared/outbound/worker.py), then the
batch's retries scheduled together (short ones back on this queue with DelaySeconds, long ones by
one Step Functions execution per step). A receiver failure is a scheduled retry, not an SQS
retry, so only messages we could not process (or whose retry we could not schedule) are reported.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.core.batch import Received, batch_response, parsed_bodies, process_records
from shared.core.observability import logger, metrics
from shared.outbound import worker

# Outcome of an attempt → the EMF metrics it counts toward (the dashboard and alarms read these).
OUTCOME_METRICS = {
    "succeeded": ("DeliverySucceeded",),
    "retrying": ("DeliveryFailedAttempt", "DeliveryRetried"),
    "failed": ("DeliveryFailed", "DeliveryDeadLettered"),
    "gone": ("DeliveryFailed",),
}


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    shelf = worker.load_batch(parsed_bodies(event))

    def run(received: Received) -> worker.Attempted:
        return worker.run(received.body, received.receive_count, shelf)

    failed, done = process_records(event, run)
    pending = {id(result.retry): message_id for message_id, result in done if result.retry}
    lost = worker.schedule([result.retry for _, result in done if result.retry])
    failed += [pending[id(retry)] for retry in lost]
    counted = Counter(result.outcome for _, result in done)
    for outcome, count in counted.items():
        for name in OUTCOME_METRICS.get(outcome, ()):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    logger.info("batch done", extra={"outcomes": dict(counted), "unscheduled": len(lost)})
    return batch_response(failed)

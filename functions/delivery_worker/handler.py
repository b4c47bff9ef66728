"""Delivery queue consumer: one signed POST per message; a receiver failure is a scheduled
retry (Step Functions), not an SQS retry, so only messages we could not process are reported."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.core.batch import process_batch
from shared.core.observability import logger, metrics
from shared.outbound.worker import attempt

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
    response, outcomes = process_batch(event, attempt)
    counted = Counter(outcomes)
    for outcome, count in counted.items():
        for name in OUTCOME_METRICS.get(outcome, ()):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    logger.info("batch done", extra={"outcomes": dict(counted)})
    return response

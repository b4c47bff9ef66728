"""Inbound queue consumer: each message runs its registered handlers; a failure fails only it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

# Your handler modules are imported here, each once (docs/inbound-handlers.md), e.g.
# from functions.inbound_processor import billing
from functions.inbound_processor.registry import handlers_for
from shared.core.batch import parsed_bodies, process_batch
from shared.core.observability import logger, metrics
from shared.inbound import service
from shared.store import dynamo


def handle_message(
    message: dict[str, Any],
    shelf: dynamo.Shelf | None = None,
    bundled: service.Bundled = service.NOTHING_BUNDLED,
) -> str:
    return service.process(message, handlers_for, shelf, bundled)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    messages = parsed_bodies(event)
    shelf = service.load_batch(messages)
    bundled = service.bundle_bodies(messages, shelf)  # large bodies: one S3 object per source
    response, outcomes = process_batch(
        event, lambda message: handle_message(message, shelf, bundled)
    )
    counted = Counter(outcomes)
    metrics.add_metric(name="InboundProcessed", unit=MetricUnit.Count, value=counted["processed"])
    # Retried failures, plus events whose body cannot be read (failed for good, not retried).
    failed = len(response["batchItemFailures"]) + counted["failed"]
    metrics.add_metric(name="InboundProcessingFailed", unit=MetricUnit.Count, value=failed)
    logger.info("batch done", extra={"outcomes": dict(counted), "failed": failed})
    return response

"""Delivery queue consumer: one signed POST per message; a receiver failure is a scheduled
retry (Step Functions), not an SQS retry, so only messages we could not process are reported."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.batch import process_batch
from shared.delivery import attempt

logger = Logger(service="serverless-webhooks")


def handle_message(message: dict[str, Any]) -> str:
    return attempt(message)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response, outcomes = process_batch(event, handle_message)
    logger.info("batch done", extra={"outcomes": dict(Counter(outcomes))})
    return response

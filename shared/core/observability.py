"""Powertools logger and metrics shared by every function (one service name).

Tracing is Lambda's own active X-Ray tracing (set on every function by the stack): the
Powertools tracer would import and patch the X-Ray SDK on every cold start for subsegments we
do not need, which was most of a handler's import time.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

# The stack sets POWERTOOLS_SERVICE_NAME per stage (`serverless-webhooks-<stage>`), so two stages in
# one account and region emit metrics their own alarms count, and never each other's.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "serverless-webhooks"
NAMESPACE = "ServerlessWebhooks"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

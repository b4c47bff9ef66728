"""Powertools logger, metrics and tracer shared by every function (one service name)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "serverless-webhooks"
NAMESPACE = "ServerlessWebhooks"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

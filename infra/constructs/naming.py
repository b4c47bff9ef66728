"""Names the stack and the application code must agree on (metrics, service, secret prefix)."""

from __future__ import annotations

import re

SERVICE_NAME = "serverless-webhooks"
METRICS_NAMESPACE = "ServerlessWebhooks"


def kebab_case(name: str) -> str:
    """`ServerlessWebhooks` → `serverless-webhooks`: the secret prefix, from the stack name."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).replace("_", "-").lower()


def pascal_case(name: str) -> str:
    """`delivery_worker` → `DeliveryWorker`: construct ids from declaration names."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-]", name))

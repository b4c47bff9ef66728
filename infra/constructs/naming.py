"""Names the stack and the application code must agree on, and the names each stage owns.

Two stages (`-c stage=staging`, `-c stage=prod`) deploy into one account and region side by
side, so every name a stage chooses itself (the stack, the secret prefix, the metrics `service`
dimension, the vended log groups) is derived from its stack name; everything else is left to
CloudFormation, which names resources after the stack.
"""

from __future__ import annotations

import re

STACK_NAME = "ServerlessWebhooks"
SERVICE_NAME = "serverless-webhooks"
METRICS_NAMESPACE = "ServerlessWebhooks"
# Lower-case letters, digits and hyphens: valid in stack, secret and log group names alike.
STAGE_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
STAGE_MAX_LENGTH = 24
# Log groups that AWS services write to through CloudWatch Logs delivery ("vended logs") go under
# this prefix, so the service's log resource policy need not grow with each new log group:
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html
VENDED_LOGS_PREFIX = "/aws/vendedlogs"


def stack_name(stage: str | None = None) -> str:
    """`ServerlessWebhooks` without a stage (the name existing deployments have), else
    `ServerlessWebhooks-<stage>`; a stage that cannot be part of every derived name is refused."""
    if not stage:
        return STACK_NAME
    if len(stage) > STAGE_MAX_LENGTH or not STAGE_PATTERN.fullmatch(stage):
        raise ValueError(
            f"stage {stage!r}: use 1-{STAGE_MAX_LENGTH} lower-case letters, digits and single "
            "hyphens, starting with a letter (e.g. staging, prod)"
        )
    return f"{STACK_NAME}-{stage}"


def kebab_case(name: str) -> str:
    """`ServerlessWebhooks` → `serverless-webhooks`: the secret prefix, from the stack name."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).replace("_", "-").lower()


def pascal_case(name: str) -> str:
    """`delivery_worker` → `DeliveryWorker`: construct ids from declaration names."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-]", name))


def vended_log_group_name(service: str, prefix: str, purpose: str) -> str:
    """`/aws/vendedlogs/<service>/<stack prefix>/<purpose>`: one per stage, under the prefix."""
    return f"{VENDED_LOGS_PREFIX}/{service}/{prefix}/{purpose}"

"""Create the stack's resources in an AWS emulator from the shared declarations.

Returns the environment variables the Lambda handlers read, exactly as the CDK stack sets them.
"""

from __future__ import annotations

import json
import os
from typing import Any

from infra import declaration as decl
from shared.core import resources as res
from shared.core.config import DEFAULT_RETENTION_DAYS, RETENTION_ENV, retention_days

ACCOUNT_ROLE_ARN = "arn:aws:iam::123456789012:role/serverless-webhooks-retry"


def provision(session: Any, prefix: str, admin_api_key: str) -> dict[str, str]:
    """Create tables, queues, bucket, state machine and admin secret; return the function env."""
    env: dict[str, str] = {}
    dynamodb = session.client("dynamodb")
    for table in res.TABLES:
        name = decl.resource_name(prefix, table.logical_id)
        dynamodb.create_table(TableName=name, **decl.dynamodb_table_spec(table))
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        env[table.env_var] = name

    sqs = session.client("sqs")
    for queue in res.QUEUES:
        dlq_url = sqs.create_queue(
            QueueName=decl.resource_name(prefix, queue.logical_id + "DLQ"),
            Attributes={"MessageRetentionPeriod": str(queue.dlq_retention_days * 86400)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
        url = sqs.create_queue(
            QueueName=decl.resource_name(prefix, queue.logical_id),
            Attributes={
                "VisibilityTimeout": str(queue.visibility_timeout_seconds),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        env[queue.env_var] = url
        env[queue.dlq_env_var] = dlq_url

    bucket = decl.resource_name(prefix, "raw-bodies").lower()
    session.client("s3").create_bucket(Bucket=bucket)
    env[res.RAW_BODY_BUCKET_ENV] = bucket

    definition = decl.retry_state_machine_definition(env[res.DELIVERY_QUEUE.env_var])
    machine = session.client("stepfunctions").create_state_machine(
        name=decl.resource_name(prefix, "RetryStateMachine"),
        definition=definition,
        roleArn=ACCOUNT_ROLE_ARN,
        type="STANDARD",
    )
    env[res.RETRY_STATE_MACHINE_ENV] = machine["stateMachineArn"]

    admin_secret_name = f"{prefix}/admin-api-key"
    session.client("secretsmanager").create_secret(
        Name=admin_secret_name, SecretString=json.dumps({"api_key": admin_api_key})
    )
    env[res.ADMIN_KEY_SECRET_ENV] = admin_secret_name
    env[res.SECRET_PREFIX_ENV] = prefix
    # As the CDK stack gives it, validated here too (the emulator's TTL sweep honours it).
    days = retention_days(os.environ.get(RETENTION_ENV, str(DEFAULT_RETENTION_DAYS)))
    env[RETENTION_ENV] = str(days)
    return env

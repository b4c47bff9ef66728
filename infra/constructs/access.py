"""What one function may touch, and the environment variables that tell it where.

Everything follows the least-privilege flags of its `shared.resources.Function` declaration; a
flag that is off grants nothing and sets no variable.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn

from infra.constructs.queues import Queues
from infra.constructs.storage import Storage
from shared import resources as res

SECRET_READ_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
SECRET_WRITE_ACTIONS = (
    *SECRET_READ_ACTIONS,
    "secretsmanager:CreateSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
    "secretsmanager:DeleteSecret",
    "secretsmanager:TagResource",
)
SECRET_ACTIONS = {"read": SECRET_READ_ACTIONS, "write": SECRET_WRITE_ACTIONS}


@dataclass(frozen=True)
class Resources:
    """The stack's resources a function can be granted."""

    storage: Storage
    queues: Queues
    retry_state_machine: sfn.StateMachine
    admin_secret: secretsmanager.ISecret
    secret_prefix: str

    def secret_arn_pattern(self, kind: str) -> str:
        """ARN of every `<prefix>/<kind>/...` secret (ARNs end in a random suffix: hence `*`)."""
        return Stack.of(self.storage).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.secret_prefix}/{kind}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def common_environment(self) -> dict[str, str]:
        """Names every function gets, as local mode's provision() returns them."""
        return {
            res.RAW_BODY_BUCKET_ENV: self.storage.raw_bodies.bucket_name,
            res.RETRY_STATE_MACHINE_ENV: self.retry_state_machine.state_machine_arn,
            res.ADMIN_KEY_SECRET_ENV: self.admin_secret.secret_arn,
            res.SECRET_PREFIX_ENV: self.secret_prefix,
        }


def grant_declared_access(fn: lambda_.Function, spec: res.Function, resources: Resources) -> None:
    """Environment and IAM for tables, queues, secrets, bucket and state machine."""
    _tables(fn, spec, resources.storage)
    _queues(fn, spec, resources.queues)
    for kind, level in (("users", spec.user_secrets), ("sources", spec.source_secrets)):
        if level:
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=list(SECRET_ACTIONS[level]),
                    resources=[resources.secret_arn_pattern(kind)],
                )
            )
    if spec.reads_admin_secret:
        resources.admin_secret.grant_read(fn)
    bucket = resources.storage.raw_bodies
    if spec.raw_bodies == "read":
        bucket.grant_read(fn)
    elif spec.raw_bodies == "write":
        bucket.grant_put(fn)
    elif spec.raw_bodies == "read_write":
        bucket.grant_read_write(fn)
    if spec.starts_retries:
        resources.retry_state_machine.grant_start_execution(fn)


def _tables(fn: lambda_.Function, spec: res.Function, storage: Storage) -> None:
    for table_spec in res.TABLES:
        reads, writes = table_spec in spec.reads_tables, table_spec in spec.writes_tables
        if not (reads or writes):
            continue
        table = storage.table(table_spec)
        fn.add_environment(table_spec.env_var, table.table_name)
        if reads and writes:
            table.grant_read_write_data(fn)
        elif writes:
            table.grant_write_data(fn)
        else:
            table.grant_read_data(fn)


def _queues(fn: lambda_.Function, spec: res.Function, queues: Queues) -> None:
    for env_var in spec.sends_to:
        queue = queues.by_env_var[env_var]
        fn.add_environment(env_var, queue.queue_url)
        queue.grant_send_messages(fn)
    if spec.consumes is not None:
        consumed = spec.consumes
        fn.add_environment(consumed.env_var, queues.queue(consumed).queue_url)
        fn.add_environment(consumed.dlq_env_var, queues.dlq(consumed).queue_url)
        fn.add_event_source(
            event_sources.SqsEventSource(
                queues.queue(consumed),
                batch_size=consumed.batch_size,
                report_batch_item_failures=True,
                max_concurrency=consumed.max_concurrency,
            )
        )
    if spec.manages_dlqs:  # peek into and redrive the DLQs: consume + send there, send back
        for queue_spec in res.QUEUES:
            queue, dlq = queues.queue(queue_spec), queues.dlq(queue_spec)
            fn.add_environment(queue_spec.env_var, queue.queue_url)
            fn.add_environment(queue_spec.dlq_env_var, dlq.queue_url)
            dlq.grant_consume_messages(fn)
            dlq.grant_send_messages(fn)
            # "Redrive all" on AWS: SQS moves the messages itself (source = the DLQ).
            dlq.grant(fn, "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks")
            queue.grant_send_messages(fn)

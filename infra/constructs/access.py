"""What one function may touch, and the environment variables that tell it where.

Everything follows the least-privilege flags of its `infra.declaration.Function` declaration; a
flag that is off grants nothing and sets no variable. The actions granted are the ones the
function's code calls (infra/constructs/permissions.py), as explicit statements: CDK's `grant*`
helpers add actions we never use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn

from infra import declaration as decl
from infra.constructs.permissions import (
    ADMIN_SECRET_ACTIONS,
    DLQ_ACTIONS,
    RAW_BODY_ACTIONS,
    REDRIVE_TARGET_ACTIONS,
    SECRET_ACTIONS,
    SEND_ACTIONS,
    table_actions,
)
from infra.constructs.queues import Queues
from infra.constructs.storage import Storage
from shared.core import resources as res


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


def grant_declared_access(fn: lambda_.Function, spec: decl.Function, resources: Resources) -> None:
    """Environment and IAM for tables, queues, secrets, bucket and state machine."""
    _tables(fn, spec, resources.storage)
    _queues(fn, spec, resources.queues)
    for kind, level in (("users", spec.user_secrets), ("sources", spec.source_secrets)):
        if level:
            _allow(fn, SECRET_ACTIONS[(kind, level)], [resources.secret_arn_pattern(kind)])
    if spec.reads_admin_secret:
        _allow(fn, ADMIN_SECRET_ACTIONS, [resources.admin_secret.secret_arn])
    if spec.raw_bodies:  # object keys are event ids: every object of the bucket
        objects = resources.storage.raw_bodies.arn_for_objects("*")
        _allow(fn, RAW_BODY_ACTIONS[spec.raw_bodies], [objects])
    if spec.starts_retries:
        resources.retry_state_machine.grant_start_execution(fn)


def _allow(fn: lambda_.Function, actions: Iterable[str], resources: Iterable[str]) -> None:
    fn.add_to_role_policy(iam.PolicyStatement(actions=list(actions), resources=list(resources)))


def _tables(fn: lambda_.Function, spec: decl.Function, storage: Storage) -> None:
    for table_spec in res.TABLES:
        if table_spec in spec.reads_tables or table_spec in spec.writes_tables:
            fn.add_environment(table_spec.env_var, storage.table(table_spec).table_name)
    for access in table_actions(spec):
        table = storage.table(access.table)
        if access.items:
            _allow(fn, (f"dynamodb:{action}" for action in access.items), [table.table_arn])
        if access.indexes:
            indexes = f"{table.table_arn}/index/*"  # the table's own declared indexes only
            _allow(fn, (f"dynamodb:{action}" for action in access.indexes), [indexes])


def _queues(fn: lambda_.Function, spec: decl.Function, queues: Queues) -> None:
    for env_var in spec.sends_to:
        queue = queues.by_env_var[env_var]
        fn.add_environment(env_var, queue.queue_url)
        _allow(fn, SEND_ACTIONS, [queue.queue_arn])
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
    if spec.manages_dlqs:  # peek into and redrive the DLQs back to their source queues
        for queue_spec in res.QUEUES:
            queue, dlq = queues.queue(queue_spec), queues.dlq(queue_spec)
            fn.add_environment(queue_spec.env_var, queue.queue_url)
            fn.add_environment(queue_spec.dlq_env_var, dlq.queue_url)
            _allow(fn, DLQ_ACTIONS, [dlq.queue_arn])
            _allow(fn, REDRIVE_TARGET_ACTIONS, [queue.queue_arn])

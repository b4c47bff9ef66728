"""SQS queues and their dead-letter queues, from shared.core.resources.QUEUES."""

from __future__ import annotations

from typing import cast

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import acknowledge
from shared.core import resources as res


class Queues(Construct):
    """`queues[logical_id]`, `dlqs[logical_id]` and `by_env_var[<queue or DLQ env var>]`."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.queues: dict[str, sqs.Queue] = {}
        self.dlqs: dict[str, sqs.Queue] = {}
        self.by_env_var: dict[str, sqs.Queue] = {}
        for spec in res.QUEUES:
            dlq = self._queue(
                f"{spec.logical_id}DLQ", retention_period=Duration.days(spec.dlq_retention_days)
            )
            acknowledge(
                dlq,
                "AwsSolutions-SQS3",
                "This is the dead-letter queue; its messages are inspected and redriven by the "
                "admin API, so it has no dead-letter queue of its own.",
            )
            queue = self._queue(
                spec.logical_id,
                visibility_timeout=Duration.seconds(spec.visibility_timeout_seconds),
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=dlq, max_receive_count=spec.max_receive_count
                ),
            )
            self.queues[spec.logical_id] = queue
            self.dlqs[spec.logical_id] = dlq
            self.by_env_var[spec.env_var] = queue
            self.by_env_var[spec.dlq_env_var] = dlq

    def queue(self, spec: res.Queue) -> sqs.Queue:
        return self.queues[spec.logical_id]

    def dlq(self, spec: res.Queue) -> sqs.Queue:
        return self.dlqs[spec.logical_id]

    def _queue(
        self,
        logical_id: str,
        *,
        retention_period: Duration | None = None,
        visibility_timeout: Duration | None = None,
        dead_letter_queue: sqs.DeadLetterQueue | None = None,
    ) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            logical_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=retention_period,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=dead_letter_queue,
        )
        # Same name as local mode's queue; stable across construct refactors.
        cast(sqs.CfnQueue, queue.node.default_child).override_logical_id(logical_id)
        return queue

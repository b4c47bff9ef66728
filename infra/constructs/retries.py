"""The Standard state machine that waits out the delay of retries longer than 15 min, then
re-queues them (one execution per worker batch and step; README, "How retries are carried").

Its definition comes verbatim from infra.declaration (the same JSON local mode runs in moto);
only the delivery queue URL is substituted here.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import declaration as decl
from infra.constructs.naming import vended_log_group_name


class RetryStateMachine(Construct):
    """`state_machine` may only `sqs:SendMessage` to the delivery queue (plus logs and X-Ray):
    SendMessageBatch has no action of its own, SQS authorises it as SendMessage
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, delivery_queue: sqs.IQueue, name_prefix: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # Step Functions delivers its logs through CloudWatch Logs: a vended-logs name.
            log_group_name=vended_log_group_name("states", name_prefix, "retries"),
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[delivery_queue.queue_arn])
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(decl.retry_state_machine_definition()),
            definition_substitutions={
                decl.STATE_MACHINE_QUEUE_PLACEHOLDER: delivery_queue.queue_url
            },
            role=self.role,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=False,  # payloads are customer events: keep them out of logs
            ),
            tracing_enabled=True,
        )

"""Queues and DLQs from the declarations; the retry state machine is the shared definition."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra import declaration as decl
from infra.constructs.wildcards import LOG_DELIVERY_ACTIONS, XRAY_ACTIONS
from shared.core import resources as res

pytestmark = pytest.mark.xdist_group("cdk")


def test_one_queue_and_one_dlq_per_declaration(synth: Any) -> None:
    expected = {q.logical_id for q in res.QUEUES} | {f"{q.logical_id}DLQ" for q in res.QUEUES}
    assert set(synth.resources("AWS::SQS::Queue")) == expected


@pytest.mark.parametrize("queue", res.QUEUES, ids=lambda q: q.logical_id)
def test_queue_redrive_and_settings(synth: Any, queue: res.Queue) -> None:
    props = synth.props(queue.logical_id)
    dlq_id = f"{queue.logical_id}DLQ"
    assert props["VisibilityTimeout"] == queue.visibility_timeout_seconds
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": synth.arn(dlq_id),
        "maxReceiveCount": queue.max_receive_count,
    }
    assert props["SqsManagedSseEnabled"] is True
    dlq = synth.props(dlq_id)
    assert dlq["MessageRetentionPeriod"] == queue.dlq_retention_days * 86400
    assert dlq["SqsManagedSseEnabled"] is True


@pytest.mark.parametrize("queue", res.QUEUES, ids=lambda q: q.logical_id)
def test_queues_refuse_plain_http(template: Any, synth: Any, queue: res.Queue) -> None:
    for logical_id in (queue.logical_id, f"{queue.logical_id}DLQ"):
        template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [synth.ref(logical_id)],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


def _state_machine(synth: Any) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = synth.resources("AWS::StepFunctions::StateMachine").items()
    return logical_id, resource["Properties"]


def test_state_machine_is_the_shared_definition(synth: Any) -> None:
    """CloudFormation fills the placeholder at deploy time (DefinitionSubstitutions)."""
    _, props = _state_machine(synth)
    assert props["StateMachineType"] == "STANDARD"
    assert props["DefinitionString"] == decl.retry_state_machine_definition()
    assert props["DefinitionSubstitutions"] == {
        decl.STATE_MACHINE_QUEUE_PLACEHOLDER: synth.ref(res.DELIVERY_QUEUE.logical_id)
    }
    definition = json.loads(props["DefinitionString"])
    states = definition["States"].values()
    # Only states and SQS integrations moto executes (no Lambda task): local mode runs it as is.
    assert {state["Type"] for state in states} <= {"Wait", "Choice", "Pass", "Task"}
    assert {s["Resource"] for s in states if s["Type"] == "Task"} == {
        "arn:aws:states:::aws-sdk:sqs:sendMessageBatch"
    }


def test_state_machine_logs_and_traces(synth: Any) -> None:
    _, props = _state_machine(synth)
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    (destination,) = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert synth.resources("AWS::Logs::LogGroup")[log_group_id]["Properties"]["RetentionInDays"]
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_state_machine_may_only_send_to_the_delivery_queue(synth: Any) -> None:
    _, props = _state_machine(synth)
    role = props["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    scoped = [s for s in statements if s["Resource"] != "*"]
    assert scoped == [
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": synth.arn(res.DELIVERY_QUEUE.logical_id),
        }
    ]
    unscoped = {a for s in statements if s["Resource"] == "*" for a in s["Action"]}
    assert unscoped <= set(XRAY_ACTIONS + LOG_DELIVERY_ACTIONS)  # no resource-level permissions
    assert synth.props(role)["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "states.amazonaws.com"
    }

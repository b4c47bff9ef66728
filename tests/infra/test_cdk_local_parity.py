"""Local mode (infra/local/provision.py in moto) creates what the CDK template declares."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra import declaration as decl
from infra.local.provision import provision
from shared.core import resources as res

pytestmark = pytest.mark.xdist_group("cdk")


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict[str, str]]]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        yield session, provision(session, "parity", "wk_parity_admin")


def _gsis(indexes: list[dict[str, Any]]) -> dict[str, Any]:
    return {gsi["IndexName"]: gsi["KeySchema"] for gsi in indexes}


def test_tables_match(synth: Any, local: tuple[Any, dict[str, str]]) -> None:
    session, env = local
    dynamodb = session.client("dynamodb")
    for table in res.TABLES:
        described = dynamodb.describe_table(TableName=env[table.env_var])["Table"]
        declared = synth.props(table.logical_id)
        assert described["KeySchema"] == declared["KeySchema"], table.logical_id
        assert _gsis(described.get("GlobalSecondaryIndexes", [])) == _gsis(
            declared.get("GlobalSecondaryIndexes", [])
        ), table.logical_id
        ttl = dynamodb.describe_time_to_live(TableName=env[table.env_var])["TimeToLiveDescription"]
        local_ttl = ttl.get("AttributeName") if ttl["TimeToLiveStatus"] == "ENABLED" else None
        cfn_ttl = declared.get("TimeToLiveSpecification", {}).get("AttributeName")
        assert local_ttl == cfn_ttl, table.logical_id


def test_queues_match(synth: Any, local: tuple[Any, dict[str, str]]) -> None:
    session, env = local
    sqs = session.client("sqs")
    for queue in res.QUEUES:
        attributes = sqs.get_queue_attributes(QueueUrl=env[queue.env_var], AttributeNames=["All"])[
            "Attributes"
        ]
        declared = synth.props(queue.logical_id)
        assert int(attributes["VisibilityTimeout"]) == declared["VisibilityTimeout"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["maxReceiveCount"] == declared["RedrivePolicy"]["maxReceiveCount"]
        dlq_arn = sqs.get_queue_attributes(
            QueueUrl=env[queue.dlq_env_var], AttributeNames=["QueueArn", "MessageRetentionPeriod"]
        )["Attributes"]
        assert redrive["deadLetterTargetArn"] == dlq_arn["QueueArn"]
        dlq_declared = synth.props(f"{queue.logical_id}DLQ")
        assert int(dlq_arn["MessageRetentionPeriod"]) == dlq_declared["MessageRetentionPeriod"]


def test_state_machine_definition_matches(synth: Any, local: tuple[Any, dict[str, str]]) -> None:
    session, env = local
    described = session.client("stepfunctions").describe_state_machine(
        stateMachineArn=env[res.RETRY_STATE_MACHINE_ENV]
    )
    ((_, machine),) = synth.resources("AWS::StepFunctions::StateMachine").items()
    props = machine["Properties"]
    cfn_definition = props["DefinitionString"]
    for name, value in props["DefinitionSubstitutions"].items():  # as CloudFormation does
        local_value = env[res.DELIVERY_QUEUE.env_var]
        assert value == {"Ref": res.DELIVERY_QUEUE.logical_id}
        cfn_definition = cfn_definition.replace("${" + name + "}", local_value)
    assert json.loads(described["definition"]) == json.loads(cfn_definition)
    assert described["type"] == machine["Properties"]["StateMachineType"]


def test_functions_read_the_same_variables(synth: Any, local: tuple[Any, dict[str, str]]) -> None:
    _, env = local
    cfn_names = {
        name
        for fn in synth.resources("AWS::Lambda::Function").values()
        for name in fn["Properties"]["Environment"]["Variables"]
    }
    set_only_by_the_stack = {
        "PUBLIC_BASE_URL",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
    } | {name for spec in decl.FUNCTIONS for name, _ in spec.settings}
    assert cfn_names - set_only_by_the_stack == set(env)

"""Stages side by side: `-c stage=staging` and `-c stage=prod` deploy into one account and region.

CloudFormation refuses a second stack that creates a secret, a log group or any other resource
whose explicit name already exists in the account and region; moto never sees two stacks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.constructs.naming import stack_name
from shared.core import resources as res

pytestmark = pytest.mark.xdist_group("cdk")

# The property holding a resource's name in its account and region, per resource type.
NAME_PROPERTY = {
    "AWS::ApiGatewayV2::Api": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
}
# Types whose name, if any, is scoped to another resource of the same stack (or that have none).
UNNAMED_OR_SCOPED = {
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
    "AWS::CDK::Metadata",
    "AWS::IAM::Policy",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Permission",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
}
# Names the code builds at run time from the stack's environment: secrets under the prefix,
# metrics under the Powertools service.
RUNTIME_NAME_VARIABLES = (res.SECRET_PREFIX_ENV, "POWERTOOLS_SERVICE_NAME")


def explicit_names(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every name the stack chooses itself in the account and region."""
    names: set[tuple[str, str]] = set()
    for logical_id, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        assert kind in NAME_PROPERTY or kind in UNNAMED_OR_SCOPED, (logical_id, kind)
        if kind in NAME_PROPERTY and NAME_PROPERTY[kind] in props:
            names.add((kind, json.dumps(props[NAME_PROPERTY[kind]])))
        for variable in RUNTIME_NAME_VARIABLES:
            value = props.get("Environment", {}).get("Variables", {}).get(variable)
            if value is not None:
                names.add((variable, json.dumps(value)))
    return names


def test_stages_choose_no_name_in_common(stages: dict[str, dict[str, Any]]) -> None:
    staging, prod = explicit_names(stages["staging"]), explicit_names(stages["prod"])
    assert staging & prod == set()
    for names, prefix in (
        (staging, "serverless-webhooks-staging"),
        (prod, "serverless-webhooks-prod"),
    ):
        assert ("AWS::SecretsManager::Secret", json.dumps(f"{prefix}/admin-api-key")) in names
        assert (res.SECRET_PREFIX_ENV, json.dumps(prefix)) in names
        assert ("POWERTOOLS_SERVICE_NAME", json.dumps(prefix)) in names
        log_groups = {json.loads(name) for kind, name in names if kind == "AWS::Logs::LogGroup"}
        assert len(log_groups) == 2 and all(f"/{prefix}/" in name for name in log_groups)


def _service_dimensions(template: dict[str, Any]) -> set[str]:
    """The `service` of every application metric the stage's alarms count."""
    found = set()
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        for query in resource["Properties"].get("Metrics", []):
            dimensions = query.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
            found |= {d["Value"] for d in dimensions if d["Name"] == "service"}
    return found


def test_stage_alarms_count_their_own_metrics(stages: dict[str, dict[str, Any]]) -> None:
    """Both stages publish to one CloudWatch namespace: the `service` dimension keeps them apart,
    in the alarms and the dashboard alike."""
    for stage, template in stages.items():
        service = f"serverless-webhooks-{stage}"
        assert _service_dimensions(template) == {service}
        (dashboard,) = [
            r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
        ]
        parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
        body = "".join(part for part in parts if isinstance(part, str))  # JSON text
        assert f'"InboundReceived","service","{service}"' in body


def test_default_stack_keeps_its_name(synth: Any) -> None:
    """No stage: the stack and its names are the ones existing deployments already have."""
    assert synth.stack.stack_name == "ServerlessWebhooks"
    assert synth.stack.secret_prefix == "serverless-webhooks"


@pytest.mark.parametrize("stage", ["Prod", "prod_1", "-prod", "prod-", "a--b", "x" * 25, "1st"])
def test_a_stage_that_cannot_name_everything_is_refused(stage: str) -> None:
    with pytest.raises(ValueError, match="stage"):
        stack_name(stage)


def test_stage_names() -> None:
    assert stack_name(None) == stack_name("") == "ServerlessWebhooks"
    assert stack_name("prod") == "ServerlessWebhooks-prod"
    assert stack_name("eu-west-2") == "ServerlessWebhooks-eu-west-2"

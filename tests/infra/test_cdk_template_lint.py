"""The template as AWS validates it: cfn-lint, HTTP API log variables, vended log group names.

moto and `cdk synth` accept templates that CloudFormation or the service refuses (or quietly
mis-serves); cfn-lint checks the synthesized template against the CloudFormation resource schemas
and AWS's own rules.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from infra.constructs.naming import VENDED_LOGS_PREFIX

pytestmark = pytest.mark.xdist_group("cdk")

LINT_REGIONS = ["us-east-1"]
# Warnings left in the template on purpose: (rule, message pattern, reason). Anything else fails.
ACCEPTED_WARNINGS: list[tuple[str, str, str]] = [
    (
        "W3005",
        r"'\w*Role[0-9A-F]{8}' dependency already enforced by a 'GetAtt' at "
        r"'Resources/\w+/Properties/Role(Arn)?'",
        "CDK makes a Lambda function or state machine DependsOn its role and the role's default "
        "policy; the role half repeats what the GetAtt already orders, and the policy half is "
        "needed, so the list stays as CDK writes it.",
    ),
]
# Every $context variable an HTTP API fills in an access log line, from
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
# (REST-only ones such as $context.resourcePath are missing from that page and stay empty).
HTTP_API_LOG_VARIABLES = {
    "$context.accountId",
    "$context.apiId",
    "$context.authorizer.error",
    "$context.authorizer.principalId",
    "$context.awsEndpointRequestId",
    "$context.awsEndpointRequestId2",
    "$context.customDomain.basePathMatched",
    "$context.dataProcessed",
    "$context.domainName",
    "$context.domainPrefix",
    "$context.error.message",
    "$context.error.messageString",
    "$context.error.responseType",
    "$context.extendedRequestId",
    "$context.httpMethod",
    "$context.identity.sourceIp",
    "$context.identity.userAgent",
    "$context.integrationErrorMessage",
    "$context.integrationLatency",
    "$context.integrationStatus",
    "$context.path",
    "$context.protocol",
    "$context.requestId",
    "$context.requestTime",
    "$context.requestTimeEpoch",
    "$context.responseLatency",
    "$context.responseLength",
    "$context.routeKey",
    "$context.stage",
    "$context.status",
}


def _accepted(rule_id: str, message: str) -> bool:
    return any(
        rule_id == rule and re.fullmatch(pattern, message) for rule, pattern, _ in ACCEPTED_WARNINGS
    )


@pytest.fixture(scope="module")
def findings(synth: Any) -> list[tuple[str, str, str]]:
    """(rule id, severity, message) for every cfn-lint finding on the synthesized template."""
    matches = lint(json.dumps(synth.json), config=ManualArgs(regions=LINT_REGIONS))
    return [(m.rule.id, m.rule.severity, m.message) for m in matches]


def test_cfn_lint_finds_no_error(findings: list[tuple[str, str, str]]) -> None:
    errors = [f for f in findings if f[1] == "error"]
    assert errors == []


def test_every_cfn_lint_warning_is_accepted_with_a_reason(
    findings: list[tuple[str, str, str]],
) -> None:
    unexplained = [f for f in findings if f[1] != "error" and not _accepted(f[0], f[2])]
    assert unexplained == []
    for _, _, reason in ACCEPTED_WARNINGS:
        assert len(reason.split()) >= 8


def test_cfn_lint_catches_what_moto_forgives() -> None:
    """A queue whose visibility timeout is shorter than its consumer's timeout: moto takes it,
    CloudFormation refuses the event source mapping (cfn-lint E3505). Proves the lint runs.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"""
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "h.handler",
                    "Role": "arn:aws:iam::123456789012:role/r",
                    "Code": {"ZipFile": "def handler(e, c): pass"},
                    "Timeout": 60,
                },
            },
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                    "FunctionName": {"Ref": "Fn"},
                },
            },
        }
    }
    matches = lint(json.dumps(template), config=ManualArgs(regions=LINT_REGIONS))
    assert "E3505" in {m.rule.id for m in matches}


def _stage(synth: Any) -> dict[str, Any]:
    ((_, stage),) = synth.resources("AWS::ApiGatewayV2::Stage").items()
    properties: dict[str, Any] = stage["Properties"]
    return properties


def test_access_log_format_uses_http_api_variables_only(synth: Any) -> None:
    """An HTTP API leaves REST-only variables ($context.resourcePath) empty: the log line would
    lose the route. https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html"""
    log_format = _stage(synth)["AccessLogSettings"]["Format"]
    used = set(re.findall(r"\$context\.[A-Za-z0-9.]+", log_format))
    assert used - HTTP_API_LOG_VARIABLES == set()
    assert {"$context.requestId", "$context.routeKey", "$context.path", "$context.status"} <= used
    fields = json.loads(log_format)  # one JSON object per line, every value a string
    assert all(isinstance(value, str) for value in fields.values())


def _log_group_of(synth: Any, arn: Any) -> dict[str, Any]:
    props: dict[str, Any] = synth.props(arn["Fn::GetAtt"][0])
    return props


def test_vended_log_groups_are_under_aws_vendedlogs(synth: Any) -> None:
    """Log groups that API Gateway and Step Functions write to are named under /aws/vendedlogs/,
    so the CloudWatch Logs resource policy for log delivery does not grow with each one.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html"""
    access = _log_group_of(synth, _stage(synth)["AccessLogSettings"]["DestinationArn"])
    ((_, machine),) = synth.resources("AWS::StepFunctions::StateMachine").items()
    (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    states = _log_group_of(synth, destination["CloudWatchLogsLogGroup"]["LogGroupArn"])
    prefix = synth.stack.name_prefix
    assert access["LogGroupName"] == f"{VENDED_LOGS_PREFIX}/apigateway/{prefix}/access"
    assert states["LogGroupName"] == f"{VENDED_LOGS_PREFIX}/states/{prefix}/retries"

"""HTTP API routes from infra.declaration.ROUTES, straight to their functions: no authorizer."""

from __future__ import annotations

from typing import Any

import pytest

from functions.api.context import PUBLIC_PATHS, needs_key
from infra import declaration as decl

pytestmark = pytest.mark.xdist_group("cdk")


def _routes(synth: Any) -> dict[str, dict[str, Any]]:
    return {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in synth.resources("AWS::ApiGatewayV2::Route").values()
    }


def test_routes_are_the_declared_ones(synth: Any) -> None:
    assert set(_routes(synth)) == {r.key for r in decl.ROUTES}


def test_no_route_runs_an_api_gateway_authorizer(synth: Any) -> None:
    """The API function checks the key itself (issue 14: an authorizer was a second Lambda
    invocation on every request); cdk-nag's APIG4 is acknowledged with that reason."""
    assert synth.resources("AWS::ApiGatewayV2::Authorizer") == {}
    for route in _routes(synth).values():
        assert route.get("AuthorizationType", "NONE") == "NONE"
        assert "AuthorizerId" not in route
    assert {r.key for r in decl.ROUTES if r.authorized} == {
        "ANY /v1/{proxy+}",
        "POST /v1/events",
        "POST /v1/events/batch",
    }


def test_the_api_function_asks_a_key_exactly_on_the_authorized_routes() -> None:
    """What API Gateway sends to the API function without a key check of its own: the
    function's public paths are exactly the declaration's unauthorized `/v1` routes."""
    public_v1 = {r.path for r in decl.ROUTES if not r.authorized and r.path.startswith("/v1/")}
    assert public_v1 == set(PUBLIC_PATHS)
    for route in decl.ROUTES:
        if route.path.startswith("/v1/"):
            assert needs_key(route.path.replace("{proxy+}", "webhooks")) is route.authorized


def test_each_route_reaches_its_function(synth: Any) -> None:
    integrations = synth.resources("AWS::ApiGatewayV2::Integration")
    routes = _routes(synth)
    for route in decl.ROUTES:
        target = routes[route.key]["Target"]["Fn::Join"][1][1]
        integration = integrations[target["Ref"]]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        assert integration["IntegrationUri"] == synth.arn(synth.function_id(route.function))


def test_default_stage_logs_and_throttles(synth: Any) -> None:
    ((_, stage),) = synth.resources("AWS::ApiGatewayV2::Stage").items()
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    log_group_id = props["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert synth.props(log_group_id)["RetentionInDays"] == 30
    assert "$context.requestId" in props["AccessLogSettings"]["Format"]
    assert props["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": 500,
        "ThrottlingRateLimit": 1000,
    }


def test_outputs(synth: Any) -> None:
    outputs = synth.json["Outputs"]
    api_id = synth.stack.resolve(synth.stack.http_api.api.node.default_child.logical_id)
    assert outputs["ApiUrl"]["Value"] == {"Fn::GetAtt": [api_id, "ApiEndpoint"]}
    assert outputs["AdminApiKeySecret"]["Value"] == "serverless-webhooks/admin-api-key"

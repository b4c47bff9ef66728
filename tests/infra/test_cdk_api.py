"""HTTP API routes from infra.declaration.ROUTES; only `/v1/{proxy+}` runs the authorizer."""

from __future__ import annotations

from typing import Any

import pytest

from infra import declaration as decl

pytestmark = pytest.mark.xdist_group("cdk")


def _routes(synth: Any) -> dict[str, dict[str, Any]]:
    return {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in synth.resources("AWS::ApiGatewayV2::Route").values()
    }


def test_routes_are_the_declared_ones(synth: Any) -> None:
    assert set(_routes(synth)) == {r.key for r in decl.ROUTES}


def test_only_the_management_api_is_authorized(synth: Any) -> None:
    ((authorizer_id, _),) = synth.resources("AWS::ApiGatewayV2::Authorizer").items()
    authorized = {
        key
        for key, route in _routes(synth).items()
        if route.get("AuthorizationType") == "CUSTOM"
        and route.get("AuthorizerId") == synth.ref(authorizer_id)
    }
    assert authorized == {"ANY /v1/{proxy+}"}
    assert authorized == {r.key for r in decl.ROUTES if r.authorized}
    for key, route in _routes(synth).items():
        if key not in authorized:
            assert route.get("AuthorizationType", "NONE") == "NONE"
            assert "AuthorizerId" not in route


def test_each_route_reaches_its_function(synth: Any) -> None:
    integrations = synth.resources("AWS::ApiGatewayV2::Integration")
    routes = _routes(synth)
    for route in decl.ROUTES:
        target = routes[route.key]["Target"]["Fn::Join"][1][1]
        integration = integrations[target["Ref"]]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        assert integration["IntegrationUri"] == synth.arn(synth.function_id(route.function))


def test_lambda_authorizer_accepts_either_header(synth: Any) -> None:
    ((_, authorizer),) = synth.resources("AWS::ApiGatewayV2::Authorizer").items()
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "REQUEST"
    assert props["EnableSimpleResponses"] is True
    assert props["AuthorizerPayloadFormatVersion"] == "2.0"
    assert props["AuthorizerResultTtlInSeconds"] == 0
    assert not props.get("IdentitySource")  # x-api-key or Authorization: neither is required
    authorizer_fn = synth.function_id(decl.AUTHORIZER)
    assert synth.arn(authorizer_fn) in props["AuthorizerUri"]["Fn::Join"][1]


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

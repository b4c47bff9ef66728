"""The HTTP API: routes from infra.declaration.ROUTES, straight to their functions.

No API Gateway authorizer: the API function checks the API key itself (shared/access/auth.py),
so a request is one Lambda invocation, not two (README: Architecture).
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import declaration as decl
from infra.constructs.functions import Functions
from infra.constructs.nag import acknowledge
from infra.constructs.naming import vended_log_group_name

THROTTLE = apigwv2.ThrottleSettings(burst_limit=500, rate_limit=1000)
# One JSON object per request, from HTTP API variables only ($context.resourcePath and other REST
# API variables are not filled in for an HTTP API):
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
ACCESS_LOG_FIELDS: dict[str, str] = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
}
ACCESS_LOG_FORMAT = apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS))
PUBLIC_ROUTE_REASON = (
    "Public by design: health check, API docs, and inbound provider webhooks, which are "
    "authenticated by their HMAC signature in the handler instead of an API key."
)
API_KEY_ROUTE_REASON = (
    "Authenticated in the function instead of by an API Gateway authorizer: the API function "
    "refuses every request without a valid API key (x-api-key or Bearer, checked against the "
    "SHA-256 hashes in the API keys table) before it reads the input, with JSON 401/403 errors. "
    "A Lambda authorizer would cost a second invocation per request, and HTTP APIs cannot cache "
    "its answer safely when the key may come in either of two headers."
)


@jsii.implements(apigwv2.IAccessLogSettings)
class AccessLogSettings:
    """`IAccessLogSettings` is an interface in Python (no struct to fill in): this implements it."""

    def __init__(
        self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat
    ) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat | None:
        return self._format


class HttpApi(Construct):
    """`api` with a `$default` stage that logs every request and throttles by default."""

    def __init__(
        self, scope: Construct, construct_id: str, *, functions: Functions, name_prefix: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=name_prefix,  # tells the stages apart in the console (not required unique)
            description="Serverless Webhooks: management API and inbound webhook endpoints.",
            create_default_stage=False,  # the stage below adds access logs and throttling
        )
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            # Written by API Gateway, not by our code: named like the other vended logs.
            log_group_name=vended_log_group_name("apigateway", name_prefix, "access"),
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=THROTTLE,
            access_log_settings=AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs), ACCESS_LOG_FORMAT
            ),
        )
        self._add_routes(functions)

    @property
    def url(self) -> str:
        return self.api.api_endpoint

    def _add_routes(self, functions: Functions) -> None:
        integration_by_function: dict[str, integrations.HttpLambdaIntegration] = {}
        for route in decl.ROUTES:
            name = route.function.name
            if name not in integration_by_function:
                integration_by_function[name] = integrations.HttpLambdaIntegration(
                    f"{name}-integration", functions.function(route.function)
                )
            if route.path == decl.DEFAULT_ROUTE:
                added = [
                    apigwv2.HttpRoute(
                        self,
                        "DefaultRoute",
                        http_api=self.api,
                        route_key=apigwv2.HttpRouteKey.DEFAULT,
                        integration=integration_by_function[name],
                    )
                ]
            else:
                added = self.api.add_routes(
                    path=route.path,
                    methods=[apigwv2.HttpMethod(route.method)],
                    integration=integration_by_function[name],
                )
            reason = API_KEY_ROUTE_REASON if route.authorized else PUBLIC_ROUTE_REASON
            for added_route in added:
                acknowledge(added_route, "AwsSolutions-APIG4", reason)

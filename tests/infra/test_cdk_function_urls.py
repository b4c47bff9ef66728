"""`-c inbound_function_url=true`: providers post to the inbound function's own URL.

AWS: a function URL with auth type NONE is public only when the function's resource policy lets
anyone both `lambda:InvokeFunctionUrl` and, for URLs created since October 2025,
`lambda:InvokeFunction` through the URL; missing the second, every request is refused (403).
moto and `cdk synth` accept either alone.
https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra import declaration as decl
from infra.app import build_app
from infra.stack import STACK_NAME, ServerlessWebhooksStack
from shared.core.config import INBOUND_BASE_URL_ENV
from tests.infra.conftest import SKIP_BUNDLING, Synth

pytestmark = pytest.mark.xdist_group("cdk")


@pytest.fixture(scope="module")
def with_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    """The stack as `cdk synth -c inbound_function_url=true` builds it, cdk-nag included."""
    outdir = tmp_path_factory.mktemp("inbound-url")
    context = {**SKIP_BUNDLING, "inbound_function_url": "true"}
    app = build_app(context, outdir=str(outdir))
    stack = app.node.find_child(STACK_NAME)
    assert isinstance(stack, ServerlessWebhooksStack)
    app.synth()  # raises when cdk-nag finds anything not acknowledged
    template = json.loads((Path(outdir) / f"{STACK_NAME}.template.json").read_text())
    yield Synth(app, stack, Template.from_json(template), template, None)


def test_the_inbound_function_gets_a_public_url_that_lambda_will_serve(with_url: Synth) -> None:
    inbound = with_url.function_id(decl.INBOUND)
    ((url_id, url),) = with_url.resources("AWS::Lambda::Url").items()
    assert url["Properties"]["AuthType"] == "NONE"
    assert url["Properties"]["TargetFunctionArn"] == Synth.arn(inbound)
    granted = {
        (p["Properties"]["Action"], json.dumps(p["Properties"]["FunctionName"]))
        for p in with_url.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "*"
    }
    target = json.dumps(Synth.arn(inbound))
    assert granted == {("lambda:InvokeFunctionUrl", target), ("lambda:InvokeFunction", target)}
    for permission in with_url.resources("AWS::Lambda::Permission").values():
        props = permission["Properties"]
        if props["Action"] == "lambda:InvokeFunction" and props["Principal"] == "*":
            assert props["InvokedViaFunctionUrl"] is True  # never a plain public invoke
        if props["Action"] == "lambda:InvokeFunctionUrl":
            assert props["FunctionUrlAuthType"] == "NONE"
    assert with_url.json["Outputs"]["InboundUrl"]["Value"] == {
        "Fn::GetAtt": [url_id, "FunctionUrl"]
    }


def test_only_the_api_hands_out_the_url(with_url: Synth) -> None:
    """Sources' `inbound_url` comes from the API; the inbound function must not name its own
    URL (a dependency cycle), and no other function needs it."""
    for spec in decl.FUNCTIONS:
        env: dict[str, Any] = with_url.props(with_url.function_id(spec))["Environment"]["Variables"]
        if spec is decl.API:
            assert env[INBOUND_BASE_URL_ENV]["Fn::GetAtt"][1] == "FunctionUrl"
        else:
            assert INBOUND_BASE_URL_ENV not in env, spec.name


def test_without_the_setting_there_is_no_function_url(synth: Synth) -> None:
    assert synth.resources("AWS::Lambda::Url") == {}
    assert "InboundUrl" not in synth.json["Outputs"]


def test_the_public_function_is_capped_and_its_errors_alarm(with_url: Synth, synth: Synth) -> None:
    """No API stage throttles a function URL: reserved concurrency caps the inbound function,
    and its 5xx answers, which no longer pass through the API's 5xx alarm, get their own.
    https://docs.aws.amazon.com/lambda/latest/dg/urls-monitoring.html"""
    inbound = with_url.props(with_url.function_id(decl.INBOUND))
    assert inbound["ReservedConcurrentExecutions"] == decl.INBOUND_URL_CONCURRENCY
    default = synth.props(synth.function_id(decl.INBOUND))
    assert "ReservedConcurrentExecutions" not in default
    alarms = with_url.resources("AWS::CloudWatch::Alarm").values()
    metrics = [
        (a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms
    ]
    assert ("AWS/Lambda", "Url5xxCount") in metrics
    assert len(metrics) == len(synth.resources("AWS::CloudWatch::Alarm")) + 1

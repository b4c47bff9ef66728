"""`-c inbound_function_url=true` and `-c publish_function_url=true`: providers post to the
inbound function's own URL, publishers to the publish function's.

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
    """The stack as `cdk synth -c inbound_function_url=true -c publish_function_url=true`
    builds it, cdk-nag included."""
    outdir = tmp_path_factory.mktemp("function-urls")
    context = {**SKIP_BUNDLING, **{spec.context: "true" for spec in decl.PUBLIC_URLS}}
    app = build_app(context, outdir=str(outdir))
    stack = app.node.find_child(STACK_NAME)
    assert isinstance(stack, ServerlessWebhooksStack)
    app.synth()  # raises when cdk-nag finds anything not acknowledged
    template = json.loads((Path(outdir) / f"{STACK_NAME}.template.json").read_text())
    yield Synth(app, stack, Template.from_json(template), template, None)


@pytest.mark.parametrize("spec", decl.PUBLIC_URLS, ids=lambda spec: spec.context)
def test_each_function_gets_a_public_url_that_lambda_will_serve(
    with_url: Synth, spec: decl.PublicUrl
) -> None:
    target_id = with_url.function_id(spec.function)
    ((url_id, url),) = [
        (logical_id, url)
        for logical_id, url in with_url.resources("AWS::Lambda::Url").items()
        if url["Properties"]["TargetFunctionArn"] == Synth.arn(target_id)
    ]
    assert url["Properties"]["AuthType"] == "NONE"
    granted = {
        p["Properties"]["Action"]
        for p in with_url.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "*"
        and p["Properties"]["FunctionName"] == Synth.arn(target_id)
    }
    assert granted == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    for permission in with_url.resources("AWS::Lambda::Permission").values():
        props = permission["Properties"]
        if props["Action"] == "lambda:InvokeFunction" and props["Principal"] == "*":
            assert props["InvokedViaFunctionUrl"] is True  # never a plain public invoke
        if props["Action"] == "lambda:InvokeFunctionUrl":
            assert props["FunctionUrlAuthType"] == "NONE"
    assert with_url.json["Outputs"][spec.output]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}


def test_only_the_two_public_functions_get_urls(with_url: Synth) -> None:
    targets = {
        json.dumps(url["Properties"]["TargetFunctionArn"])
        for url in with_url.resources("AWS::Lambda::Url").values()
    }
    assert targets == {
        json.dumps(Synth.arn(with_url.function_id(spec.function))) for spec in decl.PUBLIC_URLS
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


def test_without_the_settings_there_is_no_function_url(synth: Synth) -> None:
    assert synth.resources("AWS::Lambda::Url") == {}
    for spec in decl.PUBLIC_URLS:
        assert spec.output not in synth.json["Outputs"]


def test_each_public_function_is_capped_and_its_errors_alarm(with_url: Synth, synth: Synth) -> None:
    """No API stage throttles a function URL: reserved concurrency caps each public function,
    and its 5xx answers, which no longer pass through the API's 5xx alarm, get their own.
    https://docs.aws.amazon.com/lambda/latest/dg/urls-monitoring.html"""
    for spec in decl.PUBLIC_URLS:
        function = with_url.props(with_url.function_id(spec.function))
        assert function["ReservedConcurrentExecutions"] == spec.concurrency, spec.context
        default = synth.props(synth.function_id(spec.function))
        assert "ReservedConcurrentExecutions" not in default
    alarms = with_url.resources("AWS::CloudWatch::Alarm").values()
    url_alarms = [
        a["Properties"]["Dimensions"]
        for a in alarms
        if (a["Properties"].get("Namespace"), a["Properties"].get("MetricName"))
        == ("AWS/Lambda", "Url5xxCount")
    ]
    assert sorted(json.dumps(d, sort_keys=True) for d in url_alarms) == sorted(
        json.dumps(
            [{"Name": "FunctionName", "Value": Synth.ref(with_url.function_id(spec.function))}],
            sort_keys=True,
        )
        for spec in decl.PUBLIC_URLS
    )
    assert len(alarms) == len(synth.resources("AWS::CloudWatch::Alarm")) + len(decl.PUBLIC_URLS)


def test_the_inbound_urls_output_and_alarm_keep_their_names(with_url: Synth) -> None:
    """Stacks deployed with the inbound URL before the publish URL existed keep its output and
    its alarm: a new logical id would replace the alarm (and its history) on upgrade."""
    assert "InboundUrl" in with_url.json["Outputs"] and "PublishUrl" in with_url.json["Outputs"]
    names = list(with_url.resources("AWS::CloudWatch::Alarm"))
    assert [n for n in names if n.startswith("MonitoringInboundUrl5xx")] == [
        "MonitoringInboundUrl5xxF0AFDA0A"
    ]

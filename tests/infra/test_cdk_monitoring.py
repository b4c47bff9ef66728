"""Alarms on DLQs, delivery failure rate and API 5xx, all to the SNS topic; the dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template

from infra import declaration as decl
from infra.app import build_app
from infra.constructs.naming import METRICS_NAMESPACE, SERVICE_NAME
from infra.stack import STACK_NAME
from shared.core import resources as res

pytestmark = pytest.mark.xdist_group("cdk")


def _alarms(synth: Any) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in synth.resources("AWS::CloudWatch::Alarm").items()}


def test_topic_requires_tls_and_has_no_subscription_by_default(synth: Any) -> None:
    ((topic_id, _),) = synth.resources("AWS::SNS::Topic").items()
    ((_, policy),) = synth.resources("AWS::SNS::TopicPolicy").items()
    assert policy["Properties"]["Topics"] == [synth.ref(topic_id)]
    (deny,) = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert not synth.resources("AWS::SNS::Subscription")


def test_every_alarm_notifies_the_topic(synth: Any) -> None:
    ((topic_id, _),) = synth.resources("AWS::SNS::Topic").items()
    alarms = _alarms(synth)
    assert len(alarms) == 2 * len(res.QUEUES) + 2
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [synth.ref(topic_id)]
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


@pytest.mark.parametrize("queue", res.QUEUES, ids=lambda q: q.logical_id)
def test_dlq_alarms(synth: Any, queue: res.Queue) -> None:
    dlq_name = {"Fn::GetAtt": [f"{queue.logical_id}DLQ", "QueueName"]}
    found = {
        alarm["MetricName"]: alarm["Threshold"]
        for alarm in _alarms(synth).values()
        if alarm.get("Dimensions") == [{"Name": "QueueName", "Value": dlq_name}]
    }
    assert found == {
        "ApproximateNumberOfMessagesVisible": 0,
        "ApproximateAgeOfOldestMessage": 3600,
    }


def test_delivery_failure_rate_alarm(synth: Any) -> None:
    (alarm,) = [a for a in _alarms(synth).values() if "Metrics" in a]
    assert alarm["Threshold"] == 0.2
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    names = set()
    for query in queries.values():
        if "MetricStat" in query:
            stat = query["MetricStat"]
            assert stat["Metric"]["Namespace"] == METRICS_NAMESPACE
            assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}]
            assert stat["Period"] == 900
            assert stat["Stat"] == "Sum"
            names.add(stat["Metric"]["MetricName"])
    assert names == {"DeliveryFailed", "DeliverySucceeded"}
    (expression,) = [q for q in queries.values() if "Expression" in q]
    assert expression["ReturnData"] is True
    assert "/" in expression["Expression"]


def test_api_5xx_alarm(synth: Any) -> None:
    (alarm,) = [a for a in _alarms(synth).values() if a.get("MetricName") == "5xx"]
    assert alarm["Namespace"] == "AWS/ApiGateway"
    assert alarm["Threshold"] == 5
    assert alarm["Period"] == 300
    assert alarm["Statistic"] == "Sum"


def test_dashboard(synth: Any) -> None:
    ((_, dashboard),) = synth.resources("AWS::CloudWatch::Dashboard").items()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in (
        "DeliverySucceeded",
        "DeliveryFailed",
        "DeliveryRetried",
        "InboundReceived",
        "inbound received",
        "stats count(*) as received by source_id",
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "p50",
        "p99",
    ):
        assert needle in body, needle
    for spec in decl.FUNCTIONS:
        assert f"{spec.name} duration" in body


def test_alarm_email_context_subscribes_the_address(tmp_path: Any) -> None:
    app = build_app(
        {"aws:cdk:bundling-stacks": [], "alarm_email": "ops@example.com"},
        outdir=str(tmp_path),
        nag=False,
    )
    stack = app.node.find_child(STACK_NAME)
    assert isinstance(stack, Stack)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Subscription", 1)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": Match.any_value()},
    )

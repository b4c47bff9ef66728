"""Inbound metrics cost nothing per source (issue: fixed monthly cost).

CloudWatch bills every distinct combination of metric name and dimension values as one custom
metric per month (https://aws.amazon.com/cloudwatch/pricing/, "Metrics"), so a `source_id`
dimension would cost each source $0.30 a month while idle. Counts per source come from the
"inbound received" log lines (the dashboard's Logs Insights widget) instead.
"""

from __future__ import annotations

import json

import pytest

from functions.inbound import handler
from shared.core.observability import metrics


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, {"duplicate": False}), (200, {"duplicate": True}), (401, {}), (400, {})],
)
def test_no_inbound_metric_has_a_per_source_dimension(
    capsys: pytest.CaptureFixture[str], status: int, body: dict[str, object]
) -> None:
    capsys.readouterr()
    handler.count(handler.Answer(status, body, {}))
    metrics.flush_metrics()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert lines, "a metric line was written"
    for line in lines:
        for directive in line["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                assert "source_id" not in dimensions
        assert "source_id" not in line

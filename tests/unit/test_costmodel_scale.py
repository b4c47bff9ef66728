"""The bench's partition heat, storage, fixed monthly cost and retry-schedule arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from scripts import bench, costmodel, fixedcost, prices, scale
from scripts.awsbench import AwsResults, OpResult
from scripts.costmodel import attempts_while_down
from scripts.indexwrites import Write
from scripts.metering import Usage
from scripts.report import Report
from shared.core.ids import CROCKFORD
from shared.core.resources import Index, Table

TABLE = Table(
    "Things",
    "THINGS_TABLE",
    "user_id",
    "item_id",
    indexes=(
        Index("by_status", "status", "item_id", "KEYS_ONLY"),
        Index("by_other", "other", "item_id"),
    ),
)


def test_heat_scales_the_run_to_the_load_and_puts_the_hottest_key_first() -> None:
    """100 events each writing 2 WRU to one tenant key: 20,000 WRU/s at 10,000 events/s, over
    DynamoDB's 1,000 WRU/s per partition; a key per event stays at 1/100 of the load."""
    writes = [Write("Things", "", "table", "tenant", 2) for _ in range(100)]
    writes += [Write("Things", "by_event", "put", f"evt{n}", 1) for n in range(100)]

    rows = scale.heat(writes, events=100, load=10_000)

    assert [(row.where, row.keys, row.units_per_second, row.mean_per_second) for row in rows] == [
        ("Things", 1, 20_000, 20_000),
        ("Things.by_event", 100, 100, 100),
    ]
    assert [row.within_limit for row in rows] == [False, True]


def sampled_shards() -> list[Write]:
    """64 events, 2 WRU each, under `u#<shard>`: shard 0 drew 6 of them, shards 1-29 two each,
    shards Y and Z none; plus one write to the unsharded key `u`."""
    draws = {"0": 6, **{shard: 2 for shard in CROCKFORD[1:30]}}
    assert sum(draws.values()) == 64
    writes = [
        Write("Deliveries", "", "table", f"u#{s}", 2) for s, n in draws.items() for _ in range(n)
    ]
    return [*writes, Write("Webhooks", "", "table", "u", 1)]


def test_heat_puts_the_sampled_hottest_shard_beside_its_family_spread_over_all_shards() -> None:
    """The hottest shard drew 6 of 64 events: 12 WRU / 64 x 10,000 = 1,875 WRU/s. Its family
    wrote 128 WRU: over 32 shards, 4 each, 625 WRU/s; over the 30 values written, 667."""
    rows = scale.heat(sampled_shards(), events=64, load=10_000, shards=32)

    deliveries, webhooks = rows
    assert (deliveries.where, deliveries.keys, deliveries.hottest) == ("Deliveries", 30, "u#0")
    assert deliveries.units_per_second == 1875
    assert deliveries.spread_per_second == 625
    assert deliveries.shard_values == 32
    assert abs(deliveries.mean_per_second - 128 / 30 / 64 * 10_000) < 1e-9
    assert not deliveries.within_limit
    assert (webhooks.shard_values, webhooks.spread_per_second) == (1, 10_000 / 64)


def test_a_key_written_under_one_value_only_is_not_spread() -> None:
    """One tenant key "tenant" (its last character no shard of another value): the spread is
    the value itself, 2 WRU x 100 events / 100 x 10,000."""
    writes = [Write("Things", "", "table", "tenant", 2) for _ in range(100)]

    (row,) = scale.heat(writes, events=100, load=10_000)

    assert (row.shard_values, row.spread_per_second, row.units_per_second) == (1, 20_000, 20_000)


def test_a_shard_draws_its_binomial_share_of_the_events() -> None:
    """2,000 events over 32 shards: 62.5 each, sd sqrt(2,000 x 1/32 x 31/32) = 7.78; one second
    at 10,000 events/s: 312.5, sd 17.40."""
    mean, sd = scale.shard_draw(2000, 32)
    assert mean == 62.5 and abs(sd - 7.7812) < 1e-4
    mean, sd = scale.shard_draw(10_000, 32)
    assert mean == 312.5 and abs(sd - 17.3992) < 1e-4


def test_the_heat_rows_say_what_each_figure_is_computed_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Section 6 from a heat run: the sampled hottest, the even spread and the mean, each with
    its formula; row 0.8 judges the sampled hottest, not the spread."""
    monkeypatch.setattr(bench, "MEASURED", {})
    results = AwsResults(heat=Usage(writes=sampled_shards()), heat_events=64, heat_seconds=3.2)
    report = Report("t")

    bench.heat_rows(report, results)
    bench.target_rows(report)

    rows = {row.number: row for row in report.rows}
    assert rows["6.1"].measurement == "Deliveries"
    assert rows["6.1"].value == (
        "1,875 WRU/s on its hottest key value (u#0); spread over its family's 32 shard values: "
        "625 WRU/s; mean of the 30 value(s) written: 667 WRU/s"
    )
    assert rows["6.1"].method == (
        "64 events metered; hottest: its WRU / 64 x 10,000; spread: the WRU of the hottest "
        "value's family (the value without its last character, the shard) / 32 / 64 x 10,000; "
        "mean: the WRU of all values / 30 / 64 x 10,000"
    )
    assert "spread over its value alone (not sharded)" in rows["6.2"].value
    assert "heat run: 64 events in 3 s" in report.facts
    hottest = next(row for row in report.rows if row.measurement.startswith("hottest partition"))
    assert (hottest.value, hottest.passed) == ("1,875 WRU/s (Deliveries)", False)


def test_storage_per_delivery_divides_what_the_heat_run_left_by_its_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two deliveries of 17 B (pk "u#A"/"u#B": 2 + 3, delivery_id "d": 11 + 1) and 100 B of
    overhead each, left by a heat run of 2 events: 117 B per delivery."""
    monkeypatch.setattr(bench, "MEASURED", {})
    items: dict[Any, Any] = {
        ("Deliveries", shard): {"pk": {"S": f"u#{shard}"}, "delivery_id": {"S": "d"}}
        for shard in "AB"
    }
    results = AwsResults(heat=Usage(final_items=items), heat_events=2)
    report = Report("t")

    bench.storage_rows(report, results)

    assert report.rows[0].method == "per delivery: DynamoDB 117 B (Deliveries 117 B); S3 0 B"


def test_stored_bytes_count_the_overhead_per_item_and_the_projected_copy_per_index() -> None:
    item = {
        "user_id": {"S": "u"},  # 7 + 1
        "item_id": {"S": "i"},  # 7 + 1
        "status": {"S": "s"},  # 6 + 1
        "body": {"S": "x" * 100},  # 4 + 100
    }
    stored = scale.stored_bytes(
        {"Things": TABLE}, {("Things", "key"): item, ("Things", "gone"): None}
    )

    assert stored == {"Things": 127 + 100, "Things.by_status": 23 + 100}


def test_storage_keeps_n_days_of_a_months_events_at_list_prices() -> None:
    gigabyte = 1024**3
    kept = scale.storage(gigabyte / 1_000_000, gigabyte / 2_000_000, 1_000_000, 30)

    months = 30 / prices.DAYS_PER_MONTH
    assert abs(kept.dynamodb_dollars - 0.25 * months) < 1e-9
    assert abs(kept.s3_dollars - 0.023 / 2 * months) < 1e-9


def emf(dimensions: list[list[str]], **values: Any) -> dict[str, Any]:
    return {
        "_aws": {
            "CloudWatchMetrics": [
                {"Namespace": "NS", "Dimensions": dimensions, "Metrics": [{"Name": "Received"}]}
            ]
        },
        **values,
    }


def test_a_dimension_holding_a_tenant_id_makes_one_metric_per_tenant() -> None:
    documents = [
        emf([["service"]], service="svc"),
        emf([["service"]], service="svc"),
        emf([["service", "source_id"]], service="svc", source_id="src_1"),
        emf([["service", "source_id"]], service="svc", source_id="src_2"),
    ]

    metrics = fixedcost.emf_metrics(documents)

    assert len(metrics) == 3
    assert fixedcost.split_by_tenant(metrics, {"src_1", "src_2"}) == (1, 1)


def test_alarms_are_counted_per_metric_they_read_and_dashboards_per_resource() -> None:
    template = {
        "Resources": {
            "A": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "x"}},
            "B": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Metrics": [{"Expression": "f / s"}, {"MetricStat": {}}, {"MetricStat": {}}]
                },
            },
            "D": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
            "S": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
        }
    }

    assert fixedcost.template_counts(template) == fixedcost.StackCounts(
        secrets=1, alarm_metrics=3, alarms=2, dashboards=1
    )


def test_an_idle_stack_pays_secrets_alarms_and_dashboards_but_no_custom_metrics() -> None:
    stack = fixedcost.StackCounts(secrets=1, alarm_metrics=7, alarms=6, dashboards=1)

    idle = fixedcost.monthly("idle", stack, 1000, 2, (7, 1), active=False)
    busy = fixedcost.monthly("busy", stack, 1000, 2, (7, 1), active=True)

    assert (idle.secrets, idle.metrics) == (2001, 0)
    assert abs(idle.total() - (2001 * 0.40 + 7 * 0.10 + 3.00)) < 1e-9
    assert busy.metrics == 1007
    assert abs(busy.total() - idle.total() - 1007 * 0.30) < 1e-9


def test_an_endpoint_down_a_day_fails_until_the_schedule_reaches_past_it() -> None:
    """Attempts at 0, 60, 360, 2160, 9360 s fail; the one at 95,760 s (after 24 h) delivers."""
    assert attempts_while_down((60, 300, 1800, 7200, 86400), 86400) == (5, True)
    assert attempts_while_down((60, 60), 86400) == (3, False)


def measured(name: str, wru: float, index_wru: float, executions: float = 0) -> OpResult:
    usage = Usage(wru=wru, index_wru=index_wru, sfn_executions=executions)
    function = "publish" if name.startswith("publish") else "delivery_worker"
    return OpResult(name, usage, {function: 1}, cpu={function: 0.001}, wall={function: 0.001})


def test_the_model_prices_index_writes_on_their_own_line_and_judges_each_target() -> None:
    """A first-try delivery of 2 + 4 WRU at publish and 10 + 20 WRU per batch of 10 deliveries:
    3 table + 6 index WRU per delivery, the figures issue 14 measured by hand."""
    ops = {
        "publish_1": measured("publish_1", 6, 4),
        "worker_10_ok": measured("worker_10_ok", 30, 20),
        "worker_10_fail": measured("worker_10_fail", 30, 20, executions=10),
    }
    results = AwsResults(ops=ops, retry_transitions=4)

    model = costmodel.build(results, {"publish": 512, "delivery_worker": 512})

    first = next(s for s in model.scenarios if s.name == costmodel.FIRST_SINGLE)
    lines = {line.component: line for line in first.merged()}
    # The publish function's 1 ms at 0.5 GB, and a tenth of the worker's: the publish was once
    # priced as the "api" function, which measured no time for it, so its duration counted 0.
    assert lines["Lambda duration"].quantity == pytest.approx(0.0005 + 0.00005)
    assert lines["DynamoDB writes, indexes"].quantity == 6
    assert lines["DynamoDB writes, table"].quantity == 3
    assert abs(lines["DynamoDB writes, indexes"].dollars["cpu"] - 6 * 0.625) < 1e-9
    assert first.target == costmodel.TARGETS[costmodel.FIRST_SINGLE]
    down = next(s for s in model.scenarios if s.name == costmodel.ENDPOINT_DOWN)
    down_lines = {line.component: line for line in down.merged()}
    assert down_lines["Step Functions"].quantity == 5 * 4  # 5 retries, 4 transitions each
    assert down_lines["DynamoDB writes, indexes"].quantity == 4 + 6 * 2  # publish + 6 attempts


def _measured(name: str, function: str, wru: int, cpu: float) -> OpResult:
    """An operation as the bench measures it: one invocation of `function`, `wru` written."""
    return OpResult(name, Usage(wru=wru), {function: 1}, {function: cpu})


@pytest.mark.parametrize(
    ("ops", "by_api", "by_url"),
    [
        (
            [
                _measured("inbound_new", "inbound", 1, 0.001),
                _measured("processor_10", "inbound_processor", 20, 0.01),
            ],
            costmodel.INBOUND_NEW,
            costmodel.INBOUND_NEW_URL,
        ),
        (
            [
                _measured("publish_1", "publish", 1, 0.001),
                _measured("worker_10_ok", "delivery_worker", 10, 0.01),
            ],
            costmodel.FIRST_SINGLE,
            costmodel.FIRST_SINGLE_URL,
        ),
    ],
    ids=["inbound", "publish"],
)
def test_a_function_url_row_is_its_api_row_without_the_api_gateway_request(
    ops: list[OpResult], by_api: str, by_url: str
) -> None:
    """Lambda bills no request charge for a function URL: a post to the inbound or publish
    function's own URL costs its invocation only, one API Gateway HTTP API request ($1.00 per
    million) less.
    https://aws.amazon.com/lambda/pricing/ ("Function URLs ... no additional charge")"""
    memory = {name: 512 for op in ops for name in op.cpu}

    model = costmodel.build(AwsResults(ops={op.name: op for op in ops}), memory)

    totals = {s.name: s.total("cpu") for s in model.scenarios}
    assert totals[by_api] - totals[by_url] == pytest.approx(1.00)


def test_the_targets_table_is_computed_from_this_runs_figures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cheap = costmodel.Scenario(costmodel.FIRST_SINGLE, "")
    cheap.lines.append(costmodel.Line("x", 1, "u", dict.fromkeys(costmodel.TIME_BASES, 3.0)))
    dear = costmodel.Scenario(costmodel.FIRST_BATCH, "")
    dear.lines.append(costmodel.Line("x", 1, "u", dict.fromkeys(costmodel.TIME_BASES, 1.7)))
    hot = scale.Heat("Deliveries", "", 1, "tenant", 20_000, 20_000, 20_000, 1)
    monkeypatch.setattr(
        bench,
        "MEASURED",
        {
            "model": costmodel.CostModel(scenarios=[cheap, dear]),
            "import_ratios": {"functions.api.handler": 1.4},
            "heat": [hot],
        },
    )
    report = Report("t")

    bench.target_rows(report)

    results = {row.measurement: (row.value, row.passed) for row in report.rows}
    assert results[costmodel.FIRST_SINGLE] == ("$3.000", True)
    assert results[costmodel.FIRST_BATCH] == ("$1.700", False)
    assert results[costmodel.INBOUND_NEW] == ("n/a: not measured", None)
    assert results["every handler import"][1] is True
    assert results["hottest partition key at 10,000 events/s, one tenant"] == (
        "20,000 WRU/s (Deliveries)",
        False,
    )

"""Queues and concurrency as AWS recommends them (moto has no throttling and no concurrency).

https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
"""

from __future__ import annotations

from typing import Any

import pytest

from infra import declaration as decl
from shared.core import resources as res

pytestmark = pytest.mark.xdist_group("cdk")

CONSUMERS = [spec for spec in decl.FUNCTIONS if spec.consumes is not None]
WORKERS = pytest.mark.parametrize("spec", CONSUMERS, ids=lambda f: f.name)


def _consumed(spec: decl.Function) -> res.Queue:
    assert spec.consumes is not None
    return spec.consumes


def _mapping(synth: Any, spec: decl.Function) -> dict[str, Any]:
    queue_arn = synth.arn(_consumed(spec).logical_id)
    (found,) = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == queue_arn
    ]
    return dict(found)


def _functions_by_handler(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["Handler"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }


@WORKERS
def test_visibility_timeout_covers_the_function_timeout(synth: Any, spec: decl.Function) -> None:
    """A hard rule: CloudFormation refuses an SQS event source mapping whose queue's visibility
    timeout is shorter than the function's timeout (moto accepts it)."""
    visibility = synth.props(_consumed(spec).logical_id)["VisibilityTimeout"]
    assert visibility >= synth.props(synth.function_id(spec))["Timeout"]


@WORKERS
def test_visibility_timeout_is_six_times_the_function_timeout_or_says_why(
    synth: Any, spec: decl.Function
) -> None:
    """AWS: at least 6 x the function timeout (plus any batching window), so a batch outlives the
    mapping's retries of a throttled invocation; a queue below it carries its written reason."""
    queue = _consumed(spec)
    mapping = _mapping(synth, spec)
    needed = 6 * synth.props(synth.function_id(spec))["Timeout"] + mapping.get(
        "MaximumBatchingWindowInSeconds", 0
    )
    if synth.props(queue.logical_id)["VisibilityTimeout"] < needed:
        assert len(queue.visibility_reason.split()) >= 12, queue.logical_id


@WORKERS
def test_event_source_mapping_has_the_declared_maximum_concurrency(
    synth: Any, spec: decl.Function
) -> None:
    assert _mapping(synth, spec)["ScalingConfig"] == {
        "MaximumConcurrency": _consumed(spec).max_concurrency
    }


def test_queue_declarations_refuse_an_invalid_maximum_concurrency() -> None:
    """ScalingConfig.MaximumConcurrency is 2-1000; CloudFormation fails the deploy otherwise."""
    with pytest.raises(ValueError, match="MaximumConcurrency"):
        res.Queue("Q", "Q_URL", "Q_DLQ_URL", 60, 3, 10, max_concurrency=1)


def test_nothing_is_reserved_by_default(synth: Any) -> None:
    """A reservation must leave 100 unreserved executions, which a new account (limit 10) does
    not have: the default stack reserves nothing and deploys there."""
    for spec in decl.FUNCTIONS:
        assert "ReservedConcurrentExecutions" not in synth.props(synth.function_id(spec))


def test_reserved_worker_concurrency_on_request(stages: dict[str, dict[str, Any]]) -> None:
    """`-c reserve_worker_concurrency=true` reserves exactly each worker's maximum concurrency:
    never below what its event source may invoke (that would throttle), the API untouched."""
    functions = _functions_by_handler(stages["prod"])
    for spec in decl.FUNCTIONS:
        reserved = functions[spec.handler].get("ReservedConcurrentExecutions")
        expected = spec.consumes.max_concurrency if spec.consumes is not None else None
        assert reserved == expected, spec.name
    staging = _functions_by_handler(stages["staging"])
    assert all("ReservedConcurrentExecutions" not in fn for fn in staging.values())


def test_workers_leave_most_of_a_default_account_to_the_api() -> None:
    """The workers' caps add up to a small share of the default 1,000 concurrent executions."""
    assert sum(queue.max_concurrency for queue in res.QUEUES) <= 100

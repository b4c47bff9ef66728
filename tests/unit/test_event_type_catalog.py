"""The event type catalog's service and store (README "Event type catalog"), on moto in-process."""

from __future__ import annotations

from typing import Any

import pytest

from shared.core.config import settings
from shared.core.errors import InvalidRequest, NotFound
from shared.outbound import event_types
from shared.outbound.event_types import Checked
from shared.store import webhooks

ORDER = {
    "type": "object",
    "properties": {"amount": {"type": "integer", "minimum": 0}},
    "required": ["amount"],
}


def _fields(error: pytest.ExceptionInfo[InvalidRequest]) -> list[str]:
    return [detail["field"] for detail in error.value.details or []]


def test_put_get_list_replace_and_delete(aws: dict[str, str]) -> None:
    created = event_types.put("order.paid", "An order was paid", ORDER)
    assert created["schema"] == ORDER
    assert event_types.get("order.paid") == created
    event_types.put("order.refunded", "", None)
    assert [t["type"] for t in event_types.list_all()] == ["order.paid", "order.refunded"]

    replaced = event_types.put("order.paid", "Paid", None)
    assert replaced["created_at"] == created["created_at"]
    assert replaced["schema"] is None
    event_types.delete("order.paid")
    with pytest.raises(NotFound):
        event_types.get("order.paid")
    with pytest.raises(NotFound):
        event_types.delete("order.paid")


def test_the_catalog_never_shows_among_webhooks(aws: dict[str, str]) -> None:
    event_types.put("order.paid", "", ORDER)
    assert webhooks.list_page("#catalog", 10, None)[0] == []
    assert webhooks.get("#catalog", "order.paid") is None


def test_data_is_checked_against_the_schema_with_paths(aws: dict[str, str]) -> None:
    event_types.put("order.paid", "", ORDER)
    event_types.check([Checked("body", "order.paid", {"amount": 3})])
    with pytest.raises(InvalidRequest) as single:
        event_types.check([Checked("body", "order.paid", {"amount": "3"})])
    assert _fields(single) == ["body.data.amount"]
    with pytest.raises(InvalidRequest) as batch:
        event_types.check(
            [
                Checked("body.events.0", "order.paid", {"amount": 1}),
                Checked("body.events.1", "order.paid", {}),
                Checked("body.events.2", "other.type", {"anything": True}),
            ]
        )
    assert _fields(batch) == ["body.events.1.data"]


def test_a_replaced_schema_applies_at_once_in_the_same_container(aws: dict[str, str]) -> None:
    event_types.put("order.paid", "", ORDER)
    event_types.check([Checked("body", "order.paid", {"amount": 1})])
    event_types.put("order.paid", "", {"type": "object", "required": ["refund"]})
    with pytest.raises(InvalidRequest) as error:
        event_types.check([Checked("body", "order.paid", {"amount": 1})])
    assert "refund" in (error.value.details or [{}])[0]["message"]


def test_strict_mode_refuses_types_outside_the_catalog(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    event_types.put("order.paid", "", None)
    unknown = [Checked("body.events.4", "order.lost", {})]
    event_types.check(unknown)  # accepted by default
    monkeypatch.setenv("WEBHOOKS_STRICT_EVENT_TYPES", "1")
    settings.cache_clear()
    with pytest.raises(InvalidRequest) as error:
        event_types.check(unknown)
    assert _fields(error) == ["body.events.4.type"]
    event_types.check([Checked("body", "order.paid", {"x": 1})])


@pytest.mark.parametrize("bad", ["Order.Paid", "order", "order.*", "a" * 201 + ".b"])
def test_types_outside_the_pattern_are_refused(aws: dict[str, str], bad: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        event_types.put(bad, "", None)
    assert _fields(error) == ["path.type"]


def test_the_catalog_costs_publish_one_query_per_cache_window(
    aws: dict[str, str], calls: Any
) -> None:
    event_types.put("order.paid", "", ORDER)
    event_types.clear_caches()
    calls.reset()
    for _ in range(5):
        event_types.check([Checked("body", "order.paid", {"amount": 1})])
    assert dict(calls.calls) == {"dynamodb.Query": 1}

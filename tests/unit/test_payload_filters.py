"""Payload filters (README "Payload filters"): JMESPath over the delivered envelope, in memory."""

from __future__ import annotations

import pytest

from shared.outbound import filters
from tests.support.api import InProcessApi

ENVELOPE = filters.envelope(
    "evt_01", "order.paid", "2026-12-01T00:00:00Z", "2025-01-01", {"amount": 250, "currency": "usd"}
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("data.amount > `100` && data.currency == 'usd'", True),
        ("data.amount > `1000`", False),
        ("type == 'order.paid'", True),
        ("data.missing", False),  # null
        ("`false`", False),
        ("''", False),
        ("`[]`", False),
        ("`{}`", False),
        ("`0`", True),  # JMESPath: every number is truthy
        ("data", True),
    ],
)
def test_truthiness_follows_jmespath(expression: str, expected: bool) -> None:
    assert filters.matches("wh_t", expression, ENVELOPE) is expected


def test_no_filter_lets_everything_through() -> None:
    assert filters.matches("wh_none", None, ENVELOPE) is True


def test_a_filter_that_raises_is_no_match_logged_once_per_webhook(
    caplog: pytest.LogCaptureFixture,
) -> None:
    odd = filters.envelope("evt_02", "order.paid", "2026-12-01T00:00:00Z", "v", {"amount": "x"})
    for _ in range(3):
        assert filters.matches("wh_raises", "abs(data.amount) > `1`", odd) is False
    warnings = [r for r in caplog.records if getattr(r, "webhook_id", None) == "wh_raises"]
    assert len(warnings) == 1
    assert warnings[0].levelname == "WARNING"
    assert getattr(warnings[0], "error", None) == "JMESPathTypeError"  # not the payload


@pytest.mark.parametrize("expression", ["data.[", "data.amount >", "&&", "foo(bar"])
def test_a_syntax_error_is_refused_at_registration(expression: str) -> None:
    with pytest.raises(ValueError, match="not a valid JMESPath expression"):
        filters.check(expression)


def test_limits_at_registration() -> None:
    assert filters.check("a" * filters.MAX_FILTER_LENGTH) == "a" * filters.MAX_FILTER_LENGTH
    with pytest.raises(ValueError, match="longer than 1024"):
        filters.check("a" * (filters.MAX_FILTER_LENGTH + 1))
    with pytest.raises(ValueError, match="empty"):
        filters.check("   ")


# --- On the webhook: checked when stored, shown, removed by null ------------------------------


def test_a_webhook_stores_shows_and_removes_its_filter(api: InProcessApi, alice: str) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "events": ["order.*"], "filter": "data.amount > `1`"}
    created = api.request("POST", "/v1/webhooks", alice, body).json()
    assert created["filter"] == "data.amount > `1`"
    path = f"/v1/webhooks/{created['id']}"
    assert api.request("GET", path, alice).json()["filter"] == "data.amount > `1`"
    changed = api.request("PATCH", path, alice, {"filter": "type == 'order.paid'"}).json()
    assert changed["filter"] == "type == 'order.paid'"
    assert api.request("PATCH", path, alice, {"description": "x"}).json()["filter"]
    assert api.request("PATCH", path, alice, {"filter": None}).json()["filter"] is None


@pytest.mark.parametrize("bad", ["data.[", "a" * 1025, "  "])
def test_a_bad_filter_is_a_422_naming_body_filter_and_stores_nothing(
    api: InProcessApi, alice: str, bad: str
) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "events": ["order.*"], "filter": bad}
    reply = api.request("POST", "/v1/webhooks", alice, body)
    assert reply.status == 422, reply.body
    assert [d["field"] for d in reply.json()["error"]["details"]] == ["body.filter"]
    assert api.request("GET", "/v1/webhooks", alice).json()["data"] == []
    created = api.request("POST", "/v1/webhooks", alice, {**body, "filter": "data.ok"}).json()
    path = f"/v1/webhooks/{created['id']}"
    patched = api.request("PATCH", path, alice, {"filter": bad})
    assert patched.status == 422
    assert api.request("GET", path, alice).json()["filter"] == "data.ok"

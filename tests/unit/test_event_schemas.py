"""Event type schemas (README "Event type catalog"): checked when stored, applied at publish."""

from __future__ import annotations

import pytest

from shared.outbound import event_schemas

ORDER = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "minimum": 0},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
    "required": ["amount"],
}


def test_valid_data_has_no_violations() -> None:
    assert event_schemas.violations("order.paid", "v1", ORDER, {"amount": 5, "items": []}) == []


def test_a_violation_names_the_json_path_and_the_schemas_message() -> None:
    (found,) = event_schemas.violations("order.paid", "v1", ORDER, {"amount": "five"})
    assert found.field("body.data") == "body.data.amount"
    assert "integer" in found.message
    (nested,) = event_schemas.violations("order.paid", "v1", ORDER, {"amount": 1, "items": [{}]})
    assert nested.field("body.events.3.data") == "body.events.3.data.items.0"
    assert "sku" in nested.message


def test_a_missing_property_is_reported_at_the_object() -> None:
    (found,) = event_schemas.violations("order.paid", "v1", ORDER, {})
    assert found.field("body.data") == "body.data"
    assert "amount" in found.message


def test_a_changed_schema_is_recompiled_by_its_version() -> None:
    strict = {"type": "object", "required": ["refund"]}
    assert event_schemas.violations("order.changed", "v1", ORDER, {"amount": 1}) == []
    assert event_schemas.violations("order.changed", "v2", strict, {"amount": 1}) != []


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "nope"}, "not a valid JSON Schema"),
        ({"minimum": "zero"}, "not a valid JSON Schema"),
        ({"$ref": "https://example.com/remote.json"}, "not fetched"),
        ({"pattern": "("}, "not a valid JSON Schema"),
        ([{"type": "object"}], "JSON object"),
        ({"description": "x" * (64 * 1024)}, "larger than 64 KB"),
    ],
)
def test_schemas_that_are_not_json_schema_are_refused(schema: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        event_schemas.check(schema)


def test_a_draft_2020_12_schema_is_accepted() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"money": {"type": "integer"}},
        "type": "object",
        "properties": {"amount": {"$ref": "#/$defs/money"}},
        "unevaluatedProperties": {"type": "integer"},
    }
    assert event_schemas.check(schema) == schema
    assert event_schemas.violations("t.defs", "v1", schema, {"amount": "x"})[0].path == ("amount",)

"""Stored records come back as they were written, nested nulls and numbers included."""

from __future__ import annotations

from shared.store.dynamo import from_item, to_item


def test_round_trip_keeps_nested_nulls_and_numbers() -> None:
    record = {
        "user_id": "u",
        "payload": {"currency": None, "amount": 12.5, "count": 3, "tags": [None, "a"]},
        "absent": None,
    }
    back = from_item(to_item(record))
    assert back == {
        "user_id": "u",
        "payload": {"currency": None, "amount": 12.5, "count": 3, "tags": [None, "a"]},
    }

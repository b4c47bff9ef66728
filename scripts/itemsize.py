"""DynamoDB item sizes as DynamoDB bills them (names plus values, low-level typed format)."""

from __future__ import annotations

from typing import Any


def _number_size(text: str) -> int:
    """1 byte per two significant digits + 1 (DynamoDB item size rules)."""
    digits = text.lstrip("-").replace(".", "").split("e")[0].split("E")[0]
    significant = digits.strip("0") or "0"
    return (len(significant) + 1) // 2 + 1


def attribute_value_size(value: dict[str, Any]) -> int:
    """Size of one typed attribute value (low-level format, e.g. {"S": "x"})."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(item).encode()) for item in inner)
    if kind == "NS":
        return sum(_number_size(str(item)) for item in inner)
    if kind == "BS":
        return sum(len(item) for item in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_value_size(item) for item in inner)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode()) + attribute_value_size(item) for name, item in inner.items()
        )
    return len(str(inner).encode())


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes DynamoDB bills for an item: names plus values (0 for a missing item)."""
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())

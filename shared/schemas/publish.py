"""Publish bodies checked without pydantic, for the publish function's cold start.

Importing pydantic and the request models costs about as much as importing boto3, which alone
would put `POST /v1/events` over its cold-start budget (docs/benchmarks.md: every handler import
at most 1.5 x `import boto3`). These are the rules of `EventPublish` and `EventBatchPublish`
(shared/schemas/requests.py, which the OpenAPI document shows), with the same error fields and
messages; tests/unit/test_publish_function.py holds the two to the same answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from shared.core.errors import InvalidRequest
from shared.core.patterns import USER_ID_RULE, is_valid_event_type, is_valid_user_id

MAX_EVENT_DATA_BYTES = 256 * 1024
MAX_BATCH = 100
TYPE_RULE = "type must look like 'resource.action' (lowercase, dot-separated)"
Location = tuple[str | int, ...]


class EventBody(Protocol):
    """What publishing reads of an event to publish: an `EventIn` here, or the pydantic
    `EventPublish` (an inbound forward, a test send)."""

    @property
    def type(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...

    @property
    def id(self) -> str | None: ...


@dataclass(frozen=True)
class EventIn:
    """One event to publish, checked (what publishing.publish reads of a body)."""

    type: str
    data: dict[str, Any]
    id: str | None = None
    user_id: str | None = None


class Problems:
    """Errors found in one body, as pydantic reports them: location and message."""

    def __init__(self) -> None:
        self.found: list[tuple[Location, str]] = []

    def add(self, location: Location, message: str) -> None:
        self.found.append((location, message))

    def raise_any(self) -> None:
        if not self.found:
            return
        details = [
            {"field": ".".join(str(part) for part in location), "message": message}
            for location, message in self.found
        ]
        fields = ", ".join(detail["field"] for detail in details[:5])
        raise InvalidRequest(f"invalid request: check {fields}", details=details)


def parse_event(body: Any) -> EventIn:
    """`POST /v1/events`: the body as an event, or InvalidRequest naming every bad field."""
    problems = Problems()
    event = _event(body, ("body",), problems, "EventPublish")
    problems.raise_any()
    assert event is not None
    return event


def parse_batch(body: Any) -> list[EventIn]:
    """`POST /v1/events/batch`: 1-100 events; one bad event refuses the whole batch."""
    problems = Problems()
    if not isinstance(body, dict):
        problems.add(("body",), _not_object(body, "EventBatchPublish"))
        problems.raise_any()
    items = body.get("events", _MISSING)
    events: list[EventIn] = []
    if items is _MISSING:
        problems.add(("body", "events"), "Field required")
    elif not isinstance(items, list):
        problems.add(("body", "events"), "Input should be a valid list")
    elif not 1 <= len(items) <= MAX_BATCH:  # pydantic reports the size alone then
        problems.add(("body", "events"), _list_size(len(items)))
    else:
        for position, item in enumerate(items):
            event = _event(item, ("body", "events", position), problems, "EventPublish")
            if event is not None:
                events.append(event)
    _extra(body, {"events"}, ("body",), problems)
    problems.raise_any()
    return events


_MISSING = object()
FIELDS = ("type", "data", "id", "user_id")


def _event(body: Any, at: Location, problems: Problems, model: str) -> EventIn | None:
    if not isinstance(body, dict):
        problems.add(at, _not_object(body, model))
        return None
    before = len(problems.found)
    event_type = _text(body, "type", at, problems, required=True, longest=200)
    if isinstance(event_type, str) and not is_valid_event_type(event_type):
        problems.add((*at, "type"), f"Value error, {TYPE_RULE}")
    data = body.get("data", _MISSING)
    if data is _MISSING:
        problems.add((*at, "data"), "Field required")
    elif not isinstance(data, dict):
        problems.add((*at, "data"), "Input should be a valid dictionary")
    elif _encoded_size(data) > MAX_EVENT_DATA_BYTES:
        problems.add((*at, "data"), "Value error, data is larger than 256 KB encoded")
    caller_id = _text(body, "id", at, problems, shortest=1, longest=256)
    user_id = _text(body, "user_id", at, problems)
    if isinstance(user_id, str) and not is_valid_user_id(user_id):
        problems.add((*at, "user_id"), f"Value error, {USER_ID_RULE}")
    _extra(body, set(FIELDS), at, problems)
    if len(problems.found) > before:
        return None
    return EventIn(type=str(event_type), data=dict(data), id=caller_id, user_id=user_id)


def _text(
    body: dict[str, Any],
    name: str,
    at: Location,
    problems: Problems,
    *,
    required: bool = False,
    shortest: int = 0,
    longest: int | None = None,
) -> str | None:
    """A string field (or null where optional); anything wrong is added to `problems`."""
    value = body.get(name, _MISSING)
    if value is _MISSING or (value is None and not required):
        if required:
            problems.add((*at, name), "Field required")
        return None
    if not isinstance(value, str):
        problems.add((*at, name), "Input should be a valid string")
        return None
    if len(value) < shortest:
        problems.add((*at, name), f"String should have at least {shortest} character")
        return None
    if longest is not None and len(value) > longest:
        problems.add((*at, name), f"String should have at most {longest} characters")
        return None
    return value


def _extra(body: dict[str, Any], known: set[str], at: Location, problems: Problems) -> None:
    for name in body:
        if name not in known:
            problems.add((*at, name), "Extra inputs are not permitted")


def _encoded_size(data: dict[str, Any]) -> int:
    # Measured as the envelope encodes it (UTF-8, not \u-escaped): the bytes actually sent.
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def _not_object(value: Any, model: str) -> str:
    return f"Input should be a valid dictionary or instance of {model}"


def _list_size(size: int) -> str:
    if size < 1:
        return "List should have at least 1 item after validation, not 0"
    return f"List should have at most {MAX_BATCH} items after validation, not {size}"

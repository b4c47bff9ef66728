"""The publish function (functions/publish): the hot path without the resolver or pydantic.

Its body rules (shared/schemas/publish.py) are the documented models' (`EventPublish`,
`EventBatchPublish` in shared/schemas/requests.py): the same bodies are refused with the same
fields and messages, so the OpenAPI document stays true of the function that serves the route.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from infra import declaration as decl
from infra.bundling import REPO_ROOT
from shared.core.errors import InvalidRequest
from shared.schemas import publish
from shared.schemas.requests import EventBatchPublish, EventPublish
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi

OK = {"type": "user.created", "data": {"a": 1}}
EVENTS: list[Any] = [
    OK,
    {**OK, "id": "caller-1", "user_id": "bob"},
    {**OK, "id": None, "user_id": None},
    {"type": "User.Created", "data": {}},
    {"type": 5, "data": []},
    {"type": None, "data": None},
    {"data": {}},
    {},
    [],
    "text",
    None,
    {**OK, "x": 1, "y": 2},
    {"x": 1, "type": "bad"},
    {**OK, "type": "a.b" * 100},
    {**OK, "id": ""},
    {**OK, "id": 5, "user_id": "a b"},
    {**OK, "id": "x" * 257},
    {**OK, "user_id": 3},
    {**OK, "data": {"x": "a" * 300_000}},
]
BATCHES: list[Any] = [
    {"events": [OK]},
    {"events": []},
    {"events": [OK] * 100},
    {"events": [OK] * 101},
    {"events": [OK] * 101 + [{"type": "X"}]},
    {"events": [OK, {"type": "X"}, 5]},
    {"events": "x"},
    {"events": None},
    {},
    [],
    {"events": [], "z": 1},
    {"events": [OK], "z": 1},
]


def documented(model: type[BaseModel], body: Any) -> list[dict[str, str]] | None:
    """The details the `api` function's resolver gives for this body (None: accepted)."""
    try:
        model.model_validate(body)
    except ValidationError as error:
        return [
            {"field": ".".join(str(part) for part in ("body", *e["loc"])), "message": e["msg"]}
            for e in error.errors()
        ]
    return None


def lean(parse: Any, body: Any) -> list[dict[str, str]] | None:
    try:
        parse(body)
    except InvalidRequest as error:
        return error.details
    return None


@pytest.mark.parametrize("body", EVENTS, ids=lambda body: repr(body)[:40])
def test_an_event_is_checked_as_the_documented_model_checks_it(body: Any) -> None:
    assert lean(publish.parse_event, body) == documented(EventPublish, body)


@pytest.mark.parametrize("body", BATCHES, ids=lambda body: repr(body)[:40])
def test_a_batch_is_checked_as_the_documented_model_checks_it(body: Any) -> None:
    assert lean(publish.parse_batch, body) == documented(EventBatchPublish, body)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
FIELD_VALUES = st.one_of(
    JSON_VALUES, st.sampled_from(["a.b", "user.created", "A", "", "bob", "x" * 257])
)
EVENT_BODIES = st.dictionaries(
    st.sampled_from(["type", "data", "id", "user_id", "other"]), FIELD_VALUES, max_size=5
)


@settings(max_examples=300, deadline=None)
@given(EVENT_BODIES)
def test_any_event_body_gets_the_documented_answer(body: dict[str, Any]) -> None:
    assert lean(publish.parse_event, body) == documented(EventPublish, body)


def test_the_publish_function_imports_neither_pydantic_nor_the_resolver() -> None:
    """Its cold start (issue 14: every handler import within 1.5 x `import boto3`): pydantic and
    the resolver's OpenAPI machinery together cost more than boto3 itself."""
    code = (
        "import sys, functions.publish.handler\n"
        "heavy = ('pydantic', 'aws_lambda_powertools.event_handler')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.strip().replace("'", '"')) == []


def test_api_gateway_sends_publishes_to_the_publish_function() -> None:
    routes = {route.key: route.function for route in decl.ROUTES}
    assert routes["POST /v1/events"] is decl.PUBLISH
    assert routes["POST /v1/events/batch"] is decl.PUBLISH


def test_a_publish_is_one_invocation_of_the_publish_function(api: InProcessApi, alice: str) -> None:
    invoked: list[str] = []
    invoker = api.gateway.invoker
    real = invoker.invoke

    def recording(function: decl.Function, event: dict[str, Any], context: Any) -> Any:
        invoked.append(function.name)
        return real(function, event, context)

    invoker.invoke = recording  # type: ignore[method-assign]
    reply = api.request("POST", "/v1/events", alice, OK)
    assert reply.status == 202, reply.body
    batch = api.request("POST", "/v1/events/batch", ADMIN_KEY, {"events": [{**OK, "user_id": "x"}]})
    assert batch.status == 202, batch.body
    assert invoked == ["publish", "publish"]


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"content-type": "text/plain"}, b'{"type": "a.b", "data": {}}', 415, None),
        ({}, b'{"type": "a.b", "data": {}', 422, "validation_error"),
        ({}, b"", 422, "validation_error"),
        ({}, b"null", 422, "validation_error"),
        ({}, b'{"type": "a.b", "data": {"n": NaN}}', 422, "validation_error"),
    ],
)
def test_malformed_bodies_are_refused_in_the_json_error_shape(
    api: InProcessApi, alice: str, headers: dict[str, str], body: bytes, status: int, code: Any
) -> None:
    reply = api.request("POST", "/v1/events", alice, body=body, headers=headers)
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/json"
    if code:
        assert reply.json()["error"]["code"] == code
    assert api.request("GET", "/v1/events", alice).json()["data"] == []

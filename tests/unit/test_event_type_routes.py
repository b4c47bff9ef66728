"""The event type catalog over the API (README "Event type catalog"): the admin and read routes,
their bad input, and the check publish applies (single and batch, strict mode), in-process over
moto. A refused publish stores nothing: no event, no delivery, no queue message."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from infra.bundling import REPO_ROOT
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi, Reply
from tests.support.faults import receive_all

ORDER = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "minimum": 0},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
    "required": ["amount"],
}
PAID = "/v1/admin/event-types/order.paid"


def error_fields(reply: Reply, status: int = 422) -> list[str]:
    assert reply.status == status, (reply.status, reply.body[:300])
    return [detail["field"] for detail in reply.json()["error"].get("details") or []]


def declare(api: InProcessApi, schema: Any = ORDER, path: str = PAID) -> dict[str, Any]:
    reply = api.request(
        "PUT", path, ADMIN_KEY, {"description": "An order was paid", "schema": schema}
    )
    assert reply.status == 200, reply.body
    return dict(reply.json())


def hook(api: InProcessApi, key: str) -> str:
    reply = api.request(
        "POST", "/v1/webhooks", key, {"url": "http://127.0.0.1:9/h", "events": ["*"]}
    )
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


def nothing_published(api: InProcessApi, key: str, webhook_id: str, env: dict[str, str]) -> None:
    assert api.request("GET", "/v1/events", key).json()["data"] == []
    listed = api.request("GET", f"/v1/webhooks/{webhook_id}/deliveries", key).json()
    assert listed["data"] == []
    assert receive_all(env["DELIVERY_QUEUE_URL"]) == []


# --- The routes ---------------------------------------------------------------------------


def test_admin_writes_and_any_key_reads_the_catalog(api: InProcessApi, alice: str) -> None:
    created = declare(api)
    assert set(created) == {"type", "description", "schema", "created_at", "updated_at"}
    assert created["type"] == "order.paid" and created["schema"] == ORDER
    assert api.request("GET", "/v1/event-types", alice).json() == {"data": [created]}
    assert api.request("GET", "/v1/event-types/order.paid", alice).json() == created
    assert api.request("GET", "/v1/event-types/order.paid", ADMIN_KEY).json() == created

    replaced = api.request("PUT", PAID, ADMIN_KEY, {"description": "paid"}).json()
    assert replaced["schema"] is None and replaced["created_at"] == created["created_at"]

    assert api.request("DELETE", PAID, ADMIN_KEY).status == 204
    assert error_fields(api.request("DELETE", PAID, ADMIN_KEY), 404) == []
    missing = api.request("GET", "/v1/event-types/order.paid", alice)
    assert missing.status == 404 and missing.json()["error"]["code"] == "not_found"
    assert api.request("GET", "/v1/event-types", alice).json() == {"data": []}


def test_a_user_key_cannot_write_the_catalog(api: InProcessApi, alice: str) -> None:
    body = {"description": "x", "schema": ORDER}
    assert api.request("PUT", PAID, alice, body).status == 403
    assert api.request("DELETE", PAID, alice).status == 403
    assert api.request("GET", "/v1/event-types", alice).json() == {"data": []}
    assert api.request("GET", "/v1/event-types").status == 401


@pytest.mark.parametrize("bad", ["Order.Paid", "order", "order.*", "a" * 201 + ".b", "a..b"])
def test_types_outside_the_pattern_are_422_naming_the_path(
    api: InProcessApi, alice: str, bad: str
) -> None:
    assert error_fields(api.request("PUT", f"/v1/admin/event-types/{bad}", ADMIN_KEY, {})) == [
        "path.type"
    ]
    assert error_fields(api.request("GET", f"/v1/event-types/{bad}", alice)) == ["path.type"]
    assert error_fields(api.request("DELETE", f"/v1/admin/event-types/{bad}", ADMIN_KEY)) == [
        "path.type"
    ]
    assert api.request("GET", "/v1/event-types", alice).json() == {"data": []}


@pytest.mark.parametrize(
    "body",
    [
        {"schema": {"type": "nope"}},
        {"schema": {"properties": {"a": {"minimum": "zero"}}}},
        {"schema": [1, 2]},
        {"schema": "text"},
        {"schema": {"$ref": "https://example.com/remote.json"}},
        {"schema": {"description": "x" * (64 * 1024)}},
    ],
    ids=["bad-type", "bad-keyword", "array", "string", "remote-ref", "over-64KB"],
)
def test_a_schema_that_is_not_json_schema_is_422_and_nothing_is_stored(
    api: InProcessApi, alice: str, body: dict[str, Any]
) -> None:
    assert error_fields(api.request("PUT", PAID, ADMIN_KEY, body)) == ["body.schema"]
    assert api.request("GET", "/v1/event-types", alice).json() == {"data": []}


def test_unknown_fields_and_long_descriptions_are_422(api: InProcessApi) -> None:
    assert error_fields(api.request("PUT", PAID, ADMIN_KEY, {"schemas": {}})) == ["body.schemas"]
    long = {"description": "x" * 1001}
    assert error_fields(api.request("PUT", PAID, ADMIN_KEY, long)) == ["body.description"]


# --- Publish checks events against the catalog -------------------------------------------


def test_a_single_event_must_match_its_schema(
    api: InProcessApi, alice: str, aws: dict[str, str]
) -> None:
    webhook_id = hook(api, alice)
    declare(api)
    bad = {"type": "order.paid", "data": {"amount": "12", "items": [{"sku": "a"}, {}]}}
    refused = api.request("POST", "/v1/events", alice, bad)
    assert error_fields(refused) == ["body.data.amount", "body.data.items.1"]
    assert refused.json()["error"]["code"] == "validation_error"
    messages = [detail["message"] for detail in refused.json()["error"]["details"]]
    assert "integer" in messages[0] and "sku" in messages[1]
    nothing_published(api, alice, webhook_id, aws)

    good = {"type": "order.paid", "data": {"amount": 12}}
    assert api.request("POST", "/v1/events", alice, good).status == 202
    assert len(receive_all(aws["DELIVERY_QUEUE_URL"])) == 1


def test_a_batch_is_all_or_nothing(api: InProcessApi, alice: str, aws: dict[str, str]) -> None:
    webhook_id = hook(api, alice)
    declare(api)
    events = [
        {"type": "order.paid", "data": {"amount": 1}},
        {"type": "user.created", "data": {}},  # not in the catalog: accepted
        {"type": "order.paid", "data": {"amount": -1}},
        {"type": "order.paid", "data": {}},
    ]
    refused = api.request("POST", "/v1/events/batch", alice, {"events": events})
    assert error_fields(refused) == ["body.events.2.data.amount", "body.events.3.data"]
    nothing_published(api, alice, webhook_id, aws)

    fixed = [events[0], events[1]]
    assert api.request("POST", "/v1/events/batch", alice, {"events": fixed}).status == 202
    assert len(receive_all(aws["DELIVERY_QUEUE_URL"])) == 2


def test_a_type_with_no_schema_accepts_any_data(api: InProcessApi, alice: str) -> None:
    api.request("PUT", PAID, ADMIN_KEY, {"description": "no schema"})
    reply = api.request("POST", "/v1/events", alice, {"type": "order.paid", "data": {"x": "y"}})
    assert reply.status == 202, reply.body


def test_strict_mode_refuses_types_outside_the_catalog(
    api: InProcessApi, alice: str, aws: dict[str, str], setting: Any
) -> None:
    webhook_id = hook(api, alice)
    declare(api)
    setting("WEBHOOKS_STRICT_EVENT_TYPES", "1")
    single = api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {}})
    assert error_fields(single) == ["body.type"]
    batch = {
        "events": [
            {"type": "order.paid", "data": {"amount": 1}},
            {"type": "user.created", "data": {}},
        ]
    }
    assert error_fields(api.request("POST", "/v1/events/batch", alice, batch)) == [
        "body.events.1.type"
    ]
    nothing_published(api, alice, webhook_id, aws)
    known = {"type": "order.paid", "data": {"amount": 1}}
    assert api.request("POST", "/v1/events", alice, known).status == 202


def test_a_schema_put_applies_to_the_next_publish(api: InProcessApi, alice: str) -> None:
    """The container that changed the catalog sees it at once (others within the cache window:
    README "Event type catalog")."""
    event = {"type": "order.paid", "data": {"amount": 1}}
    assert api.request("POST", "/v1/events", alice, event).status == 202
    declare(api, {"type": "object", "required": ["currency"]})
    assert error_fields(api.request("POST", "/v1/events", alice, event)) == ["body.data"]
    assert api.request("DELETE", PAID, ADMIN_KEY).status == 204
    assert api.request("POST", "/v1/events", alice, event).status == 202


def test_a_warm_publish_with_a_catalog_schema_costs_no_extra_call(
    api: InProcessApi, alice: str, calls: Any
) -> None:
    """Publish stays at 3 AWS calls (webhook Query, write, SendMessageBatch) with the check."""
    hook(api, alice)
    declare(api)
    event = {"type": "order.paid", "data": {"amount": 1}}
    assert api.request("POST", "/v1/events", alice, event).status == 202  # warm container
    calls.reset()
    assert api.request("POST", "/v1/events", alice, event).status == 202
    assert calls.total == 3, calls.calls
    assert calls.calls["dynamodb.Query"] == 1 and calls.calls["sqs.SendMessageBatch"] == 1
    calls.reset()
    assert api.request("POST", "/v1/events", alice, {**event, "data": {}}).status == 422
    assert calls.total == 0, calls.calls


def test_the_publish_function_imports_the_validator_only_on_a_schema() -> None:
    """Its cold start stays within 1.5 x `import boto3` (docs/benchmarks.md): the validator is
    imported by the first event whose type has a schema, never by the handler's import."""
    code = "import sys, functions.publish.handler\nprint('jsonschema_rs' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"

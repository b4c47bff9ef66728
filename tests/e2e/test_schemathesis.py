"""Schemathesis against the OpenAPI document local mode serves (GET /v1/openapi.json).

Every documented operation is called with a hand-made valid request (so each success answer is
checked against its documented schema), then fuzzed with generated requests, valid and invalid,
with a user API key (admin routes with the admin key), on random ids and on real ones. No answer
may be a 5xx, and no answer may break the document's own schema for its status code.

The example counts are small to keep the suite fast; `WEBHOOKS_FUZZ_EXAMPLES=200` makes a deeper
run (examples per operation and generation mode).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.support.local_api import LocalApi, unique, wait_until
from tests.support.receiver import Receiver, Script

CHECKS = [not_a_server_error, response_schema_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
ADMIN = "/v1/admin/"
DEEPER = int(os.environ.get("WEBHOOKS_FUZZ_EXAMPLES") or 0)


def is_admin(label: str) -> bool:
    return label.split(" ", 1)[1].startswith(ADMIN)


@dataclass
class World:
    """One user's real objects, for valid requests and for fuzzing on ids that exist."""

    base_url: str
    user: dict[str, str]
    admin: dict[str, str]
    receiver: Receiver
    webhook_id: str = ""
    event_id: str = ""
    delivery_id: str = ""
    source_id: str = ""
    path_ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def schema(local: Any) -> Any:
    loaded = schemathesis.openapi.from_url(f"{local.base_url}/v1/openapi.json", timeout=10)
    loaded.config.update(base_url=local.base_url, request_timeout=15)
    return loaded


@pytest.fixture(scope="module")
def world(local: Any) -> Iterator[World]:
    receiver = Receiver()
    user = local.new_user(unique("schemathesis"))
    found = World(local.base_url, user, {"x-api-key": local.admin_key}, receiver)
    api = LocalApi(local.base_url, user)
    url = receiver.script("/hook", Script(statuses=[200]))
    found.webhook_id = api.create_webhook(url, ["order.*"])["id"]
    published = api.publish("order.created", {"order": 1})
    found.event_id = published["event_id"]
    found.delivery_id = published["deliveries"][0]["delivery_id"]
    assert wait_until(lambda: api.delivery(found.delivery_id)["status"] == "succeeded")
    found.source_id = api.create_source("github", unique("github-secret"))["id"]
    found.path_ids = {
        "webhook_id": found.webhook_id,
        "event_id": found.event_id,
        "delivery_id": found.delivery_id,
        "source_id": found.source_id,
    }
    yield found
    receiver.close()


def call(schema: Any, label: str, headers: dict[str, str], **parts: Any) -> Any:
    """One explicit request, checked like a generated one; answers the response."""
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    case = operation.Case(**parts)
    return case.call_and_validate(headers=headers, checks=CHECKS)


def test_valid_requests_answer_their_documented_success_shape(schema: Any, world: World) -> None:
    user, admin = world.user, world.admin
    hook_url = world.receiver.url("/hook")
    expected: dict[str, int] = {}

    def ok(label: str, status: int, headers: dict[str, str] = user, **parts: Any) -> Any:
        response = call(schema, label, headers, **parts)
        assert response.status_code == status, (label, response.status_code, response.text)
        expected[label] = status
        return response.json() if response.content else None

    webhook = {"id": world.webhook_id}
    created = ok(
        "POST /v1/webhooks",
        201,
        body={
            "url": hook_url,
            "events": ["invoice.*"],
            "description": "schemathesis",
            "retry": {"attempts": 2, "backoff": "fixed", "initial_delay_seconds": 1},
            "headers": {"X-Tenant": "t1"},
        },
    )
    hook = {"webhook_id": created["id"]}
    ok("GET /v1/webhooks", 200, query={"limit": 5})
    ok("GET /v1/webhooks/{webhook_id}", 200, path_parameters=hook)
    ok("PATCH /v1/webhooks/{webhook_id}", 200, path_parameters=hook, body={"active": False})
    ok("POST /v1/webhooks/{webhook_id}/test", 202, path_parameters=hook)
    ok("GET /v1/webhooks/{webhook_id}/deliveries", 200, path_parameters=hook)
    ok("GET /v1/secret", 200)
    ok("POST /v1/secret/rotate", 200, body={"grace_seconds": 60})
    session = ok("POST /v1/portal/sessions", 201, body={"ttl_seconds": 60})
    ok(
        "DELETE /v1/portal/sessions/current",
        204,
        headers={"authorization": f"Bearer {session['token']}"},
    )
    ok("POST /v1/events", 202, body={"type": "order.paid", "data": {"n": 1}})
    ok("POST /v1/events/batch", 202, body={"events": [{"type": "order.paid", "data": {}}]})
    ok("GET /v1/events", 200, query={"direction": "outbound", "limit": 2})
    ok("GET /v1/events/{event_id}", 200, path_parameters={"event_id": world.event_id})
    ok(
        "POST /v1/events/{event_id}/replay",
        202,
        path_parameters={"event_id": world.event_id},
        body={"webhook_id": webhook["id"]},
    )
    ok("GET /v1/deliveries/{delivery_id}", 200, path_parameters={"delivery_id": world.delivery_id})
    # A delivered delivery cannot be retried: the documented 409, in the documented error shape.
    ok(
        "POST /v1/deliveries/{delivery_id}/retry",
        409,
        path_parameters={"delivery_id": world.delivery_id},
    )
    since = {"since": datetime.now(UTC).replace(microsecond=0).isoformat()}
    ok("POST /v1/webhooks/{webhook_id}/recover", 409, path_parameters=hook, body=since)  # inactive
    live = {"webhook_id": webhook["id"]}
    ok("POST /v1/webhooks/{webhook_id}/recover", 202, path_parameters=live, body=since)
    ok("GET /v1/webhooks/{webhook_id}/stats", 200, path_parameters=live, query={"window": "1h"})
    ok("DELETE /v1/webhooks/{webhook_id}", 204, path_parameters=hook)

    source = ok(
        "POST /v1/sources",
        201,
        body={
            "name": "custom",
            "provider": "hmac",
            "secret": unique("hmac-secret"),
            "signature": {"header": "X-Signature", "prefix": "sha256="},
            "dedupe": {"key": "header:X-Request-Id"},
            "forward_url": hook_url,
        },
    )
    src = {"source_id": source["id"]}
    ok("GET /v1/sources", 200, query={"limit": 5})
    ok("GET /v1/sources/{source_id}", 200, path_parameters=src)
    ok("PATCH /v1/sources/{source_id}", 200, path_parameters=src, body={"name": "renamed"})
    ok("DELETE /v1/sources/{source_id}", 204, path_parameters=src)
    ok("GET /v1/events", 200, query={"source_id": world.source_id, "direction": "inbound"})

    key = ok("POST /v1/admin/api-keys", 201, admin, body={"user_id": unique("st-key")})
    ok("DELETE /v1/admin/api-keys/{key_id}", 204, admin, path_parameters={"key_id": key["id"]})
    ok("GET /v1/admin/dlq", 200, admin, query={"queue": "delivery"})
    ok("GET /v1/admin/dlq", 200, admin, query={"queue": "inbound"})
    ok("POST /v1/admin/dlq/redrive", 202, admin, body={"queue": "inbound", "message_ids": []})

    probe = {"type": "schemathesis.probe"}
    schema_body = {"description": "schemathesis", "schema": {"type": "object"}}
    ok("PUT /v1/admin/event-types/{type}", 200, admin, path_parameters=probe, body=schema_body)
    ok("GET /v1/event-types", 200)
    ok("GET /v1/event-types/{type}", 200, path_parameters=probe)
    ok("DELETE /v1/admin/event-types/{type}", 204, admin, path_parameters=probe)

    documented = {operation.ok().label for operation in schema.get_all_operations()}
    assert documented - set(expected) == set(), "add a valid request for the new operations"


def fuzz(
    schema: Any,
    base_url: str,
    headers: dict[str, str],
    wanted: Callable[[str], bool],
    max_examples: int,
    path_ids: dict[str, str] | None = None,
    modes: tuple[GenerationMode, ...] = MODES,
) -> tuple[list[str], list[str]]:
    """Run every wanted operation in the given generation modes; (operations run, failures).

    With `path_ids`, operations whose path parameters are all known use those real ids.
    """
    ran: list[str] = []
    failures: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        if not wanted(operation.label):
            continue
        bound = None
        if path_ids is not None:
            names = [p.name for p in operation.path_parameters]
            if not names or not all(name in path_ids for name in names):
                continue
            bound = {name: path_ids[name] for name in names}
        ran.append(operation.label)
        for mode in modes:

            @settings(
                max_examples=DEEPER or max_examples,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=bound))
            def check(case: Any) -> None:
                case.call_and_validate(
                    base_url=base_url, session=session, headers=headers, checks=CHECKS
                )

            try:
                check()
            except Exception as error:  # collect every operation's failure, then report
                failures.append(f"{operation.label} [{mode.value}]: {error}")
    return ran, failures


def test_fuzzed_user_requests_hold_to_the_document(schema: Any, world: World) -> None:
    ran, failures = fuzz(schema, world.base_url, world.user, lambda lb: not is_admin(lb), 6)
    assert "GET /v1/events" in ran and "POST /v1/events/{event_id}/replay" in ran
    assert len(ran) >= 15, ran
    assert not failures, "\n\n".join(failures)


def test_fuzzed_requests_on_real_ids_hold_to_the_document(schema: Any, world: World) -> None:
    """Valid generated requests on objects that exist: the 200/202 answers are checked too."""
    ran, failures = fuzz(
        schema,
        world.base_url,
        world.user,
        lambda label: not is_admin(label) and not label.startswith("DELETE "),
        8,
        path_ids=world.path_ids,
        modes=(GenerationMode.POSITIVE,),
    )
    assert {
        "GET /v1/events/{event_id}",
        "PATCH /v1/webhooks/{webhook_id}",
        "PATCH /v1/sources/{source_id}",
    } <= set(ran)
    assert not failures, "\n\n".join(failures)


def writes_the_catalog(label: str) -> bool:
    """The event type catalog is one for the whole local service: a fuzzed schema stored for a
    type other e2e tests publish would refuse their events. Its valid requests are above."""
    return "/v1/admin/event-types/" in label


def test_fuzzed_admin_requests_hold_to_the_document(schema: Any, world: World) -> None:
    wanted = lambda label: is_admin(label) and not writes_the_catalog(label)  # noqa: E731
    ran, failures = fuzz(schema, world.base_url, world.admin, wanted, 8)
    assert {label for label in ran} == {
        "GET /v1/admin/dlq",
        "POST /v1/admin/dlq/redrive",
        "POST /v1/admin/api-keys",
        "DELETE /v1/admin/api-keys/{key_id}",
    }
    assert not failures, "\n\n".join(failures)


def test_requests_without_a_key_answer_a_documented_401(schema: Any, world: World) -> None:
    ran, failures = fuzz(
        schema, world.base_url, {}, lambda label: True, 2, modes=(GenerationMode.POSITIVE,)
    )
    assert ran
    assert not failures, "\n\n".join(failures)

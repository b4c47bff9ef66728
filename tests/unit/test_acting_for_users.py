"""An admin key acts for a user with `?user_id=` on every user route; a user key naming another
user gets 403; nowhere is the parameter silently ignored (README: admin acts for a user).

The route lists come from the resolver itself, so a route added later without its scenario here
fails `test_every_user_route_has_a_scenario`."""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import Depends

from functions.api.context import act_for_user, admin_caller
from functions.api.handler import app
from shared.core import clock
from shared.core.config import settings
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi, Reply
from tests.support.faults import invoke_worker, receive_all

HOOK = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}
SOURCE = {"name": "stripe-prod", "provider": "hmac", "secret": "x"}
Route = tuple[str, str]


def declared_routes() -> list[tuple[Route, Callable[..., Any]]]:
    """Every documented `/v1` route of the API, as (method, OpenAPI path) and its function."""
    return sorted(
        (
            (route.method.lower(), re.sub(r"<(\w+)>", r"{\1}", route.path)),
            route.func,
        )
        for route in [*app._static_routes, *app._dynamic_routes]
        if route.include_in_schema and route.path.startswith("/v1/")
    )


def is_admin_route(route: Route) -> bool:
    return route[1].startswith("/v1/admin/")


USER_ROUTES = [route for route, _ in declared_routes() if not is_admin_route(route)]
ADMIN_ROUTES = [route for route, _ in declared_routes() if is_admin_route(route)]


def ok(reply: Reply, status: int = 200) -> Any:
    assert reply.status == status, (reply.status, reply.body[:300])
    return reply.json()


def error_of(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, (reply.status, reply.body[:300])
    error = reply.json()["error"]
    assert error["code"] == code, error
    return dict(error)


def for_user(path: str, user_id: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}user_id={user_id}"


@dataclass
class World:
    """Bob's account with one of everything, acted on by the admin key."""

    api: InProcessApi
    bob: str
    alice: str
    hook: str
    event: str
    delivery: str
    source: str

    def path(self, template: str) -> str:
        return template.format(
            webhook_id=self.hook,
            event_id=self.event,
            delivery_id=self.delivery,
            source_id=self.source,
            type="order.paid",
        )

    def as_admin_for_bob(self, method: str, template: str, body: Any = None) -> Reply:
        return self.api.request(
            method.upper(), for_user(self.path(template), "bob"), ADMIN_KEY, body
        )

    def as_admin(self, method: str, template: str, body: Any = None) -> Reply:
        return self.api.request(method.upper(), self.path(template), ADMIN_KEY, body)

    def as_bob(self, method: str, template: str, body: Any = None) -> Reply:
        return self.api.request(method.upper(), self.path(template), self.bob, body)

    def ids(self, reply: Reply) -> list[str]:
        return [item["id"] for item in ok(reply)["data"]]


@pytest.fixture
def world(api: InProcessApi) -> World:
    bob = api.new_user_key(ADMIN_KEY, "bob")
    alice = api.new_user_key(ADMIN_KEY, "alice")
    hook = ok(api.request("POST", "/v1/webhooks", bob, HOOK), 201)["id"]
    published = ok(
        api.request("POST", "/v1/events", bob, {"type": "user.created", "data": {}}), 202
    )
    source = ok(api.request("POST", "/v1/sources", bob, SOURCE), 201)["id"]
    # One attempt (refused: nothing listens on port 9) writes the delivery's record, which lists it.
    invoke_worker(receive_all(settings().delivery_queue_url))
    return World(
        api,
        bob,
        alice,
        hook,
        published["event_id"],
        published["deliveries"][0]["delivery_id"],
        source,
    )


# --- What "acting as bob" means on each route --------------------------------------------------


def same_list(world: World, template: str) -> None:
    """The admin's page for bob is bob's page; the admin's own page is another."""
    as_bob = ok(world.as_admin_for_bob("get", template))
    assert as_bob["data"], template
    assert as_bob == ok(world.as_bob("get", template))
    own = world.as_admin("get", template)
    assert own.status == 404 or ok(own)["data"] != as_bob["data"]


def read_one(world: World, template: str) -> None:
    """Bob's object is found for bob, and is not the admin's."""
    ok(world.as_admin_for_bob("get", template))
    error_of(world.as_admin("get", template), 404, "not_found")


def create_webhook(world: World) -> None:
    created = ok(world.as_admin_for_bob("post", "/v1/webhooks", HOOK), 201)["id"]
    assert created in world.ids(world.as_bob("get", "/v1/webhooks"))
    assert created not in world.ids(world.as_admin("get", "/v1/webhooks"))


def update_webhook(world: World) -> None:
    ok(world.as_admin_for_bob("patch", "/v1/webhooks/{webhook_id}", {"description": "by admin"}))
    assert ok(world.as_bob("get", "/v1/webhooks/{webhook_id}"))["description"] == "by admin"


def delete_webhook(world: World) -> None:
    assert world.as_admin_for_bob("delete", "/v1/webhooks/{webhook_id}").status == 204
    error_of(world.as_bob("get", "/v1/webhooks/{webhook_id}"), 404, "not_found")


def send_test(world: World) -> None:
    sent = ok(world.as_admin_for_bob("post", "/v1/webhooks/{webhook_id}/test"), 202)
    ok(world.as_bob("get", f"/v1/deliveries/{sent['delivery_id']}"))


def read_secret(world: World) -> None:
    own = ok(world.as_admin("get", "/v1/secret"))["secret"]
    as_bob = ok(world.as_admin_for_bob("get", "/v1/secret"))["secret"]
    assert as_bob == ok(world.as_bob("get", "/v1/secret"))["secret"] != own


def rotate_secret(world: World) -> None:
    own = ok(world.as_admin("get", "/v1/secret"))["secret"]
    before = ok(world.as_bob("get", "/v1/secret"))["secret"]
    rotated = ok(world.as_admin_for_bob("post", "/v1/secret/rotate", {"grace_seconds": 0}))
    assert ok(world.as_bob("get", "/v1/secret"))["secret"] == rotated["secret"] != before
    assert ok(world.as_admin("get", "/v1/secret"))["secret"] == own


def publish(world: World) -> None:
    answer = ok(world.as_admin_for_bob("post", "/v1/events", {"type": "a.b", "data": {}}), 202)
    ok(world.as_bob("get", f"/v1/events/{answer['event_id']}"))
    assert [item["webhook_id"] for item in answer["deliveries"]] == [world.hook]


def publish_batch(world: World) -> None:
    body = {"events": [{"type": "a.b", "data": {}}]}
    answer = ok(world.as_admin_for_bob("post", "/v1/events/batch", body), 202)
    ok(world.as_bob("get", f"/v1/events/{answer['data'][0]['event_id']}"))


def replay(world: World) -> None:
    ok(world.as_admin_for_bob("post", "/v1/events/{event_id}/replay"), 202)
    error_of(world.as_admin("post", "/v1/events/{event_id}/replay"), 404, "not_found")


def retry_delivery(world: World) -> None:
    """Bob's delivery is found (retrying, not failed: 409), where the admin's own account has
    none."""
    template = "/v1/deliveries/{delivery_id}/retry"
    error_of(world.as_admin_for_bob("post", template), 409, "delivery_not_failed")
    error_of(world.as_admin("post", template), 404, "not_found")


def recover(world: World) -> None:
    """Bob's webhook is recovered (nothing failed: 0), where the admin's own account has none."""
    since = {"since": clock.iso(clock.now() - 3600)}
    template = "/v1/webhooks/{webhook_id}/recover"
    assert ok(world.as_admin_for_bob("post", template, since), 202)["recovering"] == 0
    error_of(world.as_admin("post", template, since), 404, "not_found")


def create_source(world: World) -> None:
    created = ok(world.as_admin_for_bob("post", "/v1/sources", SOURCE), 201)["id"]
    assert created in world.ids(world.as_bob("get", "/v1/sources"))
    assert created not in world.ids(world.as_admin("get", "/v1/sources"))


def update_source(world: World) -> None:
    ok(world.as_admin_for_bob("patch", "/v1/sources/{source_id}", {"name": "renamed"}))
    assert ok(world.as_bob("get", "/v1/sources/{source_id}"))["name"] == "renamed"


def delete_source(world: World) -> None:
    assert world.as_admin_for_bob("delete", "/v1/sources/{source_id}").status == 204
    error_of(world.as_bob("get", "/v1/sources/{source_id}"), 404, "not_found")


def read_catalog(world: World, template: str) -> None:
    """The catalog is one for the deployment: bob, and the admin for bob, read the same."""
    assert ok(world.as_admin("put", "/v1/admin/event-types/order.paid", {})) is not None
    as_bob = ok(world.as_admin_for_bob("get", template))
    assert as_bob == ok(world.as_bob("get", template)) == ok(world.as_admin("get", template))


def open_portal(world: World) -> None:
    """The admin's session for bob acts as bob."""
    made = ok(world.as_admin_for_bob("post", "/v1/portal/sessions"), 201)
    reply = world.api.request(
        "GET", "/v1/webhooks", headers={"authorization": f"Bearer {made['token']}"}
    )
    assert [item["id"] for item in ok(reply)["data"]] == [world.hook]


def end_portal_session(world: World) -> None:
    """Only a session ends itself: the admin is refused, even for bob; bob's session ends."""
    path = "/v1/portal/sessions/current"
    error_of(world.as_admin_for_bob("delete", path), 403, "forbidden")
    made = ok(world.as_admin_for_bob("post", "/v1/portal/sessions"), 201)
    bearer = {"authorization": f"Bearer {made['token']}"}
    assert world.api.request("DELETE", path, headers=bearer).status == 204
    error_of(world.api.request("GET", "/v1/webhooks", headers=bearer), 401, "session_expired")


SCENARIOS: dict[Route, Callable[[World], None]] = {
    ("post", "/v1/webhooks"): create_webhook,
    ("get", "/v1/webhooks"): lambda world: same_list(world, "/v1/webhooks"),
    ("get", "/v1/webhooks/{webhook_id}"): lambda world: read_one(
        world, "/v1/webhooks/{webhook_id}"
    ),
    ("patch", "/v1/webhooks/{webhook_id}"): update_webhook,
    ("delete", "/v1/webhooks/{webhook_id}"): delete_webhook,
    ("post", "/v1/webhooks/{webhook_id}/test"): send_test,
    ("get", "/v1/webhooks/{webhook_id}/deliveries"): lambda world: same_list(
        world, "/v1/webhooks/{webhook_id}/deliveries"
    ),
    ("post", "/v1/webhooks/{webhook_id}/recover"): recover,
    ("get", "/v1/webhooks/{webhook_id}/stats"): lambda world: read_one(
        world, "/v1/webhooks/{webhook_id}/stats"
    ),
    ("get", "/v1/secret"): read_secret,
    ("post", "/v1/secret/rotate"): rotate_secret,
    ("post", "/v1/events"): publish,
    ("post", "/v1/events/batch"): publish_batch,
    ("get", "/v1/events"): lambda world: same_list(world, "/v1/events"),
    ("get", "/v1/events/{event_id}"): lambda world: read_one(world, "/v1/events/{event_id}"),
    ("post", "/v1/events/{event_id}/replay"): replay,
    ("get", "/v1/deliveries/{delivery_id}"): lambda world: read_one(
        world, "/v1/deliveries/{delivery_id}"
    ),
    ("post", "/v1/deliveries/{delivery_id}/retry"): retry_delivery,
    ("post", "/v1/sources"): create_source,
    ("get", "/v1/sources"): lambda world: same_list(world, "/v1/sources"),
    ("get", "/v1/sources/{source_id}"): lambda world: read_one(world, "/v1/sources/{source_id}"),
    ("patch", "/v1/sources/{source_id}"): update_source,
    ("delete", "/v1/sources/{source_id}"): delete_source,
    ("get", "/v1/event-types"): lambda world: read_catalog(world, "/v1/event-types"),
    ("get", "/v1/event-types/{type}"): lambda world: read_catalog(
        world, "/v1/event-types/order.paid"
    ),
    ("post", "/v1/portal/sessions"): open_portal,
    ("delete", "/v1/portal/sessions/current"): end_portal_session,
}


def test_every_user_route_has_a_scenario() -> None:
    assert set(USER_ROUTES) == set(SCENARIOS)


def _dependencies(function: Callable[..., Any]) -> set[Callable[..., Any]]:
    hints = typing.get_type_hints(function, include_extras=True)
    return {
        meta.dependency
        for hint in hints.values()
        for meta in getattr(hint, "__metadata__", ())
        if isinstance(meta, Depends)
    }


@pytest.mark.parametrize(
    ("route", "function"),
    [pytest.param(route, function, id=" ".join(route)) for route, function in declared_routes()],
)
def test_every_route_takes_its_account_from_the_one_dependency(
    route: Route, function: Callable[..., Any]
) -> None:
    expected = admin_caller if is_admin_route(route) else act_for_user
    assert expected in _dependencies(function), route


@pytest.mark.parametrize("route", USER_ROUTES, ids=" ".join)
def test_admin_acts_as_the_named_user(world: World, route: Route) -> None:
    SCENARIOS[route](world)


@pytest.mark.parametrize("route", USER_ROUTES, ids=" ".join)
def test_a_user_key_naming_another_user_is_refused(world: World, route: Route) -> None:
    """403 before anything else (even before the body is validated), and nothing changes."""
    method, template = route
    for body in (None, {}):
        reply = world.api.request(
            method.upper(), for_user(world.path(template), "alice"), world.bob, body
        )
        error = error_of(reply, 403, "forbidden")
        assert "alice" not in error["message"]
    for listed in ("/v1/webhooks", "/v1/events", "/v1/sources"):
        assert ok(world.api.request("GET", listed, world.alice))["data"] == []
    assert world.ids(world.as_bob("get", "/v1/webhooks")) == [world.hook]
    assert world.ids(world.as_bob("get", "/v1/sources")) == [world.source]


@pytest.mark.parametrize(
    "user_id", ["", "a%20b", "a&user_id=b", "x" * 129, "bob%0A", "%C3%A9"], ids=repr
)
def test_an_admin_naming_an_impossible_user_is_422(world: World, user_id: str) -> None:
    for method, path, body in (
        ("GET", "/v1/webhooks", None),
        ("POST", "/v1/webhooks", HOOK),
        ("GET", "/v1/secret", None),
    ):
        reply = world.api.request(method, f"{path}?user_id={user_id}", ADMIN_KEY, body)
        error = error_of(reply, 422, "validation_error")
        assert [detail["field"] for detail in error["details"]] == ["query.user_id"]
    assert world.ids(world.as_admin("get", "/v1/webhooks")) == []


ADMIN_BODIES: dict[Route, Any] = {
    ("post", "/v1/admin/api-keys"): {"user_id": "carol"},
    ("delete", "/v1/admin/api-keys/{key_id}"): None,
    ("get", "/v1/admin/dlq"): None,
    ("post", "/v1/admin/dlq/redrive"): {"queue": "delivery"},
    ("put", "/v1/admin/event-types/{type}"): {"description": "x"},
    ("delete", "/v1/admin/event-types/{type}"): None,
}


def test_every_admin_route_is_covered() -> None:
    assert set(ADMIN_ROUTES) == set(ADMIN_BODIES)


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=" ".join)
def test_admin_routes_refuse_user_id(world: World, route: Route) -> None:
    """An admin route never acts for a user, so `?user_id=` there is an error, not ignored."""
    method, template = route
    path = template.format(key_id="key_x", type="order.paid")
    if route == ("get", "/v1/admin/dlq"):
        path += "?queue=delivery"
    reply = world.api.request(method.upper(), for_user(path, "bob"), ADMIN_KEY, ADMIN_BODIES[route])
    error = error_of(reply, 422, "validation_error")
    assert [detail["field"] for detail in error["details"]] == ["query.user_id"]


def test_publish_naming_users_in_query_and_body(world: World) -> None:
    event = {"type": "a.b", "data": {}}
    for path, body in (
        ("/v1/events", {**event, "user_id": "alice"}),
        ("/v1/events/batch", {"events": [event, {**event, "user_id": "alice"}]}),
    ):
        error = error_of(world.as_admin_for_bob("post", path, body), 422, "validation_error")
        assert [detail["field"] for detail in error["details"]] == ["body.user_id"]
    assert ok(world.api.request("GET", "/v1/events", world.alice))["data"] == []
    assert world.ids(world.as_bob("get", "/v1/events")) == [world.event]
    # The same user in both places, or in the body alone, is fine.
    agreed = ok(world.as_admin_for_bob("post", "/v1/events", {**event, "user_id": "bob"}), 202)
    ok(world.as_bob("get", f"/v1/events/{agreed['event_id']}"))
    in_body = ok(world.as_admin("post", "/v1/events", {**event, "user_id": "alice"}), 202)
    ok(world.api.request("GET", f"/v1/events/{in_body['event_id']}", world.alice))

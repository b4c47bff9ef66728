"""The foundation routes over real HTTP against local mode: health, API keys, webhooks, secret.

Every route of the foundation issue, with its 401/403/404/422 answers and tenant isolation.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import uuid
from typing import Any

import requests

from tests.support.local_api import wait_until

TIMEOUT = 15
SECRET = re.compile(r"^whcms_[A-Za-z0-9+/]{43}=$")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
HOOK = "http://127.0.0.1:9/hook"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def call(
    local: Any,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> requests.Response:
    return requests.request(
        method, local.base_url + path, headers=headers or {}, timeout=TIMEOUT, **kwargs
    )


def error(reply: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The spec's error shape, as JSON, with no stack trace."""
    assert reply.status_code == status, (reply.status_code, reply.text[:500])
    assert reply.headers["content-type"].startswith("application/json")
    assert "Traceback" not in reply.text
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) <= {"code", "message", "details"}
    assert SNAKE.match(body["error"]["code"]) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return dict(body["error"])


def admin(local: Any) -> dict[str, str]:
    return {"x-api-key": local.admin_key}


def test_health_needs_no_key(local: Any) -> None:
    reply = call(local, "GET", "/health")
    assert reply.status_code == 200 and reply.json()["status"] == "ok"


def test_every_route_needs_a_valid_key(local: Any) -> None:
    routes = [
        ("POST", "/v1/admin/api-keys", {"user_id": "x"}),
        ("DELETE", "/v1/admin/api-keys/key_x", None),
        ("POST", "/v1/webhooks", {"url": HOOK, "events": ["*"]}),
        ("GET", "/v1/webhooks", None),
        ("GET", "/v1/webhooks/wh_x", None),
        ("PATCH", "/v1/webhooks/wh_x", {"active": False}),
        ("DELETE", "/v1/webhooks/wh_x", None),
        ("GET", "/v1/secret", None),
        ("POST", "/v1/secret/rotate", {}),
    ]
    wrong = "wk_" + "0" * 43
    for headers in (
        {},
        {"x-api-key": wrong},
        {"Authorization": f"Bearer {wrong}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {local.admin_key}"},
    ):
        for method, path, body in routes:
            reply = call(local, method, path, headers, json=body)
            message = error(reply, 401, "unauthorized")["message"]
            assert wrong not in message


def test_bearer_works_like_x_api_key(local: Any) -> None:
    key = local.new_user(unique("bearer"))["x-api-key"]
    for count, headers in enumerate(
        ({"x-api-key": key}, {"Authorization": f"Bearer {key}"}, {"authorization": f"bearer {key}"})
    ):
        listed = call(local, "GET", "/v1/webhooks", headers).json()
        assert len(listed["data"]) == count and listed["next_cursor"] is None
        created = call(local, "POST", "/v1/webhooks", headers, json={"url": HOOK, "events": ["*"]})
        assert created.status_code == 201


def test_admin_keys_create_revoke_and_roles(local: Any) -> None:
    user_id = unique("keys")
    reply = call(local, "POST", "/v1/admin/api-keys", admin(local), json={"user_id": user_id})
    assert reply.status_code == 201
    created = reply.json()
    assert set(created) == {"id", "api_key", "user_id", "role", "created_at"}
    assert created["id"].startswith("key_") and created["api_key"].startswith("wk_")
    assert created["user_id"] == user_id and created["role"] == "user"
    assert ISO_Z.match(created["created_at"])
    user = {"x-api-key": created["api_key"]}
    assert call(local, "GET", "/v1/webhooks", user).status_code == 200

    # A user key is too low for admin routes: 403, whatever the body.
    for body in ({"user_id": "mallory", "role": "admin"}, {"nonsense": True}):
        error(call(local, "POST", "/v1/admin/api-keys", user, json=body), 403, "forbidden")
    error(call(local, "DELETE", f"/v1/admin/api-keys/{created['id']}", user), 403, "forbidden")
    error(call(local, "GET", "/v1/admin/dlq?queue=delivery", user), 403, "forbidden")

    # Admin input is validated: 422 naming the field.
    for body in ({"user_id": "has space"}, {"user_id": "x", "role": "root"}, {}, {"x": 1}):
        reply = call(local, "POST", "/v1/admin/api-keys", admin(local), json=body)
        assert error(reply, 422, "validation_error")["details"]

    # An admin key made by the admin can make keys too.
    second = call(
        local, "POST", "/v1/admin/api-keys", admin(local), json={"user_id": "ops", "role": "admin"}
    ).json()
    other = call(
        local,
        "POST",
        "/v1/admin/api-keys",
        {"Authorization": f"Bearer {second['api_key']}"},
        json={"user_id": unique("by-second")},
    )
    assert other.status_code == 201

    revoked = call(local, "DELETE", f"/v1/admin/api-keys/{created['id']}", admin(local))
    assert revoked.status_code == 204 and revoked.content == b""
    # Each API container trusts a key it looked up for WEBHOOKS_API_KEY_CACHE_SECONDS
    # (1 s here): the revoked key is refused everywhere once that has passed.
    assert wait_until(
        lambda: call(local, "GET", "/v1/webhooks", user).status_code == 401, timeout=15
    )
    error(call(local, "GET", "/v1/webhooks", user), 401, "unauthorized")
    error(call(local, "DELETE", f"/v1/admin/api-keys/{created['id']}", admin(local)), 404)


def test_webhook_crud_with_pagination_and_validation(local: Any) -> None:
    user = local.new_user(unique("crud"))
    body = {
        "url": HOOK,
        "events": ["user.created", "project.*"],
        "description": "CRM",
        "retry": {"attempts": 2, "backoff": "fixed", "initial_delay_seconds": 10},
        "headers": {"X-Tenant": "acme"},
    }
    reply = call(local, "POST", "/v1/webhooks", user, json=body)
    assert reply.status_code == 201
    created = reply.json()
    assert created["id"].startswith("wh_") and created["active"] is True
    assert {k: created[k] for k in ("url", "events", "description", "headers")} == {
        k: body[k] for k in ("url", "events", "description", "headers")
    }
    assert created["retry"]["attempts"] == 2 and created["retry"]["max_delay_seconds"] == 86400
    path = f"/v1/webhooks/{created['id']}"
    assert call(local, "GET", path, user).json() == created

    patched = call(local, "PATCH", path, user, json={"active": False, "events": ["*"]}).json()
    assert patched["active"] is False and patched["events"] == ["*"]
    assert patched["description"] == "CRM" and patched["url"] == HOOK
    assert call(local, "GET", path, user).json() == patched

    ids = {created["id"]}
    for _ in range(4):
        ids.add(
            call(local, "POST", "/v1/webhooks", user, json={"url": HOOK, "events": ["*"]}).json()[
                "id"
            ]
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = call(local, "GET", "/v1/webhooks", user, params=params).json()
        assert len(page["data"]) <= 2
        seen += [item["id"] for item in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    error(call(local, "GET", "/v1/webhooks", user, params={"cursor": "garbage!"}), 422)
    for limit in ("0", "101", "x"):
        error(call(local, "GET", "/v1/webhooks", user, params={"limit": limit}), 422)

    deleted = call(local, "DELETE", path, user)
    assert deleted.status_code == 204 and deleted.content == b""
    error(call(local, "GET", path, user), 404, "not_found")
    error(call(local, "DELETE", path, user), 404, "not_found")
    error(call(local, "PATCH", path, user, json={"active": True}), 404, "not_found")


def test_webhook_validation_answers_422(local: Any) -> None:
    user = local.new_user(unique("invalid"))
    cases: list[tuple[Any, str]] = [
        ({"url": "ftp://127.0.0.1/", "events": ["*"]}, "body.url"),
        ({"url": "http://127.0.0.1/" + "a" * 2048, "events": ["*"]}, "body.url"),
        ({"url": HOOK, "events": []}, "body.events"),
        ({"url": HOOK, "events": ["Bad.Pattern"]}, "body.events"),
        ({"url": HOOK, "events": ["*.created"]}, "body.events"),
        ({"url": HOOK, "events": ["*"], "headers": {"X-Webhook-Signature": "x"}}, "body.headers"),
        ({"url": HOOK, "events": ["*"], "owner": "me"}, "body.owner"),
        ({"url": HOOK}, "body.events"),
        ({"url": 5, "events": ["*"]}, "body.url"),
    ]
    for body, field in cases:
        found = error(call(local, "POST", "/v1/webhooks", user, json=body), 422)
        assert field in [detail["field"] for detail in found["details"]], (body, found)
    for raw, content_type in (
        (b"{not json", "application/json"),
        (b"[]", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b'{"url": "x", "events": ["*"], "description": NaN}', "application/json"),
        (b"[" * 50_000 + b"]" * 50_000, "application/json"),
    ):
        reply = call(
            local, "POST", "/v1/webhooks", {**user, "content-type": content_type}, data=raw
        )
        error(reply, 422)
    too_big = b'{"url": "' + b"a" * (1024 * 1024) + b'", "events": ["*"]}'
    headers = {**user, "content-type": "application/json"}
    error(call(local, "POST", "/v1/webhooks", headers, data=too_big), 413)
    assert call(local, "GET", "/v1/webhooks", user).json()["data"] == []


def test_malformed_paths_and_headers_never_give_a_stack_trace(local: Any) -> None:
    user = local.new_user(unique("paths"))
    for method, path in (
        ("GET", "/v1/webhooks/%00"),
        ("GET", "/v1/webhooks/..%2F..%2Fadmin%2Fapi-keys"),
        ("GET", "/v1/webhooks/" + "x" * 4000),
        ("GET", "/v1/webhooks/%E2%98%83"),
        ("GET", "/v1/webhooks/%ZZ"),
        ("PUT", "/v1/webhooks"),
        ("GET", "/v1/nothing-here"),
        ("POST", "/v1/secret"),
        ("GET", "/v1/secret/rotate"),
        ("GET", "/v1/webhooks?limit=1&limit=2"),
    ):
        reply = call(local, method, path, user)
        assert 400 <= reply.status_code < 500, (method, path[:60], reply.status_code)
        error(reply, reply.status_code)
    for headers in (
        {"x-api-key": "' OR 1=1 --"},
        {"Authorization": "Bearer " + "a" * 8000},
        {"content-type": "application/json; charset=latin-1"},
        {"accept": "*/*", "x-api-key": user["x-api-key"], "x-forwarded-for": "junk"},
    ):
        reply = call(local, "GET", "/v1/webhooks", headers)
        assert reply.status_code in (200, 401), (headers, reply.status_code)
        assert "Traceback" not in reply.text


def test_secret_is_per_user_created_on_first_use_and_rotates(local: Any) -> None:
    alice = local.new_user(unique("secret-a"))
    bob = local.new_user(unique("secret-b"))
    first = call(local, "GET", "/v1/secret", alice).json()
    assert SECRET.match(first["secret"]) and first["previous_expires_at"] is None
    assert len(base64.b64decode(first["secret"].removeprefix("whcms_"))) == 32
    assert call(local, "GET", "/v1/secret", alice).json() == first
    assert call(local, "GET", "/v1/secret", bob).json()["secret"] != first["secret"]

    rotated = call(local, "POST", "/v1/secret/rotate", alice, json={"grace_seconds": 600}).json()
    assert SECRET.match(rotated["secret"]) and rotated["secret"] != first["secret"]
    assert ISO_Z.match(rotated["previous_expires_at"])
    now = call(local, "GET", "/v1/secret", alice).json()
    assert now["secret"] == rotated["secret"]
    assert now["previous_expires_at"] == rotated["previous_expires_at"]

    no_grace = call(local, "POST", "/v1/secret/rotate", alice, json={"grace_seconds": 0}).json()
    assert no_grace["previous_expires_at"] is None
    assert call(local, "GET", "/v1/secret", alice).json()["previous_expires_at"] is None
    for body in ({"grace_seconds": -1}, {"grace_seconds": 604801}, {"grace": 5}):
        error(call(local, "POST", "/v1/secret/rotate", alice, json=body), 422)
    # Bob's secret never moved.
    assert call(local, "GET", "/v1/secret", bob).json()["secret"] != now["secret"]


def test_tenant_isolation_on_foundation_routes(local: Any) -> None:
    alice_id = unique("iso-a")
    alice = local.new_user(alice_id)
    bob = local.new_user(unique("iso-b"))
    hook = call(local, "POST", "/v1/webhooks", alice, json={"url": HOOK, "events": ["*"]}).json()
    for _ in range(2):
        call(local, "POST", "/v1/webhooks", alice, json={"url": HOOK, "events": ["*"]})
    missing = "wh_01JZZZZZZZZZZZZZZZZZZZZZZZ"
    for method, body in (("GET", None), ("PATCH", {"active": False}), ("DELETE", None)):
        theirs = error(call(local, method, f"/v1/webhooks/{hook['id']}", bob, json=body), 404)
        absent = error(call(local, method, f"/v1/webhooks/{missing}", bob, json=body), 404)
        assert theirs["code"] == absent["code"] == "not_found"
    assert call(local, "GET", f"/v1/webhooks/{hook['id']}", alice).json() == hook
    assert call(local, "GET", "/v1/webhooks", bob).json() == {"data": [], "next_cursor": None}
    cursor = call(local, "GET", "/v1/webhooks", alice, params={"limit": 1}).json()["next_cursor"]
    assert cursor
    error(call(local, "GET", "/v1/webhooks", bob, params={"cursor": cursor}), 422)
    error(call(local, "GET", "/v1/webhooks", bob, params={"user_id": alice_id}), 403)
    as_admin = call(local, "GET", "/v1/webhooks", admin(local), params={"user_id": alice_id})
    assert len(as_admin.json()["data"]) == 3


def test_readme_like_curl_flow(local: Any) -> None:
    script = """
set -euo pipefail
USER_KEY=$(curl -sf -X POST "$BASE/v1/admin/api-keys" -H "x-api-key: $ADMIN_KEY" \
  -H 'content-type: application/json' -d "{\\"user_id\\": \\"$USER_ID\\"}" | jq -r .api_key)
WEBHOOK_ID=$(curl -sf -X POST "$BASE/v1/webhooks" -H "x-api-key: $USER_KEY" \
  -H 'content-type: application/json' \
  -d '{"url": "http://127.0.0.1:9/hooks", "events": ["user.*"]}' | jq -r .id)
echo "webhook=$WEBHOOK_ID"
curl -sf "$BASE/v1/secret" -H "Authorization: Bearer $USER_KEY"
"""
    result = subprocess.run(
        ["bash", "-c", script],
        env={
            **os.environ,
            "BASE": local.base_url,
            "ADMIN_KEY": local.admin_key,
            "USER_ID": unique("curl"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.match(r"^webhook=wh_[0-9A-Z]{26}$", lines[0]), lines
    secret = json.loads(lines[1])
    assert SECRET.match(secret["secret"]) and secret["previous_expires_at"] is None

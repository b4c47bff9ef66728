"""The foundation routes in-process (gateway → API function) over moto."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest

from shared.core import clock
from shared.core.aws import client as aws_client
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi, Reply

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
SECRET = re.compile(r"^whcms_[A-Za-z0-9+/]{43}=$")


def assert_error(reply: Reply, status: int, code: str | None = None) -> dict[str, Any]:
    """Every error is `{"error": {"code", "message", "details"?}}`, JSON, no stack trace."""
    assert reply.status == status, (reply.status, reply.body[:500])
    assert reply.headers.get("content-type", "").startswith("application/json")
    assert b"Traceback" not in reply.body and b'File "' not in reply.body
    body = reply.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "details"}, error
    assert SNAKE.match(error["code"]), error
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def create_webhook(api: InProcessApi, key: str, **fields: Any) -> dict[str, Any]:
    body = {"url": "http://127.0.0.1:9/hook", "events": ["user.created"], **fields}
    reply = api.request("POST", "/v1/webhooks", key, body)
    assert reply.status == 201, reply.body
    return dict(reply.json())


# --- Authentication ----------------------------------------------------------------------


def test_authentication(api: InProcessApi, alice: str) -> None:
    for method, path in (
        ("GET", "/v1/webhooks"),
        ("POST", "/v1/webhooks"),
        ("GET", "/v1/webhooks/wh_x"),
        ("GET", "/v1/secret"),
        ("POST", "/v1/secret/rotate"),
        ("POST", "/v1/admin/api-keys"),
        ("DELETE", "/v1/admin/api-keys/key_x"),
        ("POST", "/v1/events"),
    ):
        assert_error(api.request(method, path, None, {}), 401, "unauthorized")
    wrong = "wk_" + "x" * 43
    error = assert_error(api.request("GET", "/v1/webhooks", wrong), 401, "unauthorized")
    assert wrong not in error["message"]
    for headers in (
        {"Authorization": f"Bearer {wrong}"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer    "},
        {"Authorization": f"Basic {alice}"},
        {"Authorization": alice},
        {"x-api-key": ""},
        {"x-api-key": "x" * 10_000},
        {"x-api-key": "é☃"},
    ):
        assert_error(api.request("GET", "/v1/webhooks", None, headers=headers), 401)
    for headers in (
        {"x-api-key": alice},
        {"X-API-KEY": alice},
        {"Authorization": f"Bearer {alice}"},
        {"authorization": f"bearer {alice}"},
    ):
        reply = api.request("GET", "/v1/webhooks", None, headers=headers)
        assert reply.status == 200, (headers, reply.body)
        assert reply.json() == {"data": [], "next_cursor": None}


def test_roles_and_their_precedence_over_validation(api: InProcessApi, alice: str) -> None:
    for method, path, body in (
        ("POST", "/v1/admin/api-keys", {"user_id": "mallory", "role": "admin"}),
        ("DELETE", "/v1/admin/api-keys/key_whatever", None),
        ("GET", "/v1/admin/dlq?queue=delivery", None),
    ):
        assert_error(api.request(method, path, alice, body), 403, "forbidden")
    # Acting for another user is an admin privilege too.
    assert_error(api.request("GET", "/v1/webhooks?user_id=bob", alice), 403, "forbidden")
    assert api.request("GET", "/v1/webhooks?user_id=alice", alice).status == 200
    for body in (b"{not json", b"[]", b'{"url": 5}'):
        assert_error(api.request("POST", "/v1/webhooks", None, body=body), 401, "unauthorized")
        assert_error(api.request("POST", "/v1/admin/api-keys", alice, body=body), 403, "forbidden")
    big = b'{"x": "' + b"a" * (1024 * 1024 + 1) + b'"}'
    assert_error(api.request("POST", "/v1/events", None, body=big), 401)


# --- Admin: API keys ---------------------------------------------------------------------


def test_admin_creates_a_key_shown_once_stored_as_sha256(
    api: InProcessApi, aws: dict[str, str]
) -> None:
    reply = api.request("POST", "/v1/admin/api-keys", ADMIN_KEY, {"user_id": "carol"})
    assert reply.status == 201
    created = reply.json()
    assert set(created) == {"id", "api_key", "user_id", "role", "created_at"}
    assert created["id"].startswith("key_")
    assert created["api_key"].startswith("wk_") and len(created["api_key"]) > 30
    assert created["user_id"] == "carol" and created["role"] == "user"
    assert ISO_Z.match(created["created_at"])

    plain = created["api_key"]
    table = aws["API_KEYS_TABLE"]
    items = aws_client("dynamodb").scan(TableName=table)["Items"]
    mine = [item for item in items if item["key_id"]["S"] == created["id"]]
    assert len(mine) == 1
    assert mine[0]["key_hash"]["S"] == hashlib.sha256(plain.encode()).hexdigest()
    dumped = json.dumps(items)
    assert plain not in dumped and plain.removeprefix("wk_") not in dumped

    # The key works, and no route ever shows it again.
    assert api.request("GET", "/v1/webhooks", plain).status == 200
    for path in ("/v1/webhooks", "/v1/secret"):
        assert plain.encode() not in api.request("GET", path, plain).body


def test_admin_revokes_keys_and_creates_admins(api: InProcessApi) -> None:
    created = api.request(
        "POST", "/v1/admin/api-keys", ADMIN_KEY, {"user_id": "dave", "role": "user"}
    ).json()
    key = created["api_key"]
    assert api.request("GET", "/v1/webhooks", key).status == 200
    revoked = api.request("DELETE", f"/v1/admin/api-keys/{created['id']}", ADMIN_KEY)
    assert revoked.status == 204 and revoked.body == b""
    assert_error(api.request("GET", "/v1/webhooks", key), 401, "unauthorized")
    assert_error(api.request("DELETE", f"/v1/admin/api-keys/{created['id']}", ADMIN_KEY), 404)
    assert_error(api.request("DELETE", "/v1/admin/api-keys/key_missing", ADMIN_KEY), 404)
    admin_key = api.new_user_key(ADMIN_KEY, "ops", role="admin")
    reply = api.request("POST", "/v1/admin/api-keys", admin_key, {"user_id": "erin"})
    assert reply.status == 201 and reply.json()["role"] == "user"
    bad = api.request("POST", "/v1/admin/api-keys", admin_key, {"user_id": "x", "role": "root"})
    assert_error(bad, 422, "validation_error")


# --- Webhooks CRUD -----------------------------------------------------------------------


def test_create_get_and_delete_a_webhook(api: InProcessApi, alice: str) -> None:
    created = create_webhook(
        api,
        alice,
        events=["user.created", "project.*"],
        description="CRM sync",
        retry={"attempts": 3, "backoff": "fixed", "initial_delay_seconds": 30},
        headers={"X-Tenant": "acme"},
    )
    assert created["id"].startswith("wh_")
    assert created["url"] == "http://127.0.0.1:9/hook"
    assert created["events"] == ["user.created", "project.*"]
    assert created["description"] == "CRM sync"
    assert created["active"] is True
    assert created["retry"] == {
        "attempts": 3,
        "backoff": "fixed",
        "initial_delay_seconds": 30,
        "max_delay_seconds": 86400,
    }
    assert created["headers"] == {"X-Tenant": "acme"}
    assert ISO_Z.match(created["created_at"]) and created["created_at"] == created["updated_at"]
    fetched = api.request("GET", f"/v1/webhooks/{created['id']}", alice)
    assert fetched.status == 200 and fetched.json() == created

    minimal = create_webhook(api, alice)
    assert minimal["description"] == "" and minimal["active"] is True
    assert minimal["retry"] is None and minimal["headers"] is None
    doomed = create_webhook(api, alice)
    path = f"/v1/webhooks/{doomed['id']}"
    deleted = api.request("DELETE", path, alice)
    assert deleted.status == 204 and deleted.body == b""
    assert_error(api.request("GET", path, alice), 404, "not_found")
    assert_error(api.request("DELETE", path, alice), 404, "not_found")
    assert_error(api.request("PATCH", path, alice, {"description": "x"}), 404, "not_found")
    listed = api.request("GET", "/v1/webhooks", alice).json()["data"]
    assert {item["id"] for item in listed} == {created["id"], minimal["id"]}


def test_list_pagination(api: InProcessApi, alice: str, bob: str) -> None:
    ids = {create_webhook(api, alice)["id"] for _ in range(5)}
    create_webhook(api, bob)
    seen: list[str] = []
    cursor: str | None = None
    pages = []
    while True:
        path = "/v1/webhooks?limit=2" + (f"&cursor={cursor}" if cursor else "")
        reply = api.request("GET", path, alice)
        assert reply.status == 200
        page = reply.json()
        assert set(page) == {"data", "next_cursor"}
        pages.append(len(page["data"]))
        seen += [item["id"] for item in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages[:2] == [2, 2] and sum(pages) == 5
    assert len(seen) == len(set(seen)) and set(seen) == ids
    for _ in range(16):  # 21 in all: one more than the default page
        create_webhook(api, alice)
    first = api.request("GET", "/v1/webhooks", alice).json()
    assert len(first["data"]) == 20 and first["next_cursor"]
    rest = api.request("GET", f"/v1/webhooks?cursor={first['next_cursor']}", alice).json()
    assert len(rest["data"]) == 1 and rest["next_cursor"] is None
    assert len(api.request("GET", "/v1/webhooks?limit=100", alice).json()["data"]) == 21
    for bad in ("0", "101", "-1", "abc", "1.5", "9" * 50):
        assert_error(api.request("GET", f"/v1/webhooks?limit={bad}", alice), 422)


def test_bad_or_foreign_cursor_is_422(api: InProcessApi, alice: str, bob: str) -> None:
    create_webhook(api, alice)
    for cursor in ("!!!", "e30", "bm90IGpzb24", "W10", "eyJ1c2VyX2lkIjoxfQ", "%00", "x" * 2049):
        assert_error(api.request("GET", f"/v1/webhooks?cursor={cursor}", alice), 422)
    for _ in range(3):
        create_webhook(api, alice)
    create_webhook(api, bob)
    alice_cursor = api.request("GET", "/v1/webhooks?limit=1", alice).json()["next_cursor"]
    assert alice_cursor
    reply = api.request("GET", f"/v1/webhooks?cursor={alice_cursor}", bob)
    error = assert_error(reply, 422, "invalid_cursor")
    assert "alice" not in json.dumps(error)
    # A hand-made cursor naming alice's partition is refused the same way.
    forged = base64.urlsafe_b64encode(
        json.dumps({"user_id": "alice", "webhook_id": "wh_0"}).encode()
    ).decode()
    assert_error(api.request("GET", f"/v1/webhooks?cursor={forged}", bob), 422, "invalid_cursor")


def test_patch_semantics(api: InProcessApi, alice: str) -> None:
    created = create_webhook(
        api,
        alice,
        description="first",
        retry={"attempts": 2},
        headers={"X-A": "1"},
    )
    path = f"/v1/webhooks/{created['id']}"

    reply = api.request("PATCH", path, alice, {"description": "second"})
    assert reply.status == 200
    patched = reply.json()
    assert patched["description"] == "second"
    for field in ("url", "events", "active", "retry", "headers", "created_at", "id"):
        assert patched[field] == created[field], field
    assert patched["updated_at"] >= created["updated_at"]

    patched = api.request("PATCH", path, alice, {"events": ["*"], "active": False}).json()
    assert patched["events"] == ["*"] and patched["active"] is False
    assert patched["description"] == "second"

    patched = api.request("PATCH", path, alice, {"url": "http://127.0.0.1:10/new"}).json()
    assert patched["url"] == "http://127.0.0.1:10/new"

    patched = api.request("PATCH", path, alice, {"retry": None, "headers": None}).json()
    assert patched["retry"] is None and patched["headers"] is None
    assert patched["events"] == ["*"]

    unchanged = api.request("PATCH", path, alice, {})
    assert unchanged.status == 200
    assert {k: v for k, v in unchanged.json().items() if k != "updated_at"} == {
        k: v for k, v in patched.items() if k != "updated_at"
    }
    assert api.request("GET", path, alice).json() == unchanged.json()
    created = create_webhook(api, alice)
    path = f"/v1/webhooks/{created['id']}"
    for body in (
        {"url": None},
        {"events": None},
        {"active": None},
        {"events": []},
        {"events": ["Bad"]},
        {"url": "ftp://x/"},
        {"active": "maybe"},
        {"headers": {"X-Webhook-Signature": "forged"}},
        {"unknown": 1},
    ):
        assert_error(api.request("PATCH", path, alice, body), 422)
    assert api.request("GET", path, alice).json() == created


def test_another_users_webhook_is_404_like_a_missing_one(
    api: InProcessApi, alice: str, bob: str
) -> None:
    theirs = create_webhook(api, alice)
    wid = theirs["id"]
    missing = "wh_01JZZZZZZZZZZZZZZZZZZZZZZZ"
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"description": "pwned", "active": False}),
        ("DELETE", "", None),
        ("POST", "/test", None),
        ("GET", "/deliveries", None),
        ("GET", "/deliveries?status=failed", None),
    ):
        other = assert_error(api.request(method, f"/v1/webhooks/{wid}{suffix}", bob, body), 404)
        absent = assert_error(
            api.request(method, f"/v1/webhooks/{missing}{suffix}", bob, body), 404
        )
        assert other["code"] == absent["code"] == "not_found"
        assert other["message"].replace(wid, "ID") == absent["message"].replace(missing, "ID")
    # Nothing changed, nothing was sent, and bob's own list stays empty.
    assert api.request("GET", f"/v1/webhooks/{wid}", alice).json() == theirs
    assert api.request("GET", "/v1/webhooks", bob).json()["data"] == []


# --- Per-user signing secret -------------------------------------------------------------


def test_secret_is_created_on_first_use(
    api: InProcessApi, alice: str, bob: str, aws: dict[str, str]
) -> None:
    secrets_manager = aws_client("secretsmanager")
    name = f"{aws['SECRET_PREFIX']}/users/alice/signing"
    with pytest.raises(secrets_manager.exceptions.ResourceNotFoundException):
        secrets_manager.describe_secret(SecretId=name)

    first = api.request("GET", "/v1/secret", alice)
    assert first.status == 200
    body = first.json()
    assert set(body) == {"secret", "created_at", "previous_expires_at"}
    assert SECRET.match(body["secret"]), body["secret"]
    assert len(base64.b64decode(body["secret"].removeprefix("whcms_"), validate=True)) == 32
    assert ISO_Z.match(body["created_at"]) and body["previous_expires_at"] is None
    assert api.request("GET", "/v1/secret", alice).json() == body

    stored = json.loads(secrets_manager.get_secret_value(SecretId=name)["SecretString"])
    assert stored["secret"] == body["secret"]
    assert api.request("GET", "/v1/secret", bob).json()["secret"] != body["secret"]


def test_rotation_keeps_the_previous_secret_for_the_grace_window(
    api: InProcessApi, alice: str, aws: dict[str, str]
) -> None:
    old = api.request("GET", "/v1/secret", alice).json()["secret"]
    before = clock.now()
    reply = api.request("POST", "/v1/secret/rotate", alice, {"grace_seconds": 3600})
    assert reply.status == 200
    rotated = reply.json()
    assert set(rotated) == {"secret", "previous_expires_at"}
    assert SECRET.match(rotated["secret"]) and rotated["secret"] != old
    expires = clock.parse_iso(rotated["previous_expires_at"])
    assert before + 3600 - 1 <= expires <= clock.now() + 3600 + 1

    current = api.request("GET", "/v1/secret", alice).json()
    assert current["secret"] == rotated["secret"]
    assert current["previous_expires_at"] == rotated["previous_expires_at"]

    secrets_manager = aws_client("secretsmanager")
    name = f"{aws['SECRET_PREFIX']}/users/alice/signing"
    stored = json.loads(secrets_manager.get_secret_value(SecretId=name)["SecretString"])
    assert stored["previous"] == old and stored["secret"] == rotated["secret"]
    stages = secrets_manager.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert sorted(label for labels in stages.values() for label in labels) == [
        "AWSCURRENT",
        "AWSPREVIOUS",
    ]
    assert old not in reply.body.decode()


def test_rotation_defaults_and_grace_0(
    api: InProcessApi, alice: str, bob: str, aws: dict[str, str]
) -> None:
    before = clock.now()
    rotated = api.request("POST", "/v1/secret/rotate", alice).json()
    expires = clock.parse_iso(rotated["previous_expires_at"])
    assert before + 86400 - 1 <= expires <= clock.now() + 86400 + 1
    also = api.request("POST", "/v1/secret/rotate", alice, {}).json()
    assert also["secret"] != rotated["secret"]
    rotated = api.request("POST", "/v1/secret/rotate", bob, {"grace_seconds": 60}).json()
    assert SECRET.match(rotated["secret"]) and rotated["previous_expires_at"]
    assert api.request("GET", "/v1/secret", bob).json()["secret"] == rotated["secret"]
    old = api.request("GET", "/v1/secret", alice).json()["secret"]
    rotated = api.request("POST", "/v1/secret/rotate", alice, {"grace_seconds": 0}).json()
    assert rotated["secret"] != old and rotated["previous_expires_at"] is None
    assert api.request("GET", "/v1/secret", alice).json()["previous_expires_at"] is None
    secrets_manager = aws_client("secretsmanager")
    name = f"{aws['SECRET_PREFIX']}/users/alice/signing"
    stored = json.loads(secrets_manager.get_secret_value(SecretId=name)["SecretString"])
    assert stored.get("previous") is None


# --- Malformed bodies, paths and headers -------------------------------------------------

MALFORMED_WEBHOOK_BODIES = [
    b"{not json",
    b'{"url": "http://127.0.0.1/", "events": ["*"]',
    b"",
    b"null",
    b"[]",
    b'["url"]',
    b"42",
    b'"string"',
    b"true",
    b'{"url": 5, "events": "user.created"}',
    b'{"url": "http://127.0.0.1/", "events": [1, 2]}',
    b'{"url": "http://127.0.0.1/", "events": ["*"], "active": "maybe"}',
    b'{"url": "http://127.0.0.1/", "events": ["*"], "retry": 5}',
    b'{"url": "http://127.0.0.1/", "events": ["*"], "headers": ["a"]}',
    b'{"url": "http://127.0.0.1/", "events": ["*"], "description": NaN}',
    b'{"url": "http://127.0.0.1/", "events": ["*"], "description": "\\ud800"}',
    b"\xff\xfe\x00{",
    b"[" * 100_000 + b"]" * 100_000,
]

MALFORMED_PUBLISH_BODIES = [
    b'{"type": "user.created", "data": {"x": NaN}}',
    b'{"type": "user.created", "data": {"x": Infinity}}',
    b'{"type": "user.created", "data": {"x": 1e400}}',
    b'{"type": "user.created", "data": {"x": "\\udc00"}}',
    b'{"type": "user.created", "data": {"x": ' + b"9" * 5000 + b"}}",
    b'{"type": "user.created", "data": {"x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
    b'{"type": "user.created", "data": "not an object"}',
    b'{"type": ["user.created"], "data": {}}',
    b'{"type": "user.created", "data": {}, "id": 5}',
]


def test_malformed_bodies_are_422_and_store_nothing(
    api: InProcessApi, alice: str, aws: dict[str, str]
) -> None:
    for body in MALFORMED_WEBHOOK_BODIES:
        reply = api.request("POST", "/v1/webhooks", alice, body=body)
        assert reply.status == 422, (body[:80], reply.body)
        assert_error(reply, 422)
        patched = api.request("PATCH", "/v1/webhooks/wh_1", alice, body=body)
        assert patched.status in (404, 422), (body[:80], patched.body)
        assert_error(patched, patched.status)
    for body in MALFORMED_PUBLISH_BODIES:
        reply = api.request("POST", "/v1/events", alice, body=body)
        assert reply.status == 422, (body[:80], reply.body)
        assert_error(reply, 422)
    dynamodb = aws_client("dynamodb")
    for table in ("WEBHOOKS_TABLE", "EVENTS_TABLE", "DELIVERIES_TABLE"):
        assert dynamodb.scan(TableName=aws[table])["Count"] == 0, table


def test_body_size_limit_is_1_mb(api: InProcessApi, alice: str) -> None:
    huge = json.dumps({"type": "user.created", "data": {"x": "a" * (1024 * 1024 + 10)}})
    assert_error(api.request("POST", "/v1/events", alice, body=huge.encode()), 413)
    multibyte = json.dumps({"type": "a.b", "data": {"x": "é" * 600_000}}, ensure_ascii=False)
    assert len(multibyte) < 1024 * 1024 < len(multibyte.encode())
    assert_error(api.request("POST", "/v1/events", alice, body=multibyte.encode()), 413)
    binary = b"\x00" * (1024 * 1024 + 1)
    reply = api.request(
        "POST", "/v1/webhooks", alice, body=binary, headers={"content-type": "application/zip"}
    )
    assert_error(reply, 413, "payload_too_large")
    # Just under 1 MB is read, and fails the 256 KB data rule instead: 422, not 413.
    payload = json.dumps({"type": "user.created", "data": {"x": "a" * (1000 * 1000)}}).encode()
    assert len(payload) < 1024 * 1024
    error = assert_error(api.request("POST", "/v1/events", alice, body=payload), 422)
    assert "256 KB" in json.dumps(error)


def test_non_json_bodies_and_odd_headers(api: InProcessApi, alice: str) -> None:
    body = json.dumps({"url": "http://127.0.0.1/", "events": ["*"]}).encode()
    for content_type in ("text/plain", "application/octet-stream", "application/xml"):
        reply = api.request(
            "POST", "/v1/webhooks", alice, body=body, headers={"content-type": content_type}
        )
        assert reply.status in (415, 422), (content_type, reply.body)
        assert_error(reply, reply.status)
    assert api.request("GET", "/v1/webhooks", alice).json()["data"] == []
    for headers in (
        {"content-type": "application/json; charset=utf-8"},
        {"content-type": ""},
        {"x-api-key": alice, "X-Api-Key": alice},
        {"accept": "text/html"},
        {"x-forwarded-for": "1.2.3.4, ::1, junk"},
        {"cookie": "a=b; \x7f"},
    ):
        reply = api.request("GET", "/v1/webhooks", alice, headers=headers)
        assert reply.status < 500, (headers, reply.body)
        assert b"Traceback" not in reply.body


MALFORMED_PATHS = [
    ("GET", "/v1/webhooks/%00"),
    ("GET", "/v1/webhooks/..%2F..%2Fadmin"),
    ("GET", "/v1/webhooks/%ZZ"),
    ("GET", "/v1/webhooks/" + "x" * 5000),
    ("GET", "/v1/webhooks/é☃"),
    ("GET", "/v1/webhooks/wh_1/deliveries?status=bogus"),
    ("GET", "/v1/webhooks/wh_1/deliveries?limit=-5"),
    ("GET", "/v1/webhooks?limit=1&limit=2"),
    ("GET", "/v1/webhooks?limit=%00"),
    ("PATCH", "/v1/webhooks/wh_1"),
    ("POST", "/v1/webhooks/wh_1/test"),
    ("PUT", "/v1/webhooks"),
    ("DELETE", "/v1/webhooks"),
    ("GET", "/v1/nowhere"),
    ("GET", "/v1//webhooks"),
    ("GET", "/v1/webhooks/wh_1/unknown"),
    ("POST", "/v1/secret"),
    ("GET", "/v1/secret/rotate"),
    ("DELETE", "/v1/admin/api-keys/"),
    ("GET", "/v1/deliveries/%00"),
    ("POST", "/v1/deliveries/dlv_1/retry"),
]


def test_malformed_paths_answer_json_errors(api: InProcessApi, alice: str) -> None:
    for method, path in MALFORMED_PATHS:
        reply = api.request(method, path, alice)
        assert 400 <= reply.status < 500, (method, path[:80], reply.status, reply.body[:300])
        assert_error(reply, reply.status)
    assert_error(api.request("GET", "/v1/admin/dlq?queue=nope", ADMIN_KEY), 422)

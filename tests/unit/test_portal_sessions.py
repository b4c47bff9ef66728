"""Portal sessions (README "Consumer portal"): short-lived, hashed, user-role tokens, and the page
served with its security headers."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import boto3
import pytest

from infra.bundling import FunctionCodeBundler
from shared.core import clock
from shared.core import resources as res
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi, Reply

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HOOK = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def call(api: InProcessApi, method: str, path: str, token: str, body: Any = None) -> Reply:
    return api.request(method, path, json_body=body, headers=bearer(token))


def session(api: InProcessApi, key: str, body: Any = None, query: str = "") -> dict[str, Any]:
    reply = api.request("POST", f"/v1/portal/sessions{query}", key, body)
    assert reply.status == 201, reply.body
    return dict(reply.json())


def error(reply: Reply, status: int) -> dict[str, Any]:
    assert reply.status == status, (reply.status, reply.body[:300])
    return dict(reply.json()["error"])


def api_key_items(aws: dict[str, str]) -> list[dict[str, Any]]:
    table = aws[res.API_KEYS.env_var]
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return items


# --- creating one -------------------------------------------------------------------------------


def test_a_user_key_opens_its_own_portal(api: InProcessApi, bob: str, aws: dict[str, str]) -> None:
    before = clock.now()
    made = session(api, bob)
    token = made["token"]
    assert re.fullmatch(r"wps_[A-Za-z0-9_-]{40,}", token)
    assert made["url"] == f"http://127.0.0.1:8080/portal#token={token}"
    expires = clock.parse_iso(made["expires_at"])
    assert before + 3600 - 1 <= expires <= clock.now() + 3600 + 1
    # Stored only hashed: no item holds the token, one holds its SHA-256 with the user role.
    items = api_key_items(aws)
    assert token not in str(items)
    digest = hashlib.sha256(token.encode()).hexdigest()
    (stored,) = [item for item in items if item["key_hash"]["S"] == digest]
    assert stored["user_id"]["S"] == "bob" and stored["role"]["S"] == "user"
    assert int(stored["expires_at"]["N"]) == int(expires)


def test_the_token_acts_as_its_user(api: InProcessApi, bob: str) -> None:
    token = session(api, bob)["token"]
    created = call(api, "POST", "/v1/webhooks", token, HOOK)
    assert created.status == 201, created.body
    listed = api.request("GET", "/v1/webhooks", bob).json()["data"]
    assert [hook["id"] for hook in listed] == [created.json()["id"]]


def test_an_admin_names_the_user_in_the_body_or_the_query(api: InProcessApi, bob: str) -> None:
    for made in (
        session(api, ADMIN_KEY, {"user_id": "bob", "ttl_seconds": 60}),
        session(api, ADMIN_KEY, None, "?user_id=bob"),
    ):
        assert call(api, "POST", "/v1/webhooks", made["token"], HOOK).status == 201
    assert len(api.request("GET", "/v1/webhooks", bob).json()["data"]) == 2


def test_an_admin_must_name_a_user(api: InProcessApi) -> None:
    for body in (None, {}):
        refused = error(api.request("POST", "/v1/portal/sessions", ADMIN_KEY, body), 422)
        assert [d["field"] for d in refused["details"]] == ["body.user_id"]


def test_the_ops_user_has_no_portal(api: InProcessApi, aws: dict[str, str]) -> None:
    before = len(api_key_items(aws))
    for query, body in (("", {"user_id": "_ops"}), ("?user_id=_ops", None)):
        reply = api.request("POST", f"/v1/portal/sessions{query}", ADMIN_KEY, body)
        assert [d["field"] for d in error(reply, 422)["details"]] == ["body.user_id"]
    assert len(api_key_items(aws)) == before


def test_a_user_key_cannot_open_another_users_portal(api: InProcessApi, bob: str) -> None:
    error(api.request("POST", "/v1/portal/sessions", bob, {"user_id": "alice"}), 403)
    error(api.request("POST", "/v1/portal/sessions?user_id=alice", bob), 403)


@pytest.mark.parametrize("ttl", [59, 86401, "600", 600.5, True])
def test_ttl_is_a_whole_number_from_a_minute_to_a_day(
    api: InProcessApi, bob: str, ttl: Any
) -> None:
    refused = error(api.request("POST", "/v1/portal/sessions", bob, {"ttl_seconds": ttl}), 422)
    assert [d["field"] for d in refused["details"]] == ["body.ttl_seconds"]


def test_ttl_bounds_are_accepted(api: InProcessApi, bob: str) -> None:
    for ttl in (60, 86400):
        made = session(api, bob, {"ttl_seconds": ttl})
        assert abs(clock.parse_iso(made["expires_at"]) - clock.now() - ttl) <= 2


# --- what a session may not do ------------------------------------------------------------------


def test_a_session_is_never_admin(api: InProcessApi) -> None:
    token = session(api, ADMIN_KEY, {"user_id": "bob"})["token"]
    for method, path, body in (
        ("POST", "/v1/admin/api-keys", {"user_id": "carol"}),
        ("GET", "/v1/admin/dlq?queue=delivery", None),
    ):
        assert error(call(api, method, path, token, body), 403)["code"] == "forbidden"
    error(call(api, "GET", "/v1/webhooks?user_id=alice", token), 403)


def test_a_session_cannot_extend_itself(api: InProcessApi, bob: str, aws: dict[str, str]) -> None:
    token = session(api, bob)["token"]
    before = len(api_key_items(aws))
    for body in (None, {"ttl_seconds": 86400}):
        error(call(api, "POST", "/v1/portal/sessions", token, body), 403)
    assert len(api_key_items(aws)) == before


# --- expiry -------------------------------------------------------------------------------------


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    moment = clock.now() + seconds
    monkeypatch.setattr(clock, "now", lambda: moment)


def test_an_expired_token_is_refused_with_a_message_saying_so(
    api: InProcessApi, bob: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = session(api, bob, {"ttl_seconds": 60})["token"]
    later(monkeypatch, 61)
    refused = error(call(api, "GET", "/v1/webhooks", token), 401)
    assert refused["code"] == "session_expired"
    assert "expired" in refused["message"]


def test_the_key_cache_does_not_keep_an_expired_token_alive(
    api: InProcessApi,
    bob: str,
    monkeypatch: pytest.MonkeyPatch,
    setting: Any,
) -> None:
    """The lookup is cached for 5 minutes here; the token still ends at its expiry.

    The expiry is kept in whole seconds and the clock is frozen a moment after the token was
    made, so "still valid" is checked 10 s before it, not 1 s (a busy machine lost that second
    once)."""
    setting("WEBHOOKS_API_KEY_CACHE_SECONDS", "300")
    token = session(api, bob, {"ttl_seconds": 60})["token"]
    assert call(api, "GET", "/v1/webhooks", token).status == 200  # now cached
    later(monkeypatch, 50)
    assert call(api, "GET", "/v1/webhooks", token).status == 200
    later(monkeypatch, 11)
    assert error(call(api, "GET", "/v1/webhooks", token), 401)["code"] == "session_expired"


def test_a_token_swept_by_the_ttl_says_the_link_expired(
    api: InProcessApi, bob: str, aws: dict[str, str]
) -> None:
    token = session(api, bob)["token"]
    boto3.client("dynamodb").delete_item(
        TableName=aws[res.API_KEYS.env_var],
        Key={"key_hash": {"S": hashlib.sha256(token.encode()).hexdigest()}},
    )
    refused = error(call(api, "GET", "/v1/webhooks", token), 401)
    assert refused["code"] == "session_expired" and "expired" in refused["message"]
    # An API key that does not exist is still just invalid.
    assert error(call(api, "GET", "/v1/webhooks", "wk_nope"), 401)["code"] == "unauthorized"


def test_api_keys_never_expire_but_the_table_sweeps_sessions(aws: dict[str, str]) -> None:
    """DynamoDB's TTL removes sessions; API keys carry no `expires_at`, so they stay."""
    assert res.API_KEYS.ttl_attribute == "expires_at"
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=aws[res.API_KEYS.env_var])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"


def test_a_created_api_key_has_no_expiry(api: InProcessApi, aws: dict[str, str]) -> None:
    api.new_user_key(ADMIN_KEY, "carol")
    (carol,) = [i for i in api_key_items(aws) if i["user_id"]["S"] == "carol"]
    assert "expires_at" not in carol


# --- the page -----------------------------------------------------------------------------------

PAGE_FILES = {
    "/portal": "text/html; charset=utf-8",
    "/portal/app.js": "text/javascript; charset=utf-8",
    "/portal/app.css": "text/css; charset=utf-8",
}


@pytest.mark.parametrize(("path", "content_type"), PAGE_FILES.items())
def test_the_page_is_served_without_a_key_with_its_security_headers(
    api: InProcessApi, path: str, content_type: str
) -> None:
    reply = api.request("GET", path)
    assert reply.status == 200, reply.body[:200]
    assert reply.headers["content-type"] == content_type
    assert reply.headers["content-security-policy"] == CSP
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["cache-control"] in ("no-cache", "public, max-age=300")
    assert reply.body


def test_the_page_runs_no_inline_script(api: InProcessApi) -> None:
    """The CSP's `script-src 'self'` would block one; the page needs none."""
    html = api.request("GET", "/portal").body.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+=", html)


def test_an_unknown_portal_file_is_the_json_404(api: InProcessApi) -> None:
    reply = api.request("GET", "/portal/secrets.txt")
    assert reply.status == 404
    assert reply.json()["error"]["code"] == "route_not_found"


def test_the_api_bundle_ships_the_page() -> None:
    shipped = {str(relative) for _, relative in FunctionCodeBundler("api").files()}
    for name in ("index.html", "app.js", "app.css"):
        assert f"functions/api/portal/{name}" in shipped


# --- ending one ---------------------------------------------------------------------------------


def test_sign_out_ends_the_session_and_only_a_session_can(
    api: InProcessApi, bob: str, aws: dict[str, str]
) -> None:
    token = session(api, bob)["token"]
    other = session(api, bob)["token"]
    assert call(api, "GET", "/v1/webhooks", token).status == 200  # cached in this container

    ended = call(api, "DELETE", "/v1/portal/sessions/current", token)

    assert ended.status == 204, ended.body
    assert error(call(api, "GET", "/v1/webhooks", token), 401)["code"] == "session_expired"
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert digest not in str(api_key_items(aws))
    assert call(api, "GET", "/v1/webhooks", other).status == 200  # its other sessions stay
    refused = error(api.request("DELETE", "/v1/portal/sessions/current", bob), 403)
    assert "only a portal session" in refused["message"]
    assert api.request("GET", "/v1/webhooks", bob).status == 200  # the API key still works
    admin = error(api.request("DELETE", "/v1/portal/sessions/current", ADMIN_KEY), 403)
    assert admin["code"] == "forbidden"

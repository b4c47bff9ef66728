"""Strict input: no trailing newline slips past a pattern, no control character reaches a URL or
a header, no string or boolean is taken for a number. Each refusal is a 422 naming the field,
and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi, Reply

HOOK = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}


def assert_refused(reply: Reply, field: str) -> None:
    assert reply.status == 422, (field, reply.status, reply.body[:300])
    error = reply.json()["error"]
    assert error["code"] == "validation_error", error
    fields = [detail["field"] for detail in error["details"]]
    assert field in fields, (field, fields)


def listed(api: InProcessApi, key: str, path: str) -> list[Any]:
    reply = api.request("GET", path, key)
    assert reply.status == 200, reply.body
    return list(reply.json()["data"])


@pytest.mark.parametrize("event_type", ["a.b\n", "user.created\n", "a.b\r\n", "\na.b"], ids=repr)
def test_event_type_with_a_newline_is_refused(
    api: InProcessApi, alice: str, event_type: str
) -> None:
    """`^...$` let `"a.b\\n"` through: `$` also matches before a final newline."""
    event = {"type": event_type, "data": {}}
    assert_refused(api.request("POST", "/v1/events", alice, event), "body.type")
    batch = {"events": [{"type": "a.b", "data": {}}, event]}
    assert_refused(api.request("POST", "/v1/events/batch", alice, batch), "body.events.1.type")
    assert listed(api, alice, "/v1/events") == []


@pytest.mark.parametrize("pattern", ["a.b\n", "a.*\n", "*\n", "a.b\r\n"], ids=repr)
def test_event_pattern_with_a_newline_is_refused(
    api: InProcessApi, alice: str, pattern: str
) -> None:
    assert_refused(
        api.request("POST", "/v1/webhooks", alice, {**HOOK, "events": [pattern]}), "body.events"
    )
    assert listed(api, alice, "/v1/webhooks") == []


BAD_URLS = [
    "https://exa mple.com/",
    "https://example.com\x00/",
    "https://example.com/\x00",
    "https://exa\tmple.com/",
    "https://exa\nmple.com/",
    "https://example.com/\n",
    "https://ex\x01ample.com/",
    "https://ex\x7fample.com/",
    " https://example.com/",
    "https://example.com/a b",
    "https://example.com:0/",
    "https://example.com:00/",
    "https://exa%20mple.com/",
    "https://exa<mple.com/",
    "https://a..b/",
    "https://[::1%zz%]/",
    "https://[not-an-address]/",
]


@pytest.mark.parametrize("url", BAD_URLS, ids=repr)
def test_malformed_urls_are_refused_everywhere(api: InProcessApi, alice: str, url: str) -> None:
    hook = api.request("POST", "/v1/webhooks", alice, HOOK).json()["id"]
    assert_refused(api.request("POST", "/v1/webhooks", alice, {**HOOK, "url": url}), "body.url")
    assert_refused(api.request("PATCH", f"/v1/webhooks/{hook}", alice, {"url": url}), "body.url")
    source = {"name": "s", "provider": "hmac", "secret": "x", "forward_url": url}
    assert_refused(api.request("POST", "/v1/sources", alice, source), "body.forward_url")
    assert [item["url"] for item in listed(api, alice, "/v1/webhooks")] == [HOOK["url"]]
    assert listed(api, alice, "/v1/sources") == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/hook",
        "http://127.0.0.1:65535/hook",
        "https://my_host.example.com/hook?x=1&y=%20",
        "https://例え.jp/hook",
        "https://[2606:4700:4700::1111]:8443/",
        "https://example.com./",
    ],
)
def test_well_formed_urls_are_still_accepted(api: InProcessApi, alice: str, url: str) -> None:
    reply = api.request("POST", "/v1/webhooks", alice, {**HOOK, "url": url})
    assert reply.status == 201, reply.body
    assert reply.json()["url"] == url


@pytest.mark.parametrize(
    "headers",
    [
        {"X-A\n": "v"},
        {"X-A\r\n": "v"},
        {"X-A\x00": "v"},
        {"X A": "v"},
        {"X-A": "a\x00b"},
        {"X-A": "a\rb"},
        {"X-A": "a\nb"},
        {"X-A": "v\n"},
        {"X-A": "a\x7f"},
        {"X-A": "a\x1bb"},
        {"X-A": "caf\u00e9"},
        {"X-A": "x" * 1025},
    ],
    ids=repr,
)
def test_header_names_and_values_with_control_characters_are_refused(
    api: InProcessApi, alice: str, headers: dict[str, str]
) -> None:
    hook = api.request("POST", "/v1/webhooks", alice, HOOK).json()["id"]
    assert_refused(
        api.request("POST", "/v1/webhooks", alice, {**HOOK, "headers": headers}), "body.headers"
    )
    patch = {"headers": headers}
    assert_refused(api.request("PATCH", f"/v1/webhooks/{hook}", alice, patch), "body.headers")
    assert [item["headers"] for item in listed(api, alice, "/v1/webhooks")] == [None]


def test_plain_header_values_are_accepted(api: InProcessApi, alice: str) -> None:
    headers = {"X-Team": "payments  team\tA", "X-Empty": "", "X-Max": "v" * 1024}
    reply = api.request("POST", "/v1/webhooks", alice, {**HOOK, "headers": headers})
    assert reply.status == 201, reply.body
    assert reply.json()["headers"] == headers


NOT_INTEGERS = ["5", True, False, 5.0, "5.0", None]


@pytest.mark.parametrize("value", NOT_INTEGERS, ids=repr)
@pytest.mark.parametrize("name", ["attempts", "initial_delay_seconds", "max_delay_seconds"])
def test_retry_numbers_are_strict_integers(
    api: InProcessApi, alice: str, name: str, value: Any
) -> None:
    hook = api.request("POST", "/v1/webhooks", alice, HOOK).json()["id"]
    retry = {name: value}
    field = f"body.retry.{name}"
    assert_refused(api.request("POST", "/v1/webhooks", alice, {**HOOK, "retry": retry}), field)
    assert_refused(api.request("PATCH", f"/v1/webhooks/{hook}", alice, {"retry": retry}), field)
    assert [item["retry"] for item in listed(api, alice, "/v1/webhooks")] == [None]


@pytest.mark.parametrize("value", NOT_INTEGERS, ids=repr)
def test_other_body_numbers_are_strict_integers(api: InProcessApi, alice: str, value: Any) -> None:
    before = api.request("GET", "/v1/secret", alice).json()["secret"]
    rotate = api.request("POST", "/v1/secret/rotate", alice, {"grace_seconds": value})
    assert_refused(rotate, "body.grace_seconds")
    assert api.request("GET", "/v1/secret", alice).json()["secret"] == before
    for name in ("tolerance_seconds", "dedupe_ttl_seconds"):
        source = {"name": "s", "provider": "hmac", "secret": "x", name: value}
        assert_refused(api.request("POST", "/v1/sources", alice, source), f"body.{name}")
    assert listed(api, alice, "/v1/sources") == []


def test_other_patterns_refuse_a_trailing_newline(api: InProcessApi, alice: str) -> None:
    key = api.request("POST", "/v1/admin/api-keys", ADMIN_KEY, {"user_id": "carol\n"})
    assert_refused(key, "body.user_id")
    publish = {"type": "a.b", "data": {}, "user_id": "alice\n"}
    assert_refused(api.request("POST", "/v1/events", ADMIN_KEY, publish), "body.user_id")
    base = {"name": "s", "provider": "hmac", "secret": "x"}
    dedupe = {**base, "dedupe": {"key": "header:X-Id\n"}}
    assert_refused(api.request("POST", "/v1/sources", alice, dedupe), "body.dedupe.key")
    body_path = {**base, "dedupe": {"key": "body:id\n"}}
    assert_refused(api.request("POST", "/v1/sources", alice, body_path), "body.dedupe.key")
    signature = {**base, "signature": {"header": "x-sig\n"}}
    assert_refused(api.request("POST", "/v1/sources", alice, signature), "body.signature.header")
    assert listed(api, alice, "/v1/sources") == []
    assert listed(api, ADMIN_KEY, "/v1/events?user_id=alice") == []

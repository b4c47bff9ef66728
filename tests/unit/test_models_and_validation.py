"""Request validation: webhook URLs (scheme, length, SSRF), patterns, event types, data, headers."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from shared.core.config import settings
from shared.core.errors import InvalidRequest
from shared.core.patterns import is_valid_event_type, is_valid_pattern, matches, matches_any
from shared.outbound.ssrf import (
    UnsafeTarget,
    checked_address,
    is_forbidden_address,
    literal_address,
    validate_url,
)
from shared.schemas.requests import (
    MAX_EVENT_DATA_BYTES,
    ApiKeyCreate,
    EventBatchPublish,
    EventPublish,
    RetryPolicy,
    RotateSecret,
    WebhookCreate,
    WebhookUpdate,
)
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:4700:4700::1111"


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Production rules: https only, no private targets."""
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "0")
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture
def permissive(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local-mode rules: http and private targets allowed."""
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "1")
    settings.cache_clear()
    yield
    settings.cache_clear()


def webhook(url: str, **extra: Any) -> WebhookCreate:
    return WebhookCreate(url=url, events=["user.created"], **extra)


def error_text(error: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(str(item["msg"]) for item in error.value.errors())


# --- URL scheme and length ---------------------------------------------------------------


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize(
    "url",
    [
        f"https://{PUBLIC_V4}/hook",
        f"https://{PUBLIC_V4}:8443/hook?x=1",
        f"https://[{PUBLIC_V6}]/hook",
        f"HTTPS://{PUBLIC_V4}/upper-case-scheme",
    ],
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert webhook(url).url == url


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize(
    "url",
    [
        f"http://{PUBLIC_V4}/plain-http",
        f"ftp://{PUBLIC_V4}/file",
        "javascript:alert(1)",
        f"//{PUBLIC_V4}/no-scheme",
        "https:///no-host",
        "not a url",
        f"https://user:password@{PUBLIC_V4}/credentials",
        f"https://{PUBLIC_V4}:99999/bad-port",
    ],
)
def test_bad_scheme_host_or_form_is_refused(url: str) -> None:
    with pytest.raises(ValidationError) as error:
        webhook(url)
    assert error.value.errors()[0]["loc"] == ("url",)


@pytest.mark.usefixtures("permissive")
def test_http_and_private_targets_only_where_allowed() -> None:
    assert webhook("http://127.0.0.1:8080/local").url == "http://127.0.0.1:8080/local"
    assert webhook("https://10.0.0.5/internal").url == "https://10.0.0.5/internal"
    with pytest.raises(ValidationError):
        webhook("ftp://127.0.0.1/still-not-http")


def test_allow_private_toggle_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
    settings.cache_clear()
    try:
        assert webhook("http://127.0.0.1/x").url == "http://127.0.0.1/x"
        monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "")
        settings.cache_clear()
        with pytest.raises(ValidationError):
            webhook("http://127.0.0.1/x")
        with pytest.raises(ValidationError):
            webhook("https://127.0.0.1/x")
    finally:
        settings.cache_clear()


@pytest.mark.usefixtures("strict")
def test_url_length_limit_is_2048() -> None:
    prefix = f"https://{PUBLIC_V4}/"
    longest = prefix + "a" * (2048 - len(prefix))
    assert len(longest) == 2048
    assert webhook(longest).url == longest
    with pytest.raises(ValidationError):
        webhook(longest + "a")
    with pytest.raises(InvalidRequest) as direct:
        validate_url(longest + "a", allow_private=True)
    assert direct.value.code == "invalid_url"


@pytest.mark.usefixtures("permissive")
def test_url_length_limit_holds_even_where_private_targets_are_allowed() -> None:
    with pytest.raises(ValidationError):
        webhook("http://127.0.0.1/" + "a" * 2048)


# --- SSRF refusals -----------------------------------------------------------------------

FORBIDDEN_URLS = [
    # IPv4 private, loopback, link-local, multicast, reserved, unspecified, shared, broadcast
    "https://10.0.0.1/",
    "https://172.16.0.1/",
    "https://172.31.255.254/",
    "https://192.168.1.1/",
    "https://127.0.0.1/",
    "https://127.255.255.254/",
    "https://169.254.169.254/latest/meta-data/",
    "https://169.254.0.1/",
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://239.255.255.250/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    "https://100.64.0.1/",
    "https://192.0.2.10/",
    # IPv6 loopback, unspecified, link-local (with zone), unique-local, multicast, documentation
    "https://[::1]/",
    "https://[::]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[fc00::1]/",
    "https://[fd12:3456:789a::1]/",
    "https://[ff02::1]/",
    "https://[ff0e::1]/",
    "https://[2001:db8::1]/",
    # IPv4 inside IPv6: mapped, compatible, 6to4, NAT64
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:10.0.0.1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::ffff:7f00:1]/",
    "https://[::127.0.0.1]/",
    "https://[2002:7f00:1::]/",
    "https://[2002:a9fe:a9fe::]/",
    "https://[64:ff9b::a00:1]/",
    # Legacy numeric IPv4 forms resolvers accept
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0X7F000001/",
    "https://0177.0.0.1/",
    "https://017700000001/",
    "https://0x7f.0.0.1/",
    "https://127.1/",
    "https://127.0.1/",
    "https://3232235777/",
    "https://0xa9fea9fe/",
    "https://2852039166/",
    "https://0/",
    # Names that resolve to loopback
    "https://localhost/",
    "https://LOCALHOST:8443/x",
]


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_forbidden_targets_are_refused_at_registration(url: str) -> None:
    with pytest.raises(ValidationError) as error:
        webhook(url)
    assert "private, loopback, link-local or reserved" in error_text(error)
    with pytest.raises(ValidationError):
        WebhookUpdate(url=url)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("99999999999", None),
    ],
)
def test_literal_address_understands_legacy_forms(host: str, expected: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found is not None else None) == expected


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("8.8.8.8", False),
        (PUBLIC_V4, False),
        (PUBLIC_V6, False),
        ("::ffff:8.8.8.8", False),
        ("10.1.2.3", True),
        ("169.254.1.1", True),
        ("::ffff:192.168.0.1", True),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", True),  # Teredo
        ("ff02::1", True),
        ("fe80::1", True),
    ],
)
def test_forbidden_address_classification(address: str, forbidden: bool) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is forbidden


def test_delivery_time_check_returns_the_address_it_checked() -> None:
    assert str(checked_address(PUBLIC_V4, 443, allow_private=False)) == PUBLIC_V4
    assert str(checked_address("127.0.0.1", 80, allow_private=True)) == "127.0.0.1"
    assert str(checked_address("2130706433", 80, allow_private=True)) == "127.0.0.1"
    for host in ("127.0.0.1", "0x7f000001", "169.254.169.254", "::1", "::ffff:10.0.0.1"):
        with pytest.raises(UnsafeTarget):
            checked_address(host, 443, allow_private=False)
    with pytest.raises(UnsafeTarget):
        checked_address("no-such-host.invalid", 443, allow_private=False)


# --- Event patterns and types ------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    ["*", "user.created", "user.*", "a.b.*", "a.b.c.d", "user_1.created_2", "project9.x"],
)
def test_valid_patterns(pattern: str) -> None:
    assert is_valid_pattern(pattern)
    assert WebhookCreate(url=f"https://{PUBLIC_V4}/", events=[pattern]).events == [pattern]


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "user",
        "User.created",
        "user.",
        ".user",
        "user..created",
        "*.created",
        "user.*.x",
        "user*",
        "**",
        "* ",
        "us er.created",
        "user.cre-ated",
        "user/created",
        "a." + "b" * 200,
        "a" * 199 + ".*",
    ],
)
def test_invalid_patterns(pattern: str) -> None:
    assert not is_valid_pattern(pattern)
    with pytest.raises(ValidationError) as error:
        WebhookCreate(url=f"https://{PUBLIC_V4}/", events=[pattern])
    assert "invalid event pattern" in error_text(error)


def test_event_list_size_and_duplicates() -> None:
    url = f"https://{PUBLIC_V4}/"
    with pytest.raises(ValidationError):
        WebhookCreate(url=url, events=[])
    hundred = [f"type{i}.created" for i in range(100)]
    assert len(WebhookCreate(url=url, events=hundred).events) == 100
    with pytest.raises(ValidationError):
        WebhookCreate(url=url, events=[*hundred, "one.more"])
    deduplicated = WebhookCreate(url=url, events=["a.b", "a.*", "a.b", "*", "a.*"])
    assert deduplicated.events == ["a.b", "a.*", "*"]


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("*", "user.created", True),
        ("user.created", "user.created", True),
        ("user.created", "user.deleted", False),
        ("user.*", "user.created", True),
        ("user.*", "user.profile.updated", True),
        ("user.*", "username.created", False),
        ("user.*", "users.created", False),
        ("user.profile.*", "user.created", False),
        ("a.b", "a.b.c", False),
    ],
)
def test_pattern_matching(pattern: str, event_type: str, expected: bool) -> None:
    assert matches(pattern, event_type) is expected


def test_matches_any() -> None:
    assert matches_any(["order.*", "user.created"], "user.created")
    assert not matches_any(["order.*", "user.created"], "user.deleted")
    assert not matches_any([], "user.created")


@pytest.mark.parametrize("event_type", ["user.created", "a.b", "a_1.b_2.c3", "x." + "y" * 198])
def test_valid_event_types(event_type: str) -> None:
    assert is_valid_event_type(event_type)
    assert EventPublish(type=event_type, data={}).type == event_type


@pytest.mark.parametrize(
    "event_type",
    [
        "",
        "user",
        "user.",
        ".created",
        "User.created",
        "user.*",
        "*",
        "user created",
        "user-x.created",
        "user..created",
        "user.créé",
        "x." + "y" * 199,
    ],
)
def test_invalid_event_types(event_type: str) -> None:
    assert not is_valid_event_type(event_type)
    with pytest.raises(ValidationError) as error:
        EventPublish(type=event_type, data={})
    assert error.value.errors()[0]["loc"] == ("type",)


# --- Event data --------------------------------------------------------------------------


def test_data_must_be_an_object() -> None:
    for bad in ([1, 2], "text", 5, None):
        with pytest.raises(ValidationError):
            EventPublish.model_validate({"type": "user.created", "data": bad})
    with pytest.raises(ValidationError):
        EventPublish.model_validate({"type": "user.created"})


def test_data_limit_is_256_kb_encoded() -> None:
    overhead = len('{"x":""}')
    at_limit = {"x": "a" * (MAX_EVENT_DATA_BYTES - overhead)}
    assert EventPublish(type="user.created", data=at_limit).data == at_limit
    with pytest.raises(ValidationError) as error:
        EventPublish(type="user.created", data={"x": "a" * (MAX_EVENT_DATA_BYTES - overhead + 1)})
    assert "256 KB" in error_text(error)


def test_data_size_counts_utf8_bytes_as_sent() -> None:
    # 100 000 "é" are 200 000 bytes in UTF-8 (as the envelope is sent), 600 000 if \u-escaped.
    text = {"x": "é" * 100_000}
    assert EventPublish(type="user.created", data=text).data == text
    with pytest.raises(ValidationError):
        EventPublish(type="user.created", data={"x": "é" * 140_000})


def test_caller_id_bounds() -> None:
    assert EventPublish(type="a.b", data={}, id="x" * 256).id == "x" * 256
    for bad in ("", "x" * 257):
        with pytest.raises(ValidationError):
            EventPublish(type="a.b", data={}, id=bad)


def test_batch_takes_1_to_100_events() -> None:
    one = {"type": "a.b", "data": {}}
    assert len(EventBatchPublish.model_validate({"events": [one] * 100}).events) == 100
    for size in (0, 101):
        with pytest.raises(ValidationError):
            EventBatchPublish.model_validate({"events": [one] * size})


# --- Custom headers, retry policy, other bodies ------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "X-Webhook-Signature",
        "x-webhook-timestamp",
        "X-Webhook-Anything",
        "webhook-id",
        "Webhook-Signature",
        "webhook-timestamp",
        "Content-Type",
        "content-length",
        "Host",
        "User-Agent",
        "Transfer-Encoding",
        "Connection",
    ],
)
def test_reserved_custom_headers_are_refused(name: str) -> None:
    with pytest.raises(ValidationError) as error:
        webhook(f"https://{PUBLIC_V4}/", headers={name: "value"})
    assert "cannot be overridden" in error_text(error)
    with pytest.raises(ValidationError):
        WebhookUpdate(headers={name: "value"})


def test_custom_header_rules() -> None:
    url = f"https://{PUBLIC_V4}/"
    ok = webhook(url, headers={"X-Custom": "v", "Authorization": "Bearer token"})
    assert ok.headers == {"X-Custom": "v", "Authorization": "Bearer token"}
    for bad in (
        {"Bad Header": "v"},
        {"a:b": "v"},
        {"": "v"},
        {"X-Custom": "line\r\nInjected: yes"},
        {"X-Custom": "x" * 1025},
        {f"X-H{i}": "v" for i in range(21)},
    ):
        with pytest.raises(ValidationError):
            webhook(url, headers=bad)
    assert len(webhook(url, headers={f"X-H{i}": "v" for i in range(20)}).headers or {}) == 20


def test_retry_policy_rules() -> None:
    policy = RetryPolicy()
    assert policy.model_dump() == {
        "attempts": 5,
        "backoff": "exponential",
        "initial_delay_seconds": 60,
        "max_delay_seconds": 86400,
    }
    assert RetryPolicy(attempts=0, backoff="fixed").backoff == "fixed"
    for bad in (
        {"attempts": -1},
        {"attempts": 21},
        {"backoff": "linear"},
        {"initial_delay_seconds": 0},
        {"initial_delay_seconds": 100, "max_delay_seconds": 50},
        {"max_delay_seconds": 86400 * 7 + 1},
    ):
        with pytest.raises(ValidationError):
            RetryPolicy.model_validate(bad)


def test_rotate_and_api_key_bodies() -> None:
    assert RotateSecret().grace_seconds == 86400
    assert RotateSecret(grace_seconds=0).grace_seconds == 0
    for bad in (-1, 604801):
        with pytest.raises(ValidationError):
            RotateSecret(grace_seconds=bad)
    assert ApiKeyCreate(user_id="alice@example.com").role == "user"
    for bad_user in ("", "a b", "x" * 129, "bob/../admin"):
        with pytest.raises(ValidationError):
            ApiKeyCreate(user_id=bad_user)
    with pytest.raises(ValidationError):
        ApiKeyCreate.model_validate({"user_id": "bob", "role": "root"})


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (WebhookCreate, {"url": f"https://{PUBLIC_V4}/", "events": ["*"], "secret": "x"}),
        (WebhookUpdate, {"colour": "blue"}),
        (EventPublish, {"type": "a.b", "data": {}, "priority": 1}),
        (RotateSecret, {"grace": 5}),
        (ApiKeyCreate, {"user_id": "bob", "admin": True}),
        (RetryPolicy, {"attempts": 3, "jitter": 0.5}),
    ],
)
def test_unknown_fields_are_refused(model: type[Any], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as error:
        model.model_validate(body)
    assert error.value.errors()[0]["type"] == "extra_forbidden"


# --- The same rules through the API: 422 with the field named ----------------------------


@pytest.mark.usefixtures("aws")
def test_api_answers_422_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "0")
    settings.cache_clear()
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, "validator")
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/v1/webhooks", {"url": "https://10.0.0.1/", "events": ["*"]}, "body.url"),
        ("POST", "/v1/webhooks", {"url": f"http://{PUBLIC_V4}/", "events": ["*"]}, "body.url"),
        ("POST", "/v1/webhooks", {"url": f"https://{PUBLIC_V4}/", "events": ["x"]}, "body.events"),
        (
            "POST",
            "/v1/webhooks",
            {"url": f"https://{PUBLIC_V4}/", "events": ["*"], "headers": {"Host": "x"}},
            "body.headers",
        ),
        (
            "POST",
            "/v1/webhooks",
            {"url": f"https://{PUBLIC_V4}/", "events": ["*"], "owner": "someone"},
            "body.owner",
        ),
        ("POST", "/v1/events", {"type": "User.Created", "data": {}}, "body.type"),
        ("POST", "/v1/events", {"type": "user.created", "data": []}, "body.data"),
        ("POST", "/v1/events", {"type": "user.created", "data": {}, "extra": 1}, "body.extra"),
        ("POST", "/v1/secret/rotate", {"grace_seconds": 604801}, "body.grace_seconds"),
        ("POST", "/v1/secret/rotate", {"grace": 1}, "body.grace"),
    ]
    try:
        for method, path, body, field in cases:
            reply = api.request(method, path, key, body)
            assert reply.status == 422, (path, body, reply.body)
            error = reply.json()["error"]
            assert error["code"] == "validation_error"
            assert field in [detail["field"] for detail in error["details"]], (body, error)
            assert isinstance(error["message"], str) and error["message"]
        admin_case = api.request("POST", "/v1/admin/api-keys", ADMIN_KEY, {"user_id": "a", "x": 1})
        assert admin_case.status == 422
        assert admin_case.json()["error"]["details"][0]["field"] == "body.x"
    finally:
        settings.cache_clear()

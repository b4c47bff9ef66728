"""Security: tenant isolation on every route, SSRF at registration and at delivery, and API keys
and secrets absent from every response but the ones that must show them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import socket
from collections.abc import Callable
from typing import Any

import pytest

from functions.api.docs import EXAMPLE_SECRET
from shared.access.auth import hash_key
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi, Reply
from tests.support.bad_receivers import RawReceiver, ok
from tests.support.faults import acknowledge, invoke_worker, receive_all
from tests.support.receiver import Receiver, Script

PUBLIC_IP = "93.184.216.34"


@pytest.fixture
def private_targets_refused(setting: Callable[[str, str], None]) -> None:
    setting("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "0")


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names → the addresses `socket.getaddrinfo` answers for them (others resolve as usual)."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower() in answers:
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, int(port or 0)),
                )
                for address in answers[host.lower()]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address this process opens a TCP connection to (moto in-process opens none)."""
    opened: list[Any] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        opened.append(address)
        real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return opened


def error_code(reply: Reply) -> str:
    assert b"Traceback" not in reply.body
    return str(reply.json()["error"]["code"])


def drain(aws: dict[str, str]) -> None:
    messages = receive_all(aws["DELIVERY_QUEUE_URL"])
    response = invoke_worker(messages)
    assert response == {"batchItemFailures": []}
    acknowledge(aws["DELIVERY_QUEUE_URL"], messages, response)


# --- Tenant isolation ------------------------------------------------------------------------


def test_another_user_can_reach_nothing_of_alices(
    api: InProcessApi, alice: str, bob: str, aws: dict[str, str], receiver: Receiver
) -> None:
    hook = api.request(
        "POST", "/v1/webhooks", alice, {"url": receiver.url("/alice"), "events": ["*"]}
    ).json()
    failing = api.request(
        "POST",
        "/v1/webhooks",
        alice,
        {
            "url": receiver.script("/alice-down", Script(statuses=[500])),
            "events": ["*"],
            "retry": {"attempts": 0},
        },
    ).json()
    source = api.request(
        "POST",
        "/v1/sources",
        alice,
        {"name": "alice-src", "provider": "hmac", "secret": "alice-source-secret"},
    )
    assert source.status == 201, source.body
    source_id = source.json()["id"]
    published = api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {}})
    event_id = published.json()["event_id"]
    drain(aws)
    dlv = {d["webhook_id"]: d["delivery_id"] for d in published.json()["deliveries"]}
    ok_delivery, failed_delivery = dlv[hook["id"]], dlv[failing["id"]]
    assert api.request("GET", f"/v1/deliveries/{failed_delivery}", alice).json()["status"] == (
        "failed"
    )
    api.request("POST", "/v1/webhooks", bob, {"url": receiver.url("/bob"), "events": ["*"]})
    before = {
        path: api.request("GET", path, alice).json()
        for path in (
            f"/v1/webhooks/{hook['id']}",
            f"/v1/webhooks/{hook['id']}/deliveries",
            f"/v1/deliveries/{ok_delivery}",
            f"/v1/deliveries/{failed_delivery}",
            f"/v1/events/{event_id}",
            f"/v1/sources/{source_id}",
            "/v1/secret",
        )
    }

    not_found = [
        ("GET", f"/v1/webhooks/{hook['id']}", None),
        ("PATCH", f"/v1/webhooks/{hook['id']}", {"description": "bob was here"}),
        ("PATCH", f"/v1/webhooks/{hook['id']}", {"url": receiver.url("/bob")}),
        ("DELETE", f"/v1/webhooks/{hook['id']}", None),
        ("POST", f"/v1/webhooks/{hook['id']}/test", None),
        ("GET", f"/v1/webhooks/{hook['id']}/deliveries", None),
        ("GET", f"/v1/webhooks/{hook['id']}/deliveries?status=failed", None),
        ("GET", f"/v1/deliveries/{ok_delivery}", None),
        ("POST", f"/v1/deliveries/{failed_delivery}/retry", None),
        ("GET", f"/v1/events/{event_id}", None),
        ("POST", f"/v1/events/{event_id}/replay", None),
        ("POST", f"/v1/events/{event_id}/replay", {"webhook_id": hook["id"]}),
        ("GET", f"/v1/sources/{source_id}", None),
        ("PATCH", f"/v1/sources/{source_id}", {"name": "bob was here"}),
        ("DELETE", f"/v1/sources/{source_id}", None),
    ]
    for method, path, body in not_found:
        reply = api.request(method, path, bob, body)
        assert reply.status == 404, (method, path, reply.status, reply.body)
        assert error_code(reply) == "not_found", (method, path)
        # Exactly what a made-up id gets: no hint that the id exists for someone else.
        made_up = re.sub(r"(wh|dlv|evt|src)_[0-9A-Z]+", r"\1_01ZZZZZZZZZZZZZZZZZZZZZZZZ", path)
        assert api.request(method, made_up, bob, body).status == 404, made_up

    forbidden = [
        ("GET", "/v1/events?user_id=alice", None),
        ("GET", f"/v1/events/{event_id}?user_id=alice", None),
        ("GET", "/v1/webhooks?user_id=alice", None),
        ("GET", f"/v1/webhooks/{hook['id']}/deliveries?user_id=alice", None),
        ("GET", "/v1/sources?user_id=alice", None),
        ("POST", "/v1/events", {"type": "user.created", "data": {}, "user_id": "alice"}),
        (
            "POST",
            "/v1/events/batch",
            {"events": [{"type": "user.created", "data": {}, "user_id": "alice"}]},
        ),
        ("POST", "/v1/admin/api-keys", {"user_id": "alice", "role": "user"}),
        ("GET", "/v1/admin/dlq?queue=delivery", None),
        ("POST", "/v1/admin/dlq/redrive", {"queue": "delivery"}),
    ]
    for method, path, body in forbidden:
        reply = api.request(method, path, bob, body)
        assert reply.status == 403, (method, path, reply.status, reply.body)
        assert error_code(reply) == "forbidden", (method, path)

    # What Bob may not do, an admin may: every list answers for `?user_id=`, and only then.
    for path, expected in (
        ("/v1/webhooks", 2),
        (f"/v1/webhooks/{hook['id']}/deliveries", 1),
        ("/v1/sources", 1),
        ("/v1/events", 1),
    ):
        as_alice = api.request("GET", f"{path}?user_id=alice", ADMIN_KEY)
        assert as_alice.status == 200, (path, as_alice.body)
        assert len(as_alice.json()["data"]) == expected, path
        assert as_alice.json() == api.request("GET", path, alice).json(), path
    assert api.request("GET", "/v1/sources", ADMIN_KEY).json()["data"] == []
    assert api.request("GET", f"/v1/webhooks/{hook['id']}/deliveries", ADMIN_KEY).status == 404

    # Bob's own lists and publishes never show or reach anything of Alice's.
    assert [h["url"] for h in api.request("GET", "/v1/webhooks", bob).json()["data"]] == [
        receiver.url("/bob")
    ]
    assert api.request("GET", "/v1/events", bob).json()["data"] == []
    assert api.request("GET", "/v1/sources", bob).json()["data"] == []
    bobs = api.request("POST", "/v1/events", bob, {"type": "user.created", "data": {}}).json()
    assert len(bobs["deliveries"]) == 1
    drain(aws)
    assert len(receiver.received("/bob")) == 1

    # Alice's things are untouched: nothing changed, nothing sent, nothing queued.
    after = {path: api.request("GET", path, alice).json() for path in before}
    assert after == before
    assert len(receiver.received("/alice")) == 1 and len(receiver.received("/alice-down")) == 1
    assert receive_all(aws["DELIVERY_QUEUE_URL"]) == []

    # Each user signs with a secret of their own; Bob rotating his changes nothing of Alice's.
    alice_secret = before["/v1/secret"]["secret"]
    bob_secret = api.request("GET", "/v1/secret", bob).json()["secret"]
    assert alice_secret != bob_secret
    assert api.request("POST", "/v1/secret/rotate", bob, {"grace_seconds": 0}).status == 200
    assert api.request("GET", "/v1/secret", alice).json() == before["/v1/secret"]
    for user, secret, path in (("alice", alice_secret, "/alice"), ("bob", bob_secret, "/bob")):
        request = receiver.received(path)[0]
        signed = f"{request.headers['X-Webhook-Timestamp']}.{request.body.decode()}"
        expected = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        assert request.headers["X-Webhook-Signature"] == f"sha256={expected}", user


# --- SSRF at registration -------------------------------------------------------------------

PRIVATE_TARGETS = [
    # IPv4 private, loopback, link-local (cloud metadata), CGNAT, benchmarking, unspecified
    "https://127.0.0.1/",
    "https://10.0.0.1/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/",
    "https://198.18.0.1/",
    "https://0.0.0.0/",
    "https://255.255.255.255/",
    "https://224.0.0.1/",
    # IPv6 loopback, unique local, link-local (with a zone), unspecified, multicast
    "https://[::1]/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[::]/",
    "https://[ff02::1]/",
    # IPv4 hidden in IPv6: mapped, compatible, 6to4, NAT64
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[0:0:0:0:0:ffff:a00:1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::127.0.0.1]/",
    "https://[2002:a00:1::1]/",
    "https://[64:ff9b::a00:1]/",
    # decimal, octal, hex and short IPv4 forms
    "https://2130706433/",
    "https://167772161/",
    "https://0177.0.0.1/",
    "https://0177.1/",
    "https://012.0.0.1/",
    "https://017700000001/",
    "https://0x7f000001/",
    "https://0x7f.0.0.1/",
    "https://0x7f.1/",
    "https://0xa9.0xfe.0xa9.0xfe/",
    "https://127.1/",
    "https://10.1/",
    "https://127.000.000.001/",
    "https://0/",
    # the same, spelled as a fully qualified name or percent-encoded
    "https://127.0.0.1./",
    "https://2130706433./",
    "https://%31%32%37.0.0.1/",
    # names: the local one, and names whose DNS answers are private (see below)
    "https://localhost/",
    "https://internal.example.com/",
    "https://mixed.example.com/",
    "https://v6only.example.com/",
    # a port or a path changes nothing
    "https://10.0.0.1:8443/hook?x=1",
]


def test_private_targets_are_refused_at_registration(
    api: InProcessApi, alice: str, private_targets_refused: None, dns: dict[str, list[str]]
) -> None:
    dns["internal.example.com"] = ["10.0.0.5"]
    dns["mixed.example.com"] = [PUBLIC_IP, "10.0.0.5"]  # one private answer is enough
    dns["v6only.example.com"] = ["fd00::5"]
    dns["public.example.com"] = [PUBLIC_IP]
    accepted = []
    webhook = api.request(
        "POST", "/v1/webhooks", alice, {"url": f"https://{PUBLIC_IP}/", "events": ["*"]}
    )
    assert webhook.status == 201, webhook.body
    for url in PRIVATE_TARGETS:
        for method, path, body in (
            ("POST", "/v1/webhooks", {"url": url, "events": ["*"]}),
            ("PATCH", f"/v1/webhooks/{webhook.json()['id']}", {"url": url}),
            (
                "POST",
                "/v1/sources",
                {"name": "s", "provider": "hmac", "secret": "x", "forward_url": url},
            ),
        ):
            reply = api.request(method, path, alice, body)
            if reply.status != 422 or error_code(reply) != "validation_error":
                accepted.append((method, path, url, reply.status))
            else:
                fields = [detail["field"] for detail in reply.json()["error"]["details"]]
                assert any(field.endswith(("url", "forward_url")) for field in fields), fields
    assert accepted == []
    assert api.request("GET", "/v1/sources", alice).json()["data"] == []
    listed = api.request("GET", "/v1/webhooks", alice).json()["data"]
    assert [hook["url"] for hook in listed] == [f"https://{PUBLIC_IP}/"]

    # Public targets, by address or by a name that resolves publicly, are accepted.
    for url in (
        f"https://{PUBLIC_IP}:8443/x",
        "https://public.example.com/hook",
        "https://[2606:4700:4700::1111]/",
    ):
        reply = api.request("POST", "/v1/webhooks", alice, {"url": url, "events": ["*"]})
        assert reply.status == 201, (url, reply.body)
    # Plain http is for private (local) deployments only.
    reply = api.request(
        "POST", "/v1/webhooks", alice, {"url": f"http://{PUBLIC_IP}/", "events": ["*"]}
    )
    assert reply.status == 422


# --- SSRF at delivery time: DNS rebinding ------------------------------------------------------


def test_dns_rebinding_is_refused_at_delivery_without_connecting(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    private_targets_refused: None,
    dns: dict[str, list[str]],
    connections: list[Any],
) -> None:
    target = RawReceiver(ok)
    try:
        names = {"rebind.example.com": ["127.0.0.1"], "half.example.com": [PUBLIC_IP, "127.0.0.1"]}
        for name in names:
            dns[name] = [PUBLIC_IP]  # public when registered
            reply = api.request(
                "POST",
                "/v1/webhooks",
                alice,
                {"url": f"https://{name}:{target.port}/hook", "events": ["*"]},
            )
            assert reply.status == 201, reply.body
        dns.update(names)  # ... re-pointed at our own loopback before the delivery
        published = api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {}})
        connections.clear()
        drain(aws)
        for item in published.json()["deliveries"]:
            found = api.request("GET", f"/v1/deliveries/{item['delivery_id']}", alice).json()
            (entry,) = found["attempt_log"]
            assert entry["status_code"] is None
            assert entry["error"] == "refused: target resolves to a forbidden address"
            assert found["status"] == "retrying"
        assert connections == []  # refused before any connection was opened
        assert target.seen.requests == 0
    finally:
        target.close()


def test_the_connection_goes_to_the_address_that_was_checked(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    receiver: Receiver,
    dns: dict[str, list[str]],
    connections: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name is resolved once per attempt, checked, and dialled by that address; the
    receiver still sees its own name in Host (private targets are allowed in this test)."""
    dns["pinned.example.com"] = ["127.0.0.1"]
    port = receiver.server.server_port
    url = f"http://pinned.example.com:{port}/pinned"
    assert api.request("POST", "/v1/webhooks", alice, {"url": url, "events": ["*"]}).status == 201
    lookups: list[str] = []
    resolve = socket.getaddrinfo

    def counting(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        if host == "pinned.example.com" and lookups.count(host) > 1:
            raise AssertionError("resolved twice: the connection did not use the checked address")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {}})
    lookups.clear()
    connections.clear()
    drain(aws)
    (request,) = receiver.received("/pinned")
    assert request.headers["Host"] == f"pinned.example.com:{port}"
    assert lookups.count("pinned.example.com") == 1
    assert ("127.0.0.1", port) in connections


def test_redirect_to_the_metadata_service_is_not_followed(
    api: InProcessApi,
    alice: str,
    aws: dict[str, str],
    receiver: Receiver,
    connections: list[Any],
) -> None:
    url = receiver.script(
        "/to-metadata",
        Script(statuses=[307], headers={"Location": "http://169.254.169.254/latest/meta-data/"}),
    )
    api.request("POST", "/v1/webhooks", alice, {"url": url, "events": ["*"]})
    published = api.request("POST", "/v1/events", alice, {"type": "user.created", "data": {}})
    connections.clear()
    drain(aws)
    (item,) = published.json()["deliveries"]
    found = api.request("GET", f"/v1/deliveries/{item['delivery_id']}", alice).json()
    assert (found["last_status_code"], found["last_error"]) == (307, "HTTP 307")
    assert [address for address in connections if address[0] != "127.0.0.1"] == []
    assert len(receiver.received("/to-metadata")) == 1


# --- Keys and secrets in responses ------------------------------------------------------------


def test_keys_and_secrets_appear_only_where_they_must(
    api: InProcessApi, alice: str, aws: dict[str, str], receiver: Receiver
) -> None:
    """Every route's answer, for every method the API documents, searched for Alice's API key
    (and its hash), any `whcms_` signing secret and her inbound source's secret."""
    source_secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    responses: list[tuple[str, str, Reply]] = []

    def call(method: str, path: str, key: str | None = alice, body: Any = None) -> Reply:
        reply = api.request(method, path, key, body)
        responses.append((method, path, reply))
        return reply

    hook = call(
        "POST",
        "/v1/webhooks",
        body={
            "url": receiver.script("/down", Script(statuses=[500])),
            "events": ["*"],
            "retry": {"attempts": 0},
        },
    ).json()
    source = call(
        "POST", "/v1/sources", body={"name": "src", "provider": "standard", "secret": source_secret}
    ).json()
    secret = call("GET", "/v1/secret").json()["secret"]
    published = call("POST", "/v1/events", body={"type": "user.created", "data": {"n": 1}}).json()
    call("POST", "/v1/events/batch", body={"events": [{"type": "user.created", "data": {}}]})
    drain(aws)
    delivery_id = published["deliveries"][0]["delivery_id"]
    ids = {
        "webhook_id": hook["id"],
        "source_id": source["id"],
        "event_id": published["event_id"],
        "delivery_id": delivery_id,
    }
    created = call("POST", "/v1/admin/api-keys", ADMIN_KEY, {"user_id": "carol", "role": "user"})
    carol_key = created.json()["api_key"]
    call("DELETE", f"/v1/admin/api-keys/{created.json()['id']}", ADMIN_KEY)

    # Every documented operation, with real ids; admin routes with the admin key.
    document = api.request("GET", "/v1/openapi.json").json()
    for template, operations in document["paths"].items():
        path = template
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        path = re.sub(r"\{[a-z_]+\}", "x_unknown", path)
        for method in operations:
            key = ADMIN_KEY if path.startswith("/v1/admin/") else alice
            if method == "delete":
                continue  # deleting comes last
            query = "?queue=delivery" if path == "/v1/admin/dlq" else ""
            body = {"queue": "delivery"} if path == "/v1/admin/dlq/redrive" else {}
            call(method.upper(), path + query, key, body if method != "get" else None)
    call("POST", f"/v1/deliveries/{delivery_id}/retry")
    call("POST", "/v1/secret/rotate", body={"grace_seconds": 60})
    call("GET", "/v1/secret")
    for method, path in (("GET", "/health"), ("GET", "/v1/openapi.json"), ("GET", "/v1/docs")):
        call(method, path, None)
    call("GET", "/v1/webhooks", "wk_" + "x" * 43)  # a wrong key is not echoed either
    call("DELETE", f"/v1/webhooks/{hook['id']}")
    call("DELETE", f"/v1/sources/{source['id']}")

    may_show_secret = {("GET", "/v1/secret"), ("POST", "/v1/secret/rotate")}
    leaks = []
    for method, path, reply in responses:
        text = reply.body.decode("utf-8", "replace") + json.dumps(reply.headers)
        text = text.replace(EXAMPLE_SECRET, "")  # the OpenAPI document's example value
        for label, needle in (
            ("alice's key", alice),
            ("alice's key hash", hash_key(alice)),
            ("admin key", ADMIN_KEY),
            ("source secret", source_secret),
            ("source secret body", source_secret.removeprefix("whsec_")),
        ):
            if needle in text:
                leaks.append((method, path, label))
        if carol_key in text and (method, path) != ("POST", "/v1/admin/api-keys"):
            leaks.append((method, path, "carol's key"))
        if "whcms_" in text and (method, path.split("?")[0]) not in may_show_secret:
            leaks.append((method, path, "whcms_ secret"))
        if secret.removeprefix("whcms_") in text and (method, path) not in may_show_secret:
            leaks.append((method, path, "signing secret body"))
    assert leaks == []
    walked = {(method, path.split("?")[0]) for method, path, _ in responses}
    assert len(walked) > 25
    assert all(reply.status < 500 for _, _, reply in responses), [
        (m, p, r.status) for m, p, r in responses if r.status >= 500
    ]

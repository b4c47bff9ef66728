"""The Python client (client/webhooks_client) against local mode, with a real receiver.

Each call goes over real HTTP to the local API; deliveries reach a receiver on 127.0.0.1 and
the client's `verify` checks them with the secret the client read.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from webhooks_client import ApiError, Webhooks, verify

from tests.support.local_api import unique, wait_until
from tests.support.receiver import Receiver, Script

ROOT = Path(__file__).resolve().parents[2]


def _client(local: Any, user: str) -> Webhooks:
    return Webhooks(local.base_url, local.new_user(user)["x-api-key"])


def test_the_client_installs_with_pip(tmp_path: Path) -> None:
    """`pip install ./client` (here with uv, the installer `make` uses) gives a typed package."""
    source = tmp_path / "client"  # a copy: setuptools builds in the source tree
    shutil.copytree(ROOT / "client", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path / "site"
    uv = Path(sys.executable).with_name("uv")
    install = [str(uv), "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    subprocess.run([*install, str(source)], check=True, timeout=300)
    assert (target / "webhooks_client" / "_client.py").is_file()
    assert (target / "webhooks_client" / "py.typed").is_file()


def test_publish_deliver_verify_and_inspect(local: Any, receiver: Receiver) -> None:
    hooks = _client(local, unique("client"))
    path = f"/{unique('client-hook')}"
    webhook = hooks.create_webhook(receiver.url(path), ["order.*"], description="client test")
    assert hooks.get_webhook(webhook["id"])["description"] == "client test"
    assert [w["id"] for w in hooks.iter_webhooks()] == [webhook["id"]]

    published = hooks.publish("order.paid", {"amount": 250}, id=unique("order"))
    (got,) = receiver.wait_for(path, 1)
    secret = hooks.get_secret()["secret"]
    event = verify(got.body, got.headers, secret)
    assert event["id"] == published["event_id"]
    assert event["data"] == {"amount": 250}

    delivery_id = published["deliveries"][0]["delivery_id"]
    delivery = wait_until(lambda: _settled(hooks, delivery_id))
    assert delivery["status"] == "succeeded"
    assert delivery["attempt_log"][0]["status_code"] == 200
    assert hooks.list_deliveries(webhook["id"])["data"][0]["id"] == delivery_id
    assert hooks.get_event(published["event_id"])["type"] == "order.paid"
    assert published["event_id"] in [e["id"] for e in hooks.list_events()["data"]]
    assert [e["id"] for e in hooks.iter_events(type="order.paid")] == [published["event_id"]]
    assert list(hooks.iter_events(type="order.refunded")) == []
    succeeded = hooks.iter_deliveries(webhook["id"], status="succeeded")
    assert [d["id"] for d in succeeded] == [delivery_id]


def test_update_retry_rotate_and_delete(local: Any, receiver: Receiver) -> None:
    hooks = _client(local, unique("client-ops"))
    path = f"/{unique('client-fail')}"
    webhook = hooks.create_webhook(receiver.script(path, Script(statuses=[500])), ["*"])
    assert hooks.update_webhook(webhook["id"], description="renamed")["description"] == "renamed"
    sent = hooks.test_webhook(webhook["id"])
    wait_until(lambda: hooks.get_delivery(sent["delivery_id"])["status"] == "failed")
    receiver.script(path, Script(statuses=[200]))
    assert hooks.retry_delivery(sent["delivery_id"])["delivery_id"] == sent["delivery_id"]
    wait_until(lambda: _settled(hooks, sent["delivery_id"]))

    old = hooks.get_secret()["secret"]
    rotated = hooks.rotate_secret(grace_seconds=0)
    assert rotated["secret"] != old
    assert hooks.get_secret()["secret"] == rotated["secret"]

    hooks.delete_webhook(webhook["id"])
    with pytest.raises(ApiError) as missing:
        hooks.get_webhook(webhook["id"])
    assert (missing.value.status, missing.value.code) == (404, "not_found")


def test_errors_carry_the_services_code_and_details(local: Any) -> None:
    hooks = _client(local, unique("client-errors"))
    with pytest.raises(ApiError) as invalid:
        hooks.create_webhook("not a url", ["order.*"])
    assert invalid.value.status == 422
    assert invalid.value.code == "validation_error"
    assert any(detail["field"] == "body.url" for detail in invalid.value.details)
    with pytest.raises(ApiError) as refused:
        Webhooks(local.base_url, "wk_not_a_key").list_webhooks()
    assert refused.value.status == 401


def test_an_admin_acts_for_a_user_and_manages_keys_and_sources(local: Any) -> None:
    admin = Webhooks(local.base_url, local.admin_key)
    user = unique("client-admin")
    key = admin.create_api_key(user)
    assert key["user_id"] == user
    as_user = admin.for_user(user)
    webhook = as_user.create_webhook("https://example.com/hook", ["a.*"])
    own = Webhooks(local.base_url, key["api_key"])
    assert own.get_webhook(webhook["id"])["id"] == webhook["id"]

    source = own.create_source(unique("src"), "github", "gh-secret")
    assert own.get_source(source["id"])["provider"] == "github"
    assert own.update_source(source["id"], name="renamed")["name"] == "renamed"
    assert [s["id"] for s in own.list_sources()["data"]] == [source["id"]]
    own.delete_source(source["id"])

    portal = Webhooks(local.base_url, admin.create_portal_session(user)["token"])
    assert [h["id"] for h in portal.list_webhooks()["data"]] == [webhook["id"]]
    portal.end_portal_session()  # sign-out
    wait_until(lambda: _refused(portal))

    admin.revoke_api_key(key["id"])
    wait_until(lambda: _refused(own))
    assert isinstance(admin.peek_dlq("delivery"), list)


def _settled(hooks: Webhooks, delivery_id: str) -> Any:
    delivery = hooks.get_delivery(delivery_id)
    return delivery if delivery["status"] == "succeeded" else None


def _refused(hooks: Webhooks) -> bool:
    try:
        hooks.list_webhooks()
    except ApiError as error:
        return error.status == 401
    return False

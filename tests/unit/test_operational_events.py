"""Operational events (README "Operational events"): the reserved user `_ops`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.core import clock
from shared.core.aws import client
from shared.core.config import settings
from shared.core.ids import OPS_USER_ID as OPS
from shared.outbound.signing import verify_signature
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi, Reply
from tests.support.faults import FaultSet, invoke_worker, receive_all
from tests.support.receiver import Receiver, Script


def test_no_api_key_is_ever_issued_for_the_ops_user(api: InProcessApi) -> None:
    for role in ("user", "admin"):
        reply = api.request(
            "POST", "/v1/admin/api-keys", ADMIN_KEY, {"user_id": "_ops", "role": role}
        )
        assert reply.status == 422, reply.body
        (detail,) = reply.json()["error"]["details"]
        assert detail["field"] == "body.user_id"
        assert "reserved" in detail["message"]


# --- Operational events reach `_ops`'s webhooks, signed with `_ops`'s own secret ----------


@pytest.fixture
def env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE", "600")  # retries never come back in a test
    settings.cache_clear()
    yield aws
    settings.cache_clear()


@pytest.fixture
def ops_api(env: dict[str, str]) -> InProcessApi:
    return InProcessApi()


def ok(reply: Reply, status: int = 200) -> Any:
    assert reply.status == status, (reply.status, reply.body[:300])
    return reply.json()


def ops_webhook(api: InProcessApi, url: str, **fields: Any) -> str:
    """An `_ops` webhook, made by the admin acting for `_ops`."""
    body = {"url": url, "events": ["*"], **fields}
    return str(ok(api.request("POST", f"/v1/webhooks?user_id={OPS}", ADMIN_KEY, body), 201)["id"])


def ops_secret(api: InProcessApi) -> str:
    return str(ok(api.request("GET", f"/v1/secret?user_id={OPS}", ADMIN_KEY))["secret"])


def register(api: InProcessApi, key: str, url: str, **fields: Any) -> str:
    body = {"url": url, "events": ["*"], **fields}
    return str(ok(api.request("POST", "/v1/webhooks", key, body), 201)["id"])


def publish(api: InProcessApi, key: str) -> dict[str, Any]:
    return dict(
        ok(api.request("POST", "/v1/events", key, {"type": "user.created", "data": {}}), 202)
    )


def drain(env: dict[str, str]) -> int:
    """Run the worker on everything queued, until nothing is (operational events queue more)."""
    handled = 0
    while messages := receive_all(env["DELIVERY_QUEUE_URL"]):
        assert invoke_worker(messages) == {"batchItemFailures": []}
        for message in messages:
            client("sqs").delete_message(
                QueueUrl=env["DELIVERY_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"]
            )
        handled += len(messages)
    return handled


def announced(receiver: Receiver, path: str, secret: str) -> list[dict[str, Any]]:
    """The envelopes `path` received, each checked to be signed with `secret`."""
    envelopes = []
    for request in receiver.received(path):
        assert verify_signature(secret, request.headers, request.body), request.headers
        envelopes.append(json.loads(request.body))
    return envelopes


def test_webhook_disabled_on_410_reaches_the_ops_receiver_signed_with_its_secret(
    ops_api: InProcessApi, alice: str, env: dict[str, str], receiver: Receiver
) -> None:
    api = ops_api
    ops_webhook(api, receiver.url("/ops"))
    secret = ops_secret(api)
    url = receiver.script("/gone", Script(statuses=[410]))
    hook = register(api, alice, url)
    publish(api, alice)
    drain(env)

    (envelope,) = announced(receiver, "/ops", secret)
    disabled_at = ok(api.request("GET", f"/v1/webhooks/{hook}", alice))["disabled_at"]
    assert envelope["type"] == "webhook.disabled"
    assert envelope["data"] == {
        "user_id": "alice",
        "webhook_id": hook,
        "url": url,
        "reason": "gone",
        "disabled_at": disabled_at,
    }
    alice_secret = ok(api.request("GET", "/v1/secret", alice))["secret"]
    (request,) = receiver.received("/ops")
    assert not verify_signature(alice_secret, request.headers, request.body)
    # An ordinary `_ops` event: the admin reads it like any user's.
    events = ok(api.request("GET", f"/v1/events?user_id={OPS}", ADMIN_KEY))["data"]
    assert [event["id"] for event in events] == [envelope["id"]]


def test_webhook_disabled_for_failing_is_announced_once(
    ops_api: InProcessApi,
    alice: str,
    env: dict[str, str],
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two failures past the threshold in one batch race to disable it: one announcement."""
    api = ops_api
    monkeypatch.setenv("WEBHOOKS_DISABLE_AFTER_SECONDS", "100")
    settings.cache_clear()
    ops_webhook(api, receiver.url("/ops"))
    secret = ops_secret(api)
    hook = register(api, alice, receiver.script("/down", Script(statuses=[500])))
    now = [time.time()]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    publish(api, alice)
    drain(env)
    now[0] += 100
    publish(api, alice)
    publish(api, alice)
    drain(env)

    assert len(receiver.received("/down")) == 3
    (envelope,) = announced(receiver, "/ops", secret)
    assert envelope["type"] == "webhook.disabled"
    assert (envelope["data"]["webhook_id"], envelope["data"]["reason"]) == (hook, "failing")


def test_delivery_exhausted_reaches_the_ops_receiver(
    ops_api: InProcessApi, alice: str, env: dict[str, str], receiver: Receiver
) -> None:
    api = ops_api
    ops_webhook(api, receiver.url("/ops"))
    secret = ops_secret(api)
    hook = register(
        api, alice, receiver.script("/down", Script(statuses=[503])), retry={"attempts": 0}
    )
    published = publish(api, alice)
    drain(env)

    (delivery,) = published["deliveries"]
    (envelope,) = announced(receiver, "/ops", secret)
    assert envelope["type"] == "delivery.exhausted"
    data = envelope["data"]
    assert data == {
        "user_id": "alice",
        "webhook_id": hook,
        "delivery_id": delivery["delivery_id"],
        "event_id": published["event_id"],
        "event_type": "user.created",
        "attempts": 1,
        "last_status_code": 503,
        "last_error": data["last_error"],
    }
    assert data["last_error"]  # the error the attempt recorded
    dead = ok(api.request("GET", f"/v1/deliveries/{delivery['delivery_id']}", alice))
    assert dead["status"] == "failed" and dead["last_error"] == data["last_error"]


def test_secret_rotated_reaches_the_ops_receiver(
    ops_api: InProcessApi, alice: str, env: dict[str, str], receiver: Receiver
) -> None:
    api = ops_api
    ops_webhook(api, receiver.url("/ops"))
    secret = ops_secret(api)
    rotated = ok(api.request("POST", "/v1/secret/rotate", alice, {"grace_seconds": 3600}))
    drain(env)

    (envelope,) = announced(receiver, "/ops", secret)
    assert envelope["type"] == "secret.rotated"
    assert envelope["data"] == {
        "user_id": "alice",
        "previous_expires_at": rotated["previous_expires_at"],
    }
    assert rotated["previous_expires_at"]


def test_ops_webhooks_failing_exhausting_or_gone_announce_nothing(
    ops_api: InProcessApi, alice: str, env: dict[str, str], receiver: Receiver
) -> None:
    """No loops: one event to `_ops`, whose failing webhooks would each announce something."""
    api = ops_api
    ops_webhook(api, receiver.url("/ops"))
    secret = ops_secret(api)
    exhausted = ops_webhook(
        api, receiver.script("/ops-down", Script(statuses=[500])), retry={"attempts": 0}
    )
    gone = ops_webhook(api, receiver.script("/ops-gone", Script(statuses=[410])))
    ok(api.request("POST", "/v1/secret/rotate", alice))
    assert drain(env) == 3  # the one event's three deliveries, and nothing after them

    assert [e["type"] for e in announced(receiver, "/ops", secret)] == ["secret.rotated"]
    events = ok(api.request("GET", f"/v1/events?user_id={OPS}", ADMIN_KEY))["data"]
    assert [event["type"] for event in events] == ["secret.rotated"]
    hooks = {
        h["id"]: h for h in ok(api.request("GET", f"/v1/webhooks?user_id={OPS}", ADMIN_KEY))["data"]
    }
    assert (hooks[gone]["active"], hooks[gone]["disabled_reason"]) == (False, "gone")
    assert hooks[exhausted]["active"] is True
    assert len(receive_all(env["DELIVERY_DLQ_URL"])) == 1  # the exhausted `_ops` delivery
    # Rotating `_ops`'s own secret announces nothing either.
    ok(api.request("POST", f"/v1/secret/rotate?user_id={OPS}", ADMIN_KEY))
    assert drain(env) == 0


def test_a_failed_announcement_never_fails_the_delivery(
    ops_api: InProcessApi,
    alice: str,
    env: dict[str, str],
    receiver: Receiver,
    faults: FaultSet,
) -> None:
    """`_ops`'s webhooks cannot be read (DynamoDB Query fails): the 410 is still recorded and
    the webhook disabled; the worker reports no failure, so SQS sends nothing again."""
    api = ops_api
    ops_webhook(api, receiver.url("/ops"))
    hook = register(api, alice, receiver.script("/gone", Script(statuses=[410])))
    published = publish(api, alice)
    fault = faults("dynamodb", "Query", kind="5xx")
    assert drain(env) == 1
    assert fault.injected >= 1
    fault.clear()

    (delivery,) = published["deliveries"]
    found = ok(api.request("GET", f"/v1/deliveries/{delivery['delivery_id']}", alice))
    assert (found["status"], found["last_status_code"]) == ("failed", 410)
    view = ok(api.request("GET", f"/v1/webhooks/{hook}", alice))
    assert (view["active"], view["disabled_reason"]) == (False, "gone")
    assert receiver.received("/ops") == []


def test_an_ops_webhook_the_service_disabled_keeps_the_workers_announcements_as_skipped(
    ops_api: InProcessApi, alice: str, env: dict[str, str], receiver: Receiver
) -> None:
    """The worker's own announcement to an `_ops` webhook the service disabled is a `skipped`
    delivery, written with its event (README "Skipped deliveries and recover"): recover can
    send it once the receiver is back."""
    api = ops_api
    gone = ops_webhook(api, receiver.script("/ops-gone", Script(statuses=[410])))
    ok(api.request("POST", "/v1/secret/rotate", alice))
    assert drain(env) == 1  # `secret.rotated` meets the 410: the `_ops` webhook is disabled
    hook = register(api, alice, receiver.script("/alice-gone", Script(statuses=[410])))
    publish(api, alice)

    assert drain(env) == 1  # alice's delivery; `webhook.disabled` is not queued to `_ops`

    ok(api.request("GET", f"/v1/webhooks/{hook}", alice))
    path = f"/v1/webhooks/{gone}/deliveries?user_id={OPS}&status=skipped"
    (skipped,) = ok(api.request("GET", path, ADMIN_KEY))["data"]
    assert skipped["event_type"] == "webhook.disabled"
    assert len(receiver.received("/ops-gone")) == 1  # only the first announcement was sent

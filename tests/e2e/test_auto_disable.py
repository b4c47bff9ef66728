"""Local mode: an endpoint failing for WEBHOOKS_DISABLE_AFTER_SECONDS is disabled, and `_ops`'s
receiver hears of it (README "Failing endpoints: auto-disable", "Operational events").

The local service runs with the short threshold tests/support/local_service.py sets. One event
to an endpoint that always fails, retried every 4 s up to 20 times (its webhook's own retry
policy): its attempts outlast the threshold, and the first failure past it disables the webhook;
its next retry is then refused without being sent (so nothing reaches the shared DLQ).
"""

from __future__ import annotations

import json
from typing import Any

from shared.core import clock
from shared.core.ids import OPS_USER_ID
from shared.outbound.signing import verify_signature
from tests.support.local_api import LocalApi, unique, wait_until
from tests.support.local_service import DISABLE_AFTER_SECONDS
from tests.support.receiver import Receiver, Script

OPS = {"user_id": OPS_USER_ID}


def announcements(receiver: Receiver, path: str, secret: str, webhook_id: str) -> list[Any]:
    """The `webhook.disabled` envelopes about `webhook_id` that `path` received, each checked to
    be signed with `secret` (other tests' webhooks may be disabled meanwhile)."""
    found = []
    for request in receiver.received(path):
        assert verify_signature(secret, request.headers, request.body), request.headers
        envelope = json.loads(request.body)
        if envelope["data"]["webhook_id"] == webhook_id:
            found.append(envelope)
    return found


def test_a_failing_endpoint_is_disabled_and_ops_receives_webhook_disabled(
    local: Any, receiver: Receiver
) -> None:
    admin = LocalApi(local.base_url, {"x-api-key": local.admin_key})
    ops_path = "/" + unique("ops")
    body = {"url": receiver.url(ops_path), "events": ["webhook.disabled"]}
    ops_hook = admin.ok("POST", "/v1/webhooks", 201, params=OPS, json=body)
    try:
        secret = admin.ok("GET", "/v1/secret", params=OPS)["secret"]
        user_id = unique("auto-disable")
        alice = LocalApi(local.base_url, local.new_user(user_id))
        path = "/" + unique("down")
        every_4s = {"attempts": 20, "backoff": "fixed", "initial_delay_seconds": 4}
        url = receiver.script(path, Script(statuses=[500]))
        hook = alice.create_webhook(url, ["job.*"], retry=every_4s)
        first = alice.publish("job.failed", {"n": 0})["deliveries"][0]["delivery_id"]

        def disabled() -> dict[str, Any] | None:
            view = dict(alice.ok("GET", f"/v1/webhooks/{hook['id']}"))
            return None if view["active"] else view

        view = wait_until(disabled, timeout=DISABLE_AFTER_SECONDS * 2 + 30, interval=1)
        assert view, "the failing webhook was never disabled"
        assert view["disabled_reason"] == "failing"
        # Disabled by a failure at least WEBHOOKS_DISABLE_AFTER_SECONDS after the first one.
        started = alice.delivery(first)["attempt_log"][0]["started_at"]
        waited = clock.parse_iso(view["disabled_at"]) - clock.parse_iso(started)
        assert waited >= DISABLE_AFTER_SECONDS, (started, view["disabled_at"])

        heard = wait_until(lambda: announcements(receiver, ops_path, secret, hook["id"]), 30)
        assert heard, "the _ops receiver got no webhook.disabled"
        (envelope,) = heard
        assert envelope["type"] == "webhook.disabled"
        assert envelope["data"] == {
            "user_id": user_id,
            "webhook_id": hook["id"],
            "url": hook["url"],
            "reason": "failing",
            "disabled_at": view["disabled_at"],
        }
        # Fixed and enabled again: the reason is gone and the streak starts afresh.
        receiver.script(path, Script(statuses=[200]))
        again = alice.ok("PATCH", f"/v1/webhooks/{hook['id']}", json={"active": True})
        assert (again["active"], again["disabled_reason"], again["disabled_at"]) == (
            True,
            None,
            None,
        )
    finally:
        admin.ok("DELETE", f"/v1/webhooks/{ops_hook['id']}", 204, params=OPS)

"""The logs of a full delivery (signed by two secrets during a rotation, a failed attempt then a
success) and of an inbound event hold no secret, no API key and no body.

Everything local mode runs (API, publish, pollers, delivery worker, inbound functions) writes
to one combined log file, `local.log_path`; this test reads it after the traffic it makes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import requests

from tests.support.local_api import LocalApi, github_body, github_headers, unique, wait_until
from tests.support.receiver import Script

BANNER_END = "Press Ctrl-C to stop."


def log_text(path: Path) -> str:
    """The log after the startup banner (which shows the admin key, as the README says)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    _, found, rest = text.partition(BANNER_END)
    assert found, "local mode printed no banner"
    return rest


def json_records(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def forms(value: str) -> set[str]:
    """A secret as it could leak: itself, JSON-escaped, and (for whcms_) its key part."""
    found = {value, json.dumps(value)[1:-1]}
    if value.startswith("whcms_"):
        found.add(value.removeprefix("whcms_"))
        found.add(base64.b64decode(value.removeprefix("whcms_")).hex())
    return found


def test_logs_of_a_delivery_hold_no_secret_key_or_body(local: Any, receiver: Any) -> None:
    user_id = unique("logs")
    headers = local.new_user(user_id)
    api_key = headers["x-api-key"]
    api = LocalApi(local.base_url, headers)
    marker = unique("request-body-marker")
    response_marker = unique("response-body-marker")
    header_marker = unique("static-header-marker")

    first_secret = api.ok("GET", "/v1/secret")["secret"]
    second_secret = api.ok("POST", "/v1/secret/rotate", json={"grace_seconds": 3600})["secret"]
    assert first_secret != second_secret
    path = "/" + unique("logs")
    url = receiver.script(
        path, Script(statuses=[500, 200], body=f"{response_marker} echo".encode())
    )
    hook = api.create_webhook(url, ["audit.logged"], headers={"X-Static": header_marker})
    published = api.publish("audit.logged", {"note": marker, "nested": {"also": marker}})
    delivery_id = published["deliveries"][0]["delivery_id"]
    delivered = wait_until(
        lambda: (view := api.delivery(delivery_id))["status"] == "succeeded" and view, timeout=60
    )
    assert delivered, api.delivery(delivery_id)
    assert [entry["status_code"] for entry in delivered["attempt_log"]] == [500, 200]
    # The API shows the answer (cut at 1 KB); the logs must not.
    assert response_marker in (delivered["attempt_log"][0]["response_body"] or "")
    requests_seen = receiver.received(path)
    assert len(requests_seen) == 2
    # Both secrets signed the delivery: the rotation grace window is on.
    assert len(requests_seen[-1].headers["X-Webhook-Signature"].split(" ")) == 2
    assert marker.encode() in requests_seen[-1].body

    # Errors too: a refused body and a bad key are answered without being logged.
    refused = api.post("/v1/events", json={"type": "NOT A TYPE", "data": {"note": marker}})
    assert refused.status_code == 422
    wrong_key = "wk_" + unique("not-a-key").replace("-", "")
    assert api.get("/v1/events", headers={"x-api-key": wrong_key}).status_code == 401
    assert (
        requests.get(
            f"{local.base_url}/v1/events",
            headers={"Authorization": f"Bearer {wrong_key}x"},
            timeout=10,
        ).status_code
        == 401
    )
    # A test send and a replay add more log lines of the same kinds.
    api.ok("POST", f"/v1/webhooks/{hook['id']}/test", 202)
    api.ok("POST", f"/v1/events/{published['event_id']}/replay", 202, json={})
    assert len(receiver.wait_for(path, 4)) == 4

    # An inbound event, verified, processed, and forwarded (the raw body goes out again).
    source_secret = unique("github-source-secret")
    inbound_marker = unique("inbound-body-marker")
    forward_path = "/" + unique("forward")
    source = api.create_source(
        "github", source_secret, forward_url=receiver.script(forward_path, Script())
    )
    inbound_body = github_body(inbound_marker, commits=[{"message": inbound_marker}])
    inbound_headers = github_headers(source_secret, inbound_body)
    inbound_id = api.inbound(source["id"], inbound_body, inbound_headers)["event_id"]
    (forwarded,) = receiver.wait_for(forward_path, 1)
    assert forwarded.body == inbound_body
    assert wait_until(lambda: api.event(inbound_id)["status"] == "processed")
    # A bad signature, with the secret itself as the signature, is refused and not logged.
    refused_inbound = requests.post(
        f"{local.base_url}/inbound/{source['id']}",
        data=inbound_body,
        headers={**inbound_headers, "X-Hub-Signature-256": f"sha256={source_secret}"},
        timeout=10,
    )
    assert refused_inbound.status_code == 401

    text = wait_until(
        lambda: (
            (found := log_text(local.log_path))
            and delivery_id in found
            and inbound_id in found
            and found
        ),
        timeout=10,
    )
    assert text, "the delivery left no log line"
    # The logs are structured and carry the correlation ids of the delivery...
    records = json_records(text)
    attempts = [r for r in records if r.get("delivery_id") == delivery_id]
    assert {r.get("attempt") for r in attempts} >= {1, 2}
    assert all(r.get("event_id") == published["event_id"] for r in attempts)
    assert all(r.get("webhook_id") == hook["id"] for r in attempts)
    assert all(r.get("level") and r.get("service") for r in attempts)
    inbound = [r for r in records if r.get("event_id") == inbound_id]
    assert any(r.get("source_id") == source["id"] for r in inbound)
    # ...and never a secret, a key or a body.
    leaks = {
        "API key": forms(api_key),
        "wrong API key": forms(wrong_key),
        "admin API key": forms(local.admin_key),
        "previous whcms_ secret": forms(first_secret),
        "current whcms_ secret": forms(second_secret),
        "request body": {marker},
        "response body": {response_marker},
        "static header value": {header_marker},
        "inbound source secret": forms(source_secret),
        "inbound body": {inbound_marker},
    }
    for what, values in leaks.items():
        for value in values:
            assert value not in text, f"the logs hold the {what}"

"""Small helpers for end-to-end tests that speak to local mode over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import requests

TIMEOUT = 15


def unique(prefix: str) -> str:
    """A user id, path or marker no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class LocalApi:
    """`requests` bound to a local service base URL and one caller's headers."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.base_url = base_url
        self.headers = headers

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(
            method, self.base_url + path, headers=headers, timeout=TIMEOUT, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        reply = self.call(method, path, **kwargs)
        assert reply.status_code == status, (method, path, reply.status_code, reply.text[:800])
        return reply.json() if reply.content else None

    def create_webhook(self, url: str, events: list[str], **fields: Any) -> dict[str, Any]:
        return dict(
            self.ok("POST", "/v1/webhooks", 201, json={"url": url, "events": events, **fields})
        )

    def publish(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        return dict(self.ok("POST", "/v1/events", 202, json={"type": event_type, "data": data}))

    def event(self, event_id: str) -> dict[str, Any]:
        return dict(self.ok("GET", f"/v1/events/{event_id}"))

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        return dict(self.ok("GET", f"/v1/deliveries/{delivery_id}"))

    def create_source(self, provider: str, secret: str, **fields: Any) -> dict[str, Any]:
        body = {"name": unique(provider), "provider": provider, "secret": secret, **fields}
        return dict(self.ok("POST", "/v1/sources", 201, json=body))

    def inbound(self, source_id: str, body: bytes, headers: dict[str, str]) -> Any:
        """`POST /inbound/{source_id}` (public: no API key is sent)."""
        reply = requests.post(
            f"{self.base_url}/inbound/{source_id}", data=body, headers=headers, timeout=TIMEOUT
        )
        assert reply.status_code == 200, reply.text
        return reply.json()

    def dlq(self, queue: str = "delivery") -> list[dict[str, Any]]:
        return list(self.ok("GET", "/v1/admin/dlq", params={"queue": queue})["data"])


def error_code(reply: requests.Response) -> str:
    body = reply.json()
    assert set(body) == {"error"}, body
    return str(body["error"]["code"])


def github_headers(secret: str, body: bytes, event: str = "push") -> dict[str, str]:
    """What GitHub sends: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Event": event,
    }


def hmac_headers(secret: str, body: bytes, header: str = "X-Signature") -> dict[str, str]:
    """A custom `hmac` source with the default rule: hex HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", header: digest}


def github_body(marker: str, **fields: Any) -> bytes:
    return json.dumps(
        {"ref": "refs/heads/main", "marker": marker, "after": uuid.uuid4().hex, **fields}
    ).encode()


def wait_until(check: Any, timeout: float = 60.0, interval: float = 0.2) -> Any:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    return last

"""Receive Serverless Webhooks deliveries in Python (standard library only).

Verifies `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>` on the
raw body, in constant time, accepting any of the signatures sent during a secret rotation and
refusing timestamps more than five minutes away (replay protection).

Run it as a tiny receiver:

    WEBHOOK_SECRET=whcms_... PORT=9000 python receiver.py
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 300


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when one of the `sha256=` signatures matches; `body` is the exact bytes received."""
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    timestamp = lowered.get("x-webhook-timestamp", "").strip()
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    moment = time.time() if now is None else now
    if abs(moment - int(timestamp)) > tolerance:
        return False
    message = timestamp.encode() + b"." + body
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().encode()
    matched = False
    for part in lowered.get("x-webhook-signature", "").split():
        if part.startswith("sha256="):
            given = part[len("sha256=") :].encode("utf-8", "replace")
            matched |= hmac.compare_digest(given, expected)
    return matched


class WebhookHandler(BaseHTTPRequestHandler):
    secret = os.environ.get("WEBHOOK_SECRET", "")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if not verify_webhook(self.secret, dict(self.headers.items()), body):
            self._answer(401, {"error": "invalid signature"})
            return
        event = json.loads(body)
        # Deliveries are at-least-once: use event["id"] to skip one you already handled.
        print(f"received {event['type']} {event['id']}", flush=True)
        self._answer(200, {"received": True})

    def _answer(self, status: int, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    port = int(os.environ.get("PORT", "9000"))
    server = HTTPServer(("127.0.0.1", port), WebhookHandler)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it
        server.serve_forever()


if __name__ == "__main__":
    main()

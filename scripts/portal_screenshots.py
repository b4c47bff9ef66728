"""Screenshots of the consumer portal for the README: `python -m scripts.portal_screenshots`.

Run by hand (never by the tests): starts local mode on free ports and a receiver on 127.0.0.1,
gives a made-up customer a few deliveries (one endpoint that answers 200, one that fails), then
photographs the main views in headless Chromium at 1280 px and at 375 px into docs/portal/.
Needs Debian's `chromium` (`make browser`), like the browser tests.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Page, expect, sync_playwright

from infra.local.launch import ROOT, free_port, spawn, wait_healthy

OUT = ROOT / "docs" / "portal"
ADMIN_KEY = "wk_screenshots_admin_key"
CHROMIUM = "/usr/bin/chromium"  # Debian's, which `make browser` installs (the tests use it too)
# Without the background-networking flags chromium keeps calling Google's services, which on a
# closed network floods it with refused connections.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIZES = {"desktop": {"width": 1280, "height": 900}, "mobile": {"width": 375, "height": 812}}


class Answer(BaseHTTPRequestHandler):
    """200 on every path but `/failing`, which answers 503."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        failing = self.path.startswith("/failing")
        body = b'{"error": "maintenance"}' if failing else b'{"received": true}'
        self.send_response(503 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def local_mode() -> Iterator[str]:
    port, moto_port = free_port(), free_port()
    env = {
        **os.environ,
        "WEBHOOKS_PORT": str(port),
        "MOTO_PORT": str(moto_port),
        "WEBHOOKS_ADMIN_API_KEY": ADMIN_KEY,
        "WEBHOOKS_RETRY_SCHEDULE": "1,1,1",
        "WEBHOOKS_LOCAL_RETRY_VISIBILITY_SECONDS": "1",
    }
    with tempfile.TemporaryFile() as log:
        process = spawn(env, log)
        base_url = f"http://127.0.0.1:{port}"
        try:
            if not wait_healthy(base_url, process, 90):
                raise RuntimeError("local mode did not start")
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=15)


def call(base_url: str, key: str, method: str, path: str, body: Any = None) -> Any:
    reply = requests.request(
        method, base_url + path, headers={"x-api-key": key}, json=body, timeout=10
    )
    reply.raise_for_status()
    return reply.json() if reply.content else None


def seed(base_url: str, hooks_at: str) -> str:
    """A customer with two endpoints and their deliveries; returns its portal link."""
    key = call(base_url, ADMIN_KEY, "POST", "/v1/admin/api-keys", {"user_id": "acme"})["api_key"]
    call(
        base_url,
        key,
        "POST",
        "/v1/webhooks",
        {
            "url": f"{hooks_at}/orders",
            "events": ["order.*"],
            "filter": "data.amount > `100`",
            "description": "Order system",
        },
    )
    call(base_url, key, "POST", "/v1/webhooks", {"url": f"{hooks_at}/failing", "events": ["*"]})
    for amount in (120, 250, 990):
        call(
            base_url, key, "POST", "/v1/events", {"type": "order.paid", "data": {"amount": amount}}
        )
    time.sleep(8)  # the failing endpoint's attempts: 1 + the 3 retries of the 1,1,1 schedule
    return str(call(base_url, key, "POST", "/v1/portal/sessions", {})["url"])


def views(page: Page) -> Iterator[tuple[str, Callable[[], None]]]:
    """(name, step that shows it), in an order each step can follow the last."""

    def endpoint() -> None:
        page.get_by_role("row", name="/failing").get_by_role("button", name="Open").click()
        page.locator("table.deliveries tbody tr[data-status]").first.wait_for()
        page.locator("dl.stats dt").first.wait_for()

    def attempts() -> None:
        page.locator("table.deliveries tbody tr[data-status]").first.get_by_role(
            "button", name="Open"
        ).click()
        page.locator("table.attempts").wait_for()

    def secret() -> None:
        page.get_by_role("button", name="Signing secret").click()
        page.locator("#secret-value").wait_for()

    yield "webhooks", lambda: page.get_by_role("heading", name="Endpoints").wait_for()
    yield "webhook", endpoint
    yield "delivery", attempts
    yield "secret", secret


def photograph(link: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for size, viewport in SIZES.items():
            page = browser.new_page(viewport=viewport)  # type: ignore[arg-type]
            page.goto(link)
            for name, step in views(page):
                step()
                expect(page.locator("#view")).to_have_attribute("aria-busy", "false")
                target = out / f"{name}-{size}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
            page.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with receiver() as hooks_at, local_mode() as base_url:
        for path in photograph(seed(base_url, hooks_at), args.out):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()

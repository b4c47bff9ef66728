"""The consumer portal in headless Chromium (Debian's `chromium`, driven by Playwright's Python
client: no browser download). One local service, one receiver and one browser for the session;
a fresh browser context (cookies, storage) per test, each test with a user of its own.

`make test` installs chromium when it is missing (Makefile `browser` target).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, Playwright, Request, expect, sync_playwright

from scripts.portal_screenshots import CHROMIUM, CHROMIUM_ARGS
from shared.core import clock
from tests.support.local_api import wait_until
from tests.support.local_service import LocalService, running_local_service
from tests.support.receiver import Receiver

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}


@pytest.fixture(scope="session")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    with running_local_service(tmp_path_factory) as service:
        yield service


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@dataclass
class Customer:
    """One end customer: their API key (for the test's own calls) and a portal link."""

    local: LocalService
    user_id: str
    key: dict[str, str]
    link: str
    token: str
    requests_seen: list[Request] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        reply = requests.request(
            method, f"{self.local.base_url}{path}", headers=self.key, json=body, timeout=10
        )
        assert reply.ok, (reply.status_code, reply.text)
        return reply.json() if reply.content else None

    def publish(self, event_type: str, data: dict[str, Any]) -> str:
        return str(self.call("POST", "/v1/events", {"type": event_type, "data": data})["event_id"])

    def expired_link(self) -> str:
        """A session record past its `expires_at` that DynamoDB has not swept yet."""
        token = "wps_expired_" + uuid.uuid4().hex
        dynamodb = self.local.client("dynamodb")
        (table,) = [name for name in dynamodb.list_tables()["TableNames"] if "ApiKeys" in name]
        dynamodb.put_item(
            TableName=table,
            Item={
                "key_hash": {"S": hashlib.sha256(token.encode()).hexdigest()},
                "key_id": {"S": "ps_expired" + uuid.uuid4().hex[:8]},
                "user_id": {"S": self.user_id},
                "role": {"S": "user"},
                "created_at": {"S": clock.iso(clock.now() - 120)},
                "expires_at": {"N": str(int(clock.now()) - 60)},
            },
        )
        return f"{self.local.base_url}/portal#token={token}"


def new_customer(local: LocalService) -> Customer:
    user_id = "cust-" + uuid.uuid4().hex[:10]
    key = local.new_user(user_id)
    reply = requests.post(
        f"{local.base_url}/v1/portal/sessions", headers=key, json={"ttl_seconds": 900}, timeout=10
    )
    assert reply.status_code == 201, reply.text
    made = reply.json()
    return Customer(local, user_id, key, made["url"], made["token"])


@pytest.fixture
def customer(local: LocalService) -> Customer:
    return new_customer(local)


def open_page(
    browser: Browser, customer: Customer, link: str | None = None, **options: Any
) -> Page:
    """A new context (own storage) on the portal link; every request the page makes is kept."""
    context = browser.new_context(viewport=options.pop("viewport", DESKTOP), **options)
    page = context.new_page()
    page.on("request", lambda request: customer.requests_seen.append(request))
    page.goto(link or customer.link)
    return page


@pytest.fixture
def page(browser: Browser, customer: Customer) -> Iterator[Page]:
    opened = open_page(browser, customer)
    yield opened
    opened.context.close()


def poll(check: Any, timeout: float = 30.0) -> Any:
    return wait_until(check, timeout=timeout, interval=0.2)


# --- steps the tests share ----------------------------------------------------------------------


def path_for(name: str) -> str:
    return f"/{name}-{uuid.uuid4().hex[:8]}"


def create_endpoint(page: Page, url: str, events: str = "*", filter: str = "") -> None:
    """Fills and submits the "Add an endpoint" form; ends on the endpoint's page."""
    page.get_by_label("Endpoint URL").fill(url)
    page.get_by_label("Event types").fill(events)
    if filter:
        page.get_by_label("Filter (optional)").fill(filter)
    page.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("heading", level=2, name=url)).to_be_visible()


def settled(page: Page) -> None:
    """Waits until the page has no request out (it marks its main region `aria-busy` meanwhile);
    Playwright's "networkidle" is reached once per page load, so it cannot tell this."""
    expect(page.locator("#view")).to_have_attribute("aria-busy", "false")


def delivery_rows(page: Page) -> Any:
    return page.locator("table.deliveries tbody tr[data-status]")


def refresh_until(page: Page, status: str, count: int = 1) -> None:
    """Presses "Refresh deliveries" until `count` rows show `status` (the worker is async)."""

    def shown() -> bool:
        page.get_by_role("button", name="Refresh deliveries").click()
        settled(page)
        return delivery_rows(page).and_(page.locator(f'[data-status="{status}"]')).count() >= count

    assert poll(shown), page.locator("#view").inner_text()

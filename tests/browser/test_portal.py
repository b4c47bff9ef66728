"""An end customer with only a portal link, in headless Chromium (README "Consumer portal")."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser.conftest import (
    AXE,
    PHONE,
    Customer,
    create_endpoint,
    delivery_rows,
    open_page,
    path_for,
    poll,
    refresh_until,
    settled,
)
from tests.support.receiver import Receiver, Script

pytestmark = pytest.mark.xdist_group("browser")


def test_create_a_filtered_endpoint_and_follow_a_delivery(
    page: Page, customer: Customer, receiver: Receiver
) -> None:
    path = path_for("orders")
    create_endpoint(page, receiver.url(path), "order.*", "data.amount > `100`")
    expect(page.get_by_label("Filter (optional)")).to_have_value("data.amount > `100`")
    (hook,) = customer.call("GET", "/v1/webhooks")["data"]
    assert (hook["events"], hook["filter"]) == (["order.*"], "data.amount > `100`")
    big = customer.publish("order.paid", {"amount": 150})
    (received,) = receiver.wait_for(path, 1)
    assert json.loads(received.body)["id"] == big
    refresh_until(page, "succeeded")
    assert delivery_rows(page).count() == 1
    expect(delivery_rows(page).first).to_contain_text("order.paid")

    delivery_rows(page).first.get_by_role("button", name="Open").click()
    expect(page.get_by_role("heading", name="Attempt log")).to_be_visible()
    attempts = page.locator("table.attempts tbody tr")
    expect(attempts).to_have_count(1)
    expect(attempts.first.locator("td").nth(3)).to_have_text("200")
    expect(page.locator("dl.facts")).to_contain_text(big)


def test_retry_a_failed_delivery_and_filter_by_status(
    page: Page, customer: Customer, receiver: Receiver
) -> None:
    """Four failed attempts (the local retry schedule is 1,1,1) end the delivery as failed; a
    retry from the page then reaches the receiver, which now answers 200."""
    path = path_for("flaky")
    receiver.script(path, Script(statuses=[500, 500, 500, 500, 200]))
    create_endpoint(page, receiver.url(path))
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator("#notice")).to_contain_text("queued as delivery")
    refresh_until(page, "failed")

    page.get_by_label("Status").select_option("succeeded")
    settled(page)
    expect(delivery_rows(page)).to_have_count(0)
    page.get_by_label("Status").select_option("failed")
    expect(delivery_rows(page)).to_have_count(1)

    delivery_rows(page).first.get_by_role("button", name="Open").click()
    expect(page.locator("table.attempts tbody tr")).to_have_count(4)
    page.get_by_role("button", name="Retry now").click()
    expect(page.locator("#notice")).to_contain_text("Retry queued")
    receiver.wait_for(path, 5)

    def retried() -> bool:
        page.get_by_role("button", name="Refresh", exact=True).click()
        settled(page)
        return page.locator("table.attempts tbody tr").count() == 5

    assert poll(retried)
    expect(page.locator("dl.facts")).to_contain_text("succeeded")
    expect(page.locator("table.attempts tbody tr").last.locator("td").nth(3)).to_have_text("200")


def test_a_slow_older_answer_never_replaces_the_filtered_list(
    page: Page, customer: Customer, receiver: Receiver
) -> None:
    """The answer to "Refresh" (any status) is held back until after the user has filtered by
    "failed"; when it lands late, the list must stay the filtered one (empty here)."""
    path = path_for("late")
    create_endpoint(page, receiver.url(path))
    customer.publish("order.paid", {"amount": 1})
    receiver.wait_for(path, 1)
    refresh_until(page, "succeeded")

    held: list[Route] = []

    def hold_unfiltered(route: Route) -> None:
        if "status=" in route.request.url:
            route.continue_()
        else:
            held.append(route)

    page.route("**/deliveries?*", hold_unfiltered)
    page.get_by_role("button", name="Refresh deliveries").click()
    page.get_by_label("Status").select_option("failed")
    expect(page.locator("table.deliveries tbody")).to_have_text("No deliveries.")
    assert poll(lambda: page.evaluate("1") and len(held) == 1)  # evaluate lets Playwright dispatch
    held[0].continue_()
    settled(page)
    expect(page.locator("table.deliveries tbody")).to_have_text("No deliveries.")
    expect(delivery_rows(page)).to_have_count(0)


def test_reveal_and_rotate_the_secret(page: Page, customer: Customer) -> None:
    page.get_by_role("button", name="Signing secret").click()
    value = page.locator("#secret-value")
    expect(value).to_contain_text("•")
    masked = value.inner_text()
    page.get_by_role("button", name="Reveal").click()
    first = value.inner_text()
    assert first == customer.call("GET", "/v1/secret")["secret"]
    assert first != masked and "•" not in first

    page.get_by_label("Keep the old secret valid for (seconds)").fill("0")
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.locator("#notice")).to_contain_text("Secret rotated")
    expect(value).to_contain_text("•")  # masked again after the rotation
    page.get_by_role("button", name="Reveal").click()
    second = value.inner_text()
    assert second != first
    assert second == customer.call("GET", "/v1/secret")["secret"]


def test_an_expired_link_says_so(browser: Browser, customer: Customer) -> None:
    page = open_page(browser, customer, customer.expired_link())
    try:
        expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
        expect(page.locator("#nav")).to_be_hidden()
    finally:
        page.context.close()


HOSTILE = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'


def test_text_from_the_api_is_shown_as_text_and_never_runs(
    browser: Browser, customer: Customer, receiver: Receiver
) -> None:
    """A URL, a description and a receiver's answer carrying markup are shown literally (event
    types cannot carry it: the API accepts only `a.b` names). The page's CSP would block inline
    script anyway, so this context bypasses it: the proof is that the page never parses API
    text as HTML."""
    path = path_for("hostile")
    receiver.script(path, Script(statuses=[400], body=HOSTILE.encode()))
    hook = customer.call(
        "POST", "/v1/webhooks", {"url": receiver.url(path), "events": ["*"], "description": HOSTILE}
    )
    odd_url = receiver.url(path_for("odd")) + "?q=<script>window.__pwned=3</script>"
    customer.call("POST", "/v1/webhooks", {"url": odd_url, "events": ["none.ever"]})
    sent = customer.call("POST", f"/v1/webhooks/{hook['id']}/test")
    receiver.wait_for(path, 1)
    poll(lambda: customer.call("GET", f"/v1/deliveries/{sent['delivery_id']}")["attempts"])
    page = open_page(browser, customer, bypass_csp=True)
    try:
        expect(page.get_by_role("cell", name=odd_url, exact=True)).to_be_visible()
        page.get_by_role("row", name=hook["url"]).get_by_role("button", name="Open").click()
        expect(page.get_by_role("heading", level=2)).to_have_text(hook["url"])
        expect(page.get_by_label("Description")).to_have_value(HOSTILE)
        delivery_rows(page).first.get_by_role("button", name="Open").click()
        expect(page.locator("table.attempts")).to_contain_text(HOSTILE)
        assert page.evaluate("() => window.__pwned") is None
        assert page.locator("#view script, #view img").count() == 0
    finally:
        page.context.close()


def focused(page: Page) -> str:
    return str(
        page.evaluate(
            """() => {
              const el = document.activeElement;
              const label = el.labels && el.labels[0] ? el.labels[0].textContent : "";
              return `${el.tagName} ${label || el.textContent}`.trim();
            }"""
        )
    )


def tab_to(page: Page, text: str, key: str = "Tab", limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press(key)
        if text in focused(page):
            return
    raise AssertionError(f"Tab never reached {text!r}")


def test_keyboard_alone_creates_an_endpoint_and_switches_views(
    page: Page, receiver: Receiver
) -> None:
    expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
    url = receiver.url(path_for("keys"))
    tab_to(page, "Endpoint URL")
    page.keyboard.type(url)
    tab_to(page, "Event types")
    page.keyboard.press("Control+A")
    page.keyboard.type("invoice.*")
    tab_to(page, "Create endpoint")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2, name=url)).to_be_visible()
    tab_to(page, "Signing secret", key="Shift+Tab")  # back from the focused heading to the nav
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Signing secret", level=2)).to_be_visible()
    tab_to(page, "Reveal")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Hide")).to_be_focused()


def serious_violations(page: Page) -> list[str]:
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def each_main_view(page: Page, customer: Customer, receiver: Receiver) -> Any:
    """Walks the list, an endpoint with a delivery, its attempt log and the secret; yields each."""
    path = path_for("views")
    yield "webhooks list"
    create_endpoint(page, receiver.url(path))
    customer.publish("order.paid", {"amount": 1})
    receiver.wait_for(path, 1)
    refresh_until(page, "succeeded")
    yield "webhook detail"
    delivery_rows(page).first.get_by_role("button", name="Open").click()
    expect(page.locator("table.attempts tbody tr")).to_have_count(1)
    yield "delivery attempt log"
    page.get_by_role("button", name="Signing secret").click()
    page.get_by_role("button", name="Reveal").click()
    yield "secret"


def test_axe_finds_no_serious_violations_on_the_main_views(
    browser: Browser, customer: Customer, receiver: Receiver
) -> None:
    page = open_page(browser, customer, bypass_csp=True)  # so axe-core can be injected
    try:
        expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
        found = {}
        for view in each_main_view(page, customer, receiver):
            settled(page)
            found[view] = serious_violations(page)
        assert found == {view: [] for view in found}
        assert len(found) == 4
    finally:
        page.context.close()


def test_the_page_fits_375_pixels(browser: Browser, customer: Customer, receiver: Receiver) -> None:
    page = open_page(browser, customer, viewport=PHONE)
    try:
        expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
        widths = {}
        for view in each_main_view(page, customer, receiver):
            settled(page)
            widths[view] = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.body.scrollWidth]"
            )
        assert widths == {view: [375, 375] for view in widths}
    finally:
        page.context.close()


def test_the_token_stays_out_of_urls_and_storage_unless_remembered(
    page: Page, customer: Customer, receiver: Receiver
) -> None:
    expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
    create_endpoint(page, receiver.url(path_for("private")))
    page.get_by_role("button", name="Signing secret").click()
    expect(page.locator("#secret-value")).to_be_visible()
    assert page.evaluate("() => localStorage.length") == 0

    seen = customer.requests_seen
    assert len(seen) > 5
    assert [r.url for r in seen if customer.token in r.url] == []
    assert [r.url for r in seen if not r.url.startswith(customer.local.base_url + "/")] == []
    api_calls = [r for r in seen if "/v1/" in r.url]
    assert api_calls
    for request in api_calls:
        headers = request.all_headers()
        assert headers["authorization"] == f"Bearer {customer.token}"
        assert "referer" not in headers

    page.get_by_label("Remember this link on this device").check()
    assert page.evaluate("() => localStorage.getItem('webhooks-portal-token')") == customer.token
    page.get_by_label("Remember this link on this device").uncheck()
    assert page.evaluate("() => localStorage.length") == 0

    page.get_by_label("Remember this link on this device").check()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    expect(page.locator("#view")).to_contain_text("link no longer works")
    assert page.evaluate("() => [localStorage.length, location.hash]") == [0, ""]

    def refused() -> bool:  # other containers forget the session when their key cache expires
        reply = requests.get(
            f"{customer.local.base_url}/v1/webhooks",
            headers={"Authorization": f"Bearer {customer.token}"},
            timeout=10,
        )
        return reply.status_code == 401 and reply.json()["error"]["code"] == "session_expired"

    assert poll(refused)


def readme_example() -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- portal:start -->\s*```bash\n(.*?)```\s*<!-- portal:end -->", text, re.S
    )
    assert block, "README.md lost its portal session example"
    return block.group(1)


def test_the_readme_example_gives_a_link_that_opens_the_portal(
    browser: Browser, customer: Customer
) -> None:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_example()],
        env={**os.environ, "BASE": customer.local.base_url, "USER_KEY": customer.key["x-api-key"]},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    assert made["url"] == f"{customer.local.base_url}/portal#token={made['token']}"
    page = open_page(browser, customer, made["url"])
    try:
        expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
        expect(page.locator("#error")).to_be_empty()
    finally:
        page.context.close()


def test_edit_then_delete_an_endpoint(page: Page, customer: Customer, receiver: Receiver) -> None:
    url = receiver.url(path_for("edit"))
    create_endpoint(page, url)
    page.get_by_label("Description").fill("Billing")
    page.get_by_label("Filter (optional)").fill("data.currency == 'usd'")
    page.get_by_label("Extra headers").fill("X-Team: billing")
    page.get_by_label("Active").uncheck()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#notice")).to_have_text("Changes saved.")
    expect(page.get_by_text("Disabled", exact=True)).to_be_visible()
    (hook,) = customer.call("GET", "/v1/webhooks")["data"]
    assert (hook["description"], hook["filter"], hook["headers"], hook["active"]) == (
        "Billing",
        "data.currency == 'usd'",
        {"X-Team": "billing"},
        False,
    )

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete endpoint").click()
    expect(page.locator("#notice")).to_have_text("Endpoint deleted.")
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    assert customer.call("GET", "/v1/webhooks")["data"] == []


def test_an_api_error_is_shown_as_text(page: Page) -> None:
    create = page.get_by_role("button", name="Create endpoint")
    page.get_by_label("Endpoint URL").fill("ftp://example.com/<b>x</b>")
    page.get_by_label("Event types").fill("*")
    create.click()
    expect(page.locator("#error")).to_contain_text("body.url")
    assert page.locator("#error b").count() == 0

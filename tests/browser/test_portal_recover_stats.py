"""The portal's stats and recover panels (README "Consumer portal"), over
`GET /v1/webhooks/{id}/stats` and `POST /v1/webhooks/{id}/recover`."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    Customer,
    create_endpoint,
    delivery_rows,
    path_for,
    poll,
    refresh_until,
    settled,
)
from tests.support.receiver import Receiver, Script

pytestmark = pytest.mark.xdist_group("browser")


def stat(page: Page, name: str) -> str:
    """The value shown next to `name` in the statistics panel."""
    return str(
        page.locator("dl.stats dt", has_text=name)
        .locator("xpath=following-sibling::dd[1]")
        .inner_text()
    )


def test_stats_show_the_attempts_of_the_window(
    page: Page, customer: Customer, receiver: Receiver
) -> None:
    path = path_for("stats")
    create_endpoint(page, receiver.url(path))
    expect(page.locator("dl.stats")).to_contain_text("Attempts")
    assert stat(page, "Attempts") == "0"
    customer.publish("order.paid", {"amount": 1})
    receiver.wait_for(path, 1)
    refresh_until(page, "succeeded")

    def counted() -> bool:
        page.get_by_label("Window").select_option("1h")
        settled(page)
        return stat(page, "Attempts") == "1"

    assert poll(counted)
    assert stat(page, "Succeeded") == "1"
    assert stat(page, "Failed") == "0"
    assert stat(page, "Success rate") == "100 %"
    assert stat(page, "Last success") != "—"
    assert stat(page, "Last failure") == "—"
    expect(page.locator("#error")).to_be_empty()


def test_recover_queues_failed_deliveries_again(
    page: Page, customer: Customer, receiver: Receiver
) -> None:
    """Four failures end the delivery as failed (local retry schedule 1,1,1); the receiver then
    recovers, and "Recover" with the default window (the last day) sends it once more."""
    path = path_for("recover")
    receiver.script(path, Script(statuses=[500, 500, 500, 500, 200]))
    create_endpoint(page, receiver.url(path))
    customer.publish("order.paid", {"amount": 1})
    refresh_until(page, "failed")

    page.get_by_role("button", name="Recover").click()
    expect(page.locator("#notice")).to_have_text("1 delivery queued again.")
    assert len(receiver.wait_for(path, 5)) == 5
    refresh_until(page, "succeeded")
    assert delivery_rows(page).count() == 1

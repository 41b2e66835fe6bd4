"""Client tokens (/admins/tokens/): created (the secret shown once, with copy
feedback and ready commands for this very server), expiry checked, revoked."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from harness.server import Server
from tests.browser.chromium import no_horizontal_scroll, shoot


def open_tokens(page: Page, server: Server) -> None:
    page.goto(f"{server.base_url}/admins/tokens/")
    expect(page.locator("#create-token")).to_be_visible()


def create(page: Page, client: str, days: str = "") -> None:
    page.fill("#token-client", client)
    page.fill("#token-days", days)
    page.click("#create-token")


def test_creating_copying_and_revoking_a_token(page: Page, viewport: str, dashboard_server: Server) -> None:
    open_tokens(page, dashboard_server)
    client = f"browser-made-{viewport}"
    create(page, client, "30")
    token = page.locator("#new-token").inner_text()
    assert re.fullmatch(r"sgt[0-9a-f]{40}", token)
    page.click("#copy-token")
    expect(page.get_by_text("Token copied to the clipboard")).to_be_in_viewport()
    assert page.evaluate("navigator.clipboard.readText()") == token
    no_horizontal_scroll(page)  # the long curl line wraps inside the page
    shoot(page, "tokens")
    assert httpx.post(f"{dashboard_server.base_url}/api/fast_tasks/tasks/{token}/start/noop").status_code == 202

    token_row = page.locator(f'.token-row[data-client="{client}"]')
    token_row.locator(".revoke").click()
    expect(token_row).to_have_attribute("data-status", "revoked")
    assert httpx.post(f"{dashboard_server.base_url}/api/fast_tasks/tasks/{token}/start/noop").status_code == 401


def test_the_example_commands_use_this_server_address(wide_page: Page, dashboard_server: Server) -> None:
    page = wide_page
    open_tokens(page, dashboard_server)
    create(page, "commands-example")
    token = page.locator("#new-token").inner_text()
    curl = page.locator("#curl-line").inner_text()
    assert f"{dashboard_server.base_url}/api/example_task2/tasks/{token}/start/task2_with_args" in curl
    assert "$SPYGLASS" not in curl
    wscat = page.locator("#wscat-line").inner_text()
    assert f"{dashboard_server.ws_url}/ws/example_task2/tasks/{token}" in wscat


def test_an_expiry_that_is_not_in_the_future_is_refused(wide_page: Page, dashboard_server: Server) -> None:
    page = wide_page
    open_tokens(page, dashboard_server)
    for days in ("-1", "0", "99999"):
        create(page, f"expired-{days}", days)
        expect(page.locator("#token-error")).to_contain_text("between 0 and 3650")
        expect(page.locator("#new-token")).to_have_count(0)
        expect(page.locator(f'.token-row[data-client="expired-{days}"]')).to_have_count(0)

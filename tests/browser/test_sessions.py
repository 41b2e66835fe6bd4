"""Who sees the dashboard: the login page and where it returns to, and what a tab
left open gets once its session ends (logout elsewhere, or expiry)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, expect

from harness.server import Server
from tests.browser.chromium import ADMIN, Api, log_in, new_context, no_horizontal_scroll, row, shoot


def test_an_unauthenticated_visit_logs_in_and_returns_to_the_page_asked_for(
    browser: Browser, viewport: str, dashboard_server: Server
) -> None:
    context = new_context(browser, viewport)
    page = context.new_page()
    page.goto(f"{dashboard_server.base_url}/admins/workers/")
    expect(page).to_have_url(re.compile(r"/admins/login/?\?next=%2Fadmins%2Fworkers%2F"))
    page.fill("#user", ADMIN)
    page.fill("#password", "not the password")
    page.click("#login")
    expect(page.locator("#login-error")).to_contain_text("wrong user name or password")
    no_horizontal_scroll(page)
    shoot(page, "login")
    page.fill("#password", "correct horse battery staple")
    page.click("#login")
    expect(page).to_have_url(re.compile(r"/admins/workers/?$"))
    expect(page.locator("#worker-table")).to_be_visible()
    context.close()


def test_the_login_page_never_sends_you_to_another_site(browser: Browser, dashboard_server: Server) -> None:
    context = new_context(browser)
    page = context.new_page()
    page.goto(f"{dashboard_server.base_url}/admins/login?next=//evil.example/")
    page.fill("#user", ADMIN)
    page.fill("#password", "correct horse battery staple")
    page.click("#login")
    expect(page).to_have_url(re.compile(rf"^{re.escape(dashboard_server.base_url)}/admins/tasks/?$"))
    context.close()


def test_logout_in_one_tab_stops_the_others_and_their_buttons_do_nothing(
    browser: Browser, viewport: str, api: Api, dashboard_server: Server
) -> None:
    context = new_context(browser, viewport)
    live = context.new_page()
    log_in(live, dashboard_server.base_url)
    task_id = api.start("noop")
    api.wait_status(task_id, "Completed")
    run = context.new_page()
    run.goto(f"{dashboard_server.base_url}/admins/tasks/{task_id}")
    expect(run.locator("#run-delete")).to_be_visible()
    other = context.new_page()
    other.goto(f"{dashboard_server.base_url}/admins/tokens/")
    other.click("#logout")
    expect(other).to_have_url(re.compile(r"/admins/login"))

    expect(live).to_have_url(re.compile(r"/admins/login"), timeout=5_000)  # its live feed stopped
    later = api.start("noop")
    expect(row(live, later)).to_have_count(0)

    run.click("#run-delete")  # a page still showing its buttons: the server refuses them
    expect(run).to_have_url(re.compile(r"/admins/login"))
    assert api.task(task_id).status_code == 200
    context.close()


def test_an_expired_session_stops_the_live_feed(browser: Browser, api: Api, dashboard_server: Server) -> None:
    context = new_context(browser)
    page = context.new_page()
    log_in(page, dashboard_server.base_url)
    session = page.evaluate("localStorage.getItem('spyglass_admin_session')")
    assert session
    ended = httpx.post(f"{dashboard_server.base_url}/api/admin/logout", headers={"Authorization": f"Bearer {session}"})
    assert ended.status_code == 204
    expect(page).to_have_url(re.compile(r"/admins/login"), timeout=5_000)
    context.close()

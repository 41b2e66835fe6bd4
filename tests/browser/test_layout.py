"""Every page at 1400 px and at 390 px: no horizontal scroll, the navigation
reachable, tables read as cards on a phone; `/` leads to the dashboard and the
favicon is there."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from harness.server import Server
from tests.browser.chromium import Api, no_horizontal_scroll, row, shoot

PAGES = {
    "tasks": "/admins/tasks/",
    "start": "/admins/start/",
    "workers": "/admins/workers/",
    "tokens": "/admins/tokens/",
    "records": "/admin/task/",
    "home": "/",
}
NAV = ["Tasks", "Start", "Workers", "Tokens", "Records"]


@pytest.fixture(scope="module")
def some_tasks(api: Api) -> list[str]:
    """A store with content: empty pages fit any screen, full ones are the test."""
    _, token = api.token()
    started = [
        api.start("noop"),
        api.start("chatty", {"lines": 12}),
        api.start("fail"),
        api.start("steps", {"steps": 3}, token=token),
        api.start("files", token=token),
    ]
    for task_id in started:
        api.wait_status(task_id, "Completed", "Error")
    return started


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_fits_the_screen(
    page: Page, viewport: str, name: str, dashboard_server: Server, some_tasks: list[str]
) -> None:
    page.goto(dashboard_server.base_url + PAGES[name])
    expect(page.locator("h1, h2").first).to_be_visible()
    if name == "tasks":
        for task_id in some_tasks:
            expect(row(page, task_id)).to_be_attached()
    page.wait_for_timeout(500)  # charts and tables settle
    no_horizontal_scroll(page)
    shoot(page, name)


def test_the_run_view_fits_the_screen(page: Page, viewport: str, api: Api, dashboard_server: Server) -> None:
    task_id = api.start("files")
    api.wait_status(task_id, "Completed")
    page.goto(f"{dashboard_server.base_url}/admins/tasks/{task_id}")
    expect(page.locator(".artifact-link").first).to_be_visible()
    no_horizontal_scroll(page)


def test_the_navigation_is_reachable_and_tables_become_cards_on_a_phone(
    page: Page, viewport: str, api: Api, dashboard_server: Server
) -> None:
    task_id = api.start("noop")
    api.wait_status(task_id, "Completed")
    page.goto(f"{dashboard_server.base_url}/admins/tasks/")
    nav = page.locator("nav")
    for label in NAV:
        expect(nav.get_by_role("link", name=label)).to_be_in_viewport()
    expect(page.locator("#logout")).to_be_in_viewport()
    header = page.locator("#task-table thead")
    card = page.locator(f'.task-row[data-task-id="{task_id}"]')
    if viewport == "phone":
        expect(header).to_be_hidden()
        assert card.evaluate("e => getComputedStyle(e).display") == "block"
        expect(card.locator('td[data-label="Status"]')).to_contain_text("Completed")
    else:
        expect(header).to_be_visible()
        assert card.evaluate("e => getComputedStyle(e).display") == "table-row"
    nav.get_by_role("link", name="Workers").click()
    expect(page).to_have_url(re.compile(r"/admins/workers/?$"))


def test_the_landing_page_links_to_the_dashboard(page: Page, dashboard_server: Server) -> None:
    page.goto(dashboard_server.base_url + "/")
    page.click("#dashboard-link")
    expect(page).to_have_url(re.compile(r"/admins/tasks/?$"))
    expect(page.locator("#task-count")).to_be_visible()


def test_the_favicon_is_served(page: Page, dashboard_server: Server) -> None:
    response = httpx.get(f"{dashboard_server.base_url}/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/")
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page.goto(f"{dashboard_server.base_url}/admins/tasks/")
    icon = page.locator('link[rel="icon"]')
    expect(icon).to_have_attribute("href", "/favicon.ico")
    assert page.request.get(f"{dashboard_server.base_url}/favicon.ico").status == 200


def test_pages_are_revalidated_so_a_new_build_is_never_half_loaded(dashboard_server: Server) -> None:
    """A page cached across a deploy or restart would name scripts the new build lacks."""
    page = httpx.get(f"{dashboard_server.base_url}/admins/tasks/")
    assert page.headers["cache-control"] == "no-cache"
    script = re.search(r'src="(/assets/[^"]+\.js)"', page.text) or re.search(r'href="(/assets/[^"]+\.js)"', page.text)
    assert script is not None
    asset = httpx.get(dashboard_server.base_url + script.group(1))
    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]

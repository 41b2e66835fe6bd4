"""The workers view, and what a crash looks like from the dashboard: the server is
killed mid-task and started again; the admin is still logged in, the old worker
shows as dead and its task as Interrupted. (Last in this directory: it restarts
the shared server.)"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from harness.server import Server
from tests.browser.chromium import Api


def test_the_workers_view_shows_each_worker_live(page: Page, api: Api, dashboard_server: Server) -> None:
    workers = httpx.get(f"{dashboard_server.base_url}/api/admin/workers", headers=api.headers).json()
    alive = [w for w in workers if w["status"] == "alive"]
    assert len(alive) == 1
    page.goto(f"{dashboard_server.base_url}/admins/workers/")
    line = page.locator(f'.worker-row[data-worker="{alive[0]["id"]}"]')
    expect(line).to_have_attribute("data-status", "alive")
    expect(line).to_contain_text(str(alive[0]["pid"]))
    expect(page.locator("#workers-summary")).to_contain_text("1 alive worker(s) on 1 host(s)")
    task_id = api.start("forever")
    expect(line.locator('td[data-label="Running"]')).to_have_text("1", timeout=5_000)  # refreshed while open
    api_cancel = httpx.post(f"{dashboard_server.base_url}/api/tasks/{task_id}/cancel", headers=api.headers)
    assert api_cancel.status_code in (200, 202)


def test_after_a_crash_and_restart_the_admin_stays_in_and_sees_the_dead_worker_and_its_task(
    wide_page: Page, api: Api, dashboard_server: Server
) -> None:
    page = wide_page
    task_id = api.start("forever")
    api.wait_status(task_id, "Processing")
    before = httpx.get(f"{dashboard_server.base_url}/api/admin/workers", headers=api.headers).json()
    crashed = next(w["id"] for w in before if w["status"] == "alive")

    dashboard_server.kill()  # SIGKILL: no shutdown code runs
    dashboard_server.start()

    page.goto(f"{dashboard_server.base_url}/admins/workers/")  # the session survived the restart
    expect(page).to_have_url(re.compile(r"/admins/workers/?$"))
    expect(page.locator(f'.worker-row[data-worker="{crashed}"]')).to_have_attribute(
        "data-status", "dead", timeout=15_000
    )
    page.goto(f"{dashboard_server.base_url}/admins/tasks/{task_id}")
    expect(page.locator("#run-view .status-badge").first).to_have_text("Interrupted", timeout=15_000)

"""The dashboard of host B shows, live, the tasks that run on host A."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from harness.server import Server
from tests.browser.chromium import launch, log_in, new_context

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


def test_a_dashboard_on_one_host_shows_live_bars_of_tasks_running_on_the_other(
    hosts: tuple[Server, Server], browser: Browser
) -> None:
    a, b = hosts
    context = new_context(browser)
    page = context.new_page()
    log_in(page, b.base_url)
    task_id = httpx.post(f"{a.base_url}/api/fast_tasks/task/start/steps", json={"steps": 20, "interval": 0.2}).json()[
        "task_id"
    ]
    row = page.locator(f'.task-row[data-task-id="{task_id}"]')
    expect(row).to_have_attribute("data-status", "Processing")
    seen = set()
    for _ in range(20):
        seen.add(row.locator(".progress-text").inner_text())
        page.wait_for_timeout(150)
    assert len(seen) >= 3, seen  # the bar moved while the task ran on the other host
    expect(row).to_have_attribute("data-status", "Completed", timeout=15_000)
    context.close()

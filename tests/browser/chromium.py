"""Playwright on Debian's chromium, and the small helpers every dashboard test uses:
logging in, driving Radix selects, finding a task's row, and an admin API client
to set the scene and check what the dashboard did."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from harness.server import ROOT, Server

ADMIN, PASSWORD = "root", "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"wide": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}
DOCS = ROOT / "docs"
TIMEOUT_MS = 20_000


def launch() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing; scripts/setup.sh test installs it")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def new_context(browser: Browser, viewport: str = "wide", **options: Any) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORTS[viewport], **options)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    return context


def log_in(page: Page, base_url: str, path: str = "/admins/tasks/") -> None:
    """Through the login form, which sends the browser back to `path`."""
    page.goto(base_url + path)
    expect(page).to_have_url(re.compile(r"/admins/login"))
    page.fill("#user", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("#login")
    expect(page).to_have_url(re.compile(re.escape(path.split("?")[0]) + r"(\?.*)?$"))


def shoot(page: Page, name: str) -> None:
    """Screenshots refresh docs/ only when asked (SPYGLASS_SCREENSHOTS=1), so a test
    run leaves the checkout clean: `docs/<name>.png`, `docs/<name>-phone.png`."""
    if os.environ.get("SPYGLASS_SCREENSHOTS") != "1":
        return
    DOCS.mkdir(exist_ok=True)
    phone = (page.viewport_size or VIEWPORTS["wide"])["width"] < VIEWPORTS["wide"]["width"] // 2
    page.screenshot(path=str(DOCS / f"{name}{'-phone' if phone else ''}.png"), full_page=True)


def choose(page: Page, trigger: str, option: str) -> None:
    """Picks an option of a Radix select (a button and a listbox, not a <select>)."""
    page.click(trigger)
    page.get_by_role("option", name=option, exact=True).click()


def row(page: Page, task_id: str) -> Locator:
    return page.locator(f'.task-row[data-task-id="{task_id}"]')


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width} px wide"  # type: ignore[index]


class Api:
    """The admin HTTP API of the server under test (what a script would see)."""

    def __init__(self, server: Server) -> None:
        self.base_url = server.base_url
        session = httpx.post(f"{self.base_url}/api/admin/login", json={"user": ADMIN, "password": PASSWORD})
        session.raise_for_status()
        self.headers = {"Authorization": f"Bearer {session.json()['token']}"}

    def token(self, client: str | None = None) -> tuple[str, str]:
        """A fresh client (unique unless named) and its token."""
        name = client or f"c-{secrets.token_hex(4)}"
        response = httpx.post(f"{self.base_url}/api/admin/tokens", json={"client": name}, headers=self.headers)
        response.raise_for_status()
        return name, response.json()["token"]

    def start(self, task: str, body: dict[str, Any] | None = None, token: str | None = None) -> str:
        url = (
            f"{self.base_url}/api/fast_tasks/tasks/{token}/start/{task}"
            if token
            else f"{self.base_url}/api/fast_tasks/task/start/{task}"
        )
        response = httpx.post(url, json=body or {})
        assert response.status_code == 202, response.text
        return str(response.json()["task_id"])

    def task(self, task_id: str) -> httpx.Response:
        return httpx.get(f"{self.base_url}/api/tasks/{task_id}", headers=self.headers)

    def cancel(self, task_id: str) -> None:
        response = httpx.post(f"{self.base_url}/api/tasks/{task_id}/cancel", headers=self.headers)
        assert response.status_code in (200, 202), response.text

    def status(self, task_id: str) -> str:
        return str(self.task(task_id).json()["status"])

    def total(self, **filters: Any) -> int:
        params = {**filters, "include": "total", "limit": 1}
        response = httpx.get(f"{self.base_url}/api/tasks", params=params, headers=self.headers)
        response.raise_for_status()
        return int(response.json()["total"])

    def wait_status(self, task_id: str, *statuses: str, timeout: float = 15) -> str:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(task_id)
            if status in statuses:
                return status
            time.sleep(0.1)
        raise AssertionError(f"{task_id} stayed {self.status(task_id)}, not {statuses}")

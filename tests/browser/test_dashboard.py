"""The dashboard in a real browser (Playwright on Debian's chromium) against the
real app process started the way the README runs it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.server import ROOT, Server

pytestmark = pytest.mark.e2e

ADMIN, PASSWORD = "root", "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("dashboard")
    srv = Server(base / "data", base / "server.log", env={"SPYGLASS_ADMIN_USER": ADMIN, "SPYGLASS_ADMIN_PASSWORD": PASSWORD}).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing; scripts/setup.sh test installs it")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.goto(f"{server.base_url}/admins/login")
    tab.fill("#user", ADMIN)
    tab.fill("#password", PASSWORD)
    tab.click("#login")
    expect(tab.locator("#task-table")).to_be_visible()
    yield tab
    context.close()


def shoot(page: Page, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / name), full_page=True)


def choose(page: Page, trigger: str, option: str) -> None:
    page.click(trigger)
    page.get_by_role("option", name=option, exact=True).click()


def row(page: Page, task_id: str):  # noqa: ANN201
    return page.locator(f'.task-row[data-task-id="{task_id}"]')


def test_an_unauthenticated_visit_goes_to_the_login_page(browser: Browser, server: Server) -> None:
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(f"{server.base_url}/admins/tasks/")
    expect(tab).to_have_url(re.compile(r"/admins/login/?$"), timeout=20_000)
    expect(tab.locator("#login")).to_be_visible()
    tab.fill("#user", ADMIN)
    tab.fill("#password", "not the password")
    tab.click("#login")
    expect(tab.locator("#login-error")).to_contain_text("wrong user name or password")
    shoot(tab, "login.png")
    context.close()


def test_a_task_started_from_the_form_reaches_100_percent_and_shows_its_result(page: Page) -> None:
    choose(page, "#task-choice", "example_task2.task2_with_args")
    page.locator('.form-field[data-field="name"] input').fill("Matt")
    page.locator('.form-field[data-field="age"] input').fill("25")
    page.click("#start-task")
    expect(page.locator("#start-ok")).to_be_visible()
    task_id = page.locator("#start-ok").inner_text().split()[-1]
    line = row(page, task_id)
    expect(line).to_be_visible()
    expect(line.locator(".progress-text")).to_have_text("100%", timeout=15_000)
    expect(line).to_have_attribute("data-status", "Completed", timeout=5_000)
    line.click()
    expect(page.locator("#detail-result")).to_contain_text("Completed task for Matt, age 25")
    shoot(page, "tasks.png")


def test_bad_form_input_shows_the_error_at_the_field(page: Page) -> None:
    choose(page, "#task-choice", "example_task2.task2_with_args")
    page.locator('.form-field[data-field="age"] input').fill("")
    page.locator('.form-field[data-field="name"] input').fill("Matt")
    page.click("#start-task")
    expect(page.locator('.form-field[data-field="age"] .field-error')).to_contain_text("Field required")
    expect(page.locator('.form-field[data-field="name"] .field-error')).to_have_count(0)


def test_a_task_started_over_http_with_a_token_appears_live(page: Page, server: Server) -> None:
    created = httpx.post(
        f"{server.base_url}/api/admin/login", json={"user": ADMIN, "password": PASSWORD}
    ).json()["token"]
    token = httpx.post(f"{server.base_url}/api/admin/tokens", json={"client": "curl-user"}, headers={"Authorization": f"Bearer {created}"}).json()["token"]
    snap = httpx.post(f"{server.base_url}/api/fast_tasks/tasks/{token}/start/steps", json={"steps": 10, "interval": 0.2}).json()
    line = row(page, snap["task_id"])
    expect(line).to_be_visible()
    expect(line).to_contain_text("curl-user")
    expect(line).to_have_attribute("data-status", "Completed", timeout=15_000)


def test_cancelling_a_running_task_from_the_dashboard(page: Page, server: Server) -> None:
    task_id = httpx.post(f"{server.base_url}/api/fast_tasks/task/start/forever").json()["task_id"]
    line = row(page, task_id)
    expect(line).to_have_attribute("data-status", "Processing")
    line.click()
    page.click("#cancel-task")
    expect(line).to_have_attribute("data-status", "Cancelled")
    assert httpx.get(f"{server.base_url}/api/fast_tasks/task/result/{task_id}").json()["status"] == "Cancelled"


def test_creating_and_revoking_a_token(page: Page, server: Server) -> None:
    page.click("text=Client tokens")
    expect(page.locator("#token-table")).to_be_visible()
    page.fill("#token-client", "browser-made")
    page.fill("#token-days", "30")
    page.click("#create-token")
    token = page.locator("#new-token").inner_text()
    assert re.fullmatch(r"sgt[0-9a-f]{40}", token)
    assert httpx.post(f"{server.base_url}/api/fast_tasks/tasks/{token}/start/noop").status_code == 202
    shoot(page, "tokens.png")
    token_row = page.locator('.token-row[data-client="browser-made"]')
    token_row.locator(".revoke").click()
    expect(token_row).to_have_attribute("data-state", "revoked")
    assert httpx.post(f"{server.base_url}/api/fast_tasks/tasks/{token}/start/noop").status_code == 401


def test_the_records_admin_lists_every_task(page: Page) -> None:
    page.click("text=Records")
    expect(page.locator(".record-row").first).to_be_visible()
    shoot(page, "records.png")
    page.click("text=Live tasks")
    expect(page.locator("#task-table")).to_be_visible()



def test_a_hundred_tasks_ticking_ten_times_a_second_stay_live_and_responsive(page: Page, server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def start_one(_: int) -> str:
        response = httpx.post(f"{server.base_url}/api/fast_tasks/task/start/steps", json={"steps": 40, "interval": 0.1})
        return response.json()["task_id"]

    page.fill("#search", "")
    with ThreadPoolExecutor(max_workers=20) as pool:  # Playwright's sync API owns this thread's event loop
        ids = list(pool.map(start_one, range(100)))
    probe = row(page, ids[-1])
    expect(probe).to_have_attribute("data-status", "Processing", timeout=5_000)
    page.wait_for_timeout(1500)
    shown = int(probe.locator(".progress-text").inner_text().rstrip("%"))
    actual = httpx.get(f"{server.base_url}/api/fast_tasks/task/result/{ids[-1]}").json()["progress"]
    assert actual - shown <= 25, (shown, actual)  # under a second behind (10 steps = 25%)
    page.fill("#search", ids[0][:8])  # the page still answers while 1,000 updates/s stream in
    expect(page.locator(".task-row")).to_have_count(1, timeout=2_000)
    page.fill("#search", "")
    for task_id in ids:
        expect(row(page, task_id)).to_have_attribute("data-status", "Completed", timeout=10_000)

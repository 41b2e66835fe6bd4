"""The start page (/admins/start/): a form built from the task's argument schema,
one task per click, errors at the field, and a link to the run it started."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from harness.server import Server
from tests.browser.chromium import Api, choose


def open_start(page: Page, server: Server) -> None:
    page.goto(f"{server.base_url}/admins/start/")
    expect(page.locator("#start-task")).to_be_enabled()


def test_the_start_page_is_in_the_navigation(page: Page, dashboard_server: Server) -> None:
    page.goto(f"{dashboard_server.base_url}/admins/tasks/")
    page.locator("nav").get_by_role("link", name="Start").click()
    expect(page).to_have_url(re.compile(r"/admins/start/?$"))
    expect(page.locator("#start-task")).to_be_in_viewport()


def test_a_task_started_from_the_form_links_to_its_run_which_shows_the_result(
    page: Page, dashboard_server: Server
) -> None:
    open_start(page, dashboard_server)
    choose(page, "#task-choice", "example_task2.task2_with_args")
    page.locator('.form-field[data-field="name"] input').fill("Matt")
    page.locator('.form-field[data-field="age"] input').fill("25")
    page.click("#start-task")
    page.click("#started-link")
    expect(page).to_have_url(re.compile(r"/admins/tasks/[\w-]+$"))
    expect(page.locator("#run-title")).to_have_text("example_task2.task2_with_args")
    expect(page.locator("#run-result")).to_contain_text("Completed task for Matt, age 25", timeout=15_000)
    expect(page.locator("#run-view .progress-text").first).to_have_text("100%")


def test_bad_form_input_shows_the_error_at_the_field(wide_page: Page, dashboard_server: Server) -> None:
    page = wide_page
    open_start(page, dashboard_server)
    choose(page, "#task-choice", "example_task2.task2_with_args")
    page.locator('.form-field[data-field="age"] input').fill("")
    page.locator('.form-field[data-field="name"] input').fill("Matt")
    page.click("#start-task")
    expect(page.locator('.form-field[data-field="age"] .field-error')).to_contain_text("Field required")
    expect(page.locator('.form-field[data-field="name"] .field-error')).to_have_count(0)


def test_malformed_json_in_a_list_field_says_invalid_json(wide_page: Page, dashboard_server: Server) -> None:
    page = wide_page
    open_start(page, dashboard_server)
    choose(page, "#task-choice", "example_counter.process_items")
    page.locator('.form-field[data-field="items"] textarea').fill('["a", "b"')
    page.click("#start-task")
    error = page.locator('.form-field[data-field="items"] .field-error')
    expect(error).to_contain_text("invalid JSON")
    expect(error).not_to_contain_text("valid list")


def test_a_double_click_starts_one_task(wide_page: Page, api: Api, dashboard_server: Server) -> None:
    page = wide_page
    open_start(page, dashboard_server)
    choose(page, "#task-choice", "fast_tasks.noop")
    before = api.total(state="fast_tasks", task="noop")
    page.dblclick("#start-task")
    expect(page.locator("#start-ok")).to_be_visible()
    page.wait_for_timeout(1000)
    assert api.total(state="fast_tasks", task="noop") == before + 1
    page.wait_for_timeout(1000)  # a deliberate second start, later, does start
    page.click("#start-task")
    for _ in range(50):
        if api.total(state="fast_tasks", task="noop") == before + 2:
            break
        page.wait_for_timeout(100)
    assert api.total(state="fast_tasks", task="noop") == before + 2


def test_the_owner_resets_when_switching_to_a_static_task(wide_page: Page, api: Api, dashboard_server: Server) -> None:
    page = wide_page
    client, _ = api.token()
    open_start(page, dashboard_server)
    choose(page, "#task-choice", "example_counter.process_items")  # runs on a client's state
    choose(page, "#client-choice", client)
    expect(page.locator("#client-choice")).to_have_text(client)
    choose(page, "#task-choice", "fast_tasks.noop")  # a static task: tokenless unless chosen again
    expect(page.locator("#client-choice")).to_have_text("(direct)")
    page.click("#start-task")
    task_id = page.locator("#started-link").inner_text()
    assert api.task(task_id).json()["client"] is None

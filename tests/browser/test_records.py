"""The records admin (/admin/task/): the selection is the set of task ids ticked,
kept across pages and sorts, counted, and confirmed before anything is deleted."""

from __future__ import annotations

import secrets

from playwright.sync_api import Locator, Page, expect

from harness.server import Server
from tests.browser.chromium import Api, choose


def tick(page: Page, task_id: str) -> Locator:
    box = page.locator(f'.record-row[data-task-id="{task_id}"] .record-select')
    box.click()
    return box


def first_row_id(page: Page) -> str:
    return str(page.locator(".record-row").first.get_attribute("data-task-id"))


def test_deleting_the_selection_deletes_exactly_the_ticked_tasks_across_pages_and_sorts(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    marker = f"0.00{secrets.randbelow(10**6):06d}1"  # an argument only these tasks have
    ids = [api.start("steps", {"steps": 1, "interval": float(marker)}) for _ in range(30)]
    api.wait_status(ids[0], "Completed")
    page.goto(f"{dashboard_server.base_url}/admin/task/")
    page.fill("#records-search", marker)
    page.press("#records-search", "Enter")
    expect(page.locator(".record-row")).to_have_count(25)

    ticked = first_row_id(page)
    expect(tick(page, ticked)).to_have_attribute("aria-checked", "true")
    expect(page.locator("#selected-count")).to_have_text("1 selected")
    page.click("#records-next")
    expect(page.locator("#records-page")).to_have_text("page 2")
    expect(page.locator(".record-row")).to_have_count(5)
    shown_first = first_row_id(page)
    expect(page.locator(f'.record-row[data-task-id="{shown_first}"] .record-select')).to_have_attribute(
        "aria-checked", "false"
    )
    expect(page.locator("#selected-count")).to_have_text("1 selected")

    page.click("#delete-selected")
    expect(page.locator("#records-question")).to_have_text(
        "Delete the 1 selected task(s), with their logs and artifacts?"
    )
    page.click("#records-confirm")
    expect(page.get_by_text("deleted 1 task(s)")).to_be_in_viewport()
    expect(page.locator("#selected-count")).to_have_text("0 selected")
    assert api.task(ticked).status_code == 404
    assert api.task(shown_first).status_code == 200

    page.click("#records-sort")  # oldest first: the selection is still the ids ticked
    expect(page.locator("#records-sort")).to_have_text("Oldest first")
    oldest = first_row_id(page)
    tick(page, oldest)
    page.click("#records-sort")
    expect(page.locator("#selected-count")).to_have_text("1 selected")
    page.click("#delete-selected")
    page.click("#records-confirm")
    expect(page.get_by_text("deleted 1 task(s)").last).to_be_in_viewport()  # the first notice may linger
    assert api.task(oldest).status_code == 404
    assert sum(api.task(task_id).status_code == 200 for task_id in ids) == 28


def test_clear_empties_the_selection_and_esc_deletes_nothing(
    wide_page: Page, api: Api, dashboard_server: Server
) -> None:
    page = wide_page
    task_id = api.start("noop")
    api.wait_status(task_id, "Completed")
    page.goto(f"{dashboard_server.base_url}/admin/task/")
    page.fill("#records-search", task_id)
    page.press("#records-search", "Enter")
    expect(page.locator(".record-row")).to_have_count(1)
    tick(page, task_id)
    page.click("#delete-selected")
    expect(page.get_by_role("alertdialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("alertdialog")).to_be_hidden()
    assert api.task(task_id).status_code == 200
    page.click("#clear-selection")
    expect(page.locator("#selected-count")).to_have_text("0 selected")
    expect(page.locator("#delete-selected")).to_be_disabled()


def test_deleting_a_status_says_how_many_first(wide_page: Page, api: Api, dashboard_server: Server) -> None:
    page = wide_page
    failed = api.start("fail")
    api.wait_status(failed, "Error")
    page.goto(f"{dashboard_server.base_url}/admin/task/")
    choose(page, "#records-status", "Error")
    count = api.total(status="Error")
    page.click("#delete-status")
    expect(page.locator("#records-question")).to_have_text(
        f"Delete all {count} Error task(s), with their logs and artifacts?"
    )
    page.click("#records-confirm")
    expect(page.get_by_text(f"deleted {count} Error task(s)")).to_be_in_viewport()
    assert api.total(status="Error") == 0

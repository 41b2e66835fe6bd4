"""One task's run view (/admins/tasks/<task_id>): what it is and when it ran, a
timeline, live logs with level colours and a filter, arguments, result, artifacts
that download, and the actions, destructive ones confirmed."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from harness.server import Server
from tests.browser.chromium import Api, choose, shoot


def open_run(page: Page, server: Server, task_id: str) -> None:
    page.goto(f"{server.base_url}/admins/tasks/{task_id}")
    expect(page.locator("#run-id")).to_have_text(task_id)


def test_the_run_view_shows_the_task_its_times_timeline_logs_arguments_and_result(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    client, token = api.token()
    task_id = api.start("chatty", {"lines": 10, "interval": 0.01}, token=token)
    api.wait_status(task_id, "Completed")
    open_run(page, dashboard_server, task_id)
    expect(page.locator("#run-title")).to_have_text("fast_tasks.chatty")
    expect(page.locator("#run-view .status-badge").first).to_have_text("Completed")
    expect(page.locator("#run-view .progress-text").first).to_have_text("100%")
    facts = page.locator("#run-view .fact")
    expect(facts.first).to_have_text(client)
    expect(page.locator("#run-view .local-time").first).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))
    expect(page.locator("#time-zone")).to_contain_text("Times in your time zone")
    # the timeline: created, started, the ten log lines and the end, on one axis
    expect(page.locator('.timeline-mark[data-kind="created"]')).to_have_count(1)
    expect(page.locator('.timeline-mark[data-kind="started"]')).to_have_count(1)
    expect(page.locator('.timeline-mark[data-kind="log"]')).to_have_count(10)
    expect(page.locator('.timeline-mark[aria-label="completed"]')).to_have_count(1)
    # logs, coloured by level, filtered by level and text
    expect(page.locator(".log-line")).to_have_count(10)
    choose(page, "#log-level", "error")
    expect(page.locator(".log-line")).to_have_count(2)
    expect(page.locator('.log-line[data-level="error"]')).to_have_count(2)
    page.fill("#log-search", "line 7")
    expect(page.locator(".log-line")).to_have_count(1)
    expect(page.locator(".log-line")).to_contain_text("line 7")
    expect(page.locator("#run-args")).to_contain_text('"lines": 10')
    expect(page.locator("#run-result")).to_contain_text("10")
    shoot(page, "run")


def test_logs_of_a_running_task_arrive_live_and_the_view_follows_the_end(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    task_id = api.start("chatty", {"lines": 30, "interval": 0.1})
    open_run(page, dashboard_server, task_id)
    lines = page.locator(".log-line")
    expect(lines.first).to_be_visible()
    assert lines.count() < 30  # the page came before the end: the rest streams in
    expect(lines).to_have_count(30, timeout=10_000)
    expect(page.locator("#run-view .status-badge").first).to_have_text("Completed")
    at_end = "e => e.scrollTop + e.clientHeight >= e.scrollHeight - 2"
    assert page.locator("#run-logs").evaluate(at_end), "the log box did not follow the new lines"


def test_artifacts_of_a_client_owned_task_download_for_an_admin(page: Page, api: Api, dashboard_server: Server) -> None:
    _, token = api.token()
    task_id = api.start("files", token=token)
    api.wait_status(task_id, "Completed")
    open_run(page, dashboard_server, task_id)
    link = page.locator(".artifact-link", has_text="report.txt")
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), encoding="utf-8") as content:
        assert content.read() == "hello from the task"
    response = httpx.get(dashboard_server.base_url + str(link.get_attribute("href")))
    assert response.status_code == 200


def test_cancel_asks_first_and_esc_keeps_the_task_running(page: Page, api: Api, dashboard_server: Server) -> None:
    task_id = api.start("forever")
    open_run(page, dashboard_server, task_id)
    page.click("#run-cancel")
    expect(page.get_by_role("alertdialog")).to_contain_text("Cancel this task?")
    page.keyboard.press("Escape")
    expect(page.get_by_role("alertdialog")).to_be_hidden()
    expect(page).to_have_url(re.compile(rf"/admins/tasks/{task_id}$"))  # Esc closed the question, not the view
    assert api.status(task_id) == "Processing"
    page.click("#run-cancel")
    page.click("#run-confirm")
    expect(page.locator("#run-view .status-badge").first).to_have_text("Cancelled")
    assert api.status(task_id) == "Cancelled"


def test_rerun_starts_the_same_task_with_the_same_arguments(page: Page, api: Api, dashboard_server: Server) -> None:
    task_id = api.start("steps", {"steps": 2, "interval": 0.01})
    api.wait_status(task_id, "Completed")
    open_run(page, dashboard_server, task_id)
    page.click("#run-rerun")
    expect(page).not_to_have_url(re.compile(rf"/admins/tasks/{task_id}$"))
    new_id = page.url.rstrip("/").rsplit("/", 1)[1]
    expect(page.locator("#run-id")).to_have_text(new_id)
    expect(page.locator("#run-args")).to_contain_text('"steps": 2')
    rerun = api.task(new_id).json()
    assert rerun["retry_of"] == task_id
    assert rerun["task"] == "steps"


def test_messages_reach_the_running_task_and_bad_json_is_refused(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    task_id = api.start("interactive")
    api.wait_status(task_id, "Processing")
    open_run(page, dashboard_server, task_id)
    page.fill("#run-message-draft", "{not json")
    page.click("#run-send")
    expect(page.get_by_text("the message must be JSON")).to_be_in_viewport()
    page.fill("#run-message-draft", '{"x": 1}')
    page.click("#run-send")
    expect(page.locator(".log-line", has_text="got {'x': 1}")).to_be_visible()
    page.fill("#run-message-draft", '{"action": "stop"}')
    page.click("#run-send")
    expect(page.locator("#run-view .status-badge").first).to_have_text("Completed")
    assert api.task(task_id).json()["result"] == [{"x": 1}]


def test_delete_and_ack_ask_first_then_remove_the_task(page: Page, api: Api, dashboard_server: Server) -> None:
    doomed, acked = api.start("noop"), api.start("noop")
    api.wait_status(doomed, "Completed")
    api.wait_status(acked, "Completed")
    open_run(page, dashboard_server, doomed)
    page.click("#run-delete")
    expect(page.get_by_role("alertdialog")).to_contain_text("cannot be undone")
    page.get_by_role("button", name="Keep it").click()
    assert api.task(doomed).status_code == 200
    page.click("#run-delete")
    page.click("#run-confirm")
    expect(page).to_have_url(re.compile(r"/admins/tasks/$"))
    assert api.task(doomed).status_code == 404

    open_run(page, dashboard_server, acked)
    page.click("#run-ack")
    expect(page.get_by_role("alertdialog")).to_contain_text("Acknowledge the result")
    page.click("#run-confirm")
    expect(page).to_have_url(re.compile(r"/admins/tasks/$"))
    assert api.task(acked).status_code == 404


def test_an_unknown_task_says_so(page: Page, dashboard_server: Server) -> None:
    page.goto(f"{dashboard_server.base_url}/admins/tasks/no-such-task")
    expect(page.locator("#run-missing")).to_contain_text("No such task")

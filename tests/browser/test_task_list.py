"""The task monitor (/admins/tasks/): a live list filtered, counted and paged in the
database, its view in the URL, charts over the whole store, bulk actions on the
filtered set, state panels, and live rows that keep up with a hundred tasks."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from playwright.sync_api import Browser, Page, expect

from harness.server import Server
from tests.browser.chromium import Api, choose, log_in, new_context, row


def open_list(page: Page, server: Server, query: str = "") -> None:
    page.goto(f"{server.base_url}/admins/tasks/{'?' + query if query else ''}")
    expect(page.locator("#task-count")).to_be_visible()


def test_a_task_started_over_http_with_a_token_appears_live_with_its_client(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    client, token = api.token()
    open_list(page, dashboard_server)
    task_id = api.start("steps", {"steps": 10, "interval": 0.2}, token=token)
    line = row(page, task_id)
    expect(line).to_be_visible()
    expect(line).to_contain_text(client)
    expect(line).to_have_attribute("data-status", "Completed", timeout=15_000)
    expect(line.locator(".progress-text")).to_have_text("100%")


def test_each_row_shows_the_end_of_its_id_so_tasks_started_together_differ(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    first, second = api.start("noop"), api.start("noop")  # same time prefix, or nearly
    open_list(page, dashboard_server)
    for task_id in (first, second):
        expect(row(page, task_id).locator(".task-link code")).to_have_text(task_id[-10:])
    assert first[-10:] != second[-10:]


def test_a_completed_task_reads_100_percent_whatever_its_last_update(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    _, token = api.token()
    at_99 = api.start("almost", token=token)  # last update: 99%
    silent = api.start("noop", token=token)  # no update at all: 0%
    api.wait_status(at_99, "Completed")
    api.wait_status(silent, "Completed")
    open_list(page, dashboard_server)
    for task_id in (at_99, silent):
        expect(row(page, task_id).locator(".progress-text")).to_have_text("100%")


def test_a_running_task_that_sends_no_events_has_a_ticking_duration(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    # Long enough to outlast the page's opening on a slow machine (seconds there).
    task_id = api.start("quiet", {"steps": 6, "interval": 5})
    open_list(page, dashboard_server)
    duration = row(page, task_id).locator(".ticking-duration")
    expect(duration).to_have_text(re.compile(r"^\d+ s$"))
    first = duration.inner_text()
    page.wait_for_timeout(2100)
    assert duration.inner_text() != first, "the duration did not move"
    api.cancel(task_id)


def test_filters_are_answered_by_the_server_kept_in_the_url_and_survive_a_reload(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    client, token = api.token()
    done = [api.start("noop", token=token) for _ in range(3)]
    failed = api.start("fail", token=token)
    for task_id in done:
        api.wait_status(task_id, "Completed")
    api.wait_status(failed, "Error")
    open_list(page, dashboard_server, f"client={client}")
    expect(page.locator("#task-count")).to_have_text("1-4 of 4")
    expect(page.locator("#filter-status")).to_have_text("Status: any")  # labelled, not "all"

    choose(page, "#filter-status", "Error")
    expect(page).to_have_url(re.compile(rf"client={client}.*status=Error|status=Error.*client={client}"))
    expect(page.locator(".task-row")).to_have_count(1)
    expect(row(page, failed)).to_be_visible()
    expect(page.locator("#task-count")).to_have_text("1-1 of 1")

    page.reload()  # the view is the URL: a reload (or a shared link) shows the same
    expect(page.locator("#filter-status")).to_have_text("Error")
    expect(page.locator("#task-count")).to_have_text("1-1 of 1")
    expect(row(page, failed)).to_be_visible()

    choose(page, "#filter-status", "Cancelled")
    expect(page.locator("#empty-list")).to_contain_text("No task matches this view")
    expect(page.locator("#task-count")).to_have_text("no tasks match")


def test_search_looks_in_ids_arguments_and_errors_across_the_whole_store(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    client, token = api.token()
    by_args = api.start("steps", {"steps": 1, "interval": 0.0123}, token=token)
    failed = api.start("fail", token=token)
    other = api.start("noop", token=token)
    for task_id in (by_args, failed, other):
        api.wait_status(task_id, "Completed", "Error")
    open_list(page, dashboard_server, f"client={client}")
    for needle, expected in (("0.0123", by_args), ("input was bad", failed), (other[:12], other)):
        page.fill("#search", needle)
        page.press("#search", "Enter")
        expect(page.locator(".task-row")).to_have_count(1)
        expect(row(page, expected)).to_be_visible()
        expect(page).to_have_url(re.compile("search="))


def test_the_count_and_pages_cover_every_matching_task(page: Page, api: Api, dashboard_server: Server) -> None:
    client, token = api.token()
    ids = [api.start("noop", token=token) for _ in range(30)]
    api.wait_status(ids[-1], "Completed")
    open_list(page, dashboard_server, f"client={client}&limit=25")
    expect(page.locator("#task-count")).to_have_text("1-25 of 30")
    expect(page.locator(".task-row")).to_have_count(25)
    page.click("#next-page")
    expect(page.locator("#task-count")).to_have_text("26-30 of 30")
    expect(page.locator(".task-row")).to_have_count(5)
    expect(row(page, ids[0])).to_be_visible()  # the oldest, on the last page


def test_charts_count_the_whole_filtered_store_coloured_and_numbered(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    client, token = api.token()
    done = [api.start("noop", token=token) for _ in range(3)]
    failed = api.start("fail", token=token)
    for task_id in done:
        api.wait_status(task_id, "Completed")
    api.wait_status(failed, "Error")
    open_list(page, dashboard_server, f"client={client}")
    status_chart = page.locator("#chart-status")
    expect(status_chart.locator(".recharts-label-list")).to_contain_text("3")
    expect(status_chart.locator(".recharts-label-list")).to_contain_text("1")
    expect(status_chart.locator('path[fill="#30a46c"]')).to_have_count(1)  # Completed, in green
    expect(status_chart.locator('path[fill="#e5484d"]')).to_have_count(1)  # Error, in red
    throughput = page.locator("#chart-throughput")
    expect(throughput.locator(".recharts-line")).to_have_count(2)
    expect(throughput).to_contain_text("started")
    expect(throughput).to_contain_text("finished")
    durations = page.locator("#durations")
    expect(durations).to_contain_text("fast_tasks.noop")
    expect(durations.locator("tr", has_text="fast_tasks.noop")).to_contain_text("3")


def test_bulk_actions_act_on_the_filtered_set_after_saying_how_many(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    client, token = api.token()
    running = [api.start("forever", token=token) for _ in range(3)]
    done = [api.start("noop", token=token) for _ in range(2)]
    for task_id in done:
        api.wait_status(task_id, "Completed")
    open_list(page, dashboard_server, f"client={client}")
    expect(page.locator(".task-row")).to_have_count(5)

    page.click("#bulk-cancel")
    expect(page.locator("#bulk-question")).to_have_text("Cancel 3 running task(s) of this view?")
    page.keyboard.press("Escape")  # Esc closes the question and nothing happens
    expect(page.locator("#bulk-question")).to_be_hidden()
    assert {api.status(t) for t in running} == {"Processing"}

    page.click("#bulk-cancel")
    page.click("#bulk-confirm")
    notice = page.get_by_text("cancelled 3 task(s)")
    expect(notice).to_be_in_viewport()
    for task_id in running:
        api.wait_status(task_id, "Cancelled")

    choose(page, "#filter-status", "Completed")
    page.click("#bulk-rerun")
    expect(page.locator("#bulk-question")).to_have_text("Start 2 ended task(s) of this view again?")
    page.click("#bulk-confirm")
    expect(page.get_by_text("re-ran 2 task(s)")).to_be_in_viewport()
    assert api.total(client=client) == 7

    choose(page, "#filter-status", "Cancelled")
    page.click("#bulk-delete")
    expect(page.locator("#bulk-question")).to_contain_text("Delete 3 ended task(s) of this view")
    page.click("#bulk-confirm")
    expect(page.get_by_text("deleted 3 task(s)")).to_be_in_viewport()
    assert api.total(client=client, status="Cancelled") == 0
    assert api.total(client=client) == 4


def test_each_state_panel_shows_its_own_state_tasks(page: Page, api: Api, dashboard_server: Server) -> None:
    open_list(page, dashboard_server)
    task_id = api.start("steps", {"steps": 3, "interval": 0.1})
    fast = page.locator('.state-panel[data-state="fast_tasks"]')
    expect(fast.locator(f'.panel-row[data-task-id="{task_id}"]')).to_be_visible()
    other = page.locator('.state-panel[data-state="example_task"]')
    expect(other.locator(f'.panel-row[data-task-id="{task_id}"]')).to_have_count(0)
    expect(other).to_contain_text("example_task")


def test_a_row_far_down_opens_its_run_view_in_view(page: Page, api: Api, dashboard_server: Server) -> None:
    client, token = api.token()
    ids = [api.start("noop", token=token) for _ in range(40)]
    api.wait_status(ids[0], "Completed")
    open_list(page, dashboard_server, f"client={client}&limit=50")
    last = row(page, ids[0])
    last.scroll_into_view_if_needed()
    last.locator(".task-link").click()
    expect(page).to_have_url(re.compile(rf"/admins/tasks/{ids[0]}$"))
    expect(page.locator("#run-title")).to_be_in_viewport()


def test_rows_open_with_the_keyboard_and_esc_returns_to_the_same_view(
    page: Page, api: Api, dashboard_server: Server
) -> None:
    client, token = api.token()
    task_id = api.start("noop", token=token)
    api.wait_status(task_id, "Completed")
    open_list(page, dashboard_server, f"client={client}&status=Completed")
    link = row(page, task_id).locator(".task-link")
    expect(link).to_have_attribute("aria-label", f"open task {task_id}")
    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/admins/tasks/{task_id}$"))
    expect(page.locator("#run-title")).to_have_text("fast_tasks.noop")
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"/admins/tasks/\?"))
    expect(page.locator("#filter-status")).to_have_text("Completed")
    expect(row(page, task_id)).to_be_visible()


def test_times_are_shown_with_dates_in_the_browser_time_zone_and_say_so(
    browser: Browser, viewport: str, api: Api, dashboard_server: Server
) -> None:
    context = new_context(browser, viewport, timezone_id="Asia/Kolkata")
    page = context.new_page()
    log_in(page, dashboard_server.base_url)
    _, token = api.token()
    task_id = api.start("noop", token=token)
    api.wait_status(task_id, "Completed")
    created = datetime.fromisoformat(api.task(task_id).json()["created_at"].replace("Z", "+00:00"))
    expected = (created + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M:%S")
    page.reload()
    expect(page.locator("#time-zone")).to_have_text("Times in your time zone (UTC+05:30)")
    expect(row(page, task_id).locator(".local-time")).to_have_text(expected)
    context.close()


def test_a_hundred_tasks_ticking_ten_times_a_second_stay_under_a_second_behind(
    wide_page: Page, api: Api, dashboard_server: Server
) -> None:
    page = wide_page
    client, token = api.token()
    open_list(page, dashboard_server, f"client={client}&limit=100")

    def start_one(_: int) -> str:
        return api.start("steps", {"steps": 40, "interval": 0.1}, token=token)

    with ThreadPoolExecutor(max_workers=20) as pool:  # Playwright's sync API owns this thread's loop
        ids = list(pool.map(start_one, range(100)))
    probe = row(page, ids[-1])
    expect(probe).to_have_attribute("data-status", "Processing", timeout=5_000)
    page.wait_for_timeout(1500)
    shown = int(probe.locator(".progress-text").inner_text().rstrip("%"))
    actual = api.task(ids[-1]).json()["progress"]
    assert actual - shown <= 25, (shown, actual)  # under a second behind (10 steps = 25%)
    page.fill("#search", ids[0])  # the page still answers while 1,000 updates/s stream in
    page.press("#search", "Enter")
    expect(page.locator(".task-row")).to_have_count(1, timeout=2_000)
    page.fill("#search", "")
    page.press("#search", "Enter")
    expect(page.locator(".task-row")).to_have_count(100)
    for task_id in ids:
        expect(row(page, task_id)).to_have_attribute("data-status", "Completed", timeout=10_000)

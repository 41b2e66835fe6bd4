"""What users of other task APIs need, against the real server: start-and-stream,
custom events, subprocesses stopped with their task (checked by pid), retries,
re-runs, honest cancels, friendlier lists."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from harness.server import Server

pytestmark = pytest.mark.e2e

GRACE = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("capabilities")
    env = {"SPYGLASS_CANCEL_GRACE_SECONDS": str(GRACE), "SPYGLASS_PROCESS_GRACE_SECONDS": "1"}
    srv = Server(base / "data", base / "server.log", env=env).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def sse_events(lines: Iterator[str], limit: int | None = None) -> list[dict[str, Any]]:
    events, fields = [], {}
    for line in lines:
        if line.startswith(":"):
            continue
        if line:
            key, _, value = line.partition(": ")
            fields[key] = value
            continue
        if fields:
            events.append({"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])})
            fields = {}
            if limit is not None and len(events) >= limit:
                break
    return events


def wait_for(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def process_gone(pid: int) -> bool:
    """Gone, or a zombie waiting for init to reap it (it runs nothing any more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


# -- 1. start and stream in one request ----------------------------------------------


def test_a_start_with_accept_event_stream_answers_with_the_tasks_stream(http: httpx.Client) -> None:
    headers = {"Accept": "text/event-stream"}
    with http.stream(
        "POST", "/api/fast_tasks/task/start/chatty", json={"lines": 5, "interval": 0.05}, headers=headers
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        task_id = r.headers["x-task-id"]
        assert r.headers["location"] == f"/api/tasks/{task_id}"
        streamed = sse_events(r.iter_lines())
    assert [e["event"] for e in streamed] == ["snapshot", "log", "log", "log", "log", "log", "result"] or (
        streamed[0]["event"] == "snapshot" and streamed[-1]["event"] == "result"
    )
    assert [e["data"]["message"] for e in streamed if e["event"] == "log"] == [f"line {i}" for i in range(5)]
    replay = sse_events(http.get(f"/api/tasks/{task_id}/stream", params={"after": 0}).iter_lines())
    durable = [(e["id"], e["event"]) for e in streamed if e["event"] not in ("snapshot", "status")]
    assert durable == [(e["id"], e["event"]) for e in replay if e["event"] not in ("snapshot", "status")]
    assert http.post("/api/fast_tasks/task/start/noop").status_code == 202  # without the header: as before


def test_a_dropped_start_stream_leaves_the_task_running_and_resumable(http: httpx.Client) -> None:
    headers = {"Accept": "text/event-stream"}
    with http.stream(
        "POST", "/api/fast_tasks/task/start/chatty", json={"lines": 10, "interval": 0.1}, headers=headers
    ) as r:
        task_id = r.headers["x-task-id"]
        first = sse_events(r.iter_lines(), limit=3)
    time.sleep(0.3)
    rest = sse_events(
        http.get(f"/api/tasks/{task_id}/stream", headers={"Last-Event-ID": str(first[-1]["id"])}).iter_lines()
    )
    logs = [e["data"]["message"] for e in first + rest if e["event"] == "log"]
    assert logs == [f"line {i}" for i in range(10)] and rest[-1]["event"] == "result"


def test_the_token_start_route_streams_too(http: httpx.Client, server: Server) -> None:
    token = server.mint_token("streamer")
    headers = {"Accept": "text/event-stream"}
    with http.stream("POST", f"/api/fast_tasks/tasks/{token}/start/steps", json={"steps": 3}, headers=headers) as r:
        streamed = sse_events(r.iter_lines())
    assert streamed[0]["data"]["client"] == "streamer" and streamed[-1]["event"] == "result"


# -- 2. custom events -----------------------------------------------------------------


async def test_custom_events_stream_on_sse_and_websocket_and_are_listed_and_replayed(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        task_id = (await http.post("/api/fast_tasks/task/start/emitter")).json()["task_id"]
        async with websockets.connect(f"{server.ws_url}/ws/fast_tasks/task/ws/{task_id}?after=0") as ws:
            messages = [json.loads(raw) async for raw in ws]
        sse_text = (await http.get(f"/api/tasks/{task_id}/stream", params={"after": 0})).text
        detail = (await http.get(f"/api/tasks/{task_id}")).json()
        custom = [m for m in messages if m["type"] in ("plan", "step")]
        resumed_text = (await http.get(f"/api/tasks/{task_id}/stream", params={"after": custom[1]["id"]})).text
    assert [m["type"] for m in custom] == ["plan", "step", "step", "step"]
    assert custom[0]["data"] == {"steps": ["open", "search", "read"]} and custom[2]["data"]["title"] == "search"
    sse = sse_events(iter(sse_text.splitlines()))
    assert [e["event"] for e in sse if e["event"] in ("plan", "step")] == ["plan", "step", "step", "step"]
    assert [e["type"] for e in detail["events"]] == ["plan", "step", "step", "step"]
    assert [e["id"] for e in detail["events"]] == [m["id"] for m in custom]
    resumed = sse_events(iter(resumed_text.splitlines()))
    assert [e["event"] for e in resumed] == ["snapshot", "step", "step", "result"]


def test_a_custom_event_with_a_built_in_name_is_refused_clearly(http: httpx.Client) -> None:
    task_id = http.post("/api/fast_tasks/task/start/bad_event").json()["task_id"]
    final = http.get(f"/api/fast_tasks/task/result/{task_id}", params={"wait": 10}).json()
    assert final["status"] == "Error" and "built-in event type" in final["error"]


# -- 3. subprocesses owned by the task ---------------------------------------------------


def spawned_pids(http: httpx.Client, task_id: str) -> list[int]:
    """The shell and its two `sleep 60` children, as the task logged them."""
    found: list[int] = []

    def logged() -> bool:
        nonlocal found
        logs = http.get(f"/api/tasks/{task_id}").json()["logs"]
        found = [int(log["message"].split()[1]) for log in logs if log["message"].startswith(("child ", "shell "))]
        return len(found) == 3

    wait_for(logged, 10, "the spawner logging its pids")
    assert not any(process_gone(pid) for pid in found)
    return found


@pytest.mark.parametrize("how", ["cancel", "delete"])
def test_cancelling_or_deleting_a_task_kills_its_whole_process_tree(http: httpx.Client, how: str) -> None:
    task_id = http.post("/api/fast_tasks/task/start/spawner").json()["task_id"]
    pids = spawned_pids(http, task_id)
    response = http.post(f"/api/tasks/{task_id}/cancel") if how == "cancel" else http.delete(f"/api/tasks/{task_id}")
    assert response.status_code in (200, 204)
    wait_for(lambda: all(process_gone(pid) for pid in pids), 3, "the shell and its grandchildren exiting")


def test_a_timeout_kills_the_process_tree_and_says_so_in_the_logs(http: httpx.Client) -> None:
    task_id = http.post("/api/fast_tasks/task/start/spawner_timeout").json()["task_id"]
    pids = spawned_pids(http, task_id)
    final = http.get(f"/api/fast_tasks/task/result/{task_id}", params={"wait": 10}).json()
    assert final["status"] == "Error" and final["error_code"] == "timeout"
    wait_for(lambda: all(process_gone(pid) for pid in pids), 3, "the process tree exiting")
    assert any("timed out" in log["message"] for log in http.get(f"/api/tasks/{task_id}").json()["logs"])


def test_process_output_lines_become_logs_as_they_come(http: httpx.Client) -> None:
    task_id = http.post("/api/example_shell/task/start/count_lines", json={"lines": 4, "interval": 0.2}).json()[
        "task_id"
    ]
    wait_for(
        lambda: (
            len([log for log in http.get(f"/api/tasks/{task_id}").json()["logs"] if log["message"].startswith("line")])
            >= 2
        ),
        5,
        "early lines",
    )
    assert http.get(f"/api/example_shell/task/result/{task_id}").json()["status"] == "Processing"  # still running
    final = http.get(f"/api/example_shell/task/result/{task_id}", params={"wait": 10}).json()
    assert final["status"] == "Completed" and final["result"] == 0
    logs = http.get(f"/api/tasks/{task_id}").json()["logs"]
    assert [(log["level"], log["message"]) for log in logs if log["message"].startswith(("line", "done"))] == [
        ("info", "line 1"),
        ("info", "line 2"),
        ("info", "line 3"),
        ("info", "line 4"),
        ("error", "done"),
    ]


def test_a_server_shutdown_kills_running_process_trees(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", tmp_path / "server.log").start()
    try:
        with httpx.Client(base_url=srv.base_url, timeout=30) as http:
            task_id = http.post("/api/fast_tasks/task/start/spawner").json()["task_id"]
            pids = spawned_pids(http, task_id)
    finally:
        srv.stop()
    wait_for(lambda: all(process_gone(pid) for pid in pids), 5, "the process tree exiting with the server")


# -- 4. retries ---------------------------------------------------------------------


def test_a_task_that_raises_is_retried_with_its_attempt_counted_and_logged(http: httpx.Client, server: Server) -> None:
    task_id = http.post("/api/fast_tasks/task/start/flaky", json={"failures": 1}).json()["task_id"]
    final = http.get(f"/api/fast_tasks/task/result/{task_id}", params={"wait": 10}).json()
    assert (final["status"], final["result"], final["attempt"]) == ("Completed", 2, 2)
    logs = [log["message"] for log in http.get(f"/api/tasks/{task_id}").json()["logs"]]
    assert "attempt 1 of 3 failed: attempt 1 failed" in logs


async def test_a_retrying_message_shows_between_attempts(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        task_id = (await http.post("/api/example_flaky/task/start/unreliable", json={"failures": 2})).json()["task_id"]
    async with websockets.connect(f"{server.ws_url}/ws/example_flaky/task/ws/{task_id}") as ws:
        messages = [json.loads(raw) async for raw in ws]
    assert any(m["type"] == "status" and (m.get("message") or "").startswith("retrying in") for m in messages)
    assert messages[-1]["result"] == "succeeded on attempt 3" and messages[-1]["attempt"] == 3


def test_retries_run_out_and_timeouts_are_not_retried(http: httpx.Client) -> None:
    failing = http.post("/api/fast_tasks/task/start/flaky", json={"failures": 9}).json()["task_id"]
    final = http.get(f"/api/fast_tasks/task/result/{failing}", params={"wait": 10}).json()
    assert (final["status"], final["attempt"], final["error"]) == ("Error", 3, "attempt 3 failed")
    timing_out = http.post("/api/fast_tasks/task/start/flaky_timeout").json()["task_id"]
    final = http.get(f"/api/fast_tasks/task/result/{timing_out}", params={"wait": 10}).json()
    assert (final["status"], final["error_code"], final["attempt"]) == ("Error", "timeout", 1)


# -- 5. re-run ----------------------------------------------------------------------


def test_a_re_run_starts_the_same_task_with_the_same_args_and_owner(http: httpx.Client, server: Server) -> None:
    token = server.mint_token("rerunner")
    bearer = {"Authorization": f"Bearer {token}"}
    first = http.post(f"/api/fast_tasks/tasks/{token}/start/steps", json={"steps": 2, "interval": 0.01}).json()[
        "task_id"
    ]
    http.get(f"/api/fast_tasks/task/result/{first}", params={"wait": 10}, headers=bearer)
    again = http.post(f"/api/tasks/{first}/retry", headers=bearer)
    assert again.status_code == 202
    body = again.json()
    assert body["retry_of"] == first and body["client"] == "rerunner" and body["task_id"] != first
    detail = http.get(f"/api/tasks/{body['task_id']}", headers=bearer).json()
    assert detail["args"] == {"steps": 2, "interval": 0.01}
    assert http.post(f"/api/tasks/{first}/retry").status_code == 404  # not the anonymous caller's task
    running = http.post("/api/fast_tasks/task/start/forever").json()["task_id"]
    conflict = http.post(f"/api/tasks/{running}/retry")
    assert conflict.status_code == 409 and conflict.json()["code"] == "conflict"
    http.post(f"/api/tasks/{running}/cancel")


# -- 6. cancel honesty --------------------------------------------------------------


def test_a_cancel_is_200_once_cancelled_and_202_while_a_stubborn_task_stops(http: httpx.Client) -> None:
    quick = http.post("/api/fast_tasks/task/start/forever").json()["task_id"]
    time.sleep(0.2)
    done = http.post(f"/api/tasks/{quick}/cancel")
    assert done.status_code == 200 and done.json()["status"] == "Cancelled"
    stubborn = http.post("/api/fast_tasks/task/start/stubborn").json()["task_id"]
    time.sleep(0.2)
    asked = http.post(f"/api/tasks/{stubborn}/cancel")
    assert asked.status_code == 202
    assert asked.json()["cancel_requested"] is True and asked.json()["status"] == "Processing"
    final = http.get(f"/api/fast_tasks/task/result/{stubborn}", params={"wait": GRACE + 3}).json()
    assert (final["status"], final["error_code"]) == ("Cancelled", "cancel_forced")


# -- 7. friendlier lists -----------------------------------------------------------


def test_lists_take_any_case_carry_links_and_inline_logs_on_request(http: httpx.Client, server: Server) -> None:
    token = server.mint_token("lister")
    bearer = {"Authorization": f"Bearer {token}"}
    started = http.post(f"/api/fast_tasks/tasks/{token}/start/chatty", json={"lines": 3}).json()
    assert started["links"]["self"] == f"/api/tasks/{started['task_id']}"
    assert started["links"]["stream"] == f"/api/tasks/{started['task_id']}/stream"
    http.get(f"/api/fast_tasks/task/result/{started['task_id']}", params={"wait": 10}, headers=bearer)
    listed = http.get("/api/tasks", params={"status": "completed", "include": "logs"}, headers=bearer).json()["data"]
    assert [t["task_id"] for t in listed] == [started["task_id"]]
    assert [log["message"] for log in listed[0]["logs"]] == ["line 0", "line 1", "line 2"]
    assert listed[0]["logs_truncated"] is False
    assert "logs" not in http.get("/api/tasks", headers=bearer).json()["data"][0]


async def test_the_cancel_of_many_tasks_at_once_answers_each(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        ids = [(await http.post("/api/fast_tasks/task/start/forever")).json()["task_id"] for _ in range(5)]
        answers = await asyncio.gather(*(http.post(f"/api/tasks/{t}/cancel") for t in ids))
    assert [a.json()["status"] for a in answers] == ["Cancelled"] * 5
    assert os.getpid()  # the engine answered every concurrent cancel

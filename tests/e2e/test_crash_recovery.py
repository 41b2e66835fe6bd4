"""SIGKILL the server mid-task; the restarted server keeps every record and marks
the task that was running Interrupted."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
import websockets

from harness.server import Server

pytestmark = pytest.mark.e2e


def test_after_sigkill_and_restart_the_running_task_is_interrupted_and_finished_ones_kept(
    fresh_server_paths: tuple[Path, Path],
) -> None:
    data_dir, log_path = fresh_server_paths
    first = Server(data_dir, log_path).start()
    try:
        done = httpx.post(f"{first.base_url}/api/fast_tasks/task/start/noop").json()["task_id"]
        assert (
            httpx.get(f"{first.base_url}/api/fast_tasks/task/result/{done}", params={"wait": 10}).json()["status"]
            == "Completed"
        )
        running = httpx.post(
            f"{first.base_url}/api/example_task2/task/start/task2_with_args", json={"name": "Matt", "age": 25}
        ).json()["task_id"]
        deadline = time.monotonic() + 10
        while httpx.get(f"{first.base_url}/api/example_task2/task/result/{running}").json()["progress"] < 20:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.3)  # let the coalesced progress reach the disk
    finally:
        first.kill()

    second = Server(data_dir, log_path)
    second.port = first.port
    second.base_url = first.base_url
    second.start()
    try:
        interrupted = httpx.get(f"{second.base_url}/api/example_task2/task/result/{running}").json()
        kept = httpx.get(f"{second.base_url}/api/fast_tasks/task/result/{done}").json()
    finally:
        second.stop()
    assert interrupted["status"] == "Interrupted"
    assert interrupted["error_code"] == "interrupted"
    assert interrupted["progress"] >= 20
    assert kept["status"] == "Completed" and kept["result"] == "ok"


async def _watch(server: Server, task_id: str, seconds: float) -> list[int]:
    """Durable event ids a watcher received: published, so committed."""
    received: list[int] = []
    async with websockets.connect(f"{server.ws_url}/ws/fast_tasks/task/ws/{task_id}?after=0") as ws:
        deadline = asyncio.get_running_loop().time() + seconds
        while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
            except TimeoutError:
                break
            if message["type"] not in ("snapshot", "status"):
                received.append(message["id"])
    return received


async def test_sigkill_under_load_loses_no_task_and_no_event_a_watcher_received(
    fresh_server_paths: tuple[Path, Path],
) -> None:
    data_dir, log_path = fresh_server_paths
    first = Server(data_dir, log_path).start()
    try:
        async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as http:
            starts = [
                http.post("/api/fast_tasks/task/start/chatty", json={"lines": 1000, "interval": 0.05})
                for _ in range(100)
            ]
            responses = [await response for response in starts]
            assert all(r.status_code == 202 for r in responses), [r.text for r in responses if r.status_code != 202][:3]
            ids = [r.json()["task_id"] for r in responses]
        watched = await asyncio.gather(*(_watch(first, task_id, 2.0) for task_id in ids[:20]))
    finally:
        first.kill()
    assert all(len(events) >= 5 for events in watched)

    second = Server(data_dir, log_path)
    second.port, second.base_url, second.ws_url = first.port, first.base_url, first.ws_url
    second.start()
    try:
        async with httpx.AsyncClient(base_url=second.base_url, timeout=30) as http:
            details = [(await http.get(f"/api/tasks/{task_id}")).json() for task_id in ids]
    finally:
        second.stop()
    assert [d["status"] for d in details] == ["Interrupted"] * 100
    for detail, received in zip(details[:20], watched, strict=True):
        stored = {log["id"] for log in detail["logs"]}
        assert set(received) <= stored, set(received) - stored

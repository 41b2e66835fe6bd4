"""SIGKILL the server mid-task; the restarted server keeps every record and marks
the task that was running Interrupted."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import Server

pytestmark = pytest.mark.e2e


def test_after_sigkill_and_restart_the_running_task_is_interrupted_and_finished_ones_kept(
    fresh_server_paths: tuple[Path, Path],
) -> None:
    data_dir, log_path = fresh_server_paths
    first = Server(data_dir, log_path).start()
    try:
        done = httpx.post(f"{first.base_url}/api/fast_tasks/task/start/noop").json()["task_id"]
        assert httpx.get(f"{first.base_url}/api/fast_tasks/task/result/{done}", params={"wait": 10}).json()["status"] == "Completed"
        running = httpx.post(f"{first.base_url}/api/example_task2/task/start/task2_with_args", json={"name": "Matt", "age": 25}).json()["task_id"]
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

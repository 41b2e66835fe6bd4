"""Several workers on one host with the default SQLite store (Redis set, so Reflex
starts 2 x cores + 1 workers): it works, including across its workers."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from harness.server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def test_several_workers_share_one_sqlite_file(sqlite_host: Server) -> None:
    base = sqlite_host.base_url
    with ThreadPoolExecutor(8) as pool:
        ids = list(
            pool.map(
                lambda _: httpx.post(f"{base}/api/fast_tasks/task/start/chatty", json={"lines": 20}).json()["task_id"],
                range(40),
            )
        )
    finals = [httpx.get(f"{base}/api/fast_tasks/task/result/{t}", params={"wait": 20}, timeout=30).json() for t in ids]
    assert [f["status"] for f in finals] == ["Completed"] * 40
    assert all(len(httpx.get(f"{base}/api/tasks/{t}").json()["logs"]) == 20 for t in ids)


def test_cancels_and_limits_cross_the_workers_of_a_sqlite_host(sqlite_host: Server) -> None:
    base = sqlite_host.base_url
    ids = [httpx.post(f"{base}/api/fast_tasks/task/start/forever").json()["task_id"] for _ in range(6)]
    time.sleep(0.5)
    assert [httpx.post(f"{base}/api/tasks/{t}/cancel", timeout=30).json()["status"] for t in ids] == ["Cancelled"] * 6
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: httpx.post(f"{base}/api/fast_tasks/task/start/pair").status_code, range(6)))
    assert Counter(codes) == {202: 2, 429: 4}
    assert "Traceback" not in sqlite_host.log()

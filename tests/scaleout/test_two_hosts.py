"""Two hosts (servers on two ports, 5 workers each) sharing PostgreSQL and Redis:
whatever lands on either host behaves as on one worker."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import websockets

from harness.server import Server
from tests.e2e.test_resume_fuzz import LINES, drop_and_resume, read_sse
from tests.scaleout.conftest import ADMIN, PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


def admin_headers(server: Server) -> dict[str, str]:
    session = httpx.post(f"{server.base_url}/api/admin/login", json={"user": ADMIN, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {session['token']}"}


def mint(server: Server, client: str) -> str:
    created = httpx.post(f"{server.base_url}/api/admin/tokens", json={"client": client}, headers=admin_headers(server))
    return str(created.json()["token"])


async def watch(server: Server, task_id: str) -> list[tuple[float, dict[str, Any]]]:
    loop = asyncio.get_running_loop()
    received = []
    async with websockets.connect(f"{server.ws_url}/ws/fast_tasks/task/ws/{task_id}") as ws:
        async for raw in ws:
            received.append((loop.time(), json.loads(raw)))
    return received


async def test_sixty_watchers_on_both_hosts_see_every_task_live_and_its_result(hosts: tuple[Server, Server]) -> None:
    a, b = hosts
    watchers = []
    async with httpx.AsyncClient(timeout=30) as http:
        for host in (a, b) * 15:
            started = await http.post(
                f"{host.base_url}/api/fast_tasks/task/start/steps", json={"steps": 12, "interval": 0.25}
            )
            task_id = started.json()["task_id"]
            watchers += [asyncio.create_task(watch(watching, task_id)) for watching in (a, b)]
        streams = await asyncio.wait_for(asyncio.gather(*watchers), 60)
    assert len(streams) == 60
    for stream in streams:
        messages = [m for _, m in stream]
        assert messages[0]["type"] == "snapshot"
        assert messages[-1]["type"] == "result" and messages[-1]["result"] == {"steps": 12}
        ticks = [t for t, m in stream if m["type"] == "status" and m["status"] == "Processing"]
        assert len(ticks) >= 6 and ticks[-1] - ticks[0] > 1.0  # live, as it happened, not at the end


async def test_sse_on_one_host_resumes_from_any_id_for_tasks_on_the_other(hosts: tuple[Server, Server]) -> None:
    a, b = hosts
    async with httpx.AsyncClient(timeout=30) as http:
        ids = [
            (
                await http.post(
                    f"{a.base_url}/api/fast_tasks/task/start/chatty", json={"lines": LINES, "interval": 0.05}
                )
            ).json()["task_id"]
            for _ in range(3)
        ]
        received = await asyncio.gather(*(drop_and_resume(b, task_id, read_sse) for task_id in ids))
        for task_id, durable in zip(ids, received, strict=True):
            stored = (await http.get(f"{a.base_url}/api/tasks/{task_id}")).json()
            assert [m["id"] for m in durable if m["type"] == "log"] == [log["id"] for log in stored["logs"]]
            assert durable[-1]["type"] == "result"


async def test_a_client_stream_on_one_host_shows_the_clients_tasks_started_on_the_other(
    hosts: tuple[Server, Server],
) -> None:
    a, b = hosts
    token = mint(a, "carol")
    async with websockets.connect(f"{b.ws_url}/ws/fast_tasks/tasks/{token}") as feed:
        assert json.loads(await feed.recv())["type"] == "snapshot"
        async with httpx.AsyncClient(timeout=30) as http:
            ids = {
                (await http.post(f"{a.base_url}/api/fast_tasks/tasks/{token}/start/steps", json={"steps": 3})).json()[
                    "task_id"
                ]
                for _ in range(3)
            }
        ended: set[str] = set()
        while ended != ids:
            message = json.loads(await asyncio.wait_for(feed.recv(), 20))
            assert message["task_id"] in ids
            if message["type"] == "result":
                ended.add(message["task_id"])


def test_ten_cancels_sent_to_the_other_host_all_end_cancelled(hosts: tuple[Server, Server]) -> None:
    a, b = hosts
    ids = [httpx.post(f"{a.base_url}/api/fast_tasks/task/start/forever").json()["task_id"] for _ in range(10)]
    time.sleep(0.5)
    answers = [httpx.post(f"{b.base_url}/api/tasks/{task_id}/cancel", timeout=30) for task_id in ids]
    assert [r.status_code for r in answers] == [200] * 10, [r.text for r in answers if r.status_code != 200]
    for task_id in ids:
        assert httpx.get(f"{a.base_url}/api/fast_tasks/task/result/{task_id}").json()["status"] == "Cancelled"


def test_messages_sent_to_the_other_host_reach_the_task(hosts: tuple[Server, Server]) -> None:
    a, b = hosts
    task_id = httpx.post(f"{a.base_url}/api/fast_tasks/task/start/interactive").json()["task_id"]
    time.sleep(0.3)
    for body in ({"n": 1}, {"n": 2}, {"action": "stop"}):
        response = httpx.post(f"{b.base_url}/api/tasks/{task_id}/messages", json=body, timeout=30)
        assert response.status_code == 202, response.text
    final = httpx.get(f"{a.base_url}/api/fast_tasks/task/result/{task_id}", params={"wait": 10}, timeout=30).json()
    assert final["result"] == [{"n": 1}, {"n": 2}]


def test_max_concurrency_counts_both_hosts_exactly(hosts: tuple[Server, Server]) -> None:
    a, b = hosts
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda host: httpx.post(f"{host.base_url}/api/fast_tasks/task/start/pair", timeout=30), (a, b) * 3)
        )
    assert Counter(r.status_code for r in answers) == {202: 2, 429: 4}
    assert all("Retry-After" in r.headers for r in answers if r.status_code == 429)


def test_instance_tasks_run_on_any_worker_of_any_host(hosts: tuple[Server, Server]) -> None:
    a, b = hosts
    token = mint(a, "dora")
    bearer = {"Authorization": f"Bearer {token}"}
    ids = [
        httpx.post(
            f"{host.base_url}/api/example_counter/tasks/{token}/start/process_items",
            json={"items": [f"item-{i}"], "delay": 0},
        ).json()["task_id"]
        for i, host in enumerate((a, b) * 3)
    ]
    for task_id in ids:
        final = httpx.get(
            f"{b.base_url}/api/example_counter/task/result/{task_id}", params={"wait": 20}, headers=bearer, timeout=30
        ).json()
        assert final["status"] == "Completed" and final["result"]["processed"] == 1


def test_the_schema_was_migrated_exactly_once(hosts: tuple[Server, Server]) -> None:
    a, b = hosts
    for host in (a, b):
        log = host.log()
        assert "already exists" not in log and "Traceback" not in log
    workers = httpx.get(f"{a.base_url}/api/admin/workers", headers=admin_headers(a)).json()
    assert len([w for w in workers if w["status"] == "alive"]) >= 4  # both hosts' workers share the store


def test_sigkill_of_one_worker_interrupts_its_tasks_within_30_s_and_the_host_keeps_serving(
    hosts: tuple[Server, Server],
) -> None:
    a, _ = hosts
    admin = admin_headers(a)
    ids = [httpx.post(f"{a.base_url}/api/fast_tasks/task/start/forever").json()["task_id"] for _ in range(20)]
    time.sleep(1)
    by_worker: dict[str, list[str]] = {}
    for task_id in ids:
        by_worker.setdefault(httpx.get(f"{a.base_url}/api/tasks/{task_id}").json()["worker"], []).append(task_id)
    victim = max(by_worker, key=lambda worker: len(by_worker[worker]))
    workers = {w["id"]: w for w in httpx.get(f"{a.base_url}/api/admin/workers", headers=admin).json()}
    os.kill(workers[victim]["pid"], signal.SIGKILL)
    killed_at = time.monotonic()

    pending = set(by_worker[victim])
    served = failed = 0
    while pending and time.monotonic() - killed_at < 30:
        try:
            for task_id in list(pending):
                status = httpx.get(f"{a.base_url}/api/fast_tasks/task/result/{task_id}").json()["status"]
                if status == "Interrupted":
                    pending.discard(task_id)
            served += httpx.get(f"{a.base_url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:  # a connection the killed worker had accepted is reset
            failed += 1
        time.sleep(0.5)
    assert not pending, f"{len(pending)} task(s) of the killed worker still not Interrupted after 30 s"
    assert served > 0 and failed <= 2
    for worker, task_ids in by_worker.items():
        if worker != victim:
            for task_id in task_ids:
                assert httpx.get(f"{a.base_url}/api/fast_tasks/task/result/{task_id}").json()["status"] == "Processing"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the respawned worker joins
        alive = [
            w for w in httpx.get(f"{a.base_url}/api/admin/workers", headers=admin).json() if w["status"] == "alive"
        ]
        if len(alive) >= 10:
            break
        time.sleep(0.5)
    assert len(alive) >= 10  # five per host again
    assert httpx.post(f"{a.base_url}/api/fast_tasks/task/start/noop").status_code == 202
    for task_id in ids:
        httpx.post(f"{a.base_url}/api/tasks/{task_id}/cancel", timeout=30)


async def test_a_nul_in_an_id_a_name_or_a_filter_gets_a_json_answer_on_postgresql(hosts: tuple[Server, Server]) -> None:
    """PostgreSQL refuses a NUL even as a query parameter: each of these was a 500
    (and the socket a bare 1005 close) with a traceback in the log."""
    a, _ = hosts
    admin = admin_headers(a)
    async with httpx.AsyncClient(base_url=a.base_url, timeout=30) as http:
        task_id = (await http.post("/api/fast_tasks/task/start/steps", json={"steps": 1, "interval": 0})).json()[
            "task_id"
        ]
        not_found = [
            await http.get("/api/fast_tasks/task/result/x%00y", params={"wait": "1"}),
            await http.get("/api/tasks/x%00y"),
            await http.post("/api/tasks/x%00y/cancel"),
            await http.post("/api/tasks/x%00y/messages", json={"a": 1}),
            await http.delete("/api/tasks/x%00y"),
            await http.get(f"/api/tasks/{task_id}/artifacts/x%00y"),
            await http.delete("/api/admin/tokens/bob%00", headers=admin),
        ]
        assert [r.status_code for r in not_found] == [404] * len(not_found), [r.text for r in not_found]
        for name in ("search", "state", "task", "client"):
            listed = await http.get("/api/tasks", params={name: "a\x00b"}, headers=admin)
            stats = await http.get("/api/tasks/stats", params={name: "a\x00b"}, headers=admin)
            assert (listed.status_code, listed.json()["data"]) == (200, [])
            assert (stats.status_code, stats.json()["total"]) == (200, 0)
        for bad_id in ("a\x00", "a\ud800"):
            raw = json.dumps(["2020-01-01T00:00:00+00:00", bad_id]).encode()
            cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            paged = await http.get("/api/tasks", params={"cursor": cursor}, headers=admin)
            assert (paged.status_code, paged.json()["code"]) == (400, "invalid_request")
        login = await http.post("/api/admin/login", json={"user": "ro\u0000ot", "password": "whatever-password"})
        assert (login.status_code, login.json()["code"]) == (401, "unauthorized")
    async with websockets.connect(f"{a.ws_url}/ws/fast_tasks/task/ws/x%00y") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
    assert "CharacterNotInRepertoireError" not in a.log()

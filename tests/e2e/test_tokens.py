"""The token story of the README against the real server and the real CLI:
mint, start, watch live, isolation, revoke mid-stream, and no token in the logs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
import websockets

from harness.server import ROOT, Server

pytestmark = pytest.mark.e2e


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPYGLASS_DATA_DIR": str(server.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "tasks", "tokens", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


async def test_a_token_watches_every_step_live_and_a_second_client_sees_nothing(server: Server) -> None:
    alice, bob = server.mint_token("alice"), server.mint_token("bob")
    async with websockets.connect(f"{server.ws_url}/ws/example_task2/tasks/{alice}") as feed:
        assert json.loads(await feed.recv()) == {"type": "snapshot", "id": 0, "tasks": []}
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            started = await http.post(
                f"/api/example_task2/tasks/{alice}/start/task2_with_args", json={"name": "Matt", "age": 25}
            )
            assert started.status_code == 202
            task_id = started.json()["task_id"]
            assert (
                await http.get(f"/api/example_task2/task/result/{task_id}", headers={"Authorization": f"Bearer {bob}"})
            ).status_code == 404
            assert (await http.get(f"/api/example_task2/task/result/{task_id}")).status_code == 404
        async with websockets.connect(f"{server.ws_url}/ws/example_task2/tasks/{bob}/{task_id}") as other:
            with pytest.raises(websockets.ConnectionClosed):
                await other.recv()
        assert other.close_code == 4404
        steps, result = [], None
        async for raw in feed:
            message = json.loads(raw)
            assert message["task_id"] == task_id
            if message["type"] == "status" and message["status"] == "Processing":
                steps.append(message["progress"])
            if message["type"] == "result":
                result = message["result"]
                break
    assert steps == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]
    assert result == "Completed task for Matt, age 25"


async def test_revoking_a_token_closes_its_open_stream_within_a_second_and_refuses_it(server: Server) -> None:
    token = server.mint_token("carol")
    listing = cli(server, "list")
    assert "carol" in listing.stdout and token not in listing.stdout
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        task_id = (await http.post(f"/api/fast_tasks/tasks/{token}/start/forever")).json()["task_id"]
    async with websockets.connect(f"{server.ws_url}/ws/fast_tasks/tasks/{token}/{task_id}") as ws:
        await ws.recv()
        revoked = await asyncio.to_thread(cli, server, "revoke", "carol")
        assert revoked.returncode == 0 and "revoked 1" in revoked.stdout
        revoked_at = time.monotonic()
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await ws.recv()
        closed_after = time.monotonic() - revoked_at
    assert ws.close_code == 4401
    assert closed_after < 1.0, closed_after
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        refused = await http.post(f"/api/fast_tasks/tasks/{token}/start/noop")
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"


async def test_an_instance_task_runs_on_the_clients_state(server: Server) -> None:
    token = server.mint_token("dora")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        direct = await http.post("/api/example_counter/task/start/process_items")
        assert direct.status_code == 401
        started = await http.post(
            f"/api/example_counter/tasks/{token}/start/process_items", json={"items": ["x", "y"], "delay": 0.05}
        )
        task_id = started.json()["task_id"]
        final = (
            await http.get(
                f"/api/example_counter/task/result/{task_id}",
                params={"wait": 20},
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
    assert final["status"] == "Completed"
    assert final["result"] == {"processed": 2, "count": 2}


def test_no_token_appears_in_the_server_log(server: Server) -> None:
    token = server.mint_token("erin")
    httpx.post(f"{server.base_url}/api/fast_tasks/tasks/{token}/start/noop")
    httpx.post(f"{server.base_url}/api/fast_tasks/tasks/{token}/start/nope")
    httpx.get(f"{server.base_url}/api/fast_tasks/task/result/nope", headers={"Authorization": f"Bearer {token}"})
    cli(server, "revoke", "erin")
    httpx.post(f"{server.base_url}/api/fast_tasks/tasks/{token}/start/noop")
    time.sleep(0.5)
    log = server.log()
    assert log, "the server log should not be empty"
    assert token not in log
    assert token[3:] not in log

"""The README's curl + WebSocket walk-through against the real server process."""

from __future__ import annotations

import asyncio
import itertools
import json

import httpx
import pytest
import websockets

from harness.server import Server

pytestmark = pytest.mark.e2e


async def _stream(url: str) -> list[dict]:
    messages = []
    async with websockets.connect(url) as ws:
        async for raw in ws:
            messages.append(json.loads(raw))
        assert ws.close_code == 1000
    return messages


async def test_the_readme_walkthrough_shows_ten_steps_live_and_the_result(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/api/example_task2/task/start/task2_with_args",
            headers={"Content-Type": "application/json"},
            content='{"name": "Matt", "age": 25}',
        )
        assert response.status_code == 202
        task_id = response.json()["task_id"]
        messages = await _stream(f"{server.ws_url}/ws/example_task2/task/ws/{task_id}")
        result = (await http.get(f"/api/example_task2/task/result/{task_id}")).json()

    assert messages[0]["type"] == "snapshot"
    steps = [m["progress"] for m in messages if m["status"] == "Processing"]
    assert steps[-9:] == [20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]
    assert messages[-1]["status"] == "Completed"
    assert messages[-1]["result"] == "Completed task for Matt, age 25"
    assert result["status"] == "Completed" and result["result"] == "Completed task for Matt, age 25"


async def test_updates_arrive_as_they_happen_not_at_the_end(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        task_id = (await http.post("/api/fast_tasks/task/start/steps", json={"steps": 5, "interval": 0.4})).json()[
            "task_id"
        ]
    loop = asyncio.get_running_loop()
    arrivals = []
    async with websockets.connect(f"{server.ws_url}/ws/fast_tasks/task/ws/{task_id}") as ws:
        async for raw in ws:
            arrivals.append((loop.time(), json.loads(raw)))
    processing = [t for t, m in arrivals if m["type"] == "status" and m["status"] == "Processing"]
    assert len(processing) >= 4
    gaps = [b - a for a, b in itertools.pairwise(processing)]
    assert all(gap > 0.25 for gap in gaps), gaps


async def test_long_poll_returns_when_the_task_ends(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        task_id = (await http.post("/api/example_task/task/start/task1")).json()["task_id"]
        final = (await http.get(f"/api/example_task/task/result/{task_id}", params={"wait": 20})).json()
    assert final["status"] == "Completed"
    assert final["result"] == "<Task1 Result>"
    assert final["progress"] == 99


async def test_bad_input_gets_json_errors_from_the_real_server(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        cases = [
            (await http.post("/api/nope/task/start/x"), 404, "unknown_state"),
            (await http.post("/api/example_task2/task/start/nope"), 404, "unknown_task"),
            (await http.get("/api/example_task2/task/result/nope"), 404, "unknown_task_id"),
            (
                await http.post("/api/example_task2/task/start/task2_with_args", json={"name": "Matt"}),
                422,
                "invalid_args",
            ),
            (await http.post("/api/example_task2/task/start/task2_with_args", content=b"{oops"), 400, "invalid_json"),
            (
                await http.post("/api/example_task2/task/start/task2_with_args", content=b"[" * (1024 * 1024 + 10)),
                413,
                "body_too_large",
            ),
        ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["code"] == code


async def test_a_body_over_the_limit_gets_its_json_413_every_time(server: Server) -> None:
    """The server answers before the body has arrived; closing with the rest unread
    reset the connection, and 14 of 40 clients read no answer at all."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for _ in range(30):
            response = await http.post(
                "/api/example_task2/task/start/task2_with_args", content=b"[" * (1024 * 1024 + 10)
            )
            assert (response.status_code, response.json()["code"]) == (413, "body_too_large")


async def test_a_websocket_for_an_unknown_task_closes_with_4404(server: Server) -> None:
    async with websockets.connect(f"{server.ws_url}/ws/example_task2/task/ws/nope") as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4404

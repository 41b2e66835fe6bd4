"""Stream resume against the real server: clients that drop after every two
messages and resume from the last id they received, over WebSocket and SSE, many
times while tasks run. Together they must receive every log and the result
exactly once, in order; and a stream opened as a task ends carries its end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import websockets

from harness.server import Server

pytestmark = pytest.mark.e2e

LINES = 30

Reader = Callable[[Server, str, int, int], Awaitable[list[dict[str, Any]]]]


async def read_ws(server: Server, task_id: str, after: int, count: int) -> list[dict[str, Any]]:
    url = f"{server.ws_url}/ws/fast_tasks/task/ws/{task_id}?after={after}"
    messages: list[dict[str, Any]] = []
    async with websockets.connect(url) as ws:
        try:
            while len(messages) < count:
                messages.append(json.loads(await ws.recv()))
        except websockets.ConnectionClosedOK:
            pass
    return messages


async def read_sse(server: Server, task_id: str, after: int, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    headers = {"Last-Event-ID": str(after)}
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as http,
        http.stream("GET", f"/api/tasks/{task_id}/stream", headers=headers) as response,
    ):
        assert response.status_code == 200
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line.startswith(":"):
                continue
            if line:
                key, _, value = line.partition(": ")
                fields[key] = value
                continue
            if fields:
                data = json.loads(fields["data"])
                assert str(data["id"]) == fields["id"] and data["type"] == fields["event"]
                messages.append(data)
                fields = {}
                if len(messages) >= count:
                    break
    return messages


async def drop_and_resume(server: Server, task_id: str, read: Reader) -> list[dict[str, Any]]:
    """Reads two messages per connection, resuming from the last id each time."""
    after, durable, connections = 0, [], 0
    while True:
        batch = await asyncio.wait_for(read(server, task_id, after, 2), 30)
        connections += 1
        ids = [m["id"] for m in batch]
        assert ids == sorted(set(ids)), ids
        assert batch[0]["type"] == "snapshot" and batch[0]["id"] == after
        durable.extend(m for m in batch if m["type"] not in ("snapshot", "status"))
        after = batch[-1]["id"]
        if any(m["type"] in ("result", "error") for m in batch):
            assert connections >= LINES // 2
            return durable


@pytest.mark.parametrize("read", [read_ws, read_sse], ids=["websocket", "sse"])
async def test_clients_dropping_every_two_messages_receive_every_durable_event_once(
    server: Server, read: Reader
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        ids = [
            (await http.post("/api/fast_tasks/task/start/chatty", json={"lines": LINES, "interval": 0.05})).json()[
                "task_id"
            ]
            for _ in range(3)
        ]
        received = await asyncio.gather(*(drop_and_resume(server, task_id, read) for task_id in ids))
        for task_id, durable in zip(ids, received, strict=True):
            stored = (await http.get(f"/api/tasks/{task_id}")).json()
            assert [m["message"] for m in durable if m["type"] == "log"] == [f"line {i}" for i in range(LINES)]
            assert [m["id"] for m in durable if m["type"] == "log"] == [log["id"] for log in stored["logs"]]
            assert [m["type"] for m in durable][-1] == "result" and durable[-1]["result"] == LINES


@pytest.mark.parametrize("after", [0, None], ids=["after-0", "fresh"])
async def test_every_stream_of_a_task_that_just_ended_carries_its_end(server: Server, after: int | None) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        for _ in range(20):
            task_id = (await http.post("/api/fast_tasks/task/start/noop")).json()["task_id"]
            params = {"after": after} if after is not None else {}
            text = (await http.get(f"/api/tasks/{task_id}/stream", params=params)).text
            assert "event: result" in text, text


async def read_client_ws(server: Server, token: str, after: int, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with websockets.connect(f"{server.ws_url}/ws/fast_tasks/tasks/{token}?after={after}") as ws:
        while len(messages) < count:
            messages.append(json.loads(await ws.recv()))
    return messages


async def read_client_sse(server: Server, token: str, after: int, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    headers = {"Last-Event-ID": str(after), "Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as http,
        http.stream("GET", "/api/tasks/stream", params={"state": "fast_tasks"}, headers=headers) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                messages.append(json.loads(line[len("data: ") :]))
                if len(messages) >= count:
                    break
    return messages


@pytest.mark.parametrize("read", [read_client_ws, read_client_sse], ids=["websocket", "sse"])
async def test_a_client_stream_resumed_from_every_id_it_received_loses_and_repeats_nothing(
    server: Server, read: Reader
) -> None:
    """Three tasks of one client log at once; the client's stream drops after every
    three messages and resumes from the last id it received."""
    token = server.mint_token("resumer-" + read.__name__.replace("_", "-"))
    async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        first = await asyncio.wait_for(read(server, token, 0, 1), 30)
        after = first[0]["id"]
        ids = [
            (await http.post("/api/fast_tasks/task/start/chatty", json={"lines": LINES, "interval": 0.03})).json()[
                "task_id"
            ]
            for _ in range(3)
        ]
        logs: dict[str, list[str]] = {task_id: [] for task_id in ids}
        ended: set[str] = set()
        while ended != set(ids):
            batch = await asyncio.wait_for(read(server, token, after, 4), 30)
            assert batch[0]["type"] == "snapshot"
            for message in batch[1:]:
                if message["type"] == "log":
                    logs[message["task_id"]].append(message["message"])
                if message["type"] == "result":
                    ended.add(message["task_id"])
                after = message["id"]
    for task_id in ids:
        assert logs[task_id] == [f"line {i}" for i in range(LINES)], task_id

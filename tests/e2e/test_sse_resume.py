"""Drop an SSE connection mid-task, reconnect with Last-Event-ID, receive exactly
the missed logs and the result (real server, real HTTP client)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from harness.server import Server

pytestmark = pytest.mark.e2e


def read_events(response: httpx.Response, until: str | None = None, count: int | None = None) -> list[dict]:
    events, fields = [], {}
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line:
            key, _, value = line.partition(": ")
            fields[key] = value
            continue
        if fields:
            events.append({"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])})
            fields = {}
            if events[-1]["event"] == until or (count is not None and len(events) >= count):
                return events
    return events


def test_a_dropped_sse_stream_resumes_with_exactly_the_missed_events(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        task_id = http.post("/api/fast_tasks/task/start/chatty", json={"lines": 12, "interval": 0.15}).json()["task_id"]
        with http.stream("GET", f"/api/tasks/{task_id}/stream", params={"after": 0}) as first:
            assert first.headers["content-type"].startswith("text/event-stream")
            seen = read_events(first, count=4)  # the snapshot and three logs, then the connection drops
        time.sleep(0.6)  # logs keep coming while we are away
        last_id = seen[-1]["id"]
        with http.stream("GET", f"/api/tasks/{task_id}/stream", headers={"Last-Event-ID": str(last_id)}) as second:
            rest = read_events(second, until="result")
        stored = list(http.get(f"/api/tasks/{task_id}").json()["logs"])

    assert rest[0]["event"] == "snapshot"
    logs = [e["data"]["message"] for e in seen + rest if e["event"] == "log"]
    assert logs == [f"line {i}" for i in range(12)]  # none lost, none repeated
    assert rest[-1]["event"] == "result" and rest[-1]["data"]["result"] == 12
    assert [e["id"] for e in rest[1:-1] if e["event"] == "log"] == [e["id"] for e in stored if e["id"] > last_id]

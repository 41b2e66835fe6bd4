"""The lifecycle API: catalog, list, inspect, cancel, delete, messages, ack,
artifacts, SSE, idempotency, limits."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.test_api import start, wait
from tests.test_tokens import Mint, token_start


def test_the_catalog_lists_every_state_and_task_with_its_args_schema(client: TestClient) -> None:
    catalog = client.get("/api/catalog").json()
    states = {s["name"]: s for s in catalog["states"]}
    task2 = {t["name"]: t for t in states["example_task2"]["tasks"]}["task2_with_args"]
    assert task2["kind"] == "static"
    assert set(task2["args_schema"]["properties"]) == {"name", "age"}
    assert task2["doc"].startswith("Ten steps")
    counter = states["example_counter"]["tasks"][0]
    assert counter["kind"] == "instance" and "{client_token}" in counter["start"]
    assert {t["name"]: t for t in states["fast_tasks"]["tasks"]}["overrun"]["timeout"] == 1.0


def test_the_list_filters_pages_with_a_stable_cursor_and_scopes_to_the_caller(client: TestClient, mint: Mint) -> None:
    token = mint("alice")
    alice = {"Authorization": f"Bearer {token}"}
    ids = [token_start(client, "fast_tasks", "noop", token)["task_id"] for _ in range(5)]
    failed = token_start(client, "fast_tasks", "fail", token)["task_id"]
    client.get(f"/api/fast_tasks/task/result/{failed}", params={"wait": 10}, headers=alice)
    first = client.get("/api/tasks", params={"limit": 2, "task": "noop"}, headers=alice).json()
    assert [t["task_id"] for t in first["data"]] == ids[::-1][:2]
    token_start(client, "fast_tasks", "noop", token)  # a concurrent insert does not shift the next page
    page = {"limit": 2, "task": "noop"}
    second = client.get("/api/tasks", params={**page, "cursor": first["next_cursor"]}, headers=alice).json()
    third = client.get("/api/tasks", params={**page, "cursor": second["next_cursor"]}, headers=alice).json()
    assert [t["task_id"] for t in second["data"] + third["data"]] == ids[::-1][2:5]
    assert "next_cursor" not in third
    errors = client.get("/api/tasks", params={"status": "error,CANCELLED"}, headers=alice).json()["data"]
    assert [t["task_id"] for t in errors] == [failed]
    oldest_first = client.get("/api/tasks", params={"order": "asc", "limit": 1}, headers=alice).json()["data"]
    assert oldest_first[0]["task_id"] == ids[0]
    bob = {"Authorization": f"Bearer {mint('bob')}"}
    assert client.get("/api/tasks", headers=bob).json()["data"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"status": "Done"}, "invalid_request"),
        ({"cursor": "garbage"}, "invalid_request"),
        ({"limit": 101}, "invalid_request"),
        ({"since": "yesterday"}, "invalid_request"),
    ],
)
def test_bad_list_parameters_are_4xx_json(client: TestClient, params: dict[str, Any], code: str) -> None:
    response = client.get("/api/tasks", params=params)
    assert response.status_code in (400, 422) and response.json()["code"] == code


def test_inspect_shows_args_logs_in_order_and_the_result(client: TestClient) -> None:
    task_id = start(client, "fast_tasks", "chatty", {"lines": 5})["task_id"]
    wait(client, "fast_tasks", task_id)
    detail = client.get(f"/api/tasks/{task_id}").json()
    assert detail["args"] == {"lines": 5, "interval": 0}
    assert [(log["level"], log["message"]) for log in detail["logs"]] == [
        ("info", "line 0"),
        ("warning", "line 1"),
        ("error", "line 2"),
        ("success", "line 3"),
        ("command", "line 4"),
    ]
    assert detail["result"] == 5 and detail["artifacts"] == [] and detail["messages"] == []


def test_cancel_stops_a_running_task_and_keeps_its_record(client: TestClient) -> None:
    task_id = start(client, "fast_tasks", "forever")["task_id"]
    time.sleep(0.3)
    cancelled = client.post(f"/api/tasks/{task_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "Cancelled"
    assert client.get(f"/api/tasks/{task_id}").json()["error_code"] == "cancelled"
    again = client.post(f"/api/tasks/{task_id}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "conflict"


def test_delete_removes_one_task_and_bulk_delete_counts_by_status(client: TestClient, mint: Mint) -> None:
    running = start(client, "fast_tasks", "forever")["task_id"]
    assert client.delete(f"/api/tasks/{running}").status_code == 204
    assert client.get(f"/api/tasks/{running}").status_code == 404
    token = mint("alice")
    alice = {"Authorization": f"Bearer {token}"}
    done = [token_start(client, "fast_tasks", "noop", token)["task_id"] for _ in range(3)]
    failed = token_start(client, "fast_tasks", "fail", token)["task_id"]
    keep = token_start(client, "fast_tasks", "forever", token)["task_id"]
    for task_id in [*done, failed]:
        client.get(f"/api/fast_tasks/task/result/{task_id}", params={"wait": 10}, headers=alice)
    assert client.delete("/api/tasks", params={"status": "Completed,Error"}, headers=alice).json() == {"deleted": 4}
    assert client.get(f"/api/tasks/{keep}", headers=alice).json()["status"] in {"Starting", "Processing"}
    bad = client.delete("/api/tasks", params={"status": "Finished"}, headers=alice)
    assert bad.status_code == 400 and "Finished" in bad.json()["message"]
    running_status = client.delete("/api/tasks", params={"status": "Processing"}, headers=alice)
    assert running_status.status_code == 400


def test_messages_reach_a_running_task_and_are_refused_once_it_ended(client: TestClient) -> None:
    task_id = start(client, "fast_tasks", "interactive")["task_id"]
    time.sleep(0.2)
    for body in ({"action": "skip", "n": 1}, [1, 2], {"action": "stop"}):
        response = client.post(f"/api/tasks/{task_id}/messages", json=body)
        assert response.status_code == 202, response.text
    final = wait(client, "fast_tasks", task_id)
    assert final["result"] == [{"action": "skip", "n": 1}, [1, 2]]
    detail = client.get(f"/api/tasks/{task_id}").json()
    assert [m["body"] for m in detail["messages"]] == [{"action": "skip", "n": 1}, [1, 2], {"action": "stop"}]
    late = client.post(f"/api/tasks/{task_id}/messages", json={"action": "skip"})
    assert late.status_code == 409


def test_ack_removes_a_finished_task_but_not_a_running_one(client: TestClient) -> None:
    running = start(client, "fast_tasks", "forever")["task_id"]
    assert client.post(f"/api/tasks/{running}/ack").status_code == 409
    done = start(client, "fast_tasks", "noop")["task_id"]
    wait(client, "fast_tasks", done)
    acked = client.post(f"/api/tasks/{done}/ack")
    assert acked.status_code == 200 and acked.json()["result"] == "ok"
    assert client.get(f"/api/fast_tasks/task/result/{done}").status_code == 404


def test_artifacts_are_stored_safely_listed_and_downloadable(client: TestClient) -> None:
    task_id = start(client, "fast_tasks", "files")["task_id"]
    names = wait(client, "fast_tasks", task_id)["result"]
    assert names == ["report.txt", "etc-passwd"]
    detail = client.get(f"/api/tasks/{task_id}").json()
    assert [(a["name"], a["mime"], a["size"]) for a in detail["artifacts"]] == [
        ("report.txt", "text/plain", 19),
        ("etc-passwd", "application/octet-stream", 10),
    ]
    assert "over the" in detail["logs"][-1]["message"]
    download = client.get(detail["artifacts"][0]["url"])
    assert download.status_code == 200 and download.text == "hello from the task"
    assert download.headers["content-type"].startswith("text/plain")
    for name in ("..%2F..%2Fetc%2Fpasswd", "missing.txt"):
        assert client.get(f"/api/tasks/{task_id}/artifacts/{name}").status_code == 404


def test_an_idempotency_key_returns_the_same_task_and_refuses_other_args(client: TestClient) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = client.post(
        "/api/example_task2/task/start/task2_with_args", json={"name": "Matt", "age": 25}, headers=headers
    )
    repeat = client.post(
        "/api/example_task2/task/start/task2_with_args", json={"name": "Matt", "age": 25}, headers=headers
    )
    assert (first.status_code, repeat.status_code) == (202, 200)
    assert first.json()["task_id"] == repeat.json()["task_id"]
    other = client.post(
        "/api/example_task2/task/start/task2_with_args", json={"name": "Ann", "age": 3}, headers=headers
    )
    assert other.status_code == 409 and other.json()["code"] == "conflict"


def _sse_events(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if fields:
            events.append({"id": fields.get("id"), "event": fields.get("event"), "data": json.loads(fields["data"])})
    return events


def test_sse_replays_exactly_the_events_after_last_event_id(client: TestClient) -> None:
    task_id = start(client, "fast_tasks", "chatty", {"lines": 4})["task_id"]
    wait(client, "fast_tasks", task_id)
    full = _sse_events(client.get(f"/api/tasks/{task_id}/stream").text)
    assert [e["event"] for e in full] == ["snapshot", "result"]  # an ended task's stream carries its end
    replay = _sse_events(client.get(f"/api/tasks/{task_id}/stream", headers={"Last-Event-ID": "0"}).text)
    assert [e["event"] for e in replay] == ["snapshot", "log", "log", "log", "log", "result"]
    ids = [int(e["id"]) for e in replay]
    assert ids == sorted(set(ids)) and ids[0] == 0
    cut = replay[2]["id"]
    tail = _sse_events(client.get(f"/api/tasks/{task_id}/stream", headers={"Last-Event-ID": cut}).text)
    assert tail[0]["id"] == cut
    assert [e["id"] for e in tail[1:]] == [e["id"] for e in replay[3:]]
    assert client.get("/api/tasks/nope/stream").status_code == 404
    assert client.get("/api/tasks/stream").status_code == 401


def test_the_list_searches_and_filters_on_the_server_and_counts_every_match(client: TestClient, mint: Mint) -> None:
    from tests.test_admin import make_admin

    admin = {"Authorization": f"Bearer {make_admin(client)}"}
    token = mint("alice")
    mine = token_start(client, "example_task2", "task2_with_args", token, {"name": "needle-in-args", "age": 3})[
        "task_id"
    ]
    other = start(client, "example_task2", "task2_with_args", {"name": "hay", "age": 4})["task_id"]
    found = client.get("/api/tasks", params={"search": "NEEDLE", "include": "total"}, headers=admin).json()
    assert [t["task_id"] for t in found["data"]] == [mine] and found["total"] == 1
    direct = client.get("/api/tasks", params={"client": "(direct)"}, headers=admin).json()["data"]
    assert [t["task_id"] for t in direct] == [other]
    by_alice = client.get("/api/tasks", params={"client": "alice"}, headers=admin).json()["data"]
    assert [t["task_id"] for t in by_alice] == [mine]
    assert client.get("/api/tasks", params={"search": "100%_"}, headers=admin).json()["data"] == []
    nothing_yet = client.get("/api/tasks", params={"until": "2000-01-01T00:00:00Z"}, headers=admin).json()
    assert nothing_yet["data"] == []
    refused = client.get("/api/tasks", params={"client": "bob"}, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 400


def test_stats_count_per_status_and_time_with_empty_buckets(client: TestClient, mint: Mint) -> None:
    token = mint("alice")
    bearer = {"Authorization": f"Bearer {token}"}
    ids = [token_start(client, "fast_tasks", "noop", token)["task_id"] for _ in range(3)]
    failed = token_start(client, "fast_tasks", "fail", token)["task_id"]
    for task_id in [*ids, failed]:
        client.get(f"/api/fast_tasks/task/result/{task_id}", params={"wait": 10}, headers=bearer)
    stats = client.get("/api/tasks/stats", headers=bearer).json()
    counts = {c["status"]: c["tasks"] for c in stats["by_status"]}
    assert counts["Completed"] == 3 and counts["Error"] == 1 and counts["Processing"] == 0
    assert stats["total"] == 4 and stats["bucket"] == "hour" and len(stats["throughput"]) in (24, 25)
    assert sum(p["started"] for p in stats["throughput"]) == 4 == sum(p["finished"] for p in stats["throughput"])
    assert any(p["started"] == 0 for p in stats["throughput"])  # empty buckets are there, as zeros
    noop = next(d for d in stats["durations"] if d["task"] == "noop")
    assert noop["finished"] == 3 and 0 <= noop["p50"] <= noop["p99"] < 5
    recent = client.get(
        "/api/tasks/stats", params={"since": "2000-01-01T00:00:00Z", "until": "2000-01-01T01:00:00Z"}, headers=bearer
    ).json()
    assert recent["bucket"] == "minute" and recent["total"] == 0 and len(recent["throughput"]) == 60
    assert client.get("/api/tasks/stats").status_code == 401


def test_the_search_finds_text_outside_ascii_and_quoted_text_as_it_was_given(client: TestClient, mint: Mint) -> None:
    from tests.test_admin import make_admin

    admin = {"Authorization": f"Bearer {make_admin(client)}"}
    accented = start(client, "example_task2", "task2_with_args", {"name": 'Zoë says "héllo" 東京', "age": 3})["task_id"]
    start(client, "example_task2", "task2_with_args", {"name": "plain", "age": 4})
    for needle in ("ZOË", '"héllo"', "東京"):
        found = client.get("/api/tasks", params={"search": needle}, headers=admin).json()["data"]
        assert [t["task_id"] for t in found] == [accented], needle
    # The needles stay inside the caller's scope: another client's search finds none of the tokenless tasks.
    other = {"Authorization": f"Bearer {mint('bob')}"}
    for needle in ('"héllo"', "東京"):
        assert client.get("/api/tasks", params={"search": needle}, headers=other).json()["data"] == [], needle
    assert client.get("/api/tasks", params={"search": "東京"}).status_code == 401

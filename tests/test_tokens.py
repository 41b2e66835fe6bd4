"""Client tokens and instance tasks, in-process against the ASGI app."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from reflex.istate.manager.token import BaseStateToken
from reflex_base.event import Event
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from states.example_counter import CounterState
from states.monitor import client_state_token
from tasks.auth import TOKEN_PATTERN, hash_token
from tasks.engine import get_engine

Mint = Callable[..., str]


def token_start(client: TestClient, state: str, task: str, token: str, body: Any = None) -> dict[str, Any]:
    response = client.post(f"/api/{state}/tasks/{token}/start/{task}", json=body)
    assert response.status_code == 202, response.text
    return response.json()


def read_until_closed(ws: Any) -> tuple[list[dict[str, Any]], int]:
    messages = []
    while True:
        try:
            messages.append(ws.receive_json())
        except WebSocketDisconnect as closed:
            return messages, closed.code


def test_tokens_are_random_and_stored_only_as_a_hash(client: TestClient, mint: Mint) -> None:
    first, second = mint("alice"), mint("alice")
    assert first != second and TOKEN_PATTERN.fullmatch(first) and "_" not in first
    tokens = client.portal.call(get_engine().auth.list)
    assert {t.client for t in tokens} == {"alice"}

    async def stored_hashes() -> list[str]:
        from sqlalchemy import text

        async with get_engine().store.engine.connect() as conn:
            return [row[0] for row in await conn.execute(text("SELECT token_hash FROM client_token"))]

    hashes = client.portal.call(stored_hashes)
    assert sorted(hashes) == sorted([hash_token(first), hash_token(second)])
    assert first not in hashes


def test_a_token_starts_a_task_its_client_owns_and_streams_it(client: TestClient, mint: Mint) -> None:
    token = mint("alice")
    snap = token_start(client, "fast_tasks", "steps", token, {"steps": 4, "interval": 0.05})
    assert snap["client"] == "alice"
    assert snap["links"]["ws"] == f"/ws/fast_tasks/tasks/{token}/{snap['task_id']}"
    with client.websocket_connect(snap["links"]["ws"]) as ws:
        messages, code = read_until_closed(ws)
    assert code == 1000
    assert messages[0]["type"] == "snapshot" and messages[-1]["result"] == {"steps": 4}
    bearer = {"Authorization": f"Bearer {token}"}
    final = client.get(f"/api/fast_tasks/task/result/{snap['task_id']}", headers=bearer).json()
    assert final["status"] == "Completed" and final["client"] == "alice"


def test_the_client_stream_shows_every_task_of_that_client_in_that_state_live(client: TestClient, mint: Mint) -> None:
    token = mint("alice")
    earlier = token_start(client, "fast_tasks", "noop", token)
    client.get(
        f"/api/fast_tasks/task/result/{earlier['task_id']}",
        params={"wait": 5},
        headers={"Authorization": f"Bearer {token}"},
    )
    with client.websocket_connect(f"/ws/fast_tasks/tasks/{token}") as ws:
        first = ws.receive_json()
        assert first["type"] == "snapshot"
        assert [t["task_id"] for t in first["tasks"]] == [earlier["task_id"]]
        one = token_start(client, "fast_tasks", "steps", token, {"steps": 3, "interval": 0.02})
        two = token_start(client, "fast_tasks", "chatty", token, {"lines": 2})
        ended: set[str] = set()
        seen_types: set[str] = set()
        while ended != {one["task_id"], two["task_id"]}:
            message = ws.receive_json()
            seen_types.add(message["type"])
            if message["type"] in ("result", "error"):
                ended.add(message["task_id"])
    assert {"status", "log", "result"} <= seen_types


def test_another_clients_task_is_404_everywhere(client: TestClient, mint: Mint) -> None:
    alice, bob = mint("alice"), mint("bob")
    task_id = token_start(client, "fast_tasks", "forever", alice)["task_id"]
    for headers in ({}, {"Authorization": f"Bearer {bob}"}):
        response = client.get(f"/api/fast_tasks/task/result/{task_id}", headers=headers)
        assert response.status_code == 404 and response.json()["code"] == "unknown_task_id"
    for path in (f"/ws/fast_tasks/tasks/{bob}/{task_id}", f"/ws/fast_tasks/task/ws/{task_id}"):
        with client.websocket_connect(path) as ws:
            assert read_until_closed(ws) == ([], 4404)
    with client.websocket_connect(f"/ws/fast_tasks/tasks/{bob}") as ws:
        assert ws.receive_json()["tasks"] == []
    ownerless = client.post("/api/fast_tasks/task/start/noop").json()["task_id"]
    with client.websocket_connect(f"/ws/fast_tasks/tasks/{alice}/{ownerless}") as ws:
        assert read_until_closed(ws) == ([], 4404)


@pytest.mark.parametrize("kind", ["missing", "wrong", "expired", "revoked"])
def test_a_bad_token_is_401_on_http_and_4401_on_websockets(client: TestClient, mint: Mint, kind: str) -> None:
    token = {
        "missing": "",
        "wrong": "sgt" + "0" * 40,
        "expired": mint("carol", timedelta(milliseconds=1)),
        "revoked": mint("dave"),
    }[kind]
    if kind == "revoked":
        client.portal.call(get_engine().auth.revoke, "dave")
    time.sleep(0.01)
    if token:
        response = client.post(f"/api/fast_tasks/tasks/{token}/start/noop")
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"
        with client.websocket_connect(f"/ws/fast_tasks/tasks/{token}") as ws:
            assert read_until_closed(ws) == ([], 4401)
    response = client.get("/api/fast_tasks/task/result/x", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_the_token_route_checks_the_token_before_saying_whether_a_task_exists(client: TestClient, mint: Mint) -> None:
    """A stranger learns nothing of the registry from the token route; a client learns
    which state or task name is wrong."""
    for path in (
        "fast_tasks/tasks/sgt-nope/start/noop",
        "fast_tasks/tasks/sgt-nope/start/nope",
        "nope/tasks/x/start/x",
    ):
        response = client.post(f"/api/{path}")
        assert (response.status_code, response.json()["code"]) == (401, "unauthorized"), path
    token = mint("alice")
    assert client.post(f"/api/fast_tasks/tasks/{token}/start/nope").json()["code"] == "unknown_task"
    assert client.post(f"/api/nope/tasks/{token}/start/noop").json()["code"] == "unknown_state"
    assert client.post(f"/api/fast_tasks/tasks/{token}/start/noop").status_code == 202


def test_an_instance_task_on_the_direct_route_is_401_naming_the_token_route(client: TestClient) -> None:
    response = client.post("/api/example_counter/task/start/process_items")
    assert response.status_code == 401
    assert "/api/example_counter/tasks/<client_token>/start/process_items" in response.json()["hint"]


def test_an_instance_task_writes_to_its_clients_state_seen_only_by_sessions_that_proved_they_may(
    client: TestClient, mint: Mint, reflex_app: Any
) -> None:
    token, stranger_token = mint("alice"), mint("mallory")

    async def link(browser: str, payload: dict[str, str]) -> None:
        # router_data as a browser sends it: Reflex tells linked sessions apart by it.
        event = Event(
            name=f"{CounterState.get_full_name()}.watch_client", payload=payload, router_data={"token": browser}
        )
        await (await reflex_app.event_processor.enqueue(browser, event))

    async def log_in_as_admin(browser: str) -> None:
        """Through the login form's event, as the browser does: Reflex resets a new
        session's browser storage on its first event, so the session is set after."""
        from states.admin_session import AdminSessionState

        form = {"user": "root", "password": "correct horse battery staple"}
        event = Event(
            name=f"{AdminSessionState.get_full_name()}.login", payload={"form": form}, router_data={"token": browser}
        )
        await (await reflex_app.event_processor.enqueue(browser, event))

    async def counter_as_seen_by(session: str) -> tuple[int, list[str]]:
        async with reflex_app.modify_state(BaseStateToken(ident=session, cls=CounterState)) as root:
            state = await root.get_state(CounterState)
            return state.count, list(state.processed)

    client.portal.call(get_engine().admins.set_password, "root", "correct horse battery staple")
    client.portal.call(log_in_as_admin, "browser-admin")
    client.portal.call(link, "browser-proved", {"client": "alice", "token": token})
    client.portal.call(link, "browser-admin", {"client": "alice"})
    client.portal.call(link, "browser-stranger", {"client": "alice", "token": stranger_token})
    client.portal.call(link, "browser-anonymous", {"client": "alice"})
    snap = token_start(client, "example_counter", "process_items", token, {"items": ["a", "b", "c"], "delay": 0.01})
    final = client.get(
        f"/api/example_counter/task/result/{snap['task_id']}",
        params={"wait": 10},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert final["status"] == "Completed" and final["result"]["processed"] == 3

    count, processed = client.portal.call(counter_as_seen_by, client_state_token("alice"))
    assert processed[-3:] == ["a", "b", "c"] and count >= 3

    def seen_by(browser: str) -> tuple[int, list[str]]:
        """Reflex applies a shared state's changes to linked sessions in tasks of its own."""
        for _ in range(40):
            if (seen := client.portal.call(counter_as_seen_by, browser)) == (count, processed):
                break
            time.sleep(0.05)
        return seen

    assert seen_by("browser-proved") == (count, processed)
    assert seen_by("browser-admin") == (count, processed)
    assert client.portal.call(counter_as_seen_by, "browser-stranger") == (0, [])
    assert client.portal.call(counter_as_seen_by, "browser-anonymous") == (0, [])


def test_a_browser_cannot_run_an_instance_task_by_naming_its_handler(
    client: TestClient, mint: Mint, reflex_app: Any
) -> None:
    token = mint("alice")

    async def call_handler() -> None:
        event = Event(name=f"{CounterState.get_full_name()}.process_items", payload={"task_id": "x", "nonce": ""})
        await (await reflex_app.event_processor.enqueue("browser-attacker", event))

    client.portal.call(call_handler)
    snap = token_start(client, "example_counter", "process_items", token, {"items": ["a"], "delay": 0.01})
    final = client.get(
        f"/api/example_counter/task/result/{snap['task_id']}",
        params={"wait": 10},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert final["status"] == "Completed"  # the real run was not disturbed


def test_the_reflex_token_of_a_clients_state_is_not_guessable_from_its_name(client: TestClient) -> None:
    token = client_state_token("alice")
    assert "alice" not in token and token.startswith("spyglass-client-") and len(token) >= 16 + 40
    assert "_" not in token  # a valid SharedState link token

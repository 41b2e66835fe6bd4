"""Who sees what, on every route and stream: a client sees its own tasks only, an
anonymous caller tokenless tasks by id only (no listing, no bulk delete), an admin
everything. Anything else answers exactly like an unknown id: 404 / 4404."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.test_api import start, wait
from tests.test_tokens import Mint, read_until_closed, token_start


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _by_id_routes(task_id: str) -> list[tuple[str, str, Any]]:
    return [
        ("GET", f"/api/tasks/{task_id}", None),
        ("GET", f"/api/fast_tasks/task/result/{task_id}", None),
        ("GET", f"/api/tasks/{task_id}/stream", None),
        ("POST", f"/api/tasks/{task_id}/messages", {"action": "x"}),
        ("POST", f"/api/tasks/{task_id}/retry", None),
        ("POST", f"/api/tasks/{task_id}/ack", None),
        ("GET", f"/api/tasks/{task_id}/artifacts/report.txt", None),
        ("POST", f"/api/tasks/{task_id}/cancel", None),
        ("DELETE", f"/api/tasks/{task_id}", None),
    ]


def test_a_client_token_gets_404_for_a_tokenless_task_on_every_route_and_stream(client: TestClient, mint: Mint) -> None:
    task_id = start(client, "fast_tasks", "forever")["task_id"]
    mallory = mint("mallory")
    for method, path, body in _by_id_routes(task_id):
        response = client.request(method, path, json=body, headers=_bearer(mallory))
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "unknown_task_id"
    for path in (f"/ws/fast_tasks/task/ws/{task_id}", f"/ws/fast_tasks/tasks/{mallory}/{task_id}"):
        with client.websocket_connect(path, headers=_bearer(mallory)) as ws:
            assert read_until_closed(ws) == ([], 4404)
    still = client.get(f"/api/fast_tasks/task/result/{task_id}").json()
    assert still["status"] in {"Starting", "Processing"}  # nothing was cancelled or deleted
    assert client.post(f"/api/tasks/{task_id}/cancel").status_code in (200, 202)  # its id is its capability


def test_a_client_gets_404_for_another_clients_task_everywhere(client: TestClient, mint: Mint) -> None:
    alice, bob = mint("alice"), mint("bob")
    task_id = token_start(client, "fast_tasks", "forever", alice)["task_id"]
    for headers in ({}, _bearer(bob)):
        for method, path, body in _by_id_routes(task_id):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 404, (method, path, headers, response.text)
    assert client.get(f"/api/tasks/{task_id}", headers=_bearer(alice)).json()["status"] in {"Starting", "Processing"}


def test_anonymous_callers_cannot_list_or_bulk_delete_tokenless_tasks(client: TestClient) -> None:
    ids = [start(client, "fast_tasks", "noop")["task_id"] for _ in range(3)]
    for task_id in ids:
        wait(client, "fast_tasks", task_id)
    listing = client.get("/api/tasks")
    assert listing.status_code == 401 and listing.json()["code"] == "token_required"
    bulk = client.delete("/api/tasks", params={"status": "Completed"})
    assert bulk.status_code == 401 and bulk.json()["code"] == "token_required"
    assert client.get("/api/tasks/stream").status_code == 401
    for task_id in ids:  # nothing was deleted; each id still reads
        assert client.get(f"/api/tasks/{task_id}").json()["status"] == "Completed"


def test_a_client_lists_and_bulk_deletes_only_its_own_tasks(client: TestClient, mint: Mint) -> None:
    alice, bob = mint("alice"), mint("bob")
    mine = token_start(client, "fast_tasks", "noop", alice)["task_id"]
    theirs = token_start(client, "fast_tasks", "noop", bob)["task_id"]
    tokenless = start(client, "fast_tasks", "noop")["task_id"]
    for task_id, token in ((mine, alice), (theirs, bob)):
        client.get(f"/api/fast_tasks/task/result/{task_id}", params={"wait": 10}, headers=_bearer(token))
    wait(client, "fast_tasks", tokenless)
    listed = [t["task_id"] for t in client.get("/api/tasks", headers=_bearer(alice)).json()["data"]]
    assert listed == [mine]
    assert client.delete("/api/tasks", params={"status": "Completed"}, headers=_bearer(alice)).json() == {"deleted": 1}
    assert client.get(f"/api/tasks/{theirs}", headers=_bearer(bob)).status_code == 200
    assert client.get(f"/api/tasks/{tokenless}").status_code == 200


def test_an_admin_session_sees_tokenless_and_client_tasks(client: TestClient, mint: Mint) -> None:
    from tests.test_admin import make_admin

    admin = _bearer(make_admin(client))
    owned = token_start(client, "fast_tasks", "noop", mint("alice"))["task_id"]
    tokenless = start(client, "fast_tasks", "noop")["task_id"]
    listed = {t["task_id"] for t in client.get("/api/tasks", headers=admin).json()["data"]}
    assert {owned, tokenless} <= listed
    assert client.get(f"/api/tasks/{tokenless}", headers=admin).status_code == 200


@pytest.mark.parametrize("path", ["/api/tasks", "/api/fast_tasks/task/result/x", "/api/tasks/x"])
def test_a_malformed_bearer_header_is_401_not_anonymous(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Authorization": "Bearer "})
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"

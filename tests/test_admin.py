"""Admin accounts: hashed passwords, sessions that see every client, throttled logins."""

from __future__ import annotations

from starlette.testclient import TestClient

from tasks.admins import hash_password, verify_password
from tasks.engine import get_engine
from tests.test_tokens import Mint, token_start

PASSWORD = "correct horse battery staple"


def make_admin(client: TestClient, user: str = "root") -> str:
    client.portal.call(get_engine().admins.set_password, user, PASSWORD)
    response = client.post("/api/admin/login", json={"user": user, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$") and PASSWORD not in first
    assert verify_password(PASSWORD, first) and not verify_password("wrong password!", first)


def test_an_admin_session_sees_every_clients_tasks_and_mints_tokens(client: TestClient, mint: Mint) -> None:
    session = make_admin(client)
    admin = {"Authorization": f"Bearer {session}"}
    alice = token_start(client, "fast_tasks", "noop", mint("alice"))["task_id"]
    direct = client.post("/api/fast_tasks/task/start/noop").json()["task_id"]
    listed = {t["task_id"] for t in client.get("/api/tasks", headers=admin).json()["data"]}
    assert {alice, direct} <= listed
    assert client.get(f"/api/tasks/{alice}", headers=admin).status_code == 200

    created = client.post("/api/admin/tokens", json={"client": "bob", "expires_in_days": 7}, headers=admin)
    assert created.status_code == 201
    bob = created.json()["token"]
    assert client.post(f"/api/fast_tasks/tasks/{bob}/start/noop").status_code == 202
    tokens = client.get("/api/admin/tokens", headers=admin).json()
    assert bob not in str(tokens) and {"alice", "bob"} <= {t["client"] for t in tokens}
    assert client.delete("/api/admin/tokens/bob", headers=admin).json() == {"revoked": 1}
    assert client.post(f"/api/fast_tasks/tasks/{bob}/start/noop").status_code == 401


def test_admin_routes_refuse_clients_and_anonymous_callers(client: TestClient, mint: Mint) -> None:
    for headers in ({}, {"Authorization": f"Bearer {mint('alice')}"}):
        response = client.get("/api/admin/tokens", headers=headers)
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_logout_ends_the_session(client: TestClient) -> None:
    session = make_admin(client)
    admin = {"Authorization": f"Bearer {session}"}
    assert client.post("/api/admin/logout", headers=admin).status_code == 204
    assert client.get("/api/admin/tokens", headers=admin).status_code == 401


def test_repeated_failed_logins_are_throttled(client: TestClient) -> None:
    make_admin(client, "carol")
    for _ in range(5):
        assert client.post("/api/admin/login", json={"user": "carol", "password": "wrong guess!!"}).status_code == 401
    blocked = client.post("/api/admin/login", json={"user": "carol", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_logins" and int(blocked.headers["retry-after"]) > 0

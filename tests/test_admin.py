"""Admin accounts: hashed passwords, sessions that see every client, throttled logins."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from starlette.testclient import TestClient

from tasks.admins import hash_password, needs_rehash, verify_password
from tasks.engine import get_engine
from tasks.throttle import LoginThrottle, LoginThrottled
from tests.test_tokens import Mint, token_start

PASSWORD = "correct horse battery staple"


def make_admin(client: TestClient, user: str = "root") -> str:
    client.portal.call(get_engine().admins.set_password, user, PASSWORD)
    response = client.post("/api/admin/login", json={"user": user, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def test_passwords_are_salted_argon2id_hashes_and_old_scrypt_ones_still_verify() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("$argon2id$") and PASSWORD not in first
    assert verify_password(PASSWORD, first) and not verify_password("wrong password!", first)
    salt = bytes(16)
    legacy = (
        "scrypt$16384$8$1$"
        + salt.hex()
        + "$"
        + hashlib.scrypt(PASSWORD.encode(), salt=salt, dklen=32, n=2**14, r=8, p=1).hex()
    )
    assert verify_password(PASSWORD, legacy) and needs_rehash(legacy) and not needs_rehash(first)


def test_a_scrypt_hash_is_replaced_by_argon2id_at_the_next_login(client: TestClient) -> None:
    from sqlalchemy import text

    make_admin(client, "olduser")
    salt = bytes(16)
    legacy = (
        "scrypt$16384$8$1$"
        + salt.hex()
        + "$"
        + hashlib.scrypt(PASSWORD.encode(), salt=salt, dklen=32, n=2**14, r=8, p=1).hex()
    )

    async def stored(value: str | None = None) -> str:
        async with get_engine().store.engine.begin() as conn:
            if value is not None:
                await conn.execute(
                    text("UPDATE admin_user SET password_hash = :h WHERE name = 'olduser'"), {"h": value}
                )
            return (
                await conn.execute(text("SELECT password_hash FROM admin_user WHERE name = 'olduser'"))
            ).scalar_one()

    client.portal.call(stored, legacy)
    assert client.post("/api/admin/login", json={"user": "olduser", "password": PASSWORD}).status_code == 200
    assert client.portal.call(stored).startswith("$argon2id$")


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


def test_repeated_failed_logins_from_one_address_are_slowed_down(client: TestClient) -> None:
    make_admin(client, "carol")
    for _ in range(4):
        assert client.post("/api/admin/login", json={"user": "carol", "password": "wrong guess!!"}).status_code == 401
    blocked = client.post("/api/admin/login", json={"user": "carol", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_logins" and int(blocked.headers["retry-after"]) > 0


def test_a_guesser_elsewhere_never_locks_the_admin_out() -> None:
    throttle = LoginThrottle()
    for _ in range(50):
        with contextlib.suppress(LoginThrottled):
            throttle.check("root", "203.0.113.9")
            throttle.failed("root", "203.0.113.9")
    with pytest.raises(LoginThrottled):
        throttle.check("root", "203.0.113.9")
    throttle.check("root", "198.51.100.7")  # the real admin, from home: not throttled


def test_one_address_spraying_many_user_names_is_throttled_as_a_whole() -> None:
    throttle = LoginThrottle()
    for i in range(31):
        throttle.failed(f"user{i}", "203.0.113.9")
    with pytest.raises(LoginThrottled):
        throttle.check("somebody-new", "203.0.113.9")


def test_the_throttle_forgets_idle_entries_and_keeps_a_bounded_size() -> None:
    throttle = LoginThrottle(max_entries=100)
    for i in range(1000):
        throttle.failed(f"user{i}", f"198.51.100.{i % 250}")
    assert len(throttle) <= 100


def test_a_restart_with_the_same_bootstrap_password_keeps_sessions(client: TestClient) -> None:
    engine = get_engine()
    client.portal.call(engine.admins.set_password, "boot", PASSWORD)
    session = client.post("/api/admin/login", json={"user": "boot", "password": PASSWORD}).json()["token"]
    admin = {"Authorization": f"Bearer {session}"}
    client.portal.call(engine.admins.ensure_password, "boot", PASSWORD)  # what a restart does
    assert client.get("/api/admin/tokens", headers=admin).status_code == 200
    client.portal.call(engine.admins.ensure_password, "boot", PASSWORD + " changed")
    assert client.get("/api/admin/tokens", headers=admin).status_code == 401

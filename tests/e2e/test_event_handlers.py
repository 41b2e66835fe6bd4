"""Every Reflex event handler is a public endpoint: this test calls each handler of
each state the app registers, as an anonymous browser would (a Socket.IO client on
`/_event`, no login), with arguments aimed at other people's data. None may change
the store or deliver a task, a token or a client's state. The list of handlers is
read from the app at run time, so a new handler is covered without being named here.
"""

from __future__ import annotations

import inspect
import time
import typing
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from reflex.state import State
from reflex_base.utils.format import format_event_handler

from harness.server import Server
from tests.support.reflex_socket import ReflexSocket

pytestmark = pytest.mark.e2e

ADMIN, PASSWORD = "root", "correct horse battery staple"
SECRET_ARG = "s3cret-argument-of-alice"
TOKENLESS_ARG = "tokenless-secret-argument"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("handlers")
    env = {"SPYGLASS_ADMIN_USER": ADMIN, "SPYGLASS_ADMIN_PASSWORD": PASSWORD}
    srv = Server(base / "data", base / "server.log", env=env).start()
    try:
        yield srv
    finally:
        srv.stop()


def all_handlers(reflex_app: Any) -> list[tuple[type[Any], str, Any]]:
    """(state class, handler name, handler) for every state the app registered."""
    found = []
    pending: list[type[Any]] = [State]
    while pending:
        cls = pending.pop()
        pending.extend(cls.get_substates())
        for name, handler in cls.event_handlers.items():
            found.append((cls, name, handler))
    return found


def payloads(cls: type[Any], handler: Any, targets: dict[str, Any]) -> list[dict[str, Any]]:
    """Argument sets aimed at other people's data, built from the handler's signature."""
    params = [p for p in inspect.signature(handler.fn).parameters.values() if p.name != "self"]
    if not params:
        return [{}]
    try:
        hints = typing.get_type_hints(handler.fn)
    except Exception:
        hints = {}
    strings = [targets["task"], targets["tokenless"], "alice", targets["token"], targets["token_id"], ADMIN]
    form = {"client": "mallory", "days": "1", "user": ADMIN, "password": "not the password", "name": "x", "age": "1"}
    variants = []
    for i in range(len(strings)):
        payload: dict[str, Any] = {}
        for param in params:
            hint = hints.get(param.name, str)
            origin = typing.get_origin(hint) or hint
            if param.name == "var_name":
                names = sorted(getattr(cls, "base_vars", {}) or {"x": None})
                payload[param.name] = names[i % len(names)]
            elif origin is dict:
                payload[param.name] = form
            elif origin is bool:
                payload[param.name] = True
            elif origin in (int, float):
                payload[param.name] = 1
            elif origin is list:
                payload[param.name] = [targets["task"]]
            else:
                payload[param.name] = strings[(i + len(payload)) % len(strings)]
        variants.append(payload)
    return variants


def admin_login(base: str) -> str:
    """An admin session. The handler sweep sends wrong passwords for the admin user
    from this address, so the login throttle may answer 429 for a few seconds:
    wait as its Retry-After says, as a client would."""
    for _ in range(5):
        response = httpx.post(f"{base}/api/admin/login", json={"user": ADMIN, "password": PASSWORD})
        if response.status_code != 429:
            break
        time.sleep(int(response.headers["Retry-After"]))
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def store_view(server: Server, admin: dict[str, str]) -> dict[str, Any]:
    tasks = httpx.get(f"{server.base_url}/api/tasks", params={"limit": 100}, headers=admin).json()["data"]
    tokens = httpx.get(f"{server.base_url}/api/admin/tokens", headers=admin).json()
    return {
        "tasks": sorted(
            (t["task_id"], t["status"] if t["status"] in ("Completed", "Error") else "running") for t in tasks
        ),
        "tokens": sorted((t["id"], t["client"], t["revoked_at"]) for t in tokens),
    }


async def test_no_handler_changes_the_store_or_leaks_data_without_an_admin_session(
    server: Server, reflex_app: Any
) -> None:
    base = server.base_url
    session = admin_login(base)
    admin = {"Authorization": f"Bearer {session}"}
    minted = httpx.post(f"{base}/api/admin/tokens", json={"client": "alice"}, headers=admin).json()
    token, token_id = minted["token"], minted["info"]["id"]
    other = httpx.post(f"{base}/api/admin/tokens", json={"client": "bob-the-other"}, headers=admin).json()
    running = httpx.post(f"{base}/api/fast_tasks/tasks/{token}/start/forever").json()["task_id"]
    finished = httpx.post(
        f"{base}/api/example_task2/tasks/{token}/start/task2_with_args", json={"name": SECRET_ARG, "age": 1}
    ).json()["task_id"]
    tokenless = httpx.post(
        f"{base}/api/example_task2/task/start/task2_with_args", json={"name": TOKENLESS_ARG, "age": 2}
    ).json()["task_id"]
    counter = httpx.post(
        f"{base}/api/example_counter/tasks/{token}/start/process_items", json={"items": ["alice-item"], "delay": 0}
    ).json()["task_id"]
    for state, task_id in (("example_counter", counter), ("example_task2", finished), ("example_task2", tokenless)):
        # only `running` runs while the attack goes on
        httpx.get(f"{base}/api/{state}/task/result/{task_id}", params={"wait": 20}, headers=admin, timeout=30)
    # A token of alice's that no longer works: with a valid one the caller would be
    # alice (watch_client("alice", <her token>) rightly links the browser to her).
    stale = httpx.post(f"{base}/api/admin/tokens", json={"client": "alice"}, headers=admin).json()
    httpx.delete(f"{base}/api/admin/tokens/{stale['info']['id']}", headers=admin).raise_for_status()
    targets = {"task": running, "tokenless": tokenless, "token": stale["token"], "token_id": token_id}
    before = store_view(server, admin)

    handlers = all_handlers(reflex_app)
    names = {format_event_handler(handler) for _, _, handler in handlers}
    assert len(names) > 40, names  # the app's own handlers and Reflex's internal ones
    async with ReflexSocket(base) as browser:
        await browser.send(f"{State.get_full_name()}.hydrate")
        for cls, _name, handler in handlers:
            for payload in payloads(cls, handler, targets):
                for path in ("/admins/tasks/", "/admins/tokens/", "/admin/task/"):
                    await browser.send(format_event_handler(handler), payload, path)
        await browser.settle(3)
        seen = browser.text()

    after = store_view(server, admin)
    assert after == before  # no task started, cancelled or deleted; no token minted or revoked
    # What the attacker did not send itself must never come back: other tasks' ids,
    # anyone's arguments, results and instance state, other tokens.
    unknown_to_attacker = (
        finished,
        counter,
        SECRET_ARG,
        TOKENLESS_ARG,
        "Completed task for",
        "alice-item",
        other["token"],
        other["info"]["id"],
        "bob-the-other",
    )
    for secret in unknown_to_attacker:
        assert secret not in seen, f"{secret} reached an anonymous browser"
    assert "_redirect" in seen or "/admins/login" in seen  # refused events send the browser to log in
    status = httpx.get(f"{base}/api/fast_tasks/task/result/{running}", headers={"Authorization": f"Bearer {token}"})
    assert status.json()["status"] == "Processing"


async def test_the_specific_attacks_of_the_report_are_refused(server: Server, reflex_app: Any) -> None:
    from states.example_counter import CounterState
    from states.start_form import StartFormState
    from states.token_admin import TokenAdminState

    base = server.base_url
    session = admin_login(base)
    admin = {"Authorization": f"Bearer {session}"}
    before = store_view(server, admin)
    async with ReflexSocket(base) as browser:
        await browser.send(f"{State.get_full_name()}.hydrate")
        await browser.send(
            f"{TokenAdminState.get_full_name()}.create", {"form": {"client": "mallory"}}, "/admins/tokens/"
        )
        await browser.send(f"{StartFormState.get_full_name()}.set_client", {"value": "alice"})
        await browser.send(f"{StartFormState.get_full_name()}.choose", {"choice": "fast_tasks.forever"})
        await browser.send(f"{StartFormState.get_full_name()}.submit")
        await browser.send(f"{CounterState.get_full_name()}.watch_client", {"client": "alice"}, "/")
        await browser.settle(2)
        seen = browser.text()
    assert store_view(server, admin) == before
    assert "sgt" not in seen and "mallory" not in seen


@pytest.mark.parametrize("bad", ["ro\x00ot", "ro\ud800ot"])
async def test_no_handler_breaks_on_a_nul_or_an_unpaired_surrogate(server: Server, reflex_app: Any, bad: str) -> None:
    """Reflex decodes events with plain json.loads, so both reach the handlers: the
    login form, a client's token, an admin session, ids and filters. Each ran into
    the driver, argon2 or SHA-256 with a traceback in the log (and an error toast).
    The browser is logged in as the admin, so the dashboard's handlers act."""
    from states.admin_session import AdminSessionState

    admin_login(server.base_url)  # waits out the login throttle the sweeps above may have set off
    logged = len(server.log())
    form = {"client": bad, "days": "1", "user": bad, "password": bad, "search": bad, "name": bad, "since": bad}
    async with ReflexSocket(server.base_url) as browser:
        await browser.send(f"{State.get_full_name()}.hydrate")
        await browser.settle(0.5)
        assert f'"{ADMIN}"' not in browser.text()
        login = f"{AdminSessionState.get_full_name()}.login"
        await browser.send(login, {"form": {"user": ADMIN, "password": PASSWORD}}, "/admins/login")
        await browser.settle(1)
        assert f'"{ADMIN}"' in browser.text(), browser.text()[-2000:]  # logged in: the state's user is sent
        for cls, _name, handler in all_handlers(reflex_app):
            if not handler.fn.__module__.startswith("states.") or cls is AdminSessionState:
                continue  # Reflex's own (setvar, the frontend's exception report); the session, kept
            params = [p for p in inspect.signature(handler.fn).parameters.values() if p.name != "self"]
            hints = typing.get_type_hints(handler.fn) if params else {}
            payload: dict[str, Any] = {}
            for param in params:
                origin = typing.get_origin(hints.get(param.name, str)) or hints.get(param.name, str)
                payload[param.name] = form if origin is dict else [bad] if origin is list else bad
            for path, query in (("/admins/tasks/", {"search": bad}), ("/admins/tasks/x", {"task_id": bad})):
                await browser.send(format_event_handler(handler), payload, path, query)
        await browser.send(login, {"form": {"user": bad, "password": bad}}, "/admins/login")
        await browser.settle(3)
    new_log = server.log()[logged:]
    assert "Traceback" not in new_log, new_log[-3000:]

"""Admin command line: `python -m tasks tokens create|list|revoke`, `python -m tasks admin create|list`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta

from tasks.admins import Admins, WeakPassword
from tasks.auth import Auth
from tasks.errors import TaskError
from tasks.settings import get_settings
from tasks.store import Store


async def _with_store(action: Callable[[Store], Awaitable[int]]) -> int:
    settings = get_settings()
    store = Store(settings.async_database_url, sqlite_synchronous=settings.sqlite_synchronous)
    await store.start()
    try:
        return await action(store)
    finally:
        await store.stop()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password (12+ characters): ")
    if first != getpass.getpass("again: "):
        raise WeakPassword("the two passwords differ")
    return first


async def _admin_create(store: Store, user: str, password: str) -> int:
    await Admins(store).set_password(user, password)
    print(f"admin {user!r} is ready: log in at /admins/login")
    return 0


async def _admin_list(store: Store) -> int:
    for user in await Admins(store).users():
        print(user)
    return 0


async def _create(auth: Auth, client: str, days: float | None) -> int:
    created = await auth.create(client, timedelta(days=days) if days else None)
    expiry = created.info.expires_at.isoformat() if created.info.expires_at else "never"
    print(f"client: {created.info.client}")
    print(f"token id: {created.info.id} (expires: {expiry})")
    print("the token is shown once; store it now:")
    print(created.token)
    return 0


async def _list(auth: Auth) -> int:
    rows = await auth.list()
    print(f"{'TOKEN ID':<14} {'CLIENT':<24} {'STATE':<8} {'CREATED':<20} {'EXPIRES':<20} LAST USED")
    for info in rows:

        def fmt(value: object) -> str:
            return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"  # type: ignore[attr-defined]

        print(
            f"{info.id:<14} {info.client:<24} {info.status:<8} {fmt(info.created_at):<20} "
            f"{fmt(info.expires_at):<20} {fmt(info.last_used_at)}"
        )
    return 0


async def _revoke(auth: Auth, target: str) -> int:
    count = await auth.revoke(target)
    settings = get_settings()
    if settings.redis_url:  # open streams on every worker close at once
        from tasks.bus import Command
        from tasks.redis_bus import announce

        await announce(settings.redis_url, settings.redis_prefix, Command(kind="revoked", body=target))
    print(f"revoked {count} token(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasks", description="SpyGlass admin commands.")
    groups = parser.add_subparsers(dest="group", required=True)
    tokens = groups.add_parser("tokens", help="client tokens").add_subparsers(dest="command", required=True)
    create = tokens.add_parser("create", help="mint a token for a client (created if new); prints it last")
    create.add_argument("client")
    create.add_argument("--expires-in", type=float, metavar="DAYS", help="days until the token expires")
    tokens.add_parser("list", help="every token, without secrets")
    revoke = tokens.add_parser("revoke", help="revoke a token by id, or every token of a client by name")
    revoke.add_argument("target", metavar="client-or-token-id")
    admins = groups.add_parser("admin", help="dashboard administrators").add_subparsers(dest="command", required=True)
    admin_create = admins.add_parser("create", help="create an admin, or set a new password (asked twice)")
    admin_create.add_argument("user")
    admin_create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    admins.add_parser("list", help="admin user names")
    args = parser.parse_args(argv)

    actions: dict[tuple[str, str], Callable[[Store], Awaitable[int]]] = {
        ("tokens", "create"): lambda store: _create(Auth(store), args.client, args.expires_in),
        ("tokens", "list"): lambda store: _list(Auth(store)),
        ("tokens", "revoke"): lambda store: _revoke(Auth(store), args.target),
        ("admin", "create"): lambda store: _admin_create(store, args.user, password),
        ("admin", "list"): _admin_list,
    }
    try:
        password = _read_password(args.password_stdin) if (args.group, args.command) == ("admin", "create") else ""
        return asyncio.run(_with_store(actions[args.group, args.command]))
    except TaskError as exc:
        print(f"error: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""), file=sys.stderr)
        return 2

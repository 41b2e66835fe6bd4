"""Admin command line: `python -m tasks tokens create|list|revoke`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta

from tasks.auth import Auth
from tasks.errors import TaskError
from tasks.settings import get_settings
from tasks.store import Store


async def _with_auth(action: Callable[[Auth], Awaitable[int]]) -> int:
    settings = get_settings()
    store = Store(settings.async_database_url, sqlite_synchronous=settings.sqlite_synchronous)
    await store.start()
    try:
        return await action(Auth(store))
    finally:
        await store.stop()


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
            f"{info.id:<14} {info.client:<24} {info.state:<8} {fmt(info.created_at):<20} "
            f"{fmt(info.expires_at):<20} {fmt(info.last_used_at)}"
        )
    return 0


async def _revoke(auth: Auth, target: str) -> int:
    count = await auth.revoke(target)
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
    args = parser.parse_args(argv)

    actions: dict[str, Callable[[Auth], Awaitable[int]]] = {
        "create": lambda auth: _create(auth, args.client, args.expires_in),
        "list": _list,
        "revoke": lambda auth: _revoke(auth, args.target),
    }
    try:
        return asyncio.run(_with_auth(actions[args.command]))
    except TaskError as exc:
        print(f"error: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""), file=sys.stderr)
        return 2

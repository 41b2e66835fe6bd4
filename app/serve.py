"""The command that serves SpyGlass (`make run` calls it; so does production).

It is Reflex's own `reflex run --env prod --single-port`, with two changes to
granian, the server Reflex runs its backend on:
- it respawns a backend worker that dies. Reflex does not ask for that, and
  without it one killed worker (OOM, SIGKILL) takes the whole host down. A worker
  that keeps crashing within seconds of its respawn still stops the host
  (granian's crash-loop guard), so a broken deployment fails loudly;
- its workers run on uvloop, named rather than left to granian's "auto" (which
  takes whichever loop package happens to be installed). Granian's Rust threads
  hand every request and every socket message to the worker's loop; asyncio's
  own loop wakes for each through a socket write, uvloop through libuv's
  coalesced async handle. It cut the server CPU of a no-op task by about a fifth
  (bench.run, side by side).

    python -m app.serve [--port 8000] [--host 0.0.0.0]

Embedded default: one worker. With REFLEX_REDIS_URL set Reflex starts 2 x cores + 1
workers (GRANIAN_WORKERS overrides it), which share Redis and the database.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TypeVar

import granian.server
from granian.constants import Loops
from granian.server.common import AbstractServer

ServerT = TypeVar("ServerT", bound=AbstractServer[Any])


def configured(server_class: type[ServerT]) -> type[ServerT]:
    class ConfiguredServer(server_class):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("respawn_failed_workers", True)
            kwargs.setdefault("loop", Loops.uvloop)
            super().__init__(*args, **kwargs)

    ConfiguredServer.__name__ = f"Configured{server_class.__name__}"
    return ConfiguredServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--host", default=os.environ.get("HOST"))
    args = parser.parse_args(argv)
    # Reflex imports granian's Server when it starts the backend: it gets this one.
    server_class: Any = granian.server.Server
    granian.server.Server = configured(server_class)

    from reflex.reflex import cli

    command = ["run", "--env", "prod", "--single-port", "--backend-port", str(args.port)]
    if args.host:
        command += ["--backend-host", args.host]
    sys.exit(cli.main(command, prog_name="reflex", standalone_mode=True))


if __name__ == "__main__":
    main()

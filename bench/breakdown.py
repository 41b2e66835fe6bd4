"""Where a task's server CPU goes, measured in one process with no network: the
app Reflex builds (every middleware and route the server has) is called as ASGI
directly, and the engine is also driven alone, without HTTP.

    .venv/bin/python -m bench.breakdown [--tasks 6000]

Rows, CPU time (`time.process_time`: every thread, the SQLite writer's included):
  a bare request, GET /health;
  a result read of a finished task (routing, parameters, a cached snapshot);
  the engine alone per no-op task: submit, run, end, wait (no HTTP);
  a whole task over HTTP: start, run, result read with ?wait= (C=32, as bench.run);
  the store alone: the engine run's own writes (each task's insert, then its end's
  update and terminal event) replayed through a fresh Store into a fresh database,
  each commit holding BATCH starts and the ends of the BATCH before, with no task
  and no HTTP: the floor that durability sets under the engine's share.
Granian's own share of a request (its Rust threads, the socket) is not in these:
bench.run measures the real server. Prints a table and JSON
(bench/results/breakdown.json)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import uvloop
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bench.output import publish
from harness.server import ROOT
from tasks.events import TaskEvent
from tasks.settings import Settings
from tasks.sqlite_writer import Positional
from tasks.store import Store, batch_statements, event_row

CONCURRENCY = 32
BATCH = 12  # starts (then ends) per commit: about what group commit gathers at C=32
START = "/api/bench_tasks/task/start/noop"


@dataclass
class Breakdown:
    tasks: int
    bare_request_us: float
    result_read_us: float
    engine_task_us: float
    engine_main_thread_us: float
    store_alone_us: float
    store_alone_main_thread_us: float
    driver_alone_us: float
    http_task_us: float
    http_task_main_thread_us: float
    engine_to_bare: float
    store_alone_to_bare: float
    driver_alone_to_bare: float
    http_task_to_bare: float


class Asgi:
    """Calls an ASGI app the way a server does, one request at a time per call."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def lifespan(self) -> Callable[[], Awaitable[None]]:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        running = asyncio.create_task(self.app(scope, inbox.get, outbox.put))
        started = await outbox.get()
        if started["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {started}")

        async def shutdown() -> None:
            await inbox.put({"type": "lifespan.shutdown"})
            await running

        return shutdown

    async def request(self, method: str, path: str, query: bytes = b"") -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"bench")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        sent: list[dict[str, Any]] = []
        body_read = False

        async def receive() -> dict[str, Any]:
            nonlocal body_read
            if not body_read:
                body_read = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client never leaves
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@dataclass
class TaskWrites:
    """One task's durable writes, as the runner handed them to the store."""

    insert: dict[str, Any]
    end: tuple[str, dict[str, Any], Sequence[TaskEvent]] | None = None


class WriteRecorder:
    """Keeps the start and end writes a store is given, and passes them on."""

    def __init__(self, store: Store) -> None:
        self.tasks: dict[str, TaskWrites] = {}
        self.recording = False
        insert_task, update_task = store.insert_task, store.update_task

        def recorded_insert(values: dict[str, Any]) -> asyncio.Future[None]:
            if self.recording:
                self.tasks[values["id"]] = TaskWrites(values)
            return insert_task(values)

        def recorded_update(
            task_id: str, values: dict[str, Any], events: Sequence[TaskEvent] = ()
        ) -> asyncio.Future[None]:
            if (writes := self.tasks.get(task_id)) is not None and events:
                writes.end = (task_id, values, events)
            return update_task(task_id, values, events)

        store.insert_task = recorded_insert  # type: ignore[method-assign]
        store.update_task = recorded_update  # type: ignore[method-assign]


def commits(recorded: list[TaskWrites]) -> list[tuple[list[TaskWrites], list[TaskWrites]]]:
    """The ended tasks' writes as commits under load: each holds BATCH starts and
    the ends of the BATCH before."""
    ended = [w for w in recorded if w.end is not None]
    batches = [ended[first : first + BATCH] for first in range(0, len(ended), BATCH)]
    return list(zip([*batches, []], [[], *batches], strict=True))


async def store_alone(recorded: list[TaskWrites], url: str) -> tuple[float, float]:
    """(process CPU µs, event-loop thread CPU µs) per task of `recorded`'s writes
    through a fresh Store."""
    planned = commits(recorded)
    tasks = sum(len(starting) for starting, _ in planned)
    store = Store(url, sqlite_synchronous=Settings().sqlite_synchronous)
    await store.start()
    try:
        started, thread = time.process_time(), time.thread_time()
        for starting, ending in planned:
            await asyncio.gather(
                *(store.insert_task(w.insert) for w in starting),
                *(store.update_task(*w.end) for w in ending if w.end is not None),
            )
        return (time.process_time() - started) / tasks * 1e6, (time.thread_time() - thread) / tasks * 1e6
    finally:
        await store.stop()
        _check_all_ended(url, tasks)


async def driver_alone(recorded: list[TaskWrites], url: str) -> float:
    """CPU µs per task of the same commits' statements through the bare sqlite3
    driver, their values bound beforehand: SQLite's own work, none of ours."""
    store = Store(url)
    await store.start()  # a migrated, empty database
    await store.stop()
    dialect = create_engine("sqlite://").dialect
    planned = commits(recorded)
    tasks = sum(len(starting) for starting, _ in planned)
    prepared: list[list[tuple[str, list[list[Any]]]]] = []
    for starting, ending in planned:
        ends = [w.end for w in ending if w.end is not None]
        calls = batch_statements(
            [w.insert for w in starting],
            [(task_id, values) for task_id, values, _ in ends],
            [event_row(event) for _, _, events in ends for event in events],
        )
        commit = []
        for statement, rows in calls:
            positional = Positional.compiled(statement, tuple(rows[0]), dialect)
            commit.append((positional.sql, [positional.parameters(row) for row in rows]))
        prepared.append(commit)
    conn = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={Settings().sqlite_synchronous}")
        started = time.process_time()
        for commit in prepared:
            conn.execute("BEGIN")
            for sql, parameters in commit:
                conn.executemany(sql, parameters)
            conn.execute("COMMIT")
        return (time.process_time() - started) / tasks * 1e6
    finally:
        conn.close()
        _check_all_ended(url, tasks)


def _check_all_ended(url: str, expected: int) -> None:
    """A replay that did not end every task it started measured something else."""
    with contextlib.closing(sqlite3.connect(make_url(url).database or "")) as db:
        ended = db.execute("SELECT count(*) FROM task WHERE finished_at IS NOT NULL").fetchone()[0]
    if ended != expected:
        raise RuntimeError(f"the replay into {url} ended {ended} tasks of {expected}")


def cpu_per_call(n: int) -> Callable[[Callable[[], Awaitable[None]]], Awaitable[tuple[float, float]]]:
    """(process CPU µs, main-thread CPU µs) per call of `job`, run at CONCURRENCY."""

    async def measure(job: Callable[[], Awaitable[None]]) -> tuple[float, float]:
        counter = iter(range(n))

        async def worker() -> None:
            for _ in counter:
                await job()

        process, thread = time.process_time(), time.thread_time()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return (time.process_time() - process) / n * 1e6, (time.thread_time() - thread) / n * 1e6

    return measure


async def breakdown(app: Any, tasks: int, data_dir: str) -> Breakdown:
    from tasks.engine import get_engine

    asgi = Asgi(app)
    shutdown = await asgi.lifespan()
    engine = get_engine()
    writes = WriteRecorder(engine.store)
    noop = engine.registry.get("bench_tasks", "noop")
    measure = cpu_per_call(tasks)

    async def bare() -> None:
        status, _ = await asgi.request("GET", "/health")
        assert status == 200

    _, body = await asgi.request("POST", START)
    finished = json.loads(body)["task_id"]
    await engine.wait(finished, 30)

    async def result_read() -> None:
        status, _ = await asgi.request("GET", f"/api/bench_tasks/task/result/{finished}")
        assert status == 200

    async def engine_task() -> None:
        snap, _ = await engine.submit(noop, None)
        assert (await engine.wait(snap.task_id, 30)).status == "Completed"

    async def http_task() -> None:
        status, body = await asgi.request("POST", START)
        assert status == 202, body
        task_id = json.loads(body)["task_id"]
        status, body = await asgi.request("GET", f"/api/bench_tasks/task/result/{task_id}", b"wait=30")
        assert json.loads(body)["status"] == "Completed", body

    try:
        for job in (bare, result_read, engine_task, http_task):  # warm-up
            await cpu_per_call(200)(job)
        bare_us, _ = await measure(bare)
        result_us, _ = await measure(result_read)
        writes.recording = True
        engine_us, engine_main_us = await measure(engine_task)
        writes.recording = False
        http_us, http_main_us = await measure(http_task)
    finally:
        await shutdown()
    recorded = list(writes.tasks.values())
    store_us, store_main_us = await store_alone(recorded, f"sqlite+aiosqlite:///{data_dir}/store-alone.db")
    driver_us = await driver_alone(recorded, f"sqlite+aiosqlite:///{data_dir}/driver-alone.db")
    return Breakdown(
        tasks=tasks,
        bare_request_us=round(bare_us, 1),
        result_read_us=round(result_us, 1),
        engine_task_us=round(engine_us, 1),
        engine_main_thread_us=round(engine_main_us, 1),
        store_alone_us=round(store_us, 1),
        store_alone_main_thread_us=round(store_main_us, 1),
        driver_alone_us=round(driver_us, 1),
        http_task_us=round(http_us, 1),
        http_task_main_thread_us=round(http_main_us, 1),
        engine_to_bare=round(engine_us / bare_us, 2),
        store_alone_to_bare=round(store_us / bare_us, 2),
        driver_alone_to_bare=round(driver_us / bare_us, 2),
        http_task_to_bare=round(http_us / bare_us, 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=6000)
    args = parser.parse_args()
    if args.tasks < 1:
        parser.error("--tasks must be at least 1")
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ.update(
            SPYGLASS_STATE_MODULES="bench.bench_tasks", SPYGLASS_DATA_DIR=data_dir, __REFLEX_SKIP_COMPILE="true"
        )
        os.chdir(ROOT)
        from reflex.utils import prerequisites

        app = prerequisites.get_and_validate_app().app()
        result = uvloop.run(breakdown(app, args.tasks, data_dir))  # the loop the server's workers run on
    rows = [
        ("bare request, GET /health", f"{result.bare_request_us:.1f} µs"),
        ("result read of a finished task", f"{result.result_read_us:.1f} µs"),
        ("engine alone, per no-op task (no HTTP)", f"{result.engine_task_us:.1f} µs"),
        ("    of which its event-loop thread", f"{result.engine_main_thread_us:.1f} µs"),
        (f"the store alone, its writes ({BATCH}+{BATCH} a commit)", f"{result.store_alone_us:.1f} µs"),
        ("    of which the event-loop thread", f"{result.store_alone_main_thread_us:.1f} µs"),
        ("    its statements alone, bare sqlite3 driver", f"{result.driver_alone_us:.1f} µs"),
        ("whole task over HTTP (start, run, result)", f"{result.http_task_us:.1f} µs"),
        ("    of which the event-loop thread", f"{result.http_task_main_thread_us:.1f} µs"),
        ("engine alone / bare request", f"{result.engine_to_bare:.2f}x"),
        ("store alone / bare request", f"{result.store_alone_to_bare:.2f}x"),
        ("its statements alone / bare request", f"{result.driver_alone_to_bare:.2f}x"),
        ("whole task / bare request", f"{result.http_task_to_bare:.2f}x"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label.ljust(width)} | {value:>12}")
    publish("breakdown.json", asdict(result))


if __name__ == "__main__":
    main()

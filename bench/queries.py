"""The dashboard's reads over a big store: 100,000 tasks in SQLite and in PostgreSQL.

Measures the page data of the task monitor (one page of the list, the total count
and the charts: counts per status, started/finished per bucket, run-time
percentiles per task) for the filters a user picks, as the engine computes them
for the dashboard and for `GET /api/tasks` / `GET /api/tasks/stats`.
Target: p95 page data time <= 200 ms. Prints a table and JSON
(bench/results/queries.json)."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bench.output import publish
from harness.databases import fresh_database
from tasks.engine import Engine
from tasks.ids import new_task_id
from tasks.queries import DIRECT, TaskQuery
from tasks.registry import Registry
from tasks.rows import search_text
from tasks.settings import Settings
from tasks.store import TASK
from tasks.tables import TaskRecord

STATUSES = (
    ["Completed"] * 70
    + ["Error"] * 10
    + ["Cancelled"] * 5
    + ["Interrupted"] * 2
    + ["Processing"] * 10
    + ["Pending"] * 3
)
TASKS = [
    ("example_task2", "task2_with_args"),
    ("example_agent", "plan_and_act"),
    ("example_shell", "count_lines"),
    ("example_flaky", "unreliable"),
    ("example_task", "task1"),
]


def rows(count: int, now: datetime, worker_id: str) -> list[dict[str, Any]]:
    """Tasks over the last 7 days. The running ones belong to the bench's own live
    worker: a worker nobody knows is dead, and its tasks would be ended under the
    measurement."""
    rng = random.Random(42)
    out = []
    for i in range(count):
        created = now - timedelta(seconds=rng.uniform(0, 7 * 86400))
        status = rng.choice(STATUSES)
        state, task = rng.choice(TASKS)
        started = created + timedelta(seconds=rng.uniform(0, 2))
        ended = status not in ("Processing", "Pending")
        out.append(
            {
                "id": new_task_id(),
                "state": state,
                "task": task,
                "args": {"name": f"user-{i % 997}", "age": i % 90},
                "status": status,
                "progress": 100.0 if ended else rng.uniform(0, 99),
                "message": f"step {i % 13}",
                "result": {"ok": True, "n": i} if status == "Completed" else None,
                "error": "boom" if status == "Error" else None,
                "error_code": "task_failed" if status == "Error" else None,
                "client": None if i % 3 == 0 else f"client-{i % 10}",
                "worker_id": worker_id,
                "last_event_id": i + 1,
                "created_at": created,
                "updated_at": created,
                "started_at": started if status != "Pending" else None,
                "finished_at": started + timedelta(seconds=(duration := rng.expovariate(1 / 30))) if ended else None,
                "duration_seconds": duration if ended else None,
                "purge_after": None,
                "attempt": 1,
            }
        )
        record = TaskRecord.model_validate(out[-1])
        out[-1]["search_text"] = search_text(record, json.dumps(out[-1]["args"], separators=(",", ":")))
    return out


async def fill(engine: Engine, count: int) -> None:
    data = rows(count, datetime.now(UTC), engine.worker_id)
    async with engine.store.engine.begin() as conn:
        for i in range(0, len(data), 5000):
            await conn.execute(insert(TASK), data[i : i + 5000])
    async with engine.store.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))  # as autovacuum (PostgreSQL) or a long-lived file (SQLite) would have


async def page_data(engine: Engine, query: TaskQuery) -> None:
    """What the task monitor loads for one view (states/task_list.py): a page of the
    list, the count, and the charts over the view's range (the last 7 days when the
    view is "all time")."""
    now = datetime.now(UTC)
    await engine.list_tasks(query)
    await engine.count_tasks(query)
    await engine.task_stats(query, since=query.since or now - timedelta(days=7), until=now)


# The monitor's views: its default time range is the last 24 hours; "all time"
# views list and count over the whole store.
VIEWS: dict[str, dict[str, Any]] = {
    "24 h: everything": {"since": "24h"},
    "24 h: status = Error": {"since": "24h", "statuses": ("Error",)},
    "24 h: state + task": {"since": "24h", "state": "example_agent", "task": "plan_and_act"},
    "24 h: one client": {"since": "24h", "client": "client-3"},
    "24 h: tokenless": {"since": "24h", "client": DIRECT},
    "24 h: search in arguments": {"since": "24h", "search": "user-42"},
    "1 h: everything": {"since": "1h"},
    "all time: everything": {},
    "all time: status = Error": {"statuses": ("Error",)},
    "all time: tokenless": {"client": DIRECT},
    "all time: search in arguments": {"search": "user-42"},
}
RANGES = {"24h": timedelta(hours=24), "1h": timedelta(hours=1)}


async def measure(settings: Settings, count: int, repeats: int) -> dict[str, dict[str, float]]:
    engine = Engine(settings, registry=Registry())
    await engine.start()
    try:
        await fill(engine, count)
        results = {}
        for name, view in VIEWS.items():
            filters = dict(view)
            if "since" in filters:
                filters["since"] = datetime.now(UTC) - RANGES[filters["since"]]
            query = TaskQuery(all_clients=True, limit=51, **filters)
            await page_data(engine, query)  # warm-up
            timings = []
            for _ in range(repeats):
                started = time.perf_counter()
                await page_data(engine, query)
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            results[name] = {
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))], 1),
            }
        return results
    finally:
        await engine.stop()


async def run(count: int, repeats: int) -> dict[str, dict[str, dict[str, float]]]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        out["sqlite"] = await measure(Settings(data_dir=Path(tmp)), count, repeats)
        async with fresh_database("spyglass_qbench") as url:
            out["postgresql"] = await measure(Settings(data_dir=Path(tmp), database_url=url), count, repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    results = asyncio.run(run(args.tasks, args.repeats))
    width = max(len(name) for name in VIEWS)
    print(f"dashboard page data over {args.tasks:,} stored tasks (list page + count + charts), ms")
    print(f"{'view'.ljust(width)} | {'sqlite p50':>10} | {'sqlite p95':>10} | {'pg p50':>8} | {'pg p95':>8}")
    print(f"{'-' * width}-|-{'-' * 10}-|-{'-' * 10}-|-{'-' * 8}-|-{'-' * 8}")
    for name in VIEWS:
        s, p = results["sqlite"][name], results["postgresql"][name]
        print(f"{name.ljust(width)} | {s['p50_ms']:>10} | {s['p95_ms']:>10} | {p['p50_ms']:>8} | {p['p95_ms']:>8}")
    worst = max(v["p95_ms"] for store in results.values() for v in store.values())
    print(f"worst p95: {worst} ms (target <= 200 ms)")
    publish("queries.json", {"tasks": args.tasks, "results": results, "worst_p95_ms": worst})


if __name__ == "__main__":
    main()

"""SpyGlass benchmark against a real server process (started like `make run`).

Measures, side by side in one run:
  (a) end-to-end throughput: N no-op tasks started over HTTP at concurrency C,
      until every one reads Completed (tasks/s);
  (b) progress latency: task.update() -> WebSocket client, p50/p99, at 1,000 updates/s;
  (c) the same server's bare HTTP ceiling: GET /health, same client, same concurrency.
Prints a table and JSON (also written to bench/results/latest.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import Server  # noqa: E402


@dataclass
class Results:
    tasks: int
    concurrency: int
    bare_http_rps: float
    start_rps: float
    tasks_per_s: float
    throughput_ratio: float
    updates: int
    target_update_rate: float
    received_update_rate: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    server_rss_mib: float


async def _pool(concurrency: int, jobs: int, job) -> float:
    """Runs `jobs` calls of `job(i)` on `concurrency` workers; returns elapsed seconds."""
    counter = iter(range(jobs))

    async def worker() -> None:
        for i in counter:
            await job(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def bare_ceiling(http: aiohttp.ClientSession, base: str, requests: int, concurrency: int) -> float:
    async def job(_: int) -> None:
        async with http.get(f"{base}/health") as response:
            assert response.status == 200
            await response.read()

    await _pool(concurrency, min(500, requests), job)  # warm-up
    return requests / await _pool(concurrency, requests, job)


async def task_throughput(http: aiohttp.ClientSession, base: str, tasks: int, concurrency: int) -> tuple[float, float]:
    ids: list[str] = [""] * tasks

    async def start(i: int) -> None:
        async with http.post(f"{base}/api/bench_tasks/task/start/noop") as response:
            assert response.status == 202, await response.text()
            ids[i] = (await response.json())["task_id"]

    async def finished(i: int) -> None:
        async with http.get(f"{base}/api/bench_tasks/task/result/{ids[i]}", params={"wait": "30"}) as response:
            body = await response.json()
            assert body["status"] == "Completed", body

    await _pool(concurrency, min(200, tasks), start)  # warm-up
    ids = [""] * tasks
    start_s = await _pool(concurrency, tasks, start)
    wait_s = await _pool(concurrency, tasks, finished)
    return tasks / start_s, tasks / (start_s + wait_s)


async def progress_latency(http: aiohttp.ClientSession, base: str, ws_base: str, updates: int, rate: float) -> tuple[list[float], float]:
    async with http.post(f"{base}/api/bench_tasks/task/start/ticker", json={"rate": rate, "count": updates}) as response:
        task_id = (await response.json())["task_id"]
    latencies: list[float] = []
    first = last = 0.0
    async with http.ws_connect(f"{ws_base}/ws/bench_tasks/task/ws/{task_id}") as ws:
        async for message in ws:
            now = time.monotonic_ns()
            event = json.loads(message.data)
            if event["type"] == "status" and event["status"] == "Processing" and event.get("message"):
                latencies.append((now - int(event["message"])) / 1e6)
                last = time.monotonic()
                first = first or last
            if event["type"] in ("result", "error"):
                break
    return latencies, (len(latencies) - 1) / (last - first) if last > first else 0.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(args: argparse.Namespace) -> Results:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", Path(tmp) / "server.log", state_modules="bench.bench_tasks").start()
        try:
            connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
            async with aiohttp.ClientSession(connector=connector) as http:
                ceiling = await bare_ceiling(http, server.base_url, args.requests, args.concurrency)
                start_rps, tasks_per_s = await task_throughput(http, server.base_url, args.tasks, args.concurrency)
                latencies, received_rate = await progress_latency(http, server.base_url, server.ws_url, args.updates, args.rate)
            rss = server.rss_bytes()
        finally:
            server.stop()
    return Results(
        tasks=args.tasks,
        concurrency=args.concurrency,
        bare_http_rps=round(ceiling, 1),
        start_rps=round(start_rps, 1),
        tasks_per_s=round(tasks_per_s, 1),
        throughput_ratio=round(tasks_per_s / ceiling, 3),
        updates=len(latencies),
        target_update_rate=args.rate,
        received_update_rate=round(received_rate, 1),
        latency_p50_ms=round(statistics.median(latencies), 3),
        latency_p99_ms=round(_percentile(latencies, 0.99), 3),
        latency_max_ms=round(max(latencies), 3),
        server_rss_mib=round(rss / 2**20, 1),
    )


def print_table(r: Results) -> None:
    rows = [
        ("(c) bare HTTP ceiling, GET /health", f"{r.bare_http_rps:,.0f} req/s", ""),
        ("    task starts alone (202, committed)", f"{r.start_rps:,.0f} starts/s", ""),
        (f"(a) no-op tasks start -> Completed (N={r.tasks}, C={r.concurrency})", f"{r.tasks_per_s:,.0f} tasks/s", f"{r.throughput_ratio:.0%} of (c), target >= 40%"),
        (f"(b) progress latency p50 @ {r.target_update_rate:,.0f} updates/s", f"{r.latency_p50_ms:.2f} ms", f"received {r.received_update_rate:,.0f} updates/s"),
        ("(b) progress latency p99", f"{r.latency_p99_ms:.2f} ms", "target <= 20 ms"),
        ("(b) progress latency max", f"{r.latency_max_ms:.2f} ms", ""),
        ("server RSS after the run (all processes)", f"{r.server_rss_mib:.0f} MiB", ""),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'measure'.ljust(width)} | {'value':>16} | note")
    print(f"{'-' * width}-|-{'-' * 16}-|-{'-' * 30}")
    for name, value, note in rows:
        print(f"{name.ljust(width)} | {value:>16} | {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=6000, help="requests for the bare HTTP ceiling")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    print_table(results)
    payload = json.dumps(asdict(results), indent=2)
    print(payload)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(payload + "\n")


if __name__ == "__main__":
    main()

"""SpyGlass benchmark against real server processes (started like `make run`).

Two topologies, measured side by side in one run with the same client:
  embedded    one server, one worker, SQLite + in-process bus (the default);
  production  two hosts (servers on two ports) of 2 x cores + 1 workers each,
              sharing PostgreSQL and Redis (the README's production recipe).

For each:
  (c) the bare HTTP ceiling: GET /health, same client, same concurrency;
  (a) end-to-end throughput: N no-op tasks started over HTTP at concurrency C,
      until every one reads Completed (tasks/s, and its ratio to (c));
      server CPU seconds per bare request and per task (utime + stime of every
      server process from /proc), the steadier figure on a shared machine, and
      the engine's share of a task: its CPU less that of two bare requests.
      (c) and (a) alternate for --rounds rounds (their order swapped every
      other round); each ratio is taken within a round. The throughput figures
      are the median round's by (a)/(c), the CPU figures the median round's by
      the engine's ratio, each with its range over the rounds;
  (b) progress latency, task.update() -> WebSocket client, p50/p99 at 1,000
      updates/s; in production the task runs on host A and the watcher is on
      host B, so every update crosses workers through Redis;
  (d) fan-out: one task at 10 updates/s watched by 1,000 WebSockets (on host B in
      production): delivery latency p50/p99 over every watcher, and the RSS they cost.
Prints a table and JSON (also written to bench/results/latest.json).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from bench.output import publish
from harness.deployment import two_hosts
from harness.server import Server

TASKS = "bench.bench_tasks"


@dataclass
class Results:
    topology: str
    workers: int
    tasks: int
    concurrency: int
    rounds: int
    bare_http_rps: float
    start_rps: float
    tasks_per_s: float
    throughput_ratio: float
    throughput_ratio_range: tuple[float, float]
    cpu_ms_per_request: float
    cpu_ms_per_task: float
    cpu_task_to_request: float
    engine_cpu_ms_per_task: float
    engine_to_request: float
    engine_to_request_range: tuple[float, float]
    per_round: list[dict[str, float | bool]]
    updates: int
    target_update_rate: float
    received_update_rate: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    server_rss_mib: float
    fan_watchers: int
    fan_rate: float
    fan_min_updates_per_watcher: int
    fan_p50_ms: float
    fan_p99_ms: float
    fan_rss_mib: float


async def _pool(concurrency: int, jobs: int, job: Callable[[int], Awaitable[None]]) -> float:
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

    start_s = await _pool(concurrency, tasks, start)
    wait_s = await _pool(concurrency, tasks, finished)
    return tasks / start_s, tasks / (start_s + wait_s)


async def progress_latency(
    http: aiohttp.ClientSession, task_base: str, watch_ws_base: str, updates: int, rate: float
) -> tuple[list[float], float]:
    """Ticker started on `task_base`, watched from `watch_ws_base`."""
    async with http.post(
        f"{task_base}/api/bench_tasks/task/start/ticker", json={"rate": rate, "count": updates}
    ) as response:
        task_id = (await response.json())["task_id"]
    latencies: list[float] = []
    first = last = 0.0
    async with http.ws_connect(f"{watch_ws_base}/ws/bench_tasks/task/ws/{task_id}") as ws:
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


async def fan_out(
    server: Server, task_base: str, watch_ws_base: str, watchers: int, rate: float, updates: int
) -> tuple[list[float], int, float]:
    """One ticker watched by `watchers` WebSockets at once: latency of every update
    sent after the last watcher connected, to every watcher; returns (latencies ms,
    updates counted per watcher, server RSS growth in MiB with every watcher attached)."""
    rss_before = server.rss_bytes()
    everyone_in = asyncio.Event()
    connected = 0
    counted_after = 0
    latencies: list[float] = []
    per_watcher: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async with http.post(
            f"{task_base}/api/bench_tasks/task/start/ticker",
            json={"rate": rate, "count": updates, "delay": 5 + watchers / 200},
        ) as response:
            task_id = (await response.json())["task_id"]

        async def watch() -> None:
            nonlocal connected, counted_after
            seen = 0
            async with http.ws_connect(f"{watch_ws_base}/ws/bench_tasks/task/ws/{task_id}", max_msg_size=0) as ws:
                connected += 1
                if connected == watchers:
                    counted_after = time.monotonic_ns()
                    everyone_in.set()
                async for message in ws:
                    now = time.monotonic_ns()
                    event = json.loads(message.data)
                    if event["type"] == "status" and event.get("message") and everyone_in.is_set():
                        sent = int(event["message"])
                        if sent > counted_after:
                            latencies.append((now - sent) / 1e6)
                            seen += 1
                    if event["type"] in ("result", "error"):
                        break
            per_watcher.append(seen)

        async def memory() -> float:
            await everyone_in.wait()
            await asyncio.sleep(1)
            return (server.rss_bytes() - rss_before) / 2**20

        growth = asyncio.create_task(memory())
        await asyncio.gather(*(watch() for _ in range(watchers)))
        rss_growth = await growth
    return latencies, min(per_watcher, default=0), rss_growth


@contextmanager
def client_gc_paused() -> Iterator[None]:
    """The client's own collector off while it times deliveries. With a thousand
    sockets open, its full collections took 50-65 ms, and young ones up to 40 ms,
    during which every message already on the wire waited: that was counted as the
    server's delivery latency. The few seconds of garbage are collected afterwards."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def embedded(tmp: Path) -> Iterator[tuple[Server, Server]]:
    server = Server(tmp / "embedded", tmp / "embedded.log", state_modules=TASKS).start()
    try:
        yield server, server
    finally:
        server.stop()


def production(tmp: Path) -> AbstractContextManager[tuple[Server, Server]]:
    return two_hosts(tmp, state_modules=TASKS)


class CpuMeter:
    """Server CPU seconds (utime + stime of every process of both hosts) spent
    between two readings: far steadier than wall time on a shared machine."""

    def __init__(self, servers: tuple[Server, ...]) -> None:
        self.servers = servers
        self.last = self._read()

    def _read(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers)

    def lap(self) -> float:
        now = self._read()
        spent, self.last = now - self.last, now
        return spent


@dataclass(frozen=True)
class Round:
    """(c) and (a), back to back: their ratios are taken within a round, so a
    slow spell of the machine weighs on both sides of them alike."""

    tasks_first: bool
    bare_rps: float
    cpu_per_request: float
    start_rps: float
    tasks_per_s: float
    cpu_per_task: float

    @property
    def throughput_ratio(self) -> float:
        return self.tasks_per_s / self.bare_rps

    @property
    def engine_to_request(self) -> float:
        return (self.cpu_per_task - 2 * self.cpu_per_request) / self.cpu_per_request


async def measure_round(
    http: aiohttp.ClientSession, cpu: CpuMeter, base: str, args: argparse.Namespace, tasks_first: bool
) -> Round:
    """One round; `tasks_first` swaps the order, so that work the server puts off
    past one phase (a collection, a checkpoint) lands in the other kind as often."""

    async def bare() -> tuple[float, float]:
        cpu.lap()
        rps = await bare_ceiling(http, base, args.requests, args.concurrency)
        return rps, cpu.lap() / args.requests

    async def tasks() -> tuple[float, float, float]:
        cpu.lap()
        start_rps, tasks_per_s = await task_throughput(http, base, args.tasks, args.concurrency)
        return start_rps, tasks_per_s, cpu.lap() / args.tasks

    if tasks_first:
        start_rps, tasks_per_s, cpu_per_task = await tasks()
        bare_rps, cpu_per_request = await bare()
    else:
        bare_rps, cpu_per_request = await bare()
        start_rps, tasks_per_s, cpu_per_task = await tasks()
    if cpu_per_request <= 0:
        raise SystemExit("the bare requests used under one clock tick of server CPU: raise --requests")
    return Round(tasks_first, bare_rps, cpu_per_request, start_rps, tasks_per_s, cpu_per_task)


def _median_round(rounds: list[Round], key: Callable[[Round], float]) -> Round:
    """The round whose `key` is the median (the upper one of an even count): all
    of its figures are reported together, so they agree with one another."""
    return sorted(rounds, key=key)[len(rounds) // 2]


def _range(rounds: list[Round], key: Callable[[Round], float], digits: int) -> tuple[float, float]:
    values = [key(r) for r in rounds]
    return round(min(values), digits), round(max(values), digits)


async def measure(topology: str, a: Server, b: Server, args: argparse.Namespace) -> Results:
    connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        cpu = CpuMeter((a,) if b is a else (a, b))
        await bare_ceiling(http, a.base_url, min(500, args.requests), args.concurrency)  # warm-ups
        await task_throughput(http, a.base_url, min(200, args.tasks), args.concurrency)
        rounds = [await measure_round(http, cpu, a.base_url, args, i % 2 == 1) for i in range(args.rounds)]
        by_rate = _median_round(rounds, lambda r: r.throughput_ratio)
        by_cpu = _median_round(rounds, lambda r: r.engine_to_request)
        with client_gc_paused():
            latencies, received_rate = await progress_latency(http, a.base_url, b.ws_url, args.updates, args.rate)
    with client_gc_paused():
        fan_latencies, fan_min_updates, fan_rss = await fan_out(
            b, a.base_url, b.ws_url, args.watchers, args.fan_rate, args.fan_updates
        )
    rss = a.rss_bytes() + (b.rss_bytes() if b is not a else 0)
    return Results(
        topology=topology,
        workers=a.workers() + (b.workers() if b is not a else 0),
        tasks=args.tasks,
        concurrency=args.concurrency,
        rounds=args.rounds,
        bare_http_rps=round(by_rate.bare_rps, 1),
        start_rps=round(by_rate.start_rps, 1),
        tasks_per_s=round(by_rate.tasks_per_s, 1),
        throughput_ratio=round(by_rate.throughput_ratio, 3),
        throughput_ratio_range=_range(rounds, lambda r: r.throughput_ratio, 3),
        cpu_ms_per_request=round(by_cpu.cpu_per_request * 1000, 3),
        cpu_ms_per_task=round(by_cpu.cpu_per_task * 1000, 3),
        cpu_task_to_request=round(by_cpu.cpu_per_task / by_cpu.cpu_per_request, 2),
        engine_cpu_ms_per_task=round((by_cpu.cpu_per_task - 2 * by_cpu.cpu_per_request) * 1000, 3),
        engine_to_request=round(by_cpu.engine_to_request, 2),
        engine_to_request_range=_range(rounds, lambda r: r.engine_to_request, 2),
        per_round=[
            {
                "tasks_first": r.tasks_first,
                "bare_rps": round(r.bare_rps, 1),
                "tasks_per_s": round(r.tasks_per_s, 1),
                "cpu_ms_per_request": round(r.cpu_per_request * 1000, 3),
                "cpu_ms_per_task": round(r.cpu_per_task * 1000, 3),
                "engine_to_request": round(r.engine_to_request, 2),
            }
            for r in rounds
        ],
        updates=len(latencies),
        target_update_rate=args.rate,
        received_update_rate=round(received_rate, 1),
        latency_p50_ms=round(statistics.median(latencies), 3),
        latency_p99_ms=round(_percentile(latencies, 0.99), 3),
        latency_max_ms=round(max(latencies), 3),
        server_rss_mib=round(rss / 2**20, 1),
        fan_watchers=args.watchers,
        fan_rate=args.fan_rate,
        fan_min_updates_per_watcher=fan_min_updates,
        fan_p50_ms=round(statistics.median(fan_latencies), 2) if fan_latencies else 0.0,
        fan_p99_ms=round(_percentile(fan_latencies, 0.99), 2) if fan_latencies else 0.0,
        fan_rss_mib=round(fan_rss, 1),
    )


def run(args: argparse.Namespace) -> list[Results]:
    topologies = {"embedded": embedded, "production": production}
    chosen = list(topologies) if args.topology == "both" else [args.topology]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            with topologies[name](Path(tmp)) as (a, b):
                results.append(asyncio.run(measure(name, a, b, args)))
    return results


def print_table(results: list[Results]) -> None:
    def row(label: str, cell: Callable[[Results], str]) -> tuple[str, list[str]]:
        return label, [cell(r) for r in results]

    rows = [
        row("workers (all hosts)", lambda r: f"{r.workers}"),
        row("(c) bare HTTP ceiling, GET /health", lambda r: f"{r.bare_http_rps:,.0f} req/s"),
        row("    task starts alone (202, committed)", lambda r: f"{r.start_rps:,.0f} starts/s"),
        row(
            f"(a) no-op tasks start -> Completed (N={results[0].tasks}, C={results[0].concurrency})",
            lambda r: f"{r.tasks_per_s:,.0f} tasks/s",
        ),
        row(
            "    (a) / (c), median round (range)",
            lambda r: f"{r.throughput_ratio:.0%} ({r.throughput_ratio_range[0]:.0%}-{r.throughput_ratio_range[1]:.0%})",
        ),
        row("server CPU per bare request", lambda r: f"{r.cpu_ms_per_request:.3f} ms"),
        row("server CPU per task (start + run + result)", lambda r: f"{r.cpu_ms_per_task:.3f} ms"),
        row("    per task / per bare request", lambda r: f"{r.cpu_task_to_request:.2f}x"),
        row("engine CPU per task (task - 2 bare requests)", lambda r: f"{r.engine_cpu_ms_per_task:.3f} ms"),
        row(
            "    engine per task / per bare request, median round (range)",
            lambda r: (
                f"{r.engine_to_request:.2f}x ({r.engine_to_request_range[0]:.2f}-{r.engine_to_request_range[1]:.2f})"
            ),
        ),
        row(
            f"(b) progress latency p50 @ {results[0].target_update_rate:,.0f} updates/s",
            lambda r: f"{r.latency_p50_ms:.2f} ms",
        ),
        row("(b) progress latency p99", lambda r: f"{r.latency_p99_ms:.2f} ms"),
        row("(b) progress latency max", lambda r: f"{r.latency_max_ms:.2f} ms"),
        row("    updates received per second", lambda r: f"{r.received_update_rate:,.0f}"),
        row("server RSS after the run (all processes)", lambda r: f"{r.server_rss_mib:,.0f} MiB"),
        row(
            f"(d) fan-out: {results[0].fan_watchers:,} WS watchers of one task @ {results[0].fan_rate:g} updates/s, p50",
            lambda r: f"{r.fan_p50_ms:.2f} ms",
        ),
        row("(d) fan-out delivery p99", lambda r: f"{r.fan_p99_ms:.2f} ms"),
        row("    fewest updates any watcher got (after all joined)", lambda r: f"{r.fan_min_updates_per_watcher}"),
        row("    server RSS the watchers cost", lambda r: f"{r.fan_rss_mib:,.0f} MiB"),
    ]
    width = max(len(label) for label, _ in rows)
    header = " | ".join(f"{r.topology:>20}" for r in results)
    print(f"{'measure'.ljust(width)} | {header}")
    print("-" * width + "-|-" + "-|-".join("-" * 20 for _ in results))
    for label, cells in rows:
        print(f"{label.ljust(width)} | " + " | ".join(f"{c:>20}" for c in cells))
    print("(b) is same-worker in embedded; in production the task runs on host A and the watcher is on host B.")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topology", choices=["embedded", "production", "both"], default="both")
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=6000, help="requests for the bare HTTP ceiling")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=_positive, default=5, help="(c) and (a), alternated this many times")
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--watchers", type=int, default=1000, help="(d) WebSocket watchers of one task")
    parser.add_argument("--fan-rate", type=float, default=10.0, help="(d) updates per second")
    parser.add_argument("--fan-updates", type=int, default=100, help="(d) updates in all")
    args = parser.parse_args()
    results = run(args)
    print_table(results)
    publish("latest.json", [asdict(r) for r in results])


if __name__ == "__main__":
    main()

"""The engine against real stores: a SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tasks.access import ANONYMOUS
from tasks.bus import task_topic
from tasks.engine import Engine, get_engine
from tasks.errors import NotFound, TooManyTasks, Unauthorized, UnknownTaskId
from tasks.events import EventType, TaskEvent, utcnow
from tasks.ids import new_task_id
from tasks.queries import TaskQuery
from tasks.settings import Settings
from tasks.status import TaskStatus
from tasks.streams import task_events
from tasks.tables import TaskRecord
from tests.support.commits import hold_commits


async def _run_to_end(engine: Engine, state: str, task: str, body: object = None, timeout: float = 10) -> str:
    spec, args = engine.parse_args(state, task, body)
    snap = await engine.start_task(spec, args)
    final = await engine.wait(snap.task_id, timeout)
    assert final.is_terminal, final
    return snap.task_id


async def test_a_finished_task_is_read_back_by_a_new_engine_on_the_same_store(
    engine: Engine, settings: Settings
) -> None:
    task_id = await _run_to_end(engine, "fast_tasks", "steps", {"steps": 3, "interval": 0.01})
    await engine.stop()

    reopened = Engine(settings, registry=engine.registry)
    await reopened.start()
    try:
        snap = await reopened.snapshot(task_id)
        assert snap.status == "Completed"
        assert snap.result == {"steps": 3}
        assert snap.progress == 100
        assert snap.started_at is not None and snap.finished_at is not None
    finally:
        await reopened.stop()


async def test_every_start_is_committed_before_it_returns(engine: Engine) -> None:
    spec, args = engine.parse_args("fast_tasks", "noop", None)
    snaps = await asyncio.gather(*(engine.start_task(spec, args) for _ in range(200)))
    rows = await asyncio.gather(*(engine.store.get_task(s.task_id) for s in snaps))
    assert all(row is not None for row in rows)
    assert len({s.task_id for s in snaps}) == 200


async def test_logs_are_durable_and_in_order(engine: Engine) -> None:
    task_id = await _run_to_end(engine, "fast_tasks", "chatty", {"lines": 12})
    events = await engine.store.events_after(task_id, 0)
    logs = [e for e in events if e.type == EventType.LOG]
    assert [e.message for e in logs] == [f"line {i}" for i in range(12)]
    assert [e.level.value for e in logs[:5]] == ["info", "warning", "error", "success", "command"]
    assert events[-1].type == EventType.RESULT
    assert [e.id for e in events] == sorted(e.id for e in events)


async def _orphan(engine: Engine, worker_id: str, hostname: str, pid: int, heartbeat_age: float) -> str:
    """A Processing row owned by a worker row with the given liveness."""
    now = utcnow()
    await engine.store.heartbeat(worker_id, hostname, pid, now - timedelta(seconds=heartbeat_age))
    record = TaskRecord(
        id=new_task_id(),
        state="fast_tasks",
        task="forever",
        status="Processing",
        progress=40.0,
        worker_id=worker_id,
        last_event_id=1,
        created_at=now,
        updated_at=now,
    )
    await engine.store.insert_task(record.model_dump())
    return record.id


async def test_tasks_of_dead_workers_are_interrupted_and_live_workers_are_left_alone(
    engine: Engine, settings: Settings
) -> None:
    here = socket.gethostname()
    crashed_here = await _orphan(engine, "crashed-local", here, 2**22 + 7, heartbeat_age=0)
    silent_elsewhere = await _orphan(engine, "silent-remote", "other-host", 1, heartbeat_age=3600)
    alive_elsewhere = await _orphan(engine, "alive-remote", "other-host", 1, heartbeat_age=0)

    # The engine's own maintenance (every 0.2 s here) scans for orphans too: between
    # the two scans each orphan is interrupted, once (a clean CI run saw 1 here, not 2).
    assert await engine.workers.interrupt_orphans() <= 2

    for task_id in (crashed_here, silent_elsewhere):
        snap = await engine.snapshot(task_id)
        assert (snap.status, snap.error_code, snap.progress) == ("Interrupted", "interrupted", 40.0)
        events = await engine.store.events_after(task_id, 0)
        assert events[-1].type == EventType.ERROR and [e.type for e in events].count(EventType.ERROR) == 1
    assert (await engine.snapshot(alive_elsewhere)).status == "Processing"


async def test_a_resumed_stream_replays_exactly_the_durable_events_it_missed(engine: Engine) -> None:
    task_id = await _run_to_end(engine, "fast_tasks", "chatty", {"lines": 6})
    stored = await engine.store.events_after(task_id, 0)
    cut = stored[2].id
    received: list[TaskEvent] = []
    async for event in task_events(engine, task_id, after=cut, access=ANONYMOUS):
        assert event is not None
        received.append(event)
    assert received[0].type == EventType.SNAPSHOT
    assert received[0].id == cut
    assert [e.id for e in received[1:]] == [e.id for e in stored[3:]]
    assert received[-1].type == EventType.RESULT


async def test_raising_and_unserialisable_tasks_end_in_error_with_a_message(engine: Engine) -> None:
    failed = await engine.snapshot(await _run_to_end(engine, "fast_tasks", "fail"))
    assert (failed.status, failed.error, failed.error_code) == ("Error", "boom: the input was bad", "task_failed")
    odd = await engine.snapshot(await _run_to_end(engine, "fast_tasks", "unserializable"))
    assert odd.status == "Error" and odd.error_code == "result_not_serializable"
    assert "not JSON-serialisable" in (odd.error or "")


async def test_timeout_warns_first_then_ends_in_error(engine: Engine) -> None:
    task_id = await _run_to_end(engine, "fast_tasks", "overrun")
    snap = await engine.snapshot(task_id)
    assert (snap.status, snap.error_code) == ("Error", "timeout")
    events = await engine.store.events_after(task_id, 0)
    warnings = [e for e in events if e.type == EventType.LOG and e.level and e.level.value == "warning"]
    assert warnings and warnings[0].id < events[-1].id


async def test_graceful_shutdown_records_running_tasks_as_interrupted(engine: Engine, settings: Settings) -> None:
    spec, args = engine.parse_args("fast_tasks", "forever", None)
    snap = await engine.start_task(spec, args)
    await asyncio.sleep(0.2)
    await engine.stop()
    reopened = Engine(settings, registry=engine.registry)
    await reopened.start()
    try:
        final = await reopened.snapshot(snap.task_id)
        assert final.status == TaskStatus.INTERRUPTED.value
        assert os.getpid() > 0
    finally:
        await reopened.stop()


async def test_finished_tasks_are_purged_after_their_retention_and_running_ones_never(settings: Settings) -> None:
    quick = settings.model_copy(update={"purge_interval_seconds": 0.2})
    engine = Engine(quick, registry=get_engine().registry)
    await engine.start()
    try:
        gone = await _run_to_end(engine, "fast_tasks", "short_lived")
        kept = await _run_to_end(engine, "fast_tasks", "noop")
        spec, args = engine.parse_args("fast_tasks", "forever", None)
        running = (await engine.start_task(spec, args)).task_id
        await asyncio.sleep(1.5)
        assert await engine.store.get_task(gone) is None
        assert await engine.store.events_after(gone, 0) == []
        assert (await engine.snapshot(kept)).status == "Completed"  # default retention: a day
        assert (await engine.snapshot(running)).status == "Processing"
    finally:
        await engine.stop()


async def test_one_retention_sweep_removes_every_expired_task_in_batches(engine: Engine) -> None:
    now = utcnow()
    expired = [
        TaskRecord(
            id=new_task_id(),
            state="fast_tasks",
            task="noop",
            status="Completed",
            progress=100.0,
            last_event_id=1,
            created_at=now,
            updated_at=now,
            finished_at=now,
            purge_after=now - timedelta(seconds=1),
        )
        for _ in range(1234)
    ]
    await asyncio.gather(*(engine.store.insert_task(r.model_dump()) for r in expired))
    kept = await _run_to_end(engine, "fast_tasks", "noop")
    assert await engine.purge_expired(batch=500) == 1234
    assert await engine.store.purgeable(utcnow()) == []
    assert (await engine.snapshot(kept)).status == "Completed"


async def test_stats_agree_on_both_stores(engine: Engine) -> None:
    from datetime import UTC, datetime

    from tasks.queries import TaskQuery

    base = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    rows = [
        TaskRecord(
            id=new_task_id(),
            state="fast_tasks",
            task="noop",
            status="Completed",
            progress=100.0,
            last_event_id=1,
            created_at=base + timedelta(minutes=i),
            updated_at=base,
            started_at=base + timedelta(minutes=i),
            finished_at=base + timedelta(minutes=i, seconds=i + 1),
            duration_seconds=float(i + 1),
            search_text="even" if i % 2 == 0 else "odd",
        )
        for i in range(10)
    ]
    await asyncio.gather(*(engine.store.insert_task(r.model_dump()) for r in rows))
    query = TaskQuery(all_clients=True)
    stats = await engine.task_stats(query, since=base, until=base + timedelta(hours=1))
    assert stats.total == 10 and stats.bucket == "minute" and len(stats.throughput) == 60
    assert [p.started for p in stats.throughput[:11]] == [1] * 10 + [0]
    assert sum(p.finished for p in stats.throughput) == 10
    (noop,) = stats.durations
    assert noop.finished == 10 and abs(noop.p50 - 5.5) < 0.01 and abs(noop.p90 - 9.1) < 0.01
    assert abs(noop.p99 - 9.91) < 0.01
    assert [(s.status, s.tasks) for s in stats.by_status if s.tasks] == [("Completed", 10)]
    # A search reads its rows in one scan on SQLite: the same percentiles (of 1, 3, 5, 7, 9).
    searched = await engine.task_stats(
        TaskQuery(all_clients=True, search="even"), since=base, until=base + timedelta(hours=1)
    )
    (even,) = searched.durations
    assert searched.total == 5 and even.finished == 5 and even.p50 == 5.0 and abs(even.p90 - 8.2) < 0.01
    errors = await engine.task_stats(
        TaskQuery(all_clients=True, statuses=("Error",)), since=base, until=base + timedelta(hours=1)
    )
    assert errors.total == 0 and errors.durations == [] and sum(p.finished for p in errors.throughput) == 0
    hourly = await engine.task_stats(query, since=base - timedelta(hours=5), until=base + timedelta(hours=5))
    assert hourly.bucket == "hour" and [p.started for p in hourly.throughput if p.started] == [10]
    assert await engine.count_tasks(TaskQuery(all_clients=True, search="noop")) == 0  # the name is not searched


async def test_a_zero_timeout_receive_returns_a_waiting_message_at_once(engine: Engine) -> None:
    spec, args = engine.parse_args("example_agent", "plan_and_act", {"steps": 6, "step_seconds": 0.2})
    task_id = (await engine.start_task(spec, args)).task_id
    await asyncio.sleep(0.1)
    await engine.send_message(task_id, {"action": "skip"})
    final = await engine.wait(task_id, 10)
    assert final.status == "Completed" and final.result == {"goal": args.goal, "steps_done": 5, "steps_planned": 6}
    logs = [e.message for e in await engine.store.events_after(task_id, 0) if e.type == EventType.LOG]
    assert any(message and message.startswith("skipped step") for message in logs)


async def test_workers_starting_together_create_the_configured_admin_once(engine: Engine) -> None:
    password = "correct horse battery staple"
    await asyncio.gather(*(engine.admins.ensure_password("root", password) for _ in range(6)))
    assert await engine.admins.users() == ["root"]
    assert (await engine.admins.login("root", password)).user == "root"


async def test_long_polls_on_the_task_s_worker_return_its_end_only_once_it_is_committed(engine: Engine) -> None:
    spec, args = engine.parse_args("fast_tasks", "steps", {"steps": 3, "interval": 0.05})
    snap = await engine.start_task(spec, args)

    async def wait_then_read() -> tuple[str, str | None]:
        final = await engine.wait(snap.task_id, 10)
        row = await engine.store.get_task(snap.task_id)
        return final.status, row.status if row else None

    outcomes = await asyncio.gather(*(wait_then_read() for _ in range(50)))
    assert set(outcomes) == {("Completed", "Completed")}


async def test_a_long_poll_that_times_out_returns_the_running_task_and_a_later_one_its_end(engine: Engine) -> None:
    spec, args = engine.parse_args("fast_tasks", "forever", None)
    snap = await engine.start_task(spec, args)
    running = await engine.wait(snap.task_id, 0.3)
    assert running.status == "Processing" and running.progress > 0
    later = asyncio.create_task(engine.wait(snap.task_id, 10))
    await engine.cancel(snap.task_id)
    assert (await asyncio.wait_for(later, 5)).status == "Cancelled"


async def test_a_long_poll_outlives_its_worker_dropping_the_task_and_returns_the_end_another_records(
    engine: Engine,
) -> None:
    spec, args = engine.parse_args("fast_tasks", "forever", None)
    snap = await engine.start_task(spec, args)
    waiting = asyncio.create_task(engine.wait(snap.task_id, 10))
    await asyncio.sleep(0.05)
    engine.runner.abandon_all()  # this worker was declared dead: it drops its tasks unrecorded
    await asyncio.sleep(0.1)
    assert not waiting.done()  # nobody has recorded the end yet
    await engine.store.mark_workers_stopped([engine.runner.worker_id], "died", utcnow())
    await engine.workers.interrupt_orphans()  # what a surviving worker does
    final = await asyncio.wait_for(waiting, 5)
    assert (final.status, final.error_code) == ("Interrupted", "interrupted")


async def test_a_watcher_joining_a_task_nobody_watched_sees_its_progress_then_every_later_tick(engine: Engine) -> None:
    spec, args = engine.parse_args("fast_tasks", "forever", None)
    snap = await engine.start_task(spec, args)
    await asyncio.sleep(0.35)  # ticks every 100 ms, unwatched
    row = await engine.store.get_task(snap.task_id)
    assert row is not None and row.progress >= 2  # the row records them all the same
    stream = task_events(engine, snap.task_id, access=ANONYMOUS)
    first = await anext(stream)
    assert first is not None and first.type == EventType.SNAPSHOT
    assert first.snapshot is not None and first.snapshot.progress >= 3
    ticks = [await anext(stream) for _ in range(2)]
    assert [t.type for t in ticks if t is not None] == [EventType.STATUS, EventType.STATUS]
    ids = [first.id, *(t.id for t in ticks if t is not None)]
    assert ids == sorted(set(ids))
    progress = [first.snapshot.progress, *(t.snapshot.progress for t in ticks if t and t.snapshot)]
    assert progress == sorted(progress) and progress[-1] > progress[0]
    await stream.aclose()
    await engine.cancel(snap.task_id)


async def test_long_polls_cancelled_by_their_clients_leave_the_others_waiting(engine: Engine) -> None:
    spec, args = engine.parse_args("fast_tasks", "steps", {"steps": 4, "interval": 0.1})
    snap = await engine.start_task(spec, args)
    polls = [asyncio.create_task(engine.wait(snap.task_id, 10)) for _ in range(20)]
    await asyncio.sleep(0.1)
    for poll in polls[::2]:
        poll.cancel()
    assert {final.status for final in await asyncio.gather(*polls[1::2])} == {"Completed"}


async def test_an_end_being_committed_as_the_worker_stops_still_reaches_its_long_poll_and_watchers(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    spec, args = engine.parse_args("fast_tasks", "forever", None)
    snap = await engine.start_task(spec, args)
    await asyncio.sleep(0.2)  # running
    release = hold_commits(engine)
    assert engine.runner.cancel(snap.task_id)
    await asyncio.sleep(0.05)  # its end (Cancelled) is now being committed, and held back
    waiting = asyncio.create_task(engine.wait(snap.task_id, 10))
    async with engine.bus.subscribe(task_topic(snap.task_id)) as sub:
        stopping = asyncio.create_task(engine.runner.stop())  # cancels the task, as a shutdown does
        await asyncio.sleep(0.1)
        assert not waiting.done()
        release.set()
        final = await asyncio.wait_for(waiting, 5)
        heard = await sub.get(timeout=5)
    await stopping
    assert (final.status, final.error_code) == ("Cancelled", "cancelled")
    assert heard is not None and heard.is_terminal and heard.snapshot is not None
    assert heard.snapshot.status == "Cancelled"
    assert (await engine.snapshot(snap.task_id)).status == "Cancelled"
    assert "was not stored" not in caplog.text  # it was: published after its commit


async def test_a_worker_dropping_a_task_whose_end_is_being_written_frees_its_slot_once(engine: Engine) -> None:
    spec, args = engine.parse_args("fast_tasks", "single", None)  # max_concurrency=1
    snap = await engine.start_task(spec, args)
    await asyncio.sleep(0.05)
    release = hold_commits(engine)
    assert engine.runner.cancel(snap.task_id)
    await asyncio.sleep(0.05)  # its end is being written, held back
    engine.runner.abandon_all()  # declared dead meanwhile
    release.set()
    await asyncio.sleep(0.2)
    assert engine.limits.running(spec) == 0 and engine.limits.running() == 0
    assert await engine.start_task(spec, args)
    with pytest.raises(TooManyTasks):  # one slot, not two
        await engine.start_task(spec, args)


async def test_a_task_quoting_a_nul_byte_still_has_its_end_and_its_log_stored(engine: Engine) -> None:
    """PostgreSQL refuses NUL in text: the end of such a task was never written, nor its artifact."""
    task_id = await _run_to_end(engine, "fast_tasks", "nul_bytes")
    snap = await engine.snapshot(task_id)
    assert (snap.status, snap.error) == ("Error", "bad byte \ufffd in the input")
    row = await engine.store.get_task(task_id)
    assert row is not None and (row.status, row.error) == ("Error", snap.error)
    events = await engine.durable_events(task_id)
    assert "line with \ufffd in it" in [event.message for event in events]
    (artifact,) = [event.data for event in events if event.type == EventType.ARTIFACT]
    assert isinstance(artifact, dict) and artifact["label"] == "notes\ufffd.txt"
    assert await engine.artifact(task_id, artifact["name"]) == (b"kept", "text/plain")
    assert any("is not a media type" in (event.message or "") for event in events)  # the bad mime was refused


async def test_an_artifact_the_database_refuses_fails_the_task_with_a_plain_error(engine: Engine) -> None:
    """The driver's error quotes the SQL and the file's bytes: the client reading the
    task's error must not get them."""
    async with engine.store.engine.begin() as conn:
        if engine.store.is_sqlite:
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_artifacts BEFORE INSERT ON task_artifact "
                    "BEGIN SELECT RAISE(ABORT, 'no artifacts today'); END"
                )
            )
        else:
            await conn.execute(
                text(
                    "CREATE FUNCTION refuse_artifacts() RETURNS trigger AS "
                    "$$ BEGIN RAISE EXCEPTION 'no artifacts today'; END $$ LANGUAGE plpgsql"
                )
            )
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_artifacts BEFORE INSERT ON task_artifact "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_artifacts()"
                )
            )
    task_id = await _run_to_end(engine, "fast_tasks", "files")
    snap = await engine.snapshot(task_id)
    assert (snap.status, snap.error) == ("Error", "artifact 'report.txt' could not be stored")
    events = await engine.durable_events(task_id)
    assert not [event for event in events if event.type == EventType.ARTIFACT]


async def test_an_artifact_reported_lost_keeps_its_name_and_the_next_of_its_label_is_stored_anew(
    engine: Engine,
) -> None:
    """A write the database committed while its answer was lost (an outage past the
    store's retries) fails the call, yet its row is there: the task's next artifact
    of that label must not be taken for it and silently keep the old bytes."""
    spec, args = engine.parse_args("fast_tasks", "forever", None)
    task_id = (await engine.start_task(spec, args)).task_id
    live = engine.runner.live(task_id)
    assert live is not None
    store_artifact = engine.store.put_artifact
    calls = 0

    async def committed_then_lost(*args: Any) -> None:
        nonlocal calls
        calls += 1
        await store_artifact(*args)
        if calls == 1:
            raise OperationalError("COMMIT", None, ConnectionResetError("the answer was lost"))

    engine.store.put_artifact = committed_then_lost  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError, match="could not be stored"):
            await engine.runner.artifact(live, "report.txt", b"version one", "text/plain")
        second = await engine.runner.artifact(live, "report.txt", b"version two", "text/plain")
    finally:
        engine.store.put_artifact = store_artifact  # type: ignore[method-assign]
        await engine.cancel(task_id)
    assert second["name"] == "report-2.txt"
    assert await engine.artifact(task_id, "report-2.txt") == (b"version two", "text/plain")


async def test_ids_names_and_filters_holding_a_nul_find_nothing_on_every_store(engine: Engine) -> None:
    """PostgreSQL refuses a NUL even as a query parameter: every lookup by one was a 500."""
    task_id = await _run_to_end(engine, "fast_tasks", "nul_bytes")
    for lookup in (engine.snapshot, engine.delete, engine.cancel, engine.inspect):
        with pytest.raises(UnknownTaskId):
            await lookup(task_id + "\x00")
    with pytest.raises(NotFound):
        await engine.artifact(task_id, "notes\x00.txt")
    everyone = TaskQuery(all_clients=True)
    quoted = await engine.list_tasks(TaskQuery(all_clients=True, search="bad byte \x00"))
    assert [snap.task_id for snap in quoted] == [task_id]  # as stored: the NUL is U+FFFD
    for nothing in (TaskQuery(all_clients=True, state="fast\x00tasks"), TaskQuery(all_clients=True, client="\x00")):
        assert await engine.list_tasks(nothing) == [] and await engine.count_tasks(nothing) == 0
        assert (await engine.task_stats(nothing)).total == 0
    assert await engine.count_tasks(everyone) == 1
    with pytest.raises(Unauthorized):
        await engine.admins.login("ro\x00ot", "whatever-password")
    with pytest.raises(NotFound):
        await engine.auth.revoke("bob\x00")


@pytest.mark.parametrize("bad", ["x\x00y", "x\ud800y"])
async def test_a_nul_or_an_unpaired_surrogate_from_a_browser_finds_nothing_and_logs_no_one_in(
    engine: Engine, bad: str
) -> None:
    """Reflex decodes events with plain json.loads, so a dashboard handler can pass
    either to the engine: the driver (and argon2, and SHA-256) refused them with a traceback."""
    await engine.admins.set_password("root", "correct horse battery staple")
    with pytest.raises(UnknownTaskId):
        await engine.inspect(bad)
    for user, password in ((bad, "correct horse battery staple"), ("root", bad)):
        with pytest.raises(Unauthorized):
            await engine.admins.login(user, password)
    for token in (bad, "sga" + bad):
        with pytest.raises(Unauthorized):
            await engine.auth.authenticate(token)
        with pytest.raises(Unauthorized):
            await engine.admins.authenticate(token)
    with pytest.raises(NotFound):
        await engine.auth.revoke(bad)
    assert await engine.list_tasks(TaskQuery(all_clients=True, search=bad, state=bad)) == []

"""Pure logic: ids, argument parsing, redaction, coalescing, settings."""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime

import pytest

from tasks.auth import RedactTokens, new_token, redact
from tasks.engine import get_engine
from tasks.errors import InvalidArgs
from tasks.events import EventType, TaskEvent
from tasks.ids import EventClock, new_task_id
from tasks.settings import Settings
from tasks.streams import coalesce


def test_event_ids_strictly_increase_even_within_one_microsecond() -> None:
    clock = EventClock()
    ids = [clock.next() for _ in range(10_000)]
    assert ids == sorted(set(ids))
    assert clock.next(floor=ids[-1] + 1_000_000) == ids[-1] + 1_000_001


def test_task_ids_and_tokens_carry_enough_randomness() -> None:
    ids = [new_task_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{11}[A-Za-z0-9_-]{22}", task_id) for task_id in ids)  # time + 128 random bits
    assert len({task_id[11:] for task_id in ids}) == 1000


def test_task_ids_made_later_sort_later() -> None:
    earlier = new_task_id()
    time.sleep(0.002)
    later = new_task_id()
    assert earlier < later
    assert abs(int(later[:11], 16) - time.time_ns() // 1_000_000) < 1000  # the prefix is the time in ms
    token = new_token()
    assert token.startswith("sgt") and len(token) == 43 and "_" not in token


def test_task_args_use_the_default_when_empty_and_report_every_bad_field() -> None:
    spec = get_engine().registry.get("example_task2", "task2_with_args")
    assert spec.parse_args(None).name == "World"
    with pytest.raises(InvalidArgs) as bad:
        spec.parse_args({"name": 3, "age": "x"})
    assert [d["loc"] for d in bad.value.details] == [["body", "name"], ["body", "age"]]


def test_tokens_are_redacted_from_text_and_log_records(caplog: pytest.LogCaptureFixture) -> None:
    token = new_token()
    assert token not in redact(f"POST /api/x/tasks/{token}/start/y")
    logger = logging.getLogger("spyglass.test-redaction")
    logger.addFilter(RedactTokens())
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("path %s", f"/ws/x/tasks/{token}")
    assert token not in caplog.text and "sgt…redacted" in caplog.text


def _event(task_id: str, event_id: int, type_: EventType) -> TaskEvent:
    return TaskEvent(id=event_id, task_id=task_id, type=type_, timestamp=datetime.now(UTC))


def test_coalescing_keeps_the_latest_status_per_task_and_every_durable_event() -> None:
    batch = [
        _event("a", 1, EventType.STATUS),
        _event("b", 2, EventType.STATUS),
        _event("a", 3, EventType.LOG),
        _event("a", 4, EventType.STATUS),
        _event("a", 5, EventType.RESULT),
    ]
    assert [(e.task_id, e.id) for e in coalesce(batch)] == [("b", 2), ("a", 3), ("a", 4), ("a", 5)]


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_urls_get_async_drivers(given: str, used: str) -> None:
    assert Settings(database_url=given).async_database_url == used

"""Where the task list puts a task the bus announces: tasks started together are
announced in any order, and each must still land on the page, in its place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from states.task_list import _position
from states.views import TaskRow, iso

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _rows(*seconds: int) -> list[TaskRow]:
    return [TaskRow(task_id=f"t{s}", created=iso(T0 + timedelta(seconds=s))) for s in seconds]


def test_a_task_announced_after_a_newer_one_goes_below_it_not_away() -> None:
    rows = _rows(30, 20, 10)  # newest first
    assert _position(T0 + timedelta(seconds=25), "t25", rows, limit=10) == 1
    assert _position(T0 + timedelta(seconds=40), "t40", rows, limit=10) == 0


def test_an_older_task_fills_a_page_with_room_and_stays_off_a_full_one() -> None:
    assert _position(T0, "t0", _rows(30, 20, 10), limit=10) == 3
    assert _position(T0, "t0", _rows(30, 20, 10), limit=3) is None

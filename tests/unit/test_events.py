"""What a stream sends for an event: built once and shared by every watcher, and a
copy of an event (a terminal event made from a snapshot) never reuses it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tasks.events import EventType, TaskEvent


def _event() -> TaskEvent:
    return TaskEvent(id=7, task_id="t1", type=EventType.LOG, timestamp=datetime.now(UTC), message="héllo")


def test_the_wire_text_is_the_wire_object_as_json_built_once() -> None:
    event = _event()
    text = event.wire_text()
    assert json.loads(text) == event.wire()
    assert event.wire_text() is text


def test_a_copy_with_changes_sends_its_own_text() -> None:
    event = _event()
    event.wire_text()
    changed = event.model_copy(update={"message": "bye"})
    assert json.loads(changed.wire_text())["message"] == "bye"
    assert json.loads(event.wire_text())["message"] == "héllo"

"""What the dashboard states hand to the pages: plain rows built from engine
snapshots, and the filters both the list and its URL are made of. Times stay
ISO 8601 in UTC here; the browser shows them in its own time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tasks.events import TaskSnapshot
from tasks.queries import DIRECT, TaskQuery
from tasks.status import TaskStatus

ANY = "any"
STATUS_COLORS = {
    "Pending": "gray",
    "Starting": "amber",
    "Processing": "blue",
    "Completed": "green",
    "Error": "red",
    "Cancelled": "gray",
    "Interrupted": "orange",
}
# The same colours as hex, for the charts (Radix 9 steps).
STATUS_HEX = {
    "Pending": "#8d8d8d",
    "Starting": "#ffc53d",
    "Processing": "#0090ff",
    "Completed": "#30a46c",
    "Error": "#e5484d",
    "Cancelled": "#6f6f6f",
    "Interrupted": "#f76b15",
}
RANGES = {
    "15m": ("last 15 min", timedelta(minutes=15)),
    "1h": ("last hour", timedelta(hours=1)),
    "24h": ("last 24 h", timedelta(hours=24)),
    "7d": ("last 7 days", timedelta(days=7)),
    "all": ("all time", None),
    "custom": ("custom", None),
}
PAGE_SIZES = (25, 50, 100)


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def shown_progress(snap: TaskSnapshot) -> int:
    """What the bar says: a Completed task reads 100% whatever its last update was."""
    if snap.status == TaskStatus.COMPLETED.value:
        return 100
    return max(0, min(100, int(snap.progress)))


@dataclass
class TaskRow:
    task_id: str = ""
    state: str = ""
    task: str = ""
    client: str = ""
    status: str = ""
    color: str = "gray"
    progress: int = 0
    message: str = ""
    created: str = ""
    started: str = ""
    finished: str = ""
    duration: str = ""  # for finished tasks; running ones tick in the browser from `started`
    running: bool = False
    attempt: int = 1


def row_of(snap: TaskSnapshot) -> TaskRow:
    duration = ""
    if snap.started_at is not None and snap.finished_at is not None:
        duration = format_seconds((snap.finished_at - snap.started_at).total_seconds())
    return TaskRow(
        task_id=snap.task_id,
        state=snap.state,
        task=snap.task,
        client=snap.client or DIRECT,
        status=str(snap.status),
        color=STATUS_COLORS.get(str(snap.status), "gray"),
        progress=shown_progress(snap),
        message=snap.message or "",
        created=iso(snap.created_at),
        started=iso(snap.started_at),
        finished=iso(snap.finished_at),
        duration=duration,
        running=not snap.is_terminal,
        attempt=snap.attempt,
    )


def format_seconds(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@dataclass
class Filters:
    """A view of the task list, as the URL carries it (`?status=Error&range=1h...`)."""

    status: str = ANY
    state: str = ANY
    task: str = ANY
    client: str = ANY
    range: str = "24h"
    since: str = ""  # custom range, ISO 8601 from the browser (datetime-local, its own time zone)
    until: str = ""
    search: str = ""
    limit: int = 50
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, params: dict[str, str]) -> Filters:
        def pick(name: str, allowed: Any = None, default: str = ANY) -> str:
            value = str(params.get(name, default))[:200]
            return value if allowed is None or value in allowed else default

        try:
            limit = int(params.get("limit", "50"))
        except ValueError:
            limit = 50
        return cls(
            status=pick("status", {ANY, *(s.value for s in TaskStatus)}),
            state=pick("state"),
            task=pick("task"),
            client=pick("client"),
            range=pick("range", set(RANGES), "24h"),
            since=pick("since", default=""),
            until=pick("until", default=""),
            search=pick("search", default=""),
            limit=limit if limit in PAGE_SIZES else 50,
        )

    def to_query(self) -> str:
        values = {
            "status": self.status,
            "state": self.state,
            "task": self.task,
            "client": self.client,
            "range": self.range,
            "since": self.since if self.range == "custom" else "",
            "until": self.until if self.range == "custom" else "",
            "search": self.search,
            "limit": str(self.limit) if self.limit != 50 else "",
        }
        defaults = {"status": ANY, "state": ANY, "task": ANY, "client": ANY, "range": "24h"}
        kept = {k: v for k, v in values.items() if v and defaults.get(k) != v}
        return urlencode(kept)

    def time_range(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        if self.range == "custom":
            return _parse_local(self.since), _parse_local(self.until)
        span = RANGES.get(self.range, RANGES["24h"])[1]
        return (now - span if span is not None else None), None

    def query(self, now: datetime, limit: int, after: tuple[datetime, str] | None = None) -> TaskQuery:
        since, until = self.time_range(now)
        return TaskQuery(
            all_clients=True,
            client=None if self.client == ANY else self.client,
            state=None if self.state == ANY else self.state,
            task=None if self.task == ANY else self.task,
            statuses=() if self.status == ANY else (self.status,),
            since=since,
            until=until,
            search=self.search.strip() or None,
            limit=limit,
            after=after,
        )

    def matches(self, snap: TaskSnapshot, now: datetime) -> bool:
        """Whether a task the bus announced belongs in this view (live inserts)."""
        since, until = self.time_range(now)
        checks = [
            self.status in (ANY, str(snap.status)),
            self.state in (ANY, snap.state),
            self.task in (ANY, snap.task),
            self.client in (ANY, snap.client or DIRECT),
            since is None or snap.created_at >= since,
            until is None or snap.created_at < until,
            not self.search.strip(),  # a search is the database's to answer
        ]
        return all(checks)


def _parse_local(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def query_params(url_query: str) -> dict[str, str]:
    return dict(parse_qsl(url_query.lstrip("?")))

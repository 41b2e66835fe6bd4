"""Reads over many tasks: the list (keyset pages), its count, and the aggregates
the dashboard charts. One `TaskQuery` describes the filter for all of them, so a
chart always agrees with the list it sits above. The counting happens in the
database, over covering indexes: a chart over 100,000 tasks fetches a few hundred
rows, not 100,000 (a search on SQLite fetches its matches' run times)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Table, and_, func, literal_column, or_, select, text
from sqlalchemy.sql.elements import ColumnElement

from tasks.errors import InvalidRequest
from tasks.rows import searchable_json
from tasks.status import TaskStatus
from tasks.text import clean_text

DIRECT = "(direct)"  # the client filter value for tasks started without a token
Bucket = Literal["minute", "hour"]


def as_utc_aware(value: datetime) -> datetime:
    """Stored times are UTC; SQLite compares their text, so a bound value must be
    UTC too (an offset such as +09:00 would otherwise be dropped, not applied)."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # year 1 at +09:00 is before the first representable time
        raise InvalidRequest(
            f"the time {value.isoformat()} is out of range", hint="use a time after the year 1"
        ) from None


@dataclass(frozen=True)
class TaskQuery:
    """Which tasks, and (for the list) which page. Keyset pagination on
    (created_at, id): stable while new tasks are inserted, since a cursor names a
    position, not an offset."""

    caller_client: str | None = None  # the caller's scope: a client's tasks, or tokenless ones (None)
    all_clients: bool = False  # an admin: every client's, optionally narrowed by `client`
    client: str | None = None  # admin filter: one client's tasks, or DIRECT for tokenless ones
    state: str | None = None
    task: str | None = None
    statuses: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None  # in the id, arguments, message, result and error
    limit: int = 20
    descending: bool = True
    after: tuple[datetime, str] | None = None

    def __post_init__(self) -> None:
        # A filter's text as stored text is (tasks/text.py): a search for a NUL finds
        # the tasks that quoted one, and a name holding one matches nothing (no
        # client, state or task name holds U+FFFD) instead of failing on PostgreSQL.
        for name in ("caller_client", "client", "state", "task", "search"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, clean_text(value))

    def unpaged(self) -> TaskQuery:
        return replace(self, after=None)


def conditions(table: Table, query: TaskQuery, dialect: str, time_index: bool = True) -> list[ColumnElement[bool]]:
    """The query's filter. `time_index=False` keeps SQLite from walking the time
    index, for reads that another index (or a plain scan) serves better."""
    c = table.c
    where: list[ColumnElement[bool]] = []
    if not query.all_clients:
        who = query.caller_client
        where.append(c.client == who if who is not None else c.client.is_(None))
    elif query.client is not None:
        where.append(c.client.is_(None) if query.client == DIRECT else c.client == query.client)
    if query.state is not None:
        where.append(c.state == query.state)
    if query.task is not None:
        where.append(c.task == query.task)
    if query.statuses:
        where.append(c.status.in_(query.statuses))
    where += time_range(table, "created_at", query, dialect, time_index)
    if query.search:
        # LIKE on one precomputed lowercase column (see search_text): a search
        # scans every row in range, so the cost per row is what matters.
        where.append(or_(*(c.search_text.like(f"%{like_escaped(n)}%", escape="\\") for n in needles(query.search))))
    return where


def needles(search: str) -> list[str]:
    """What a search looks for: its lowercased text, and the same as the arguments'
    and result's JSON holds it when that differs (a quote, a backslash). Not for
    a control character: JSON writes a tab as a backslash and a "t", which a
    backslash written as two would also match."""
    text = search.lower()
    as_json = searchable_json(text)[1:-1]
    if as_json == text or any(ord(character) < 0x20 for character in text):
        return [text]
    return [text, as_json]


def like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def time_range(
    table: Table, column: str, query: TaskQuery, dialect: str, index: bool = True
) -> list[ColumnElement[bool]]:
    """`column` within [since, until). On SQLite, `index=False` writes the column as
    `+column`, which SQLite's planner takes as "not through an index on it"."""
    col: Any = table.c[column]
    if not index and dialect == "sqlite":
        col = literal_column(f"+{table.name}.{column}", type_=col.type)
    where = []
    if query.since is not None:
        where.append(col >= as_utc_aware(query.since))
    if query.until is not None:
        where.append(col < as_utc_aware(query.until))
    return where


def page_statement(table: Table, query: TaskQuery, dialect: str) -> Any:
    c = table.c
    stmt = select(table).where(*conditions(table, query, dialect))
    if query.after is not None:
        created, task_id = as_utc_aware(query.after[0]), query.after[1]
        if query.descending:
            stmt = stmt.where(or_(c.created_at < created, and_(c.created_at == created, c.id < task_id)))
        else:
            stmt = stmt.where(or_(c.created_at > created, and_(c.created_at == created, c.id > task_id)))
    order: tuple[Any, ...] = (c.created_at.desc(), c.id.desc()) if query.descending else (c.created_at, c.id)
    if query.search and dialect == "sqlite":
        # Walking the time index would fetch every row at random to test it: a plain
        # scan and a top-N sort of the matches is much faster (unary + hides the index).
        direction = "DESC" if query.descending else "ASC"
        order = (text(f"+{table.name}.created_at {direction}"), text(f"+{table.name}.id {direction}"))
    return stmt.order_by(*order).limit(query.limit)


def count_statement(table: Table, query: TaskQuery, dialect: str) -> Any:
    return select(func.count()).select_from(table).where(*conditions(table, query.unpaged(), dialect))


def bucket_expression(column: Any, bucket: Bucket, dialect: str) -> Any:
    """The minute or hour a time falls in. SQLite stores times as UTC text, so a
    prefix of it is the bucket; PostgreSQL truncates (formatting each row as text
    would cost more than the whole count)."""
    if dialect == "sqlite":
        return func.substr(column, 1, 16 if bucket == "minute" else 13)
    return func.date_trunc(bucket, func.timezone("UTC", column))


def started_statement(table: Table, query: TaskQuery, bucket: Bucket, dialect: str) -> Any:
    """Tasks created per bucket and status within the query's range: one index-only
    scan gives both the started series and the counts per status."""
    started = bucket_expression(table.c.created_at, bucket, dialect)
    return (
        select(started, table.c.status, func.count())
        .where(*conditions(table, query.unpaged(), dialect, time_index=not query.search))
        .group_by(started, table.c.status)
    )


def finished_statement(table: Table, query: TaskQuery, bucket: Bucket, dialect: str) -> Any:
    """Tasks finished per bucket within the query's range, whenever they were created."""
    where = conditions(table, replace(query.unpaged(), since=None, until=None), dialect)
    finished = bucket_expression(table.c.finished_at, bucket, dialect)
    in_range = time_range(table, "finished_at", query, dialect, index=not query.search)
    return select(finished, func.count()).where(*where, table.c.finished_at.is_not(None), *in_range).group_by(finished)


PERCENTILES = (0.5, 0.9, 0.99)


def duration_statement(table: Table, query: TaskQuery, dialect: str) -> Any:
    """PostgreSQL: per (state, task), how many finished and their run time in
    seconds at the 50th, 90th and 99th percentile. SQLite (no percentile_cont):
    per (state, task), how many finished; `duration_at_statement` then reads each
    percentile's rows off the ix_task_durations index."""
    c = table.c
    finished = [*conditions(table, query.unpaged(), dialect, time_index=False), c.duration_seconds.is_not(None)]
    percentiles = (
        [func.percentile_cont(q).within_group(c.duration_seconds) for q in PERCENTILES] if dialect != "sqlite" else []
    )
    return select(c.state, c.task, func.count(), *percentiles).where(*finished).group_by(c.state, c.task)


def duration_at_statement(table: Table, query: TaskQuery, state: str, task: str, rank: int, dialect: str) -> Any:
    """The run times ranked `rank` and `rank + 1` (from 0) among one task's finished
    runs: an index walk of `rank` entries, not a sort of them all."""
    c = table.c
    where = conditions(table, replace(query.unpaged(), state=state, task=task), dialect, time_index=False)
    return (
        select(c.duration_seconds)
        .where(*where, c.duration_seconds.is_not(None))
        .order_by(c.duration_seconds)
        .offset(rank)
        .limit(2)
    )


class StatusCount(BaseModel):
    status: str
    tasks: int


class ThroughputPoint(BaseModel):
    at: datetime  # start of the bucket, UTC
    started: int
    finished: int


class DurationStats(BaseModel):
    state: str
    task: str
    finished: int
    p50: float
    p90: float
    p99: float


class TaskStats(BaseModel):
    """What the dashboard charts: all of it follows the same filters as the list."""

    total: int
    by_status: list[StatusCount]
    bucket: Bucket
    throughput: list[ThroughputPoint]
    durations: list[DurationStats]


def status_counts(started: list[tuple[Any, str, int]]) -> list[StatusCount]:
    """Every status, in lifecycle order, zeros included (a chart keeps its shape)."""
    found: dict[str, int] = {}
    for _, status, n in started:
        found[status] = found.get(status, 0) + int(n)
    return [StatusCount(status=s.value, tasks=found.get(s.value, 0)) for s in TaskStatus]


def bucket_start(value: Any) -> datetime | None:
    """A bucket as either database returns it (UTC text prefix, or a naive UTC
    timestamp), as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace(" ", "T") + (":00" if len(value) == 13 else ""))
    return as_utc_aware(value)


def zero_filled(
    started: list[tuple[Any, str, int]],
    finished: list[tuple[Any, int]],
    since: datetime,
    until: datetime,
    bucket: Bucket,
) -> list[ThroughputPoint]:
    step = timedelta(minutes=1) if bucket == "minute" else timedelta(hours=1)
    start = as_utc_aware(since).replace(second=0, microsecond=0)
    if bucket == "hour":
        start = start.replace(minute=0)
    starts: dict[datetime, int] = {}
    for at, _, n in started:
        if (key := bucket_start(at)) is not None:
            starts[key] = starts.get(key, 0) + int(n)
    ends = {key: int(n) for at, n in finished if (key := bucket_start(at)) is not None}
    points = []
    at = start
    while at < as_utc_aware(until):
        points.append(ThroughputPoint(at=at, started=starts.get(at, 0), finished=ends.get(at, 0)))
        at += step
    return points


def duration_values_statement(table: Table, query: TaskQuery, dialect: str) -> Any:
    """Every matching finished run's time: for a search, whose rows must be read
    anyway, one scan and a sort in Python beat an index walk per percentile."""
    c = table.c
    where = conditions(table, query.unpaged(), dialect, time_index=False)
    return select(c.state, c.task, c.duration_seconds).where(*where, c.duration_seconds.is_not(None))


def durations_from_values(rows: list[tuple[Any, ...]]) -> list[DurationStats]:
    groups: dict[tuple[str, str], list[float]] = {}
    for state, task, seconds in rows:
        groups.setdefault((state, task), []).append(max(float(seconds), 0.0))
    stats = []
    for (state, task), values in sorted(groups.items()):
        values.sort()
        n = len(values)
        at = [q * (n - 1) for q in PERCENTILES]
        p50, p90, p99 = (percentile(values[int(x)], values[min(int(x) + 1, n - 1)], x) for x in at)
        stats.append(DurationStats(state=state, task=task, finished=n, p50=p50, p90=p90, p99=p99))
    return stats


def percentile(low: float, high: float, position: float) -> float:
    """Linear interpolation between the two ranked values around `position`, as
    PostgreSQL's percentile_cont does."""
    return low + (high - low) * (position - int(position))


def durations_from_rows(rows: list[tuple[Any, ...]]) -> list[DurationStats]:
    """PostgreSQL's rows: (state, task, finished, p50, p90, p99)."""
    return [
        DurationStats(state=s, task=t, finished=int(n), p50=float(a or 0), p90=float(b or 0), p99=float(c or 0))
        for s, t, n, a, b, c in rows
    ]

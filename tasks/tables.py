"""SQLModel tables: one row per task run, its durable events, the live workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, LargeBinary, String, Table, Text, text
from sqlmodel import Field, SQLModel

from tasks.status import TaskStatus


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel table class (mypy cannot see `__table__`)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def _utc_column(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _when_set(name: str, *columns: str, unique: bool = False) -> Index:
    """An index of the rows whose first column is set."""
    where = text(f"{columns[0]} IS NOT NULL")
    return Index(name, *columns, unique=unique, sqlite_where=where, postgresql_where=where)


class TaskRecord(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_state_task_created", "state", "task", "created_at"),
        Index("ix_task_status", "status"),
        Index("ix_task_client", "client"),
        Index("ix_task_created_id", "created_at", "id"),
        Index("ix_task_worker_id", "worker_id"),
        # Only the rows that have the value (migration 0008): every read of these asks for one.
        _when_set("ix_task_purge_after", "purge_after"),
        _when_set("ix_task_idempotency_key", "idempotency_key", unique=True),
        # The charts' reads (tasks/queries.py) are index-only scans of these three:
        # a task row is wide (arguments, result, search text), an index entry is not.
        Index("ix_task_stats", "created_at", "status", "client", "state", "task"),
        Index("ix_task_finished", "finished_at", "status", "client", "state", "task"),
        Index("ix_task_durations", "state", "task", "duration_seconds", "created_at", "client", "status"),
    )

    id: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=128)
    task: str = Field(max_length=128)
    args: Any = Field(default=None, sa_column=Column(JSON))
    status: str = Field(default=TaskStatus.PENDING.value, sa_column=Column(String(16), nullable=False))
    progress: float = 0.0
    message: str | None = None
    result: Any = Field(default=None, sa_column=Column(JSON))
    error: str | None = None
    error_code: str | None = Field(default=None, max_length=64)
    client: str | None = Field(default=None, max_length=64)
    worker_id: str | None = Field(default=None, max_length=64)
    last_event_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    created_at: datetime | None = _utc_column(nullable=False)
    started_at: datetime | None = _utc_column()
    finished_at: datetime | None = _utc_column()
    updated_at: datetime | None = _utc_column(nullable=False)
    purge_after: datetime | None = _utc_column()
    idempotency_key: str | None = Field(default=None, max_length=300)
    args_hash: str | None = Field(default=None, max_length=64)
    attempt: int = Field(default=1, sa_column=Column(Integer, nullable=False, default=1))
    retry_of: str | None = Field(default=None, max_length=64)
    cancel_requested_at: datetime | None = _utc_column()
    # Lowercased id, arguments, message, result and error: what the dashboard's
    # search scans (one LIKE on one column instead of five casts per row).
    search_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    duration_seconds: float | None = None  # finished_at - started_at, written with the end


class TaskEventRecord(SQLModel, table=True):
    """Durable events only (logs, terminal event): progress ticks are not kept."""

    __tablename__ = "task_event"

    task_id: str = Field(primary_key=True, max_length=64)
    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    type: str = Field(max_length=64)
    timestamp: datetime | None = _utc_column(nullable=False)
    data: Any = Field(default=None, sa_column=Column(JSON))


class WorkerRecord(SQLModel, table=True):
    """A backend process that runs tasks; its heartbeat proves its tasks are alive."""

    __tablename__ = "worker"

    id: str = Field(primary_key=True, max_length=64)
    hostname: str = Field(max_length=255)
    pid: int
    started_at: datetime | None = _utc_column(nullable=False)
    heartbeat_at: datetime | None = _utc_column(nullable=False)
    stopped_at: datetime | None = _utc_column()  # set when it left (gracefully or not)
    stop_reason: str | None = Field(default=None, max_length=16)  # "stopped" | "died"


class ClientRecord(SQLModel, table=True):
    """A named API consumer; owns the tasks started with its tokens."""

    __tablename__ = "client"

    name: str = Field(primary_key=True, max_length=64)
    created_at: datetime | None = _utc_column(nullable=False)


class TokenRecord(SQLModel, table=True):
    """A client's token, stored only as its SHA-256; `id` is public (for revoke/list)."""

    __tablename__ = "client_token"

    id: str = Field(primary_key=True, max_length=16)
    client: str = Field(max_length=64, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime | None = _utc_column(nullable=False)
    expires_at: datetime | None = _utc_column()
    revoked_at: datetime | None = _utc_column()
    last_used_at: datetime | None = _utc_column()


class AdminUserRecord(SQLModel, table=True):
    """A dashboard administrator; the password is kept as a salted scrypt hash."""

    __tablename__ = "admin_user"

    name: str = Field(primary_key=True, max_length=64)
    password_hash: str = Field(max_length=255)
    created_at: datetime | None = _utc_column(nullable=False)


class AdminSessionRecord(SQLModel, table=True):
    """A logged-in admin session; the session token is stored only as its SHA-256."""

    __tablename__ = "admin_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user: str = Field(max_length=64, index=True)
    created_at: datetime | None = _utc_column(nullable=False)
    expires_at: datetime | None = _utc_column(nullable=False)


class ArtifactRecord(SQLModel, table=True):
    """A file a task stored; kept in the database so every worker and host can serve it."""

    __tablename__ = "task_artifact"

    task_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=128)
    label: str = Field(max_length=255)
    mime: str = Field(max_length=255)
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime | None = _utc_column(nullable=False)


class SettingRecord(SQLModel, table=True):
    """Installation-wide values every worker must agree on (e.g. the secret that
    derives the Reflex state tokens of clients)."""

    __tablename__ = "setting"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=1024)

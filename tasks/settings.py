"""Settings from the environment, read once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPYGLASS_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default=Path("data"), description="Where the SQLite file and artifacts live.")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SPYGLASS_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; default is a SQLite file in data_dir.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SPYGLASS_REDIS_URL", "REFLEX_REDIS_URL"),
        description="Redis for the bus, commands and limits across workers; default: one process, in-memory.",
    )
    redis_prefix: str = Field(
        default="spyglass",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Namespace of this deployment's Redis keys and channels.",
    )
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    require_token: bool = Field(default=False, description="Direct routes need a Bearer client token too.")
    admin_user: str | None = Field(default=None, description="Bootstrap admin (with admin_password); else use the CLI.")
    admin_password: str | None = Field(default=None, repr=False)
    admin_session_hours: float = Field(default=12, gt=0)
    max_wait_seconds: float = Field(default=60.0, gt=0, description="Upper bound of ?wait= long-polls.")
    state_modules: str = Field(
        default="",
        description="Extra comma-separated modules holding MonitorState classes (tests, bench).",
    )
    max_active_tasks: int = Field(
        default=1000, gt=0, description="Cap on unfinished tasks, counted over every worker and host."
    )
    cancel_grace_seconds: float = Field(
        default=10, gt=0, description="A cancelled task still running after this is ended Cancelled (cancel_forced)."
    )
    process_grace_seconds: float = Field(
        default=3, gt=0, description="SIGTERM to SIGKILL delay for a task's subprocesses."
    )
    finished_cache_size: int = Field(default=10_000, ge=0, description="Terminal snapshots kept in memory per worker.")
    retention_seconds: float = Field(
        default=86_400, gt=0, description="How long finished tasks are kept (per-task override: retention=)."
    )
    purge_interval_seconds: float = Field(default=60, gt=0)
    max_artifact_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_message_bytes: int = Field(default=64 * 1024, gt=0)
    sse_keepalive_seconds: float = Field(
        default=15,
        gt=0,
        validation_alias=AliasChoices("SPYGLASS_SSE_KEEPALIVE_SECONDS", "SPYGLASS_SSE_HEARTBEAT_SECONDS"),
        description="Idle SSE streams get a `: keepalive` comment this often (the old name still works).",
    )
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    worker_dead_after_seconds: float = Field(default=20.0, gt=0)
    progress_flush_seconds: float = Field(default=0.1, ge=0)
    sqlite_synchronous: str = Field(default="NORMAL", pattern="^(OFF|NORMAL|FULL|EXTRA)$")

    @property
    def async_database_url(self) -> str:
        """The URL with an async driver, whatever form the user gave it in."""
        url = make_url(self.database_url or f"sqlite:///{(self.data_dir / 'spyglass.db').resolve()}")
        driver = ASYNC_DRIVERS.get(url.drivername)
        return (url.set(drivername=driver) if driver else url).render_as_string(hide_password=False)

    @property
    def extra_state_modules(self) -> list[str]:
        return [m.strip() for m in self.state_modules.split(",") if m.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

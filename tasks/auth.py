"""Clients and their tokens: random, shown once, stored as a hash, revocable,
optionally expiring, compared in constant time, never logged in full."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import insert, select, update

from tasks.errors import NotFound, TaskError, Unauthorized
from tasks.events import as_utc, utcnow
from tasks.store import Store
from tasks.tables import ClientRecord, TokenRecord, table_of
from tasks.text import names_nothing_stored

CLIENT = table_of(ClientRecord)
TOKEN = table_of(TokenRecord)

# "sgt" + 160 random bits in hex: no "_" (Reflex SharedState link tokens refuse
# it) and a shape a log filter can recognise.
TOKEN_PREFIX = "sgt"
TOKEN_PATTERN = re.compile(rf"{TOKEN_PREFIX}[0-9a-f]{{40}}")
CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.@-]{0,63}$")
LAST_USED_RESOLUTION = timedelta(minutes=1)


class InvalidClientName(TaskError):
    code = "invalid_client_name"
    http_status = 422


class Client(BaseModel):
    """An authenticated caller."""

    name: str
    token_id: str


class TokenInfo(BaseModel):
    """A token as listed: everything but the secret."""

    id: str
    client: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"


class NewToken(BaseModel):
    info: TokenInfo
    token: str


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_hex(20)


def hash_token(token: str) -> str:
    """SHA-256 suffices: tokens carry 160 random bits, so no salt or slow hash is needed.
    A token is ASCII; anything else a caller sends (an unpaired surrogate) still
    hashes, to a digest no token has."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# Every secret that may travel in a URL or a log line: client tokens, admin
# session tokens (sga + 48 hex), and the Reflex tokens of clients' shared states.
SECRET_PATTERN = re.compile(r"(sgt)[0-9a-f]{40}|(sga)[0-9a-f]{48}|(spyglass-client-)[0-9a-f]{40}")


def redact(text: str) -> str:
    return SECRET_PATTERN.sub(lambda m: f"{m.group(1) or m.group(2) or m.group(3)}…redacted", text)


class RedactTokens(logging.Filter):
    """Rewrites any token found in a log record (message and arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str) and ("sg" in record.msg or "spyglass-client-" in record.msg):
            record.msg = redact(record.msg)
        return True


def install_log_redaction() -> None:
    """On every handler of the root logger and of the server's own loggers."""
    flt = RedactTokens()
    for name in ("", "granian", "granian.access", "uvicorn", "uvicorn.access", "reflex"):
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if not any(isinstance(f, RedactTokens) for f in handler.filters):
                handler.addFilter(flt)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(flt)


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        id=row["id"],
        client=row["client"],
        created_at=as_utc(row["created_at"]),
        expires_at=as_utc(row["expires_at"]),
        revoked_at=as_utc(row["revoked_at"]),
        last_used_at=as_utc(row["last_used_at"]),
    )


class Auth:
    """Client tokens. Successful lookups are cached for a quarter of a second, so
    many open streams of one client re-check their token without a query each;
    a revocation clears the cache on every worker (the engine broadcasts it)."""

    CACHE_SECONDS = 0.25

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[float, Client]] = {}

    def forget_cached(self) -> None:
        self._cache.clear()

    async def create(self, client: str, expires_in: timedelta | None = None) -> NewToken:
        """A new token for `client` (created on first use); the secret is returned once."""
        if not CLIENT_NAME.fullmatch(client):
            raise InvalidClientName(
                f"invalid client name {client!r}",
                hint="1-64 characters: letters, digits, '.', '@', '-'; starting with a letter or digit",
            )
        now = utcnow()
        token = new_token()
        row = {
            "id": secrets.token_hex(6),
            "client": client,
            "token_hash": hash_token(token),
            "created_at": now,
            "expires_at": now + expires_in if expires_in is not None else None,
            "revoked_at": None,
            "last_used_at": None,
        }
        async with self.store.engine.begin() as conn:
            exists = (await conn.execute(select(CLIENT.c.name).where(CLIENT.c.name == client))).first()
            if exists is None:
                await conn.execute(insert(CLIENT).values(name=client, created_at=now))
            await conn.execute(insert(TOKEN).values(**row))
        return NewToken(info=_info(row), token=token)

    async def list(self) -> list[TokenInfo]:
        async with self.store.reader.connect() as conn:
            rows = (await conn.execute(select(TOKEN).order_by(TOKEN.c.client, TOKEN.c.created_at))).mappings()
            return [_info(r) for r in rows]

    async def revoke(self, client_or_token_id: str) -> int:
        """Revokes one token (by id) or every token of a client (by name)."""
        if names_nothing_stored(client_or_token_id):
            raise NotFound(f"no active token or client named {client_or_token_id!r}")
        async with self.store.engine.begin() as conn:
            result = await conn.execute(
                update(TOKEN)
                .where(
                    (TOKEN.c.id == client_or_token_id) | (TOKEN.c.client == client_or_token_id),
                    TOKEN.c.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
        self.forget_cached()
        if result.rowcount == 0:
            raise NotFound(f"no active token or client named {client_or_token_id!r}")
        return result.rowcount

    async def authenticate(self, token: str | None) -> Client:
        """The token's client, or Unauthorized (missing, unknown, expired or revoked)."""
        if not token:
            raise Unauthorized(
                "a client token is required", hint="pass it in the path or as 'Authorization: Bearer <token>'"
            )
        digest = hash_token(token)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self.store.reader.connect() as conn:
            row = (await conn.execute(select(TOKEN).where(TOKEN.c.token_hash == digest))).mappings().first()
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            raise Unauthorized("invalid client token")
        info = _info(row)
        if info.status != "active":
            raise Unauthorized(f"this client token is {info.status}", hint="ask an admin for a new token")
        if info.last_used_at is None or utcnow() - info.last_used_at > LAST_USED_RESOLUTION:
            async with self.store.engine.begin() as conn:
                await conn.execute(update(TOKEN).where(TOKEN.c.id == info.id).values(last_used_at=utcnow()))
        client = Client(name=info.client, token_id=info.id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (time.monotonic() + self.CACHE_SECONDS, client)
        return client

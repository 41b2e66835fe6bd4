"""Dashboard administrators: argon2id-hashed passwords, expiring sessions, throttled logins.

There is no default password: the first admin comes from the CLI
(`python -m tasks admin create <user>`) or from SPYGLASS_ADMIN_USER +
SPYGLASS_ADMIN_PASSWORD. Hashing runs in a thread, off the event loop; an older
hash (scrypt, or argon2 with weaker parameters) is replaced at the next login.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tasks.auth import hash_token
from tasks.errors import TaskError, Unauthorized
from tasks.events import as_utc, utcnow
from tasks.store import Store
from tasks.tables import AdminSessionRecord, AdminUserRecord, table_of
from tasks.text import names_nothing_stored
from tasks.throttle import LoginThrottle, LoginThrottled

USER = table_of(AdminUserRecord)
SESSION = table_of(AdminSessionRecord)
SESSION_PREFIX = "sga"
MIN_PASSWORD_LENGTH = 12
SESSION_CACHE_SECONDS = 1.0
# OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_DUMMY_HASH = HASHER.hash(secrets.token_hex(16))  # unknown users cost the same as known ones

__all__ = ["AdminSession", "Admins", "LoginThrottled", "WeakPassword", "hash_password", "verify_password"]


class WeakPassword(TaskError):
    code = "weak_password"
    http_status = 422


class AdminSession(BaseModel):
    user: str
    token: str
    expires_at: datetime


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    """Hashes from before argon2: scrypt$n$r$p$salt$digest."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            _password_bytes(password), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def _password_bytes(password: str) -> bytes:
    """What a password is hashed from. A browser's form may carry an unpaired
    surrogate: it cannot have been set (setting hashes strictly), so it verifies
    against nothing, in the same time as any wrong password."""
    return password.encode("utf-8", "surrogatepass")


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return HASHER.verify(stored, _password_bytes(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return True
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def is_session_token(token: str) -> bool:
    return token.startswith(SESSION_PREFIX)


class Admins:
    def __init__(self, store: Store, session_hours: float = 12) -> None:
        self.store = store
        self.session_lifetime = timedelta(hours=session_hours)
        self.throttle = LoginThrottle()
        self._sessions: dict[str, tuple[float, str, datetime]] = {}

    async def set_password(self, user: str, password: str) -> None:
        """Creates the admin, or replaces its password (ending its sessions)."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise WeakPassword(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        if not user or len(user) > 64:
            raise WeakPassword("the user name must have 1 to 64 characters")
        hashed = await asyncio.to_thread(hash_password, password)
        async with self.store.engine.begin() as conn:
            changed = await conn.execute(update(USER).where(USER.c.name == user).values(password_hash=hashed))
            if changed.rowcount == 0:
                await conn.execute(insert(USER).values(name=user, password_hash=hashed, created_at=utcnow()))
            await conn.execute(delete(SESSION).where(SESSION.c.user == user))
        self._sessions.clear()

    async def ensure_password(self, user: str, password: str) -> None:
        """The bootstrap admin from the settings: its sessions survive a restart
        unless the configured password actually changed."""
        if await self._password_is(user, password):
            return
        try:
            await self.set_password(user, password)
        except IntegrityError:
            # Workers starting together race to create the admin: one inserts it,
            # the others find it there with this very password.
            if not await self._password_is(user, password):
                raise

    async def _password_is(self, user: str, password: str) -> bool:
        stored = await self._stored_hash(user)
        return stored is not None and await asyncio.to_thread(verify_password, password, stored)

    async def _stored_hash(self, user: str) -> str | None:
        if names_nothing_stored(user):
            return None
        async with self.store.reader.connect() as conn:
            row = (await conn.execute(select(USER.c.password_hash).where(USER.c.name == user))).first()
        return str(row[0]) if row is not None else None

    async def users(self) -> list[str]:
        async with self.store.reader.connect() as conn:
            return [row[0] for row in await conn.execute(select(USER.c.name).order_by(USER.c.name))]

    async def login(self, user: str, password: str, address: str = "-") -> AdminSession:
        self.throttle.check(user, address)
        stored = await self._stored_hash(user)
        valid = await asyncio.to_thread(verify_password, password, stored or _DUMMY_HASH)
        if stored is None or not valid:
            self.throttle.failed(user, address)
            raise Unauthorized("wrong user name or password")
        self.throttle.succeeded(user, address)
        if needs_rehash(stored):
            rehashed = await asyncio.to_thread(hash_password, password)
            async with self.store.engine.begin() as conn:
                await conn.execute(update(USER).where(USER.c.name == user).values(password_hash=rehashed))
        token = SESSION_PREFIX + secrets.token_hex(24)
        now = utcnow()
        expires = now + self.session_lifetime
        async with self.store.engine.begin() as conn:
            await conn.execute(delete(SESSION).where(SESSION.c.expires_at < now))
            await conn.execute(
                insert(SESSION).values(token_hash=hash_token(token), user=user, created_at=now, expires_at=expires)
            )
        return AdminSession(user=user, token=token, expires_at=expires)

    async def authenticate(self, token: str | None) -> str:
        """The admin behind a session token, or Unauthorized (missing, unknown, expired).
        A valid session is cached for a second: every dashboard event checks it."""
        if not token or not is_session_token(token):
            raise Unauthorized("an admin session is required", hint="log in at /admins/login")
        digest = hash_token(token)
        cached = self._sessions.get(digest)
        if cached is not None and cached[0] > time.monotonic() and cached[2] > utcnow():
            return cached[1]
        async with self.store.reader.connect() as conn:
            row = (await conn.execute(select(SESSION).where(SESSION.c.token_hash == digest))).mappings().first()
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            raise Unauthorized("this admin session is not valid", hint="log in again")
        expires = as_utc(row["expires_at"])
        if expires is None or expires <= utcnow():
            raise Unauthorized("this admin session has expired", hint="log in again")
        if len(self._sessions) > 10_000:
            self._sessions.clear()
        self._sessions[digest] = (time.monotonic() + SESSION_CACHE_SECONDS, str(row["user"]), expires)
        return str(row["user"])

    async def logout(self, token: str) -> None:
        self._sessions.pop(hash_token(token), None)
        async with self.store.engine.begin() as conn:
            await conn.execute(delete(SESSION).where(SESSION.c.token_hash == hash_token(token)))

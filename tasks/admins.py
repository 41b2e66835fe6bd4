"""Dashboard administrators: scrypt-hashed passwords, expiring sessions, throttled logins.

There is no default password: the first admin comes from the CLI
(`python -m tasks admin create <user>`) or from SPYGLASS_ADMIN_USER +
SPYGLASS_ADMIN_PASSWORD.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update

from tasks.auth import hash_token
from tasks.errors import TaskError, TooManyTasks, Unauthorized
from tasks.events import as_utc, utcnow
from tasks.store import Store
from tasks.tables import AdminSessionRecord, AdminUserRecord

USER = AdminUserRecord.__table__
SESSION = AdminSessionRecord.__table__
SESSION_PREFIX = "sga"
MIN_PASSWORD_LENGTH = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class WeakPassword(TaskError):
    code = "weak_password"
    http_status = 422


class LoginThrottled(TooManyTasks):
    code = "too_many_logins"


class AdminSession(BaseModel):
    user: str
    token: str
    expires_at: datetime


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p))
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def is_session_token(token: str) -> bool:
    return token.startswith(SESSION_PREFIX)


class LoginThrottle:
    """At most `attempts` failures per user and per address in `window` seconds."""

    def __init__(self, attempts: int = 5, window: float = 300) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures[key]
        while failures and time.monotonic() - failures[0] > self.window:
            failures.popleft()
        return failures

    def check(self, *keys: str) -> None:
        for key in keys:
            failures = self._recent(key)
            if len(failures) >= self.attempts:
                wait = int(self.window - (time.monotonic() - failures[0])) + 1
                raise LoginThrottled("too many failed logins; try again later", retry_after=wait)

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._recent(key).append(time.monotonic())

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


class Admins:
    def __init__(self, store: Store, session_hours: float = 12) -> None:
        self.store = store
        self.session_lifetime = timedelta(hours=session_hours)
        self.throttle = LoginThrottle()

    async def set_password(self, user: str, password: str) -> None:
        """Creates the admin, or replaces its password."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise WeakPassword(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        if not user or len(user) > 64:
            raise WeakPassword("the user name must have 1 to 64 characters")
        hashed = hash_password(password)
        async with self.store.engine.begin() as conn:
            changed = await conn.execute(update(USER).where(USER.c.name == user).values(password_hash=hashed))
            if changed.rowcount == 0:
                await conn.execute(insert(USER).values(name=user, password_hash=hashed, created_at=utcnow()))
            await conn.execute(delete(SESSION).where(SESSION.c.user == user))

    async def users(self) -> list[str]:
        async with self.store.engine.connect() as conn:
            return [row[0] for row in await conn.execute(select(USER.c.name).order_by(USER.c.name))]

    async def login(self, user: str, password: str, address: str = "-") -> AdminSession:
        keys = (f"user:{user}", f"addr:{address}")
        self.throttle.check(*keys)
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(USER).where(USER.c.name == user))).mappings().first()
        stored = row["password_hash"] if row else hash_password(secrets.token_hex(8))  # same cost either way
        if row is None or not verify_password(password, stored):
            self.throttle.failed(*keys)
            raise Unauthorized("wrong user name or password")
        self.throttle.succeeded(*keys)
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
        """The admin behind a session token, or Unauthorized (missing, unknown, expired)."""
        if not token or not is_session_token(token):
            raise Unauthorized("an admin session is required", hint="log in at /admins/login")
        digest = hash_token(token)
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(SESSION).where(SESSION.c.token_hash == digest))).mappings().first()
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            raise Unauthorized("this admin session is not valid", hint="log in again")
        if as_utc(row["expires_at"]) <= utcnow():
            raise Unauthorized("this admin session has expired", hint="log in again")
        return str(row["user"])

    async def logout(self, token: str) -> None:
        async with self.store.engine.begin() as conn:
            await conn.execute(delete(SESSION).where(SESSION.c.token_hash == hash_token(token)))

"""Login throttling that slows a guesser without locking the real admin out.

Failures are counted per (user, address): after a few, each further failure
doubles the wait before that address may try that user again. An address that
fails across many user names is slowed as a whole. Nothing is keyed on the user
alone, so guessing `root` from one address never blocks `root` logging in from
another. Memory is bounded: idle entries expire and at most `max_entries` are
kept (least recently failed dropped first).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from tasks.errors import RetryLater


class LoginThrottled(RetryLater):
    code = "too_many_logins"


@dataclass
class _Failures:
    count: int
    last: float
    blocked_until: float


class LoginThrottle:
    def __init__(
        self,
        free_failures: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 900.0,
        address_failures: int = 30,
        forget_after: float = 3600.0,
        max_entries: int = 10_000,
    ) -> None:
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.address_failures = address_failures
        self.forget_after = forget_after
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Failures] = OrderedDict()

    def _keys(self, user: str, address: str) -> tuple[str, str]:
        return f"pair\x00{user}\x00{address}", f"addr\x00{address}"

    def _get(self, key: str, now: float) -> _Failures | None:
        entry = self._entries.get(key)
        if entry is not None and now - entry.last > self.forget_after:
            del self._entries[key]
            return None
        return entry

    def check(self, user: str, address: str) -> None:
        """Raises LoginThrottled (with Retry-After) while this address must wait."""
        now = time.monotonic()
        for key in self._keys(user, address):
            entry = self._get(key, now)
            if entry is not None and entry.blocked_until > now:
                raise LoginThrottled(
                    "too many failed logins from this address; try again later",
                    retry_after=max(1, math.ceil(entry.blocked_until - now)),
                )

    def failed(self, user: str, address: str) -> None:
        now = time.monotonic()
        pair, addr = self._keys(user, address)
        for key, free in ((pair, self.free_failures), (addr, self.address_failures)):
            entry = self._get(key, now) or _Failures(count=0, last=now, blocked_until=0.0)
            entry.count += 1
            entry.last = now
            if entry.count > free:
                delay = min(self.base_delay * 2 ** (entry.count - free - 1), self.max_delay)
                entry.blocked_until = now + delay
            self._entries[key] = entry
            self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def succeeded(self, user: str, address: str) -> None:
        pair, _ = self._keys(user, address)
        self._entries.pop(pair, None)

    def __len__(self) -> int:
        return len(self._entries)

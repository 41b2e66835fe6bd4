"""Open streams keep checking the token they were opened with, so a revoked (or
expired) token closes them: at once when the revocation is announced on the bus,
and otherwise within a quarter of a second."""

from __future__ import annotations

import time

from tasks.engine import Engine

CHECK_SECONDS = 0.25


class TokenGuard:
    def __init__(self, engine: Engine, token: str, period: float = CHECK_SECONDS) -> None:
        self.engine = engine
        self.token = token
        self.period = period
        self.checked = time.monotonic()
        self.generation = engine.token_generation

    async def check(self) -> None:
        """Raises Unauthorized once the token is no longer valid."""
        revoked_somewhere = self.engine.token_generation != self.generation
        if revoked_somewhere or time.monotonic() - self.checked >= self.period:
            self.generation = self.engine.token_generation
            await self.engine.access_for(self.token)
            self.checked = time.monotonic()

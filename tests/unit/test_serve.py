"""The server `make run` starts: granian's own Server, with SpyGlass's two settings."""

from __future__ import annotations

import granian.server
from granian._loops import loops
from granian.constants import Loops

from app.serve import configured


def test_served_workers_are_respawned_and_run_on_uvloop() -> None:
    server = configured(granian.server.Server)(target="app.app:app", factory=False)
    assert server.respawn_failed_workers is True
    assert server.loop == Loops.uvloop
    assert "uvloop" in loops  # installed: granian would refuse to start a worker otherwise


def test_a_setting_passed_explicitly_still_wins() -> None:
    server = configured(granian.server.Server)(target="app.app:app", loop=Loops.asyncio)
    assert server.loop == Loops.asyncio

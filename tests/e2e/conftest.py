"""A real server per test module (modules run one after another, never two at once:
they share the checkout's `.web` build directory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("server")
    srv = Server(base / "data", base / "server.log").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fresh_server_paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "data", tmp_path / "server.log"

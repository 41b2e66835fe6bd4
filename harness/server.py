"""Starts the real server the way the README does (`scripts/run.sh`, i.e. `make run`),
for the end-to-end tests and the benchmark alike."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One `scripts/run.sh` process group with its own port, data dir and log file."""

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        state_modules: str = "tests.support.fast_tasks",
        env: dict[str, str] | None = None,
    ) -> None:
        self.extra_env = env or {}
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.state_modules = state_modules
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 240) -> Server:
        env = {
            **os.environ,
            "PORT": str(self.port),
            "SPYGLASS_DATA_DIR": str(self.data_dir),
            "SPYGLASS_STATE_MODULES": self.state_modules,
            **self.extra_env,
        }
        env.pop("__REFLEX_SKIP_COMPILE", None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                ["bash", "scripts/run.sh"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs, as in a crash."""
        self._signal_group(signal.SIGKILL)

    def stop(self) -> None:
        self._signal_group(signal.SIGTERM, wait=15)
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals, wait: float = 5) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return
        self._wait_port_free()

    def _wait_port_free(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)

    def mint_token(self, client: str) -> str:
        """A client token, made with the CLI (`python -m tasks tokens create`) on this server's store."""
        env = {**os.environ, "SPYGLASS_DATA_DIR": str(self.data_dir), **self.extra_env}
        done = subprocess.run(
            [sys.executable, "-m", "tasks", "tokens", "create", client],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def group_pids(self) -> list[int]:
        """Every process of the server's group: the supervisor and its backend workers."""
        if self.process is None:
            return []
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid:  # field 5: process group id
                pids.append(int(stat.parent.name))
        return pids

    def workers(self) -> int:
        """Backend workers serving requests (the supervisor is not one, unless alone)."""
        return max(1, len(self.group_pids()) - 1)

    def rss_bytes(self) -> int:
        """Resident memory of the whole group (supervisor + workers)."""
        return sum(_proc_field(pid, 21) for pid in self.group_pids()) * os.sysconf("SC_PAGE_SIZE")

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the whole group."""
        ticks = sum(_proc_field(pid, 11) + _proc_field(pid, 12) for pid in self.group_pids())
        return ticks / os.sysconf("SC_CLK_TCK")


def _proc_field(pid: int, index: int) -> int:
    """A numeric field of /proc/<pid>/stat, counted after the command name (0 = state);
    0 once the process is gone."""
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[index])
    except (OSError, IndexError, ValueError):
        return 0

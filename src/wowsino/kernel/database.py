"""Which PostgreSQL to use: ``WOWSINO_DATABASE_URL``, else the embedded server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from wowsino.kernel.config import Settings

EMBEDDED_DATABASE = "wowsino"


class NoDatabase(Exception):
    """A command that works on existing data found no embedded database where it looked."""


def _missing(settings: Settings) -> NoDatabase:
    where = settings.data_dir.resolve()
    return NoDatabase(
        f"no WOWsino database in {where}: WOWSINO_DATA_DIR (now {str(settings.data_dir)!r}, "
        "relative to the working directory) must name the data directory of the server "
        "you mean, or WOWSINO_DATABASE_URL its PostgreSQL; 'wowsino serve' or 'wowsino "
        "migrate' creates a new one")


@contextmanager
def database_url(settings: Settings, *, create: bool = True) -> Iterator[str]:
    """Yield a URL; starts (or attaches to) the embedded server when no URL is set,
    and stops it afterwards only if this process started it.

    ``create=False`` (commands that read or change existing data) raises NoDatabase,
    creating nothing, when there is no embedded database under ``WOWSINO_DATA_DIR``.
    """
    if settings.database_url:
        yield settings.database_url
        return
    from wowsino.kernel.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(settings.data_dir)
    if not create and not (server.pgdata / "PG_VERSION").exists():
        raise _missing(settings)
    server.start()
    try:
        if not _ensure_database(server.url, EMBEDDED_DATABASE, create=create):
            raise _missing(settings)
        yield server.url.rsplit("/", 1)[0] + f"/{EMBEDDED_DATABASE}"
    finally:
        server.stop()


def _ensure_database(url: str, name: str, *, create: bool) -> bool:
    """Whether database ``name`` exists (created first when ``create``)."""
    import asyncio

    import asyncpg

    async def ensure() -> bool:
        conn = await asyncpg.connect(url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists and create:
                await conn.execute(f'CREATE DATABASE "{name}"')
                return True
            return bool(exists)
        finally:
            await conn.close()

    return asyncio.run(ensure())

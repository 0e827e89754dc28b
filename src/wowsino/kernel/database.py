"""Which PostgreSQL to use: ``WOWSINO_DATABASE_URL``, else the embedded server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from wowsino.kernel.config import Settings

EMBEDDED_DATABASE = "wowsino"


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """Yield a URL; starts (or attaches to) the embedded server when no URL is set,
    and stops it afterwards only if this process started it."""
    if settings.database_url:
        yield settings.database_url
        return
    from wowsino.kernel.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(settings.data_dir)
    server.start()
    try:
        _ensure_database(server.url, EMBEDDED_DATABASE)
        yield server.url.rsplit("/", 1)[0] + f"/{EMBEDDED_DATABASE}"
    finally:
        server.stop()


def _ensure_database(url: str, name: str) -> None:
    import asyncio

    import asyncpg

    async def ensure() -> None:
        conn = await asyncpg.connect(url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(ensure())

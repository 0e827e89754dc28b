"""What the HTTP property tests share: one database per test, cloned from the migrated
template, that every example of the test uses (each example makes its own tenant)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from tests.conftest import _with_database


@contextmanager
def examples_database(server_url: str, template_db: str, prefix: str) -> Iterator[str]:
    """The URL of a fresh database for a property test's examples, dropped afterwards."""
    name = f"{prefix}_{os.getpid()}"

    async def database(drop: bool) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not drop:
                await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        finally:
            await conn.close()

    asyncio.run(database(drop=False))
    try:
        yield _with_database(server_url, name)
    finally:
        asyncio.run(database(drop=True))

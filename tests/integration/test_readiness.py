"""``/readyz``: 200 only while the database answers and its migrations are at head;
503 ``SERVICE_UNAVAILABLE`` when the database is down or a migration is pending."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ADMIN_TOKEN
from tests.integration.support import assert_error
from wowsino.api import create_app
from wowsino.kernel.config import Settings
from wowsino.kernel.db import create_engine, head_revision, migrate, plain_url


async def _upgrade_to(engine: AsyncEngine, revision: str) -> None:
    """Apply the migrations up to ``revision`` only."""
    from alembic import command
    from alembic.config import Config

    from wowsino.kernel.db import MIGRATIONS_DIR

    def upgrade(sync_conn: Any) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(upgrade)


def _revision_before_head() -> str:
    from alembic.script import ScriptDirectory

    from wowsino.kernel.db import MIGRATIONS_DIR

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    down = scripts.get_revision(head_revision()).down_revision
    assert isinstance(down, str), down
    return down


@pytest.fixture
async def empty_db(server_url: str) -> AsyncIterator[str]:
    """A new database with no migration applied."""
    name = f"wz_ready_{os.getpid()}_{os.urandom(4).hex()}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = plain_url(server_url).rpartition("/")
    yield f"{base}/{name}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _readyz(app: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://wowsino.test") as c:
        return await c.get("/readyz")


async def test_ready_when_the_database_answers_at_head(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "migration": head_revision()}


async def test_not_ready_while_a_migration_is_pending(empty_db: str) -> None:
    app = create_app(Settings(admin_token=ADMIN_TOKEN), database_url=empty_db)
    engine = app.state.platform.engine
    try:
        r = await _readyz(app)  # nothing applied at all
        assert_error(r, 503, "SERVICE_UNAVAILABLE")
        assert "migrations pending" in r.json()["error"]

        before_head = _revision_before_head()
        await _upgrade_to(engine, before_head)
        r = await _readyz(app)
        payload = assert_error(r, 503, "SERVICE_UNAVAILABLE")
        assert before_head in payload["error"] and head_revision() in payload["error"]

        await migrate(engine)
        r = await _readyz(app)
        assert r.status_code == 200, r.text
    finally:
        await engine.dispose()


async def test_not_ready_when_the_database_is_down() -> None:
    """A private PostgreSQL server, stopped under a running app."""
    from wowsino.kernel.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="wowsino-pg-down-") as root:
        server = EmbeddedPostgres(Path(root), durable=False)
        url = server.start()
        try:
            engine = create_engine(url, pool_size=1)
            await migrate(engine)
            await engine.dispose()
            app = create_app(Settings(admin_token=ADMIN_TOKEN), database_url=url)
            r = await _readyz(app)
            assert r.status_code == 200, r.text  # the pool now holds a live connection
            server.stop()
            r = await _readyz(app)
            assert_error(r, 503, "SERVICE_UNAVAILABLE")
            r = await _readyz(app)  # and again, with no connection left to reuse
            assert_error(r, 503, "SERVICE_UNAVAILABLE")
            await app.state.platform.engine.dispose()
        finally:
            server.stop()

"""An API process without a worker saves its usage counts itself, every
``usage_flush_seconds``, while it runs; a failed save keeps the counts for the next one,
logs one line, and the saving goes on."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import ADMIN_TOKEN, make_tenant
from tests.support.live_server import free_port
from wowsino.api import create_app, flush_usage_forever
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.config import Settings
from wowsino.kernel.db import create_engine
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Mode, Realm


async def saved_calls(engine: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(
            "SELECT coalesce(sum(api_calls), 0) FROM usage_counters"))).scalar_one())


async def test_an_api_without_a_worker_saves_its_counts_while_it_runs(db_url: str) -> None:
    app = create_app(Settings(admin_token=ADMIN_TOKEN, db_pool_size=2), database_url=db_url,
                     clock=ManualClock(), usage_flush_seconds=0.1)
    platform: Platform = app.state.platform
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=transport, base_url="http://wowsino.test") as client:
        tenant = await make_tenant(client, "acme")
        for _ in range(3):
            assert (await tenant.get("/v1/me")).status_code == 200
        deadline = time.monotonic() + 10
        while await saved_calls(platform.engine) < 3:
            assert time.monotonic() < deadline, "the counts were not saved"
            await asyncio.sleep(0.05)
        assert platform.usage.pending == 0
        assert await saved_calls(platform.engine) == 3
    await platform.engine.dispose()


async def test_a_failed_save_keeps_the_counts_and_the_saving_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/x", pool_size=1)
    platform = Platform.build(Settings(), engine, ManualClock())
    realm = Realm(uuid4(), Mode.TEST)
    platform.usage.count(realm)
    platform.usage.count(realm)
    capsys.readouterr()
    task = asyncio.create_task(flush_usage_forever(platform, 0.05))
    try:
        deadline = time.monotonic() + 10
        seen = ""
        while seen.count("usage flush failed") < 2:  # one line per failed save, and again
            assert time.monotonic() < deadline, seen
            assert not task.done()
            await asyncio.sleep(0.05)
            seen += capsys.readouterr().out
        assert "unsaved_calls=2" in seen and "database unavailable" in seen
        assert "Traceback" not in seen
        assert platform.usage.pending == 2
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await engine.dispose()

"""The worker: scheduled jobs claimed safely when several workers run.

Jobs here: seal the ledger and audit hash chains, apply RG limits whose
cooling-off has passed, purge expired idempotency keys, flush usage meters.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import timedelta
from typing import Any

import asyncpg
import structlog
from sqlalchemy import text

from wowsino.kernel import chain
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Mode, Realm
from wowsino.players import service as players
from wowsino.webhooks import delivery

log = structlog.get_logger("wowsino.worker")


class Worker:
    def __init__(self, platform: Platform, *, interval: float = 1.0) -> None:
        self.platform = platform
        self.interval = interval
        self._last_purge = None

    async def seal_chains(self) -> int:
        """Seal every realm's ledger and audit chain; returns rows sealed."""
        engine = self.platform.engine
        sealed = 0
        async with engine.connect() as conn:
            realms = {
                (chain_name, r)
                for chain_name in ("ledger", "audit")
                for r in (await conn.execute(text(
                    f"SELECT DISTINCT tenant_id, mode FROM {chain.TABLES[chain_name]} "
                    "WHERE chain_seq IS NULL")))
            }
        for chain_name, (tenant_id, mode) in sorted(realms, key=str):
            realm = Realm(tenant_id, Mode(mode))
            sealed += await unit_of_work(
                engine, lambda conn, r=realm, c=chain_name: chain.seal(conn, r, c)  # type: ignore[misc]
            )
        return sealed

    async def apply_rg(self) -> int:
        now = self.platform.clock.now()
        return await unit_of_work(
            self.platform.engine, lambda conn: players.apply_due_rg_changes(conn, now=now)
        )

    async def tick(self) -> dict[str, int]:
        """One pass over every job (tests call this directly)."""
        done = {"rg_applied": await self.apply_rg(), "sealed": await self.seal_chains(),
                "usage_flushed": await self.platform.usage.flush(self.platform.engine)}
        now = self.platform.clock.now()
        if self._last_purge is None or now - self._last_purge > timedelta(hours=1):
            done["idempotency_purged"] = await self.platform.writes.purge_expired()
            self._last_purge = now  # type: ignore[assignment]
        return done

    async def run_forever(self) -> None:
        """Run the scheduled jobs and the webhook deliveries until cancelled."""
        await asyncio.gather(self._jobs_loop(), self._deliveries_loop())

    async def _jobs_loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("worker tick failed")
            await asyncio.sleep(self.interval)

    async def _deliveries_loop(self) -> None:
        """Deliver as soon as a commit notifies us, and poll once a second for retries."""
        wake = asyncio.Event()
        listener = await self._listen(wake)
        try:
            async with delivery.client() as http:
                while True:
                    try:
                        sent = await delivery.deliver_due(self.platform, http)
                    except Exception:
                        log.exception("webhook delivery pass failed")
                        sent = 0
                    if sent:
                        continue
                    wake.clear()
                    with suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), timeout=self.interval)
        finally:
            if listener is not None:
                with suppress(Exception):
                    await listener.close()

    async def _listen(self, wake: asyncio.Event) -> Any:
        """A LISTEN connection that sets ``wake`` on each delivery commit (None if unavailable)."""
        try:
            url = self.platform.engine.url.set(drivername="postgresql")
            conn = await asyncpg.connect(url.render_as_string(hide_password=False))
            await conn.add_listener("wowsino_webhooks", lambda *_: wake.set())
            return conn
        except Exception:
            log.warning("LISTEN unavailable; polling for webhook deliveries")
            return None

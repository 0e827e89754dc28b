"""The worker: scheduled jobs claimed safely when several workers run.

Jobs here: seal the ledger and audit hash chains, apply RG limits whose
cooling-off has passed, draw raffles at ``draw_at``, close tournaments at ``ends_at``,
expire bonuses, pay VIP cashback at each period's end, expire journey runs, start and run
CRM campaigns, lift self-exclusions that have ended, forget old failed logins, send
approved payouts a PSP has not taken, settle game rounds left open as lost, purge expired
idempotency keys, flush usage meters; and webhook deliveries.

Any number of workers may run: each job claims what it works on (row locks taken with
``SKIP LOCKED``, advisory locks, leases), so each thing due is done once. ``stop`` ends
a worker in an orderly way: the job at hand finishes and the pass ends there; a
delivery pass gets ``STOP_GRACE`` to record what it has sent, then its claims not
recorded are handed back for another worker to send at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog
from sqlalchemy import text

from wowsino.bonuses import service as bonuses
from wowsino.crm import runs as campaign_runs
from wowsino.engines.journeys import service as journeys
from wowsino.engines.raffles import service as raffles
from wowsino.engines.tournaments import closing as tournaments
from wowsino.games import sweeper as game_rounds
from wowsino.kernel import chain
from wowsino.kernel.db import database_unavailable, unit_of_work
from wowsino.kernel.logs import log_failure
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Mode, Realm
from wowsino.pam import exclusion, lockout
from wowsino.players import service as players
from wowsino.vip import cashback
from wowsino.wallet import gateway as wallet
from wowsino.webhooks import delivery

log = structlog.get_logger("wowsino.worker")

STOP_GRACE = 1.0  # seconds a delivery pass in flight gets to finish once stopped


Job = Callable[[Platform], Awaitable[int]]


async def seal_chains(platform: Platform) -> int:
    """Seal every realm's ledger and audit chain; returns rows sealed."""
    engine = platform.engine
    async with engine.connect() as conn:
        pending = [
            (name, Realm(row[0], Mode(row[1])))
            for name in ("ledger", "audit")
            for row in await conn.execute(text(
                f"SELECT DISTINCT tenant_id, mode FROM {chain.TABLES[name]} "
                "WHERE chain_seq IS NULL"))
        ]
    sealed = 0
    for name, realm in pending:
        sealed += await unit_of_work(
            engine, lambda conn, r=realm, c=name: chain.seal(conn, r, c)  # type: ignore[misc]
        )
    return sealed


async def apply_rg_limits(platform: Platform) -> int:
    """Apply responsible-gaming loosenings whose 24 h cooling-off has passed."""
    now = platform.clock.now()
    return await unit_of_work(
        platform.engine, lambda conn: players.apply_due_rg_changes(conn, now=now)
    )


async def expire_bonuses(platform: Platform) -> int:
    """Expire bonuses past ``expires_at``, removing what is left of them."""
    now = platform.clock.now()
    return await unit_of_work(platform.engine, lambda conn: bonuses.expire_due(conn, now=now))


async def flush_usage(platform: Platform) -> int:
    return await platform.usage.flush(platform.engine)


async def purge_idempotency_keys(platform: Platform) -> int:
    return await platform.writes.purge_expired()


# Every scheduled job, in the order a tick runs them. Each claims its rows so that
# several workers can run at once.
JOBS: list[tuple[str, Job]] = [
    ("rg_applied", apply_rg_limits),
    ("chains_sealed", seal_chains),
    ("usage_flushed", flush_usage),
    ("raffles_drawn", raffles.run_due),
    ("tournaments_closed", tournaments.close_due),
    ("bonuses_expired", expire_bonuses),
    ("campaign_batches", campaign_runs.run_due),
    ("vip_cashback_decided", cashback.run_due),
    ("journeys_expired", journeys.expire_due),
    ("self_exclusions_ended", exclusion.run_due),
    ("login_failures_swept", lockout.sweep_due),
    ("payouts_sent", wallet.send_due),
    ("game_rounds_swept", game_rounds.run_due),
]


class Worker:
    def __init__(self, platform: Platform, *, interval: float = 1.0) -> None:
        self.platform = platform
        self.interval = interval
        self._last_purge: datetime | None = None
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask ``run_forever`` to return (see the module's docstring); safe to repeat."""
        self._stopping.set()

    async def tick(self) -> dict[str, int]:
        """One pass over every job (tests call this directly). A job that fails is logged
        (one entry) and left out of the result; the others still run, unless the database
        is unreachable: then the pass ends there (one line per pass, not one per job)."""
        jobs = list(JOBS)
        now = self.platform.clock.now()
        if self._last_purge is None or now - self._last_purge > timedelta(hours=1):
            jobs.append(("idempotency_purged", purge_idempotency_keys))
        done = {}
        for name, job in jobs:
            if self._stopping.is_set():
                break
            try:
                done[name] = await job(self.platform)
            except Exception as exc:
                log_failure(log, "worker job failed", exc, job=name)
                if database_unavailable(exc):
                    break
        if "idempotency_purged" in done:  # else tried again on the next pass
            self._last_purge = now
        return done

    async def run_forever(self) -> None:
        """Run the scheduled jobs and the webhook deliveries until stopped (or cancelled),
        and the event stream's relay beside them when WOWSINO_NATS_URL is set (stopped with
        them: a pass cut short is published again by the next, and JetStream drops the
        copies)."""
        relaying = None
        if self.platform.settings.nats_url:
            from wowsino.stream import relay

            relaying = asyncio.create_task(relay.run(self.platform.engine,
                                                     self.platform.settings))
        try:
            await asyncio.gather(self._jobs_loop(), self._deliveries_loop())
        finally:
            if relaying is not None:
                relaying.cancel()
                with suppress(asyncio.CancelledError):
                    await relaying

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the worker is stopped meanwhile."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _jobs_loop(self) -> None:
        while not self._stopping.is_set():
            await self.tick()
            await self._pause(self.interval)

    async def _deliveries_loop(self) -> None:
        """Deliver as soon as a commit notifies us, and poll once a second for retries."""
        wake = asyncio.Event()
        listener = await self._listen(wake)
        try:
            async with delivery.client() as http:
                while not self._stopping.is_set():
                    try:
                        sent = await self._delivery_pass(http)
                    except Exception as exc:
                        log_failure(log, "webhook delivery pass failed", exc)
                        sent = 0
                    if sent:
                        continue
                    wake.clear()
                    waits = [asyncio.ensure_future(wake.wait()),
                             asyncio.ensure_future(self._stopping.wait())]
                    try:
                        await asyncio.wait(waits, timeout=self.interval,
                                           return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for waiting in waits:
                            waiting.cancel()
        finally:
            if listener is not None:
                with suppress(Exception):
                    await listener.close()

    async def _delivery_pass(self, http: Any) -> int:
        """One ``deliver_due``; once stopped, it has ``STOP_GRACE`` to finish, then it is
        cancelled and hands back its claims not recorded."""
        sending = asyncio.ensure_future(delivery.deliver_due(self.platform, http))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait([sending, stopping], return_when=asyncio.FIRST_COMPLETED)
            if not sending.done():
                await asyncio.wait([sending], timeout=STOP_GRACE)
        finally:
            stopping.cancel()
            if not sending.done():
                sending.cancel()
                with suppress(asyncio.CancelledError):
                    await sending
        return 0 if sending.cancelled() else sending.result()

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

"""Jackpot contributions/s to one pool from many clients, against the same clients
spread over as many pools.

Each contribution is the full write path without HTTP: the idempotency claim,
the jackpot and player reads, the contribution row (deduped on its wager id),
the pool's stripe and the balanced ledger entry, one READ COMMITTED transaction.
With one pool every client contributes to the same pool; spread, client ``i``
contributes only to pool ``i``, so nothing is shared. A ratio near 1 means one
busy pool does not serialise its contributors. The pools have a ``must_drop_at``
far above what the run can reach, so every contribution checks it.

``run`` prints and returns::

    jackpot: <one pool>/s one pool (64 clients), <spread>/s over 64 pools, ratio <x>
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.engines.jackpots import flows
from wowsino.engines.jackpots import service as jackpots
from wowsino.kernel import ledger
from wowsino.kernel.clock import SystemClock
from wowsino.kernel.db import create_engine, migrate, unit_of_work
from wowsino.kernel.idempotency import IdempotentWrites
from wowsino.kernel.ids import new_id
from wowsino.kernel.realm import SYSTEM, Mode, Realm
from wowsino.players import service as players
from wowsino.tenants import service as tenants

ENDPOINT = "POST /v1/jackpots/{jackpot_id}/contribute"
PLAYERS = 256


def _now() -> datetime:
    return datetime.now(UTC)


async def _setup(engine: AsyncEngine, pools: int) -> tuple[Realm, UUID, list[str], list[str]]:
    """A plug-in tenant with ``PLAYERS`` players and ``pools + 1`` jackpots (the first is
    the shared one)."""

    async def build(conn: AsyncConnection) -> tuple[Realm, UUID, list[str], list[str]]:
        created = await tenants.create_tenant(
            conn, slug=f"bench-{new_id().hex[:12]}", name="Bench", service_mode="plug_in",
            brand_slug="main", brand_name="Main", actor=SYSTEM, at=_now())
        realm = Realm(UUID(created["tenant"]["id"]), Mode.LIVE)
        brand_id = UUID(created["brand"]["id"])
        names = [f"player{i}" for i in range(PLAYERS)]
        for name in names:
            await players.upsert(conn, realm=realm, brand_id=brand_id, actor=SYSTEM, at=_now(),
                                 fields={"username": name, "email": f"{name}@example.com"})
        ids = []
        for i in range(pools + 1):
            _, made = await jackpots.create(
                conn, realm=realm, service_mode="plug_in", actor=SYSTEM, at=_now(),
                fields={"name": f"pool {i}", "currency": "USD", "seed_usd": Decimal(1000),
                        "must_drop_at": Decimal(100_000_000)})
            ids.append(made["jackpot"]["id"])
        return realm, brand_id, names, ids

    result = await unit_of_work(engine, build)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return result


async def _measure(
    writes: IdempotentWrites, realm: Realm, brand_id: UUID, names: list[str],
    pool_for: list[str], seconds: float,
) -> float:
    """Client ``i`` contributes to ``pool_for[i]`` for ``seconds``; contributions per second."""
    clock = SystemClock()
    count = 0

    async def client(index: int, deadline: float) -> None:
        nonlocal count
        rng = random.Random(index)
        while time.perf_counter() < deadline:
            wager, user = new_id().hex, rng.choice(names)
            amount = Decimal(rng.randint(1, 100)) / 100

            async def effect(conn: AsyncConnection, wager: str = wager, user: str = user,
                             amount: Decimal = amount) -> tuple[int, dict[str, Any]]:
                return await jackpots.contribute(
                    conn, realm=realm, brand_id=brand_id, service_mode="plug_in",
                    ref=pool_for[index], user_ref=user, source_wager_id=wager,
                    amount=amount, at=clock.now())

            await writes.run(realm=realm, endpoint=ENDPOINT, key=wager,
                             request={"wager": wager}, effect=effect)
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(i, started + seconds) for i in range(len(pool_for))))
    return count / (time.perf_counter() - started)


async def _check(engine: AsyncEngine, realm: Realm, jackpot_id: str) -> None:
    """The pool the engine shows equals the ledger's sum of the pool's postings."""
    async with engine.connect() as conn:
        shown = (await jackpots.show(conn, realm, jackpot_id))["pool"]
        summed = await ledger.system_balance(conn, realm,
                                             flows.pool_account(UUID(jackpot_id), "USD"))
    if shown != Decimal(summed) / 100:
        raise RuntimeError(f"jackpot {jackpot_id}: pool {shown} != ledger {summed}")


async def run(url: str, *, clients: int = 64, seconds: float = 10.0) -> str:
    """Migrate the (fresh) database at ``url``, measure one shared pool and then
    ``clients`` separate pools, ``clients`` concurrent clients each; print and return
    the summary line."""
    engine = create_engine(url, pool_size=clients)
    try:
        await migrate(engine)
        realm, brand_id, names, ids = await _setup(engine, clients)
        writes = IdempotentWrites(engine, SystemClock())
        await _measure(writes, realm, brand_id, names, [ids[0]] * clients, 1.0)  # warm up
        one = await _measure(writes, realm, brand_id, names, [ids[0]] * clients, seconds)
        spread = await _measure(writes, realm, brand_id, names, ids[1:], seconds)
        for jackpot_id in ids:
            await _check(engine, realm, jackpot_id)
    finally:
        await engine.dispose()
    line = summary(one, spread, clients)
    print(line)
    return line


def summary(one: float, spread: float, clients: int) -> str:
    ratio = one / spread if spread else 0.0
    return (f"jackpot: {one:,.0f}/s one pool ({clients} clients), {spread:,.0f}/s over "
            f"{clients} pools, ratio {ratio:.2f}")

"""The CRM: a segment preview over 200,000 players, and a campaign run's grants per second.

A fresh database is migrated and one brand is given ``PLAYERS`` players in plain SQL
(half of them with VIP standing, a third with deposit and wager totals, a quarter with
three days of daily stats and a WINZ balance). The app runs in-process; requests go over
ASGI (no network).

- **Preview**: ``GET /v1/segments/<id>/preview`` of the public example expression
  (``min_vip_level=2 AND last_deposit_at < now() - 7d``) and of one that reads every
  join (VIP, stats, the last 30 days' losses, the WINZ balance), each timed over
  ``ROUNDS`` requests after one warm-up; the reference is ``SELECT count(*)`` of the
  brand's players on the same server in the same run.
- **Run**: a ``grant_winz`` campaign over the ``RUN_PLAYERS`` players with tag ``bench``,
  driven by the worker's code path (batches of 200, each its own transaction); the
  reference is the same number of WINZ credits through ``engines.rewards.grant`` alone,
  200 per transaction.

``run`` prints and returns::

    crm preview: <ms> ms at <n> players (<matched> match), all joins <ms> ms, count(*) <ms> ms
    crm run: <grants/s> grants/s (<n> players, <s> s), bare WINZ credits <n>/s, ratio <x>
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.api import create_app
from wowsino.crm import runs
from wowsino.engines import rewards
from wowsino.kernel.clock import SystemClock
from wowsino.kernel.config import Settings
from wowsino.kernel.db import create_engine, migrate, unit_of_work
from wowsino.kernel.realm import ADMIN, Mode, Realm
from wowsino.tenants import service as tenants

PLAYERS = 200_000
RUN_PLAYERS = 5_000
ROUNDS = 5

_SEED = """
INSERT INTO players (tenant_id, mode, id, brand_id, username, email, country_code, currency,
                     tags, kyc_level, created_at, updated_at)
SELECT :t, 'test', gen_random_uuid(), :b, 'p' || i, 'p' || i || '@example.com',
       (ARRAY['MT', 'DE', 'GB', NULL])[1 + i % 4], 'USD',
       CASE WHEN i <= :run_players THEN ARRAY['bench'] ELSE ARRAY['x'] END, i % 4,
       now() - make_interval(mins => i), now()
  FROM generate_series(1, :n) AS i;
INSERT INTO vip_players (tenant_id, mode, player_id, level, xp, level_changed_at)
SELECT tenant_id, mode, id, (abs(hashtext(id::text)) % 5), abs(hashtext(id::text)) % 5000, now()
  FROM players WHERE tenant_id = :t AND abs(hashtext(username)) % 2 = 0;
INSERT INTO player_stats (tenant_id, mode, player_id, currency, deposit_count, total_deposited,
                          first_deposit_at, last_deposit_at, wager_count, total_wagered,
                          total_won, last_wager_at)
SELECT tenant_id, mode, id, 'USD', 1 + abs(hashtext(id::text)) % 9,
       abs(hashtext(id::text)) % 100000, now() - interval '60 days',
       now() - make_interval(days => abs(hashtext(id::text)) % 30), 10, 50000, 45000,
       now() - make_interval(hours => abs(hashtext(id::text)) % 500)
  FROM players WHERE tenant_id = :t AND abs(hashtext(username)) % 3 = 0;
INSERT INTO player_stats_daily (tenant_id, mode, player_id, day, currency, rail, game_category,
                                bets, wagered, won)
SELECT p.tenant_id, p.mode, p.id, current_date - d, 'USD', 'real', 'slots', 5, 2500, 2000
  FROM players p, generate_series(0, 2) AS d
 WHERE p.tenant_id = :t AND abs(hashtext(p.username)) % 4 = 0;
INSERT INTO ledger_accounts (tenant_id, mode, owner_type, owner_key, rail, asset, balance)
SELECT tenant_id, mode, 'player', id::text, 'winz', 'WINZ', abs(hashtext(id::text)) % 1000
  FROM players WHERE tenant_id = :t AND abs(hashtext(username)) % 4 = 1;
ANALYZE players; ANALYZE vip_players; ANALYZE player_stats; ANALYZE player_stats_daily;
ANALYZE ledger_accounts
"""
EVERYTHING = ("min_vip_level = 1 AND xp > 100 AND total_deposited > 10 AND net_loss_30d > 0 "
              "AND winz_balance >= 0 AND country_code IN ('MT', 'DE')")


async def _tenant(engine: AsyncEngine) -> tuple[str, UUID, UUID]:
    made = await unit_of_work(engine, lambda conn: tenants.create_tenant(
        conn, slug="crmbench", name="CRM bench", service_mode="plug_in", brand_slug="main",
        brand_name="Main", actor=ADMIN, at=SystemClock().now()))
    return str(made["keys"]["test"]), UUID(made["tenant"]["id"]), UUID(made["brand"]["id"])


async def _seed(engine: AsyncEngine, tenant: UUID, brand: UUID) -> None:
    async with engine.begin() as conn:
        for statement in _SEED.split(";"):
            await conn.execute(text(statement), {"t": tenant, "b": brand, "n": PLAYERS,
                                                 "run_players": RUN_PLAYERS})


async def _timed(client: httpx.AsyncClient, path: str) -> tuple[float, dict[str, Any]]:
    await client.get(path)  # warm-up: plans and caches
    times, answer = [], {}
    for _ in range(ROUNDS):
        started = time.perf_counter()
        r = await client.get(path)
        times.append(time.perf_counter() - started)
        r.raise_for_status()
        answer = r.json()
    return statistics.median(times), answer


async def _count(engine: AsyncEngine, tenant: UUID, brand: UUID) -> float:
    times = []
    async with engine.connect() as conn:
        for _ in range(ROUNDS + 1):
            started = time.perf_counter()
            await conn.execute(text("SELECT count(*) FROM players WHERE tenant_id = :t "
                                    "AND mode = 'test' AND brand_id = :b"), {"t": tenant, "b": brand})
            times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


async def _bare_credits(engine: AsyncEngine, tenant: UUID) -> float:
    """``RUN_PLAYERS`` WINZ credits through the reward service alone, 200 a transaction."""
    realm = Realm(tenant, Mode.TEST)
    async with engine.connect() as conn:
        ids = [r[0] for r in await conn.execute(text(
            "SELECT id FROM players WHERE tenant_id = :t AND 'bench' = ANY(tags) ORDER BY id"),
            {"t": tenant})]

    async def batch(conn: AsyncConnection, chunk: list[UUID]) -> None:
        for player_id in chunk:
            await rewards.grant(conn, realm=realm, player={"id": player_id}, asset="WINZ",
                                amount=1, kind="bench.credit", ref_type="bench", ref_id="bare",
                                at=SystemClock().now())

    started = time.perf_counter()
    for i in range(0, len(ids), runs.BATCH):
        await unit_of_work(engine, lambda conn, c=ids[i:i + runs.BATCH]: batch(conn, c))  # type: ignore[misc]
    return len(ids) / (time.perf_counter() - started)


async def run(url: str) -> str:
    """Measure, print and return the two CRM lines (``url``: a fresh, empty database)."""
    engine = create_engine(url, pool_size=4)
    try:
        await migrate(engine)
        key, tenant, brand = await _tenant(engine)
        await _seed(engine, tenant, brand)
        count_seconds = await _count(engine, tenant, brand)
        bare = await _bare_credits(engine, tenant)
    finally:
        await engine.dispose()
    with tempfile.TemporaryDirectory(prefix="wowsino-crm-") as tmp:
        app = create_app(Settings(admin_token=secrets.token_urlsafe(32), data_dir=Path(tmp), db_pool_size=4),
                         database_url=url)
        platform = app.state.platform
        platform.rate_limiter.burst = platform.rate_limiter.per_second = 1_000_000
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                         headers=headers, timeout=600) as client:
                lines = [await _preview(client, count_seconds),
                         await _run(client, platform, tenant, bare)]
        finally:
            await platform.engine.dispose()
    for line in lines:
        print(line)
    return "\n".join(lines)


async def _preview(client: httpx.AsyncClient, count_seconds: float) -> str:
    made = []
    for expression in ("min_vip_level=2 AND last_deposit_at < now() - 7d", EVERYTHING):
        r = await client.post("/v1/segments", json={"name": "Bench", "expression": expression})
        r.raise_for_status()
        made.append(r.json()["segment"]["id"])
    public, answer = await _timed(client, f"/v1/segments/{made[0]}/preview")
    joined, _ = await _timed(client, f"/v1/segments/{made[1]}/preview")
    return (f"crm preview: {public * 1000:,.0f} ms at {PLAYERS:,} players "
            f"({answer['count']:,} match), all joins {joined * 1000:,.0f} ms, "
            f"count(*) {count_seconds * 1000:,.0f} ms")


async def _run(client: httpx.AsyncClient, platform: Any, tenant: UUID, bare: float) -> str:
    r = await client.post("/v1/segments", json={"name": "Run", "expression": "has_tag('bench')"})
    r.raise_for_status()
    r = await client.post("/v1/campaigns", json={
        "name": "Bench", "segment_id": r.json()["segment"]["id"],
        "action": {"type": "grant_winz", "amount": 10}})
    r.raise_for_status()
    campaign = r.json()["campaign"]["id"]
    started = time.perf_counter()
    r = await client.post(f"/v1/campaigns/{campaign}/run", json={})
    r.raise_for_status()
    made = r.json()["run"]
    realm = Realm(tenant, Mode.TEST)
    while made["status"] == "running":
        await runs.drive(platform, realm, UUID(made["id"]), seconds=60)
        made = (await client.get(f"/v1/campaigns/{campaign}/runs")).json()["data"][0]
    elapsed = time.perf_counter() - started
    if made["granted"] != RUN_PLAYERS:
        raise AssertionError(f"the run granted {made['granted']}, not {RUN_PLAYERS}")
    rate = made["granted"] / elapsed
    return (f"crm run: {rate:,.0f} grants/s ({made['granted']:,} players, {elapsed:.1f} s), "
            f"bare WINZ credits {bare:,.0f}/s, ratio {rate / bare if bare else 0:.2f}")

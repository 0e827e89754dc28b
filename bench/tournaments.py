"""Tournament leaderboard reads at 100,000 participants: the top 100, a player's own
rank and the rows around a player, p50/p99, against a primary-key read of one entry.

One tournament gets 100,000 players with scores drawn from 5,000 values (so ties are
common and broken by who reached the score first), written in bulk, then ``VACUUM
ANALYZE`` as autovacuum would leave a settled table. Each read is the service call the
endpoint makes (``GET /v1/tournaments/<id>/leaderboard``, without HTTP) on a pooled
connection, one at a time, for players drawn uniformly from the whole board (a player
near the bottom has the most entries ahead to count). The reference is the same
connection reading one ``tournament_entries`` row by primary key.

``run`` prints and returns::

    tournament leaderboard (100,000 players): top-100 p50 <ms>, p99 <ms>; own rank p50 <ms>,
    p99 <ms>; around (11 rows) p50 <ms>, p99 <ms>; PK read p50 <ms>; target p99 < 20 ms: met
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.engines.tournaments import leaderboard
from wowsino.engines.tournaments import service as tournaments
from wowsino.kernel.db import create_engine, migrate, plain_url, read_only, unit_of_work
from wowsino.kernel.ids import new_id
from wowsino.kernel.realm import SYSTEM, Mode, Realm
from wowsino.tenants import service as tenants

PARTICIPANTS = 100_000
READS = 1_000
TARGET_MS = 20.0

_PLAYERS = text(
    "INSERT INTO players (tenant_id, mode, id, brand_id, username, email, currency, "
    "created_at, updated_at) SELECT :tenant_id, :mode, gen_random_uuid(), :brand, 'p' || i, "
    "'p' || i || '@example.com', 'USD', now(), now() FROM generate_series(1, :n) i")
_ENTRIES = text(
    "INSERT INTO tournament_entries (tenant_id, mode, tournament_id, player_id, brand_id, "
    "score, reached, entered_seq, entered_at) SELECT p.tenant_id, p.mode, :tournament, p.id, "
    "p.brand_id, floor(random() * 5000) * 100, s.seq, s.seq, now() FROM players p, "
    "LATERAL (SELECT nextval('tournament_progress_seq') AS seq) s "
    "WHERE p.tenant_id = :tenant_id AND p.mode = :mode")


async def _setup(engine: AsyncEngine) -> tuple[Realm, UUID, UUID, list[UUID]]:
    now = datetime.now(UTC)

    async def build(conn: AsyncConnection) -> tuple[Realm, UUID, UUID]:
        created = await tenants.create_tenant(
            conn, slug=f"bench-{new_id().hex[:12]}", name="Bench", service_mode="plug_in",
            brand_slug="main", brand_name="Main", actor=SYSTEM, at=now)
        realm = Realm(UUID(created["tenant"]["id"]), Mode.LIVE)
        brand = UUID(created["brand"]["id"])
        made = await tournaments.create(conn, realm=realm, actor=SYSTEM, at=now, fields={
            "name": "Bench race", "scoring": "sum_wagered", "starts_at": now,
            "ends_at": now + timedelta(days=7), "prize_table": [
                {"rank_from": 1, "rank_to": 100, "prize": {"asset": "WINZ", "amount": 10}}]})
        tournament = UUID(made["tournament"]["id"])
        params = {**realm.params, "brand": brand, "n": PARTICIPANTS, "tournament": tournament}
        await conn.execute(_PLAYERS, params)
        await conn.execute(_ENTRIES, params)
        await conn.execute(text("UPDATE tournaments SET participants = :n WHERE id = :id"),
                           {"n": PARTICIPANTS, "id": tournament})
        return realm, brand, tournament

    realm, brand, tournament = await unit_of_work(engine, build)
    raw = await asyncpg.connect(plain_url(engine.url.render_as_string(hide_password=False)))
    try:
        await raw.execute("VACUUM ANALYZE players, tournament_entries, tournaments")
        ids = [r["id"] for r in await raw.fetch("SELECT id FROM players WHERE tenant_id = $1",
                                                realm.tenant_id)]
    finally:
        await raw.close()
    return realm, brand, tournament, ids


async def _timed(engine: AsyncEngine, read: Callable[[AsyncConnection], Awaitable[Any]],
                 reads: int) -> list[float]:
    """Milliseconds per read, each on a connection checked out as the endpoint does."""
    spent = []
    for _ in range(reads):
        started = time.perf_counter()
        async with read_only(engine) as conn:
            await read(conn)
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def run(url: str, *, reads: int = READS) -> str:
    """Migrate the (fresh) database at ``url``, fill one tournament, time the reads; print
    and return the summary line."""
    engine = create_engine(url, pool_size=2)
    try:
        await migrate(engine)
        realm, brand, tournament, ids = await _setup(engine)
        rng = random.Random(7)
        ref = str(tournament)

        async def top(conn: AsyncConnection) -> Any:
            return await tournaments.standings(conn, realm=realm, brand_id=brand, ref=ref,
                                               limit=100, cursor=None, around=None)

        async def own(conn: AsyncConnection) -> Any:
            return await leaderboard.rank(conn, realm, tournament, rng.choice(ids))

        async def around(conn: AsyncConnection) -> Any:
            return await tournaments.standings(conn, realm=realm, brand_id=brand, ref=ref,
                                               limit=11, cursor=None,
                                               around=str(rng.choice(ids)))

        async def by_key(conn: AsyncConnection) -> Any:
            return (await conn.execute(text(
                "SELECT score FROM tournament_entries WHERE tenant_id = :tenant_id "
                "AND mode = :mode AND tournament_id = :t AND player_id = :p"),
                {**realm.params, "t": tournament, "p": rng.choice(ids)})).first()

        for read in (top, own, around, by_key):  # warm the pool, caches and plans
            await _timed(engine, read, 50)
        figures = {name: await _timed(engine, read, reads)
                   for name, read in (("top", top), ("own", own), ("around", around),
                                      ("key", by_key))}
        sample = await top_rows_are_ordered(engine, realm, tournament)
    finally:
        await engine.dispose()
    line = summary(figures, sample)
    print(line)
    return line


async def top_rows_are_ordered(engine: AsyncEngine, realm: Realm, tournament: UUID) -> int:
    """A check that the figures measured a real board: the top 100 in score order."""
    async with read_only(engine) as conn:
        rows = await leaderboard.top(conn, realm, tournament, 100)
    keys = [(-r["score"], r["reached"]) for r in rows]
    if len(rows) != 100 or keys != sorted(keys):
        raise RuntimeError("the leaderboard's top 100 are not in order")
    return len(rows)


def summary(figures: dict[str, list[float]], rows: int) -> str:
    worst = max(_p(figures[k], 99) for k in ("top", "own", "around"))
    verdict = "met" if worst < TARGET_MS else "not met"
    return (f"tournament leaderboard ({PARTICIPANTS:,} players): "
            f"top-{rows} p50 {_p(figures['top'], 50):.1f} ms, p99 {_p(figures['top'], 99):.1f} ms; "
            f"own rank p50 {_p(figures['own'], 50):.1f} ms, p99 {_p(figures['own'], 99):.1f} ms; "
            f"around (11 rows) p50 {_p(figures['around'], 50):.1f} ms, "
            f"p99 {_p(figures['around'], 99):.1f} ms; "
            f"PK read p50 {_p(figures['key'], 50):.2f} ms; target p99 < {TARGET_MS:.0f} ms: "
            f"{verdict}")

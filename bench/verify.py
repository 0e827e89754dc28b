"""``wowsino ledger verify`` throughput: entries verified per second.

Builds one realm of ``entries`` ledger entries (two postings each, over ``players``
player accounts), then runs the verifier as the command does — seal the chain, ANALYZE,
recompute every balance, entry hash and link — on a new tenant the planner had no
statistics for until then (the case that once took minutes).

``run`` prints and returns::

    verify: <entries/s> entries/s (<n> entries, <s> s)
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.kernel import ledger
from wowsino.kernel.db import create_engine, migrate, unit_of_work
from wowsino.kernel.ids import new_id
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Mode, Realm
from wowsino.verify import verify_ledger

BATCH = 500  # entries per transaction while building


async def _build(engine: AsyncEngine, realm: Realm, entries: int, players: int) -> None:
    mint = ledger.Account.system(ledger.WINZ_ISSUANCE, Rail.WINZ, "WINZ")
    owners = [ledger.Account.player(UUID(int=i + 1), Rail.WINZ, "WINZ") for i in range(players)]

    async def batch(conn: AsyncConnection, start: int) -> None:
        for i in range(start, min(start + BATCH, entries)):
            await ledger.post_entry(
                conn, realm=realm, kind="bench.credit", at=datetime.now(UTC),
                postings=[ledger.Posting(owners[i % players], 1 + i % 97),
                          ledger.Posting(mint, -(1 + i % 97))])

    for start in range(0, entries, BATCH):
        await unit_of_work(engine, lambda conn, s=start: batch(conn, s))  # type: ignore[misc]


async def run(url: str, *, entries: int = 20_000, players: int = 500) -> str:
    """Migrate the (fresh) database at ``url``, build the realm, time the verifier; print
    and return the summary line."""
    engine = create_engine(url, pool_size=2)
    try:
        await migrate(engine)
        realm = Realm(new_id(), Mode.LIVE)
        await _build(engine, realm, entries, players)
        started = time.perf_counter()
        problems, _ = await verify_ledger(engine)
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    if problems:
        raise AssertionError(f"verify found problems in a clean realm: {problems[:3]}")
    line = summary(entries, elapsed)
    print(line)
    return line


def summary(entries: int, seconds: float) -> str:
    rate = entries / seconds if seconds else 0.0
    return f"verify: {rate:,.0f} entries/s ({entries:,} entries, {seconds:.1f} s)"

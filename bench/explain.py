"""Explaining a deep balance: one player with ``entries`` ledger entries on one balance.

Times, on the service (no HTTP), the first page of ``GET /v1/players/<key>/balances/
<rail>/<asset>/explain`` (the page and the whole balance's ``duplicates``), a later page
(the page alone) near the oldest entry, and a walk over every page; the reference is the
player's ledger view (``GET /v1/players/<key>/ledger``) reading a page of the same size,
timed in the same run. ``run`` prints and returns::

    explain: first page <ms> ms (duplicates over <n> entries), deep page <ms> ms,
    walk of <pages> pages <ms> ms; ledger view page <ms> ms, ratio <deep/view>
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.kernel import ledger
from wowsino.kernel.db import create_engine, migrate, unit_of_work
from wowsino.kernel.ids import new_id
from wowsino.kernel.money import ASSETS, Rail
from wowsino.kernel.realm import Mode, Realm
from wowsino.players import explain, history

BATCH = 500  # entries per transaction while building
PAGE = 50
REPEATS = 15


async def _build(engine: AsyncEngine, realm: Realm, player: UUID, entries: int) -> None:
    mine = ledger.Account.player(player, Rail.WINZ, "WINZ")
    mint = ledger.Account.system(ledger.WINZ_ISSUANCE, Rail.WINZ, "WINZ")

    async def batch(conn: AsyncConnection, start: int) -> None:
        for i in range(start, min(start + BATCH, entries)):
            await ledger.post_entry(
                conn, realm=realm, kind="bench.credit", at=datetime.now(UTC),
                ref_type="wager", ref_id=f"w-{i}",
                postings=[ledger.Posting(mine, 1 + i % 97), ledger.Posting(mint, -(1 + i % 97))])

    for start in range(0, entries, BATCH):
        await unit_of_work(engine, lambda conn, s=start: batch(conn, s))  # type: ignore[misc]


async def _median_ms(engine: AsyncEngine, call: Callable[[AsyncConnection], Awaitable[Any]]
                     ) -> float:
    times = []
    async with engine.connect() as conn:
        for _ in range(REPEATS):
            started = time.perf_counter()
            await call(conn)
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def run(url: str, *, entries: int = 10_000) -> str:
    """Migrate the (fresh) database at ``url``, build the balance, time the pages; print
    and return the summary line."""
    engine = create_engine(url, pool_size=2)
    winz = ASSETS["WINZ"]
    try:
        await migrate(engine)
        realm, player = Realm(new_id(), Mode.LIVE), new_id()
        await _build(engine, realm, player, entries)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
        async with engine.connect() as conn:
            deep_cursor, walk_started, pages, cursor = None, time.perf_counter(), 0, None
            while True:
                page = await explain.explain(conn, realm, player, Rail.WINZ, winz, limit=PAGE,
                                             cursor=cursor)
                pages += 1
                if not page["consistent"]:
                    raise AssertionError(f"page {pages} does not chain")
                if page["next_cursor"] is None:
                    break
                deep_cursor = cursor = page["next_cursor"]
            walk = (time.perf_counter() - walk_started) * 1000
        first = await _median_ms(engine, lambda conn: explain.explain(
            conn, realm, player, Rail.WINZ, winz, limit=PAGE, cursor=None))
        deep = await _median_ms(engine, lambda conn: explain.explain(
            conn, realm, player, Rail.WINZ, winz, limit=PAGE, cursor=deep_cursor))
        view = await _median_ms(engine, lambda conn: history.ledger_view(
            conn, realm, player, limit=PAGE, cursor=None, rail="winz", asset_code="WINZ"))
    finally:
        await engine.dispose()
    line = (f"explain: first page {first:.1f} ms (duplicates over {entries:,} entries), "
            f"deep page {deep:.1f} ms, walk of {pages} pages {walk:,.0f} ms; ledger view page "
            f"{view:.1f} ms, ratio {deep / view if view else 0:.2f}")
    print(line)
    return line

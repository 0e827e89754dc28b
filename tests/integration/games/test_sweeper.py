"""Rounds left open: after the idle time, the worker settles their open bets as lost
through the same settlement a win takes, once, audited; a round still in play, or closed
by its win, is left alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import ADMIN_TOKEN
from tests.integration.bonus_support import ledger_problems
from tests.integration.games_support import seat
from tests.integration.support import body, count_rows
from wowsino.games import sweeper
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.config import Settings
from wowsino.worker import Worker

IDLE = timedelta(minutes=10)


@pytest.fixture
def settings() -> Settings:
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=10,
                    game_round_idle_seconds=int(IDLE.total_seconds()))


async def wagers(engine: Any) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT source_wager_id, amount, win_amount FROM wager_events "
            "ORDER BY source_wager_id"))
        return [tuple(r) for r in rows]


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200 and r.json()["code"] == "OK", r.text
    answer: dict[str, Any] = body(r)
    return answer


async def test_an_idle_rounds_open_bets_settle_as_lost_once_and_audited(
    client: httpx.AsyncClient, app: Any, engine: Any, clock: ManualClock,
) -> None:
    table = await seat(client)
    worker = Worker(app.state.platform)
    ok(await table.bet("2.00", tx="b-1", round_id="idle"))
    ok(await table.bet("3.00", tx="b-2", round_id="idle"))
    ok(await table.bet("1.00", tx="b-3", round_id="won"))
    ok(await table.win("0.00", tx="w-3", round_id="won"))
    clock.advance(IDLE - timedelta(minutes=1))
    ok(await table.bet("4.00", tx="b-4", round_id="busy"))
    assert (await worker.tick())["game_rounds_swept"] == 0  # nothing idle yet
    assert await wagers(engine) == [("game:sandbox:b-3", 100, 0)]
    clock.advance(timedelta(minutes=2))
    assert (await worker.tick())["game_rounds_swept"] == 1  # "idle"; "busy" is 2 min old
    assert await wagers(engine) == [("game:sandbox:b-1", 200, 0), ("game:sandbox:b-2", 300, 0),
                                    ("game:sandbox:b-3", 100, 0)]
    assert (await worker.tick())["game_rounds_swept"] == 0  # once
    # no money moved: the stakes went to the house with the bets
    assert await table.balances() == {"real": Decimal("90.00"), "bonus": Decimal("0.00")}
    audited = await table.wl.get("/v1/audit", params={"action": "game.round_swept"})
    [row] = audited.json()["data"]
    assert row["actor"]["type"] == "system" and row["target"]["id"] == table.player_id
    assert row["after"] | {"last_call_at": None} == {
        "aggregator": "sandbox", "round_id": "idle", "outcome": "lost",
        "bets": ["b-1", "b-2"], "cash_staked": 500, "bonus_staked": 0, "currency": "USD",
        "last_call_at": None}
    # a win arriving late pays in the round's split but is not a wager; a rollback of a
    # swept bet takes its wagering back
    assert ok(await table.win("1.00", round_id="idle"))["cash"] == Decimal("91.00")
    ok(await table.rollback("b-2", round_id="idle"))
    async with engine.connect() as conn:
        rolled = await conn.scalar(text(
            "SELECT count(*) FROM wager_events WHERE source_wager_id = 'game:sandbox:b-2' "
            "AND rolled_back_at IS NOT NULL"))
    assert rolled == 1 and len(await wagers(engine)) == 3
    clock.advance(IDLE)
    assert (await worker.tick())["game_rounds_swept"] == 1  # "busy", idle now
    assert await ledger_problems(engine) == []


async def test_a_call_in_the_round_restarts_its_idle_time(
    client: httpx.AsyncClient, app: Any, engine: Any, clock: ManualClock,
) -> None:
    table = await seat(client)
    ok(await table.bet("2.00", tx="b-1", round_id="r"))
    clock.advance(IDLE - timedelta(minutes=1))
    ok(await table.bet("2.00", tx="b-2", round_id="r"))  # the round's last call
    clock.advance(timedelta(minutes=2))
    assert await sweeper.run_due(app.state.platform) == 0
    clock.advance(IDLE)
    assert await sweeper.run_due(app.state.platform) == 1
    assert [w[0] for w in await wagers(engine)] == ["game:sandbox:b-1", "game:sandbox:b-2"]


async def test_concurrent_workers_sweep_each_round_exactly_once(
    client: httpx.AsyncClient, app: Any, engine: Any, clock: ManualClock,
) -> None:
    table = await seat(client)
    for i in range(12):
        ok(await table.bet("1.00", tx=f"b-{i}", round_id=f"r-{i // 2}"))
    clock.advance(IDLE + timedelta(seconds=1))
    done = await asyncio.gather(*(sweeper.run_due(app.state.platform) for _ in range(4)))
    assert sum(done) == 6, done
    assert len(await wagers(engine)) == 12
    assert await count_rows(engine, "audit_log", table.wl.id,
                            where="action = 'game.round_swept'") == 6
    assert await ledger_problems(engine) == []

"""The leaderboard as a property: after any sequence of wager batches and rollbacks, each
tournament's leaderboard (and each player's own rank) equals a reference sort of the same
events: score descending, then who reached that score first.

Scores follow a model of the rules: ``sum_wagered`` adds every stake that was not rolled
back and is reached at the last of them; ``max_multiplier`` is the best ``win / stake``
(times 10^6, rounded down) left, reached at the first wager that made it; a player whose
score is 0 ranks by when they entered. Each example is a fresh tenant on one database
cloned from the migrated template, driven over HTTP through the ASGI app.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.property.support import examples_database
from wowsino.api import create_app
from wowsino.kernel.clock import ManualClock, iso
from wowsino.kernel.config import Settings

pytestmark = pytest.mark.integration

PLAYERS = 3
bets = st.tuples(st.integers(0, PLAYERS - 1), st.integers(1, 2), st.integers(0, 4))  # many ties
operations = st.lists(st.one_of(
    st.tuples(st.just("batch"), st.lists(bets, min_size=1, max_size=6)),
    st.tuples(st.just("rollback"), st.integers(0, 60)),
), min_size=1, max_size=12)


@dataclass
class Standing:
    entered: int  # the number of the wager that entered the player
    wagers: dict[int, int] = field(default_factory=dict)  # number -> value, not rolled back


def reference(players: dict[int, Standing], kind: str) -> list[tuple[int, int]]:
    """``(player, score)`` in leaderboard order, from the model."""
    keyed = []
    for player, s in players.items():
        if kind == "sum":
            score = sum(s.wagers.values())
            reached = max(s.wagers) if s.wagers else s.entered
        else:
            score = max(s.wagers.values(), default=0)
            reached = min((k for k, v in s.wagers.items() if v == score), default=s.entered) \
                if score > 0 else s.entered
        keyed.append((-score, reached, player, score))
    return [(player, score) for _, _, player, score in sorted(keyed)]


async def run_example(url: str, ops: list[tuple[Any, ...]], n: int) -> None:
    clock = ManualClock()
    app = create_app(Settings(admin_token=ADMIN_TOKEN, db_pool_size=2), database_url=url,
                     clock=clock)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post("/tenants", headers=ADMIN, json={
                "slug": f"lb{n}", "name": "P", "service_mode": "plug_in",
                "brand": {"slug": "main", "name": "Main"}})
            headers = {"Authorization": f"Bearer {r.json()['keys']['test']}"}
            for p in range(PLAYERS):
                await client.post("/v1/players", headers=headers,
                                  json={"username": f"p{p}", "email": f"p{p}@example.com"})
            ids = {}
            for kind, scoring in (("sum", "sum_wagered"), ("max", "max_multiplier")):
                r = await client.post("/v1/tournaments", headers=headers, json={
                    "name": kind, "scoring": scoring, "starts_at": iso(clock.now()),
                    "ends_at": "2026-02-01T00:00:00Z", "prize_table": [
                        {"rank_from": 1, "rank_to": 1, "prize": {"asset": "WINZ", "amount": 1}}]})
                assert r.status_code == 201, r.text
                ids[kind] = r.json()["tournament"]["id"]
            models: dict[str, dict[int, Standing]] = {"sum": {}, "max": {}}
            sent: list[tuple[int, int]] = []  # (wager number, player)
            rolled: set[int] = set()
            number = 0
            for op in ops:
                if op[0] == "batch":
                    events = []
                    for player, stake, win in op[1]:
                        number += 1
                        events.append({"user_id": f"p{player}", "source_wager_id": f"w{number}",
                                       "amount": stake, "win_amount": win, "currency": "USD"})
                        sent.append((number, player))
                        for kind, value in (("sum", stake * 100),
                                            ("max", win * 10**6 // stake)):
                            standing = models[kind].setdefault(player, Standing(number))
                            standing.wagers[number] = value
                    r = await client.post("/v1/events/wager:batch", headers=headers,
                                          json={"events": events})
                    assert r.status_code == 201 and r.json()["refused"] == 0, r.text
                elif sent:
                    wager, player = sent[op[1] % len(sent)]
                    r = await client.post("/v1/events/wager-rollback", headers=headers,
                                          json={"source_wager_id": f"w{wager}"})
                    assert r.status_code in (200, 201), r.text
                    if wager not in rolled:
                        rolled.add(wager)
                        for model in models.values():
                            model[player].wagers.pop(wager)
            for kind, model in models.items():
                r = await client.get(f"/v1/tournaments/{ids[kind]}/leaderboard?limit=500",
                                     headers=headers)
                rows = r.json(parse_float=Decimal)["data"]
                scale = 100 if kind == "sum" else 10**6
                got = [(int(row["user"]["username"][1:]), int(Decimal(str(row["score"])) * scale))
                       for row in rows]
                assert got == reference(model, kind), (kind, ops)
                assert [row["rank"] for row in rows] == list(range(1, len(rows) + 1))
                for rank, (player, _) in enumerate(got, 1):
                    r = await client.get(f"/v1/tournaments/{ids[kind]}/leaderboard",
                                         params={"around": f"p{player}", "limit": 1},
                                         headers=headers)
                    assert r.json()["around"]["rank"] == rank, (kind, player, ops)
    finally:
        await app.state.platform.engine.dispose()


def test_the_leaderboard_is_the_reference_sort_of_the_same_events(
    server_url: str, template_db: str,
) -> None:
    counter = itertools.count()

    @settings(max_examples=int(os.environ.get("WOWSINO_LEADERBOARD_EXAMPLES", "25")),
              deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(operations)
    def check(url: str, ops: list[tuple[Any, ...]]) -> None:
        asyncio.run(run_example(url, ops, next(counter)))

    with examples_database(server_url, template_db, "wz_board_prop") as url:
        check(url)

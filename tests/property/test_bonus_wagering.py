"""Bonus wagering as a property: after any sequence of wagers, rollbacks, forfeits and
expiries, each bonus's progress equals the weighted sum of its qualifying wagers that
were not rolled back while it was active, its bonus money follows its bonus-funded
wagers (stakes off the oldest bonus first, wins back, rollbacks undone), its state and
conversion match a model of the rules, and every ledger entry balances.

Each example is a fresh tenant on one database cloned from the migrated template,
driven over HTTP through the ASGI app.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.integration.bonus_support import ledger_problems
from tests.property.support import examples_database
from wowsino.api import create_app
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.config import Settings
from wowsino.worker import expire_bonuses

pytestmark = pytest.mark.integration

TEMPLATES = [  # (wagering_multiple, weights, max_bet in cents, expires_in_hours)
    (3, {"slots": "1", "table": "0.5"}, 1500, 5),
    (20, None, None, 50),
]
BONUS_CENTS = 1000
CATEGORIES = ("slots", "table", "live")

operations = st.lists(st.one_of(
    st.tuples(st.just("wager"), st.integers(0, 1), st.integers(1, 2000),
              st.sampled_from(CATEGORIES), st.sampled_from(("real", "bonus")),
              st.integers(0, 3000)),
    st.tuples(st.just("rollback"), st.integers(0, 50)),
    st.tuples(st.just("forfeit"), st.integers(0, 3)),
    st.tuples(st.just("hours"), st.integers(1, 30)),
), max_size=30)


@dataclass
class ModelBonus:
    player: int
    required: int
    weights: dict[str, str] | None
    max_bet: int | None
    expires_at: Any
    status: str = "active"
    completed: int = 0
    balance: int = BONUS_CENTS
    converted: int | None = None
    by_wager: dict[str, int] = field(default_factory=dict)
    money_by_wager: dict[str, int] = field(default_factory=dict)

    def weight(self, category: str) -> Decimal:
        if self.weights is None:
            return Decimal(1)
        return Decimal(self.weights.get(category, "0"))


def wager(model: list[ModelBonus], player: int, wager_id: str, cents: int,
          category: str, funding: str, win: int) -> None:
    live = [b for b in model if b.player == player and b.status == "active"]
    if funding == "bonus":  # the stake off the balances oldest first, the win back
        stake, staked = cents, []
        for b in live:
            taken = min(stake, b.balance)
            if taken:
                b.balance -= taken
                b.money_by_wager[wager_id] = -taken
                stake -= taken
                staked.append(b)
        if win and live:
            winner = staked[0] if staked else live[0]
            winner.balance += win
            winner.money_by_wager[wager_id] = winner.money_by_wager.get(wager_id, 0) + win
    for b in live:
        if b.max_bet is not None and cents > b.max_bet:
            b.status = "forfeited"
            continue
        added = int(Decimal(cents) * b.weight(category))
        if added:
            b.completed += added
            b.by_wager[wager_id] = added
        if b.completed >= b.required:
            b.status = "completed"
            b.converted = b.balance


async def run_example(url: str, ops: list[tuple[Any, ...]], n: int) -> None:
    clock = ManualClock()
    app = create_app(Settings(admin_token=ADMIN_TOKEN, db_pool_size=2), database_url=url,
                     clock=clock)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post("/tenants", headers=ADMIN, json={
                "slug": f"prop{n}", "name": "P", "service_mode": "plug_in",
                "brand": {"slug": "main", "name": "Main"}})
            headers = {"Authorization": f"Bearer {r.json()['keys']['test']}"}
            model: list[ModelBonus] = []
            ids: list[str] = []
            for p in range(2):
                await client.post("/v1/players", headers=headers,
                                  json={"username": f"p{p}", "email": f"p{p}@example.com"})
            for multiple, weights, max_bet, hours in TEMPLATES:
                r = await client.post("/v1/bonus-templates", headers=headers, json={
                    "name": "B", "type": "no_deposit", "amount": "10.00",
                    "wagering_multiple": multiple, "game_weights": weights,
                    "max_bet": None if max_bet is None else f"{max_bet / 100:.2f}",
                    "expires_in_hours": hours})
                template_id = r.json()["template"]["id"]
                for p in range(2):
                    r = await client.post("/v1/bonuses/grant", headers=headers,
                                          json={"player_id": f"p{p}", "template": template_id})
                    ids.append(r.json()["bonus"]["id"])
                    model.append(ModelBonus(p, multiple * BONUS_CENTS, weights, max_bet,
                                            clock.now() + timedelta(hours=hours)))
            wagers: list[str] = []
            rolled: set[str] = set()
            for k, op in enumerate(ops):
                if op[0] == "wager":
                    _, player, cents, category, funding, win = op
                    wager_id = f"w{k}"
                    r = await client.post("/v1/events/wager", headers=headers, json={
                        "user_id": f"p{player}", "source_wager_id": wager_id,
                        "amount": f"{cents / 100:.2f}", "currency": "USD",
                        "game_category": category, "funding": funding,
                        "win_amount": f"{win / 100:.2f}"})
                    assert r.status_code == 201, r.text
                    wagers.append(wager_id)
                    wager(model, player, wager_id, cents, category, funding, win)
                elif op[0] == "rollback" and wagers:
                    wager_id = wagers[op[1] % len(wagers)]
                    r = await client.post("/v1/events/wager-rollback", headers=headers,
                                          json={"source_wager_id": wager_id})
                    assert r.status_code in (200, 201), r.text
                    if wager_id not in rolled:
                        rolled.add(wager_id)
                        for b in model:
                            if b.status != "active":
                                continue
                            if wager_id in b.by_wager:
                                b.completed -= b.by_wager.pop(wager_id)
                            if wager_id in b.money_by_wager:  # never below zero
                                b.balance += max(-b.money_by_wager.pop(wager_id), -b.balance)
                elif op[0] == "forfeit":
                    b = model[op[1]]
                    r = await client.post(f"/v1/bonuses/{ids[op[1]]}/forfeit", headers=headers,
                                          json={"reason": "test"})
                    assert r.status_code == (200 if b.status == "active" else 409), r.text
                    if b.status == "active":
                        b.status = "forfeited"
                elif op[0] == "hours":
                    clock.advance(timedelta(hours=op[1]))
                    await expire_bonuses(app.state.platform)
                    for b in model:
                        if b.status == "active" and b.expires_at <= clock.now():
                            b.status = "expired"
            got = {}
            for p in range(2):
                r = await client.get(f"/v1/players/p{p}/bonuses?limit=10", headers=headers)
                got.update({v["id"]: v for v in r.json()["data"]})
            for bonus_id, b in zip(ids, model, strict=True):
                seen = got[bonus_id]
                assert seen["status"] == b.status, (bonus_id, seen, b)
                assert Decimal(str(seen["wagering_completed"])) * 100 == b.completed, (seen, b)
                weighted = sum(Decimal(str(v)) for v in seen["progress_by_category"].values())
                assert weighted * 100 == b.completed
                if b.status == "active":
                    assert Decimal(str(seen["balance"])) * 100 == b.balance, (seen, b)
                if b.status == "completed":
                    assert Decimal(str(seen["real_credited"])) * 100 == b.converted, (seen, b)
            assert await ledger_problems(app.state.platform.engine) == []
    finally:
        await app.state.platform.engine.dispose()


def test_progress_is_the_weighted_sum_of_qualifying_wagers(
    server_url: str, template_db: str,
) -> None:
    counter = itertools.count()

    @settings(max_examples=int(os.environ.get("WOWSINO_BONUS_EXAMPLES", "12")),
              deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(operations)
    def check(url: str, ops: list[tuple[Any, ...]]) -> None:
        asyncio.run(run_example(url, ops, next(counter)))

    with examples_database(server_url, template_db, "wz_bonus_prop") as url:
        check(url)

"""VIP XP as a property: for any sequence of wagers (single or batched, real or bonus,
across local midnights and a daylight-saving change), rollbacks and moves of the
clock, no player earns more than ``xp_daily_cap`` XP on any local day, a day that
saw no rollback holds exactly ``min(cap, what its wagers earned)``, the player's XP
balance is the sum of what was credited and not taken back, and every ledger entry
balances.

Each example is a fresh tenant on one database cloned from the migrated template,
driven over HTTP through the ASGI app.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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

pytestmark = pytest.mark.integration

CAP = 120
RATE = 10  # XP per USD
ZONE = ZoneInfo("Europe/Malta")
START = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)  # the night before Malta's summer time

operations = st.lists(st.one_of(
    st.tuples(st.just("wager"), st.integers(0, 1), st.integers(1, 3000), st.booleans()),
    st.tuples(st.just("batch"), st.lists(st.tuples(st.integers(0, 1), st.integers(1, 3000)),
                                         min_size=1, max_size=6)),
    st.tuples(st.just("rollback"), st.integers(0, 40)),
    st.tuples(st.just("minutes"), st.integers(1, 600)),
), max_size=25)


async def run_example(url: str, ops: list[tuple[Any, ...]], n: int) -> None:
    clock = ManualClock(START)
    app = create_app(Settings(admin_token=ADMIN_TOKEN, db_pool_size=2), database_url=url,
                     clock=clock)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post("/tenants", headers=ADMIN, json={
                "slug": f"vipprop{n}", "name": "P", "service_mode": "plug_in",
                "brand": {"slug": "main", "name": "Main"}})
            headers = {"Authorization": f"Bearer {r.json()['keys']['test']}"}
            for p in range(2):
                await client.post("/v1/players", headers=headers,
                                  json={"username": f"p{p}", "email": f"p{p}@example.com"})
            r = await client.put("/v1/vip", headers=headers, json={
                "xp_per_unit": RATE, "xp_daily_cap": CAP, "timezone": "Europe/Malta",
                "cashback_period": "daily", "cashback_as": "real",
                "levels": [{"level": 1, "name": "Base", "xp_required": 0},
                           {"level": 2, "name": "Up", "xp_required": 300}]})
            assert r.status_code == 200, r.text
            earned: dict[tuple[int, date], int] = defaultdict(int)  # what the wagers earned
            credited: dict[str, tuple[int, date, int]] = {}  # wager -> (player, day, xp)
            rolled_days: set[tuple[int, date]] = set()
            for k, op in enumerate(ops):
                day = clock.now().astimezone(ZONE).date()
                if op[0] in ("wager", "batch"):
                    items = [(op[1], op[2], op[3])] if op[0] == "wager" else [
                        (p, cents, True) for p, cents in op[1]]
                    events = [{"user_id": f"p{p}", "source_wager_id": f"w{k}-{i}",
                               "amount": f"{cents / 100:.2f}", "currency": "USD",
                               "funding": "real" if real else "bonus"}
                              for i, (p, cents, real) in enumerate(items)]
                    r = await client.post("/v1/events/wager:batch", headers=headers,
                                          json={"events": events})
                    assert r.status_code == 201, r.text
                    for (p, cents, real), result in zip(items, r.json()["results"], strict=True):
                        vip = result["effects"]["vip"]
                        if not real:
                            assert vip == []
                            continue
                        earned[(p, day)] += cents * RATE // 100
                        credited[result["source_wager_id"]] = (p, day, vip[0]["xp"])
                        assert vip[0]["xp_today"] <= CAP
                elif op[0] == "rollback" and credited:
                    wager_id = sorted(credited)[op[1] % len(credited)]
                    r = await client.post("/v1/events/wager-rollback", headers=headers,
                                          json={"source_wager_id": wager_id})
                    assert r.status_code in (200, 201), r.text
                    p, day_of, _ = credited.pop(wager_id)
                    rolled_days.add((p, day_of))
                elif op[0] == "minutes":
                    clock.advance(timedelta(minutes=op[1]))
            per_day: dict[tuple[int, date], int] = defaultdict(int)
            for p, day_of, xp in credited.values():
                per_day[(p, day_of)] += xp
            for key, total in per_day.items():
                assert total <= CAP, (key, total)
                if key not in rolled_days:
                    assert total == min(CAP, earned[key]), (key, total, earned[key])
            for p in range(2):
                r = await client.get(f"/v1/players/p{p}", headers=headers)
                xp = r.json()["player"]["balances"]["xp"]["XP"]
                assert xp == sum(x for q, _, x in credited.values() if q == p)
            assert await ledger_problems(app.state.platform.engine) == []
    finally:
        await app.state.platform.engine.dispose()


def test_no_player_earns_more_than_the_cap_on_any_local_day(
    server_url: str, template_db: str,
) -> None:
    counter = itertools.count()

    @settings(max_examples=int(os.environ.get("WOWSINO_VIP_EXAMPLES", "15")),
              deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(operations)
    def check(url: str, ops: list[tuple[Any, ...]]) -> None:
        asyncio.run(run_example(url, ops, next(counter)))

    with examples_database(server_url, template_db, "wz_vip_prop") as url:
        check(url)

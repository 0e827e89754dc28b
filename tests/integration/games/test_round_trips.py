"""The round trips of an aggregator's calls, counted on the wire, so they cannot creep up:
the game session (with its brand's secret) is found in one autocommit statement before
the signature is checked, and the call's own work reuses it."""

from __future__ import annotations

import httpx
from bench.roundtrips import RoundTripCounter

from tests.integration.games_support import seat
from tests.integration.test_round_trips import counted

__all__ = ["counted"]

BALANCE_BUDGET = 5  # the session; BEGIN, cash, bonus money, ROLLBACK
BET_BUDGET = 14  # the session; then the claim, round, player, bonuses, gate, post, answer
WIN_BUDGET = 18  # the session; then the claim, round, player, bonuses, post, the spine


async def test_an_aggregators_calls_keep_their_round_trips(
    counted: tuple[RoundTripCounter, httpx.AsyncClient],
) -> None:
    counter, client = counted
    table = await seat(client)
    for i in range(2):  # statements prepared
        assert (await table.bet("1.00", tx=f"warm-bet-{i}", round_id=f"warm-{i}")).status_code \
            == 200
        assert (await table.win("1.00", tx=f"warm-win-{i}", round_id=f"warm-{i}")).status_code \
            == 200
        assert (await table.call("balance")).status_code == 200
    spent = {}
    for name, send in (("bet", lambda: table.bet("1.00", tx="bet", round_id="r")),
                       ("win", lambda: table.win("2.00", tx="win", round_id="r")),
                       ("balance", lambda: table.call("balance"))):
        before = counter.count
        r = await send()
        assert r.status_code == 200 and r.json()["code"] == "OK", r.text
        spent[name] = counter.count - before
    assert spent["bet"] <= BET_BUDGET, spent
    assert spent["win"] <= WIN_BUDGET, spent
    assert spent["balance"] <= BALANCE_BUDGET, spent

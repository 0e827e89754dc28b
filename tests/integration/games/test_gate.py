"""Responsible gambling at bet time: self-exclusion, blocked statuses, time-outs and the
daily wager and loss limits refuse a bet in the aggregator's protocol, move nothing and
leave a ``compliance.refused`` audit row naming the rule; wins still pay."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import ADMIN
from tests.integration.bonus_support import entries, grant, template
from tests.integration.games_support import launch, seat
from tests.integration.support import assert_error
from wowsino.kernel.clock import ManualClock, iso


async def refusals(engine: Any) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT target_id, after ->> 'rule' FROM audit_log "
            "WHERE action = 'compliance.refused' ORDER BY id"))).all()
    return [(r[0], r[1]) for r in rows]


def refused(r: httpx.Response, code: str) -> None:
    assert r.status_code == 403 and r.json()["code"] == code, r.text


async def test_a_self_excluded_player_cannot_bet_but_is_paid_a_pending_win(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    assert (await table.bet("5.00", tx="b1", round_id="r1")).status_code == 200
    r = await table.wl.patch(f"/v1/players/{table.username}/status",
                             {"status": "self_excluded", "reason": "asked to stop"})
    assert r.status_code == 200, r.text
    refused(await table.bet("5.00", tx="b2", round_id="r2"), "PLAYER_BLOCKED")
    assert await refusals(engine) == [(table.player_id, "self_exclusion")]
    assert (await table.win("8.00", round_id="r1")).status_code == 200
    assert (await table.balances())["real"] == Decimal("103.00")
    # a replay of the refused bet is the same refusal, and writes no second audit row
    refused(await table.bet("5.00", tx="b2", round_id="r2"), "PLAYER_BLOCKED")
    assert len(await refusals(engine)) == 1


async def test_a_held_player_cannot_bet(client: httpx.AsyncClient, engine: Any) -> None:
    table = await seat(client)
    r = await table.wl.patch(f"/v1/players/{table.username}/status",
                             {"status": "fraud_hold", "reason": "review"})
    assert r.status_code == 200, r.text
    refused(await table.bet("1.00"), "PLAYER_BLOCKED")
    assert await refusals(engine) == [(table.player_id, "status")]


async def test_a_suspended_tenants_players_cannot_bet_but_are_paid(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    assert (await table.bet("5.00", tx="b1", round_id="r1")).status_code == 200
    r = await client.patch(f"/tenants/{table.wl.id}", headers=ADMIN, json={"status": "suspended"})
    assert r.status_code == 200, r.text
    refused(await table.bet("1.00", tx="b2"), "PLAYER_BLOCKED")
    assert await refusals(engine) == [(table.player_id, "tenant_status")]
    assert (await table.win("6.00", round_id="r1")).status_code == 200


async def test_a_time_out_refuses_bets_and_launches_until_it_ends(
    client: httpx.AsyncClient, engine: Any, clock: ManualClock,
) -> None:
    table = await seat(client)
    until = clock.now() + timedelta(hours=2)
    r = await table.wl.post(f"/v1/players/{table.username}/rg", {"timeout_until": iso(until)})
    assert r.status_code in (200, 201), r.text
    refused(await table.bet("1.00", tx="b1"), "PLAYER_BLOCKED")
    assert await refusals(engine) == [(table.player_id, "timeout")]
    r = await client.post("/v1/games/sandbox-slot/launch", headers=table.session, json={})
    assert_error(r, 403, "TIMED_OUT")
    clock.advance(timedelta(hours=2, seconds=1))
    assert (await table.bet("1.00", tx="b2")).status_code == 200
    assert (await launch(client, table.session))["token"]


async def test_the_daily_wager_limit_counts_open_and_settled_real_stakes(
    client: httpx.AsyncClient, engine: Any, clock: ManualClock,
) -> None:
    table = await seat(client)
    r = await table.wl.post(f"/v1/players/{table.username}/rg", {"wager_daily_limit": 10})
    assert r.status_code in (200, 201), r.text
    assert (await table.bet("6.00", tx="b1", round_id="r1")).status_code == 200  # open
    r = await table.bet("5.00", tx="b2", round_id="r2")
    assert r.status_code == 403 and r.json()["code"] == "LIMIT_EXCEEDED", r.text
    assert (await table.win("20.00", round_id="r1")).status_code == 200  # settles b1
    assert (await table.bet("4.00", tx="b3", round_id="r3")).status_code == 200  # 10: at it
    refused(await table.bet("0.01", tx="b4"), "LIMIT_EXCEEDED")
    assert [rule for _, rule in await refusals(engine)] == ["wager_daily_limit"] * 2
    assert len(await entries(engine, "game.bet")) == 2
    clock.advance(timedelta(hours=13))  # a new UTC day, the session still open
    assert (await table.bet("9.00", tx="b5")).status_code == 200


async def test_the_daily_loss_limit_counts_wins_back(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    r = await table.wl.post(f"/v1/players/{table.username}/rg", {"loss_daily_limit": 10})
    assert r.status_code in (200, 201), r.text
    assert (await table.bet("8.00", tx="b1", round_id="r1")).status_code == 200
    assert (await table.win("5.00", round_id="r1")).status_code == 200  # loss 3
    assert (await table.bet("7.00", tx="b2", round_id="r2")).status_code == 200  # at most 10
    refused(await table.bet("0.01", tx="b3"), "LIMIT_EXCEEDED")
    assert [rule for _, rule in await refusals(engine)] == ["loss_daily_limit"]


async def test_limits_count_real_money_only(client: httpx.AsyncClient, engine: Any) -> None:
    table = await seat(client, cash="1.00")
    made = await template(table.wl, name="Welcome", amount="50.00", wagering_multiple=10)
    await grant(table.wl, made["id"], user=table.username)
    r = await table.wl.post(f"/v1/players/{table.username}/rg", {"wager_daily_limit": 1})
    assert r.status_code in (200, 201), r.text
    assert (await table.bet("1.00", tx="b1")).status_code == 200  # the cash: at the limit
    assert (await table.bet("20.00", tx="b2")).status_code == 200  # bonus money only
    assert await refusals(engine) == []

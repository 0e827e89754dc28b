"""Bonus money follows bonus-funded wagers (``funding: bonus``), as the operator's
wallet moved it: stakes come off the balance, wins go on, and a conversion converts
what is really left."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.conftest import Tenant
from tests.integration.bonus_support import bet, bonuses_of, entries, grant, ledger_problems, template
from tests.integration.support import balances, body, create_player


async def _bonus(tenant: Tenant, **terms: Any) -> dict[str, Any]:
    await create_player(tenant, "alice")
    made = await template(tenant, amount="10.00", wagering_multiple=3, **terms)
    return (await grant(tenant, made["id"]))["bonus"]


async def test_a_lost_bonus_stake_leaves_less_to_convert(tenant: Tenant, engine: Any) -> None:
    await _bonus(tenant)
    done = await bet(tenant, "w1", "4.00", funding="bonus", win_amount="0.00")
    [effect] = done["effects"]["bonus_wagering"]
    assert (effect["balance_change"], effect["balance"]) == (Decimal("-4.00"), Decimal("6.00"))
    assert (await balances(tenant, "alice"))["bonus"]["USD"] == Decimal("6.00")
    [view] = await bonuses_of(tenant)
    assert view["balance"] == Decimal("6.00")
    assert view["forfeit_if_withdrawn_now"] == Decimal("6.00")
    # the rest of the wagering with real money: the 6.00 left converts, not the 10.00 granted
    await bet(tenant, "w2", "26.00")
    [view] = await bonuses_of(tenant)
    assert (view["status"], view["real_credited"]) == ("completed", Decimal("6.00"))
    player = view["player_id"]
    [played] = await entries(engine, "bonus.play")
    assert played["postings"] == {f"{player} bonus USD": -400, "bonus_liability bonus USD": 400}
    [converted] = await entries(engine, "bonus.convert")
    assert converted["postings"][f"{player} bonus USD"] == -600
    assert (await balances(tenant, "alice"))["bonus"]["USD"] == Decimal("0.00")
    assert await ledger_problems(engine) == []


async def test_a_win_adds_and_a_stake_beyond_the_balance_takes_only_the_balance(
    tenant: Tenant, engine: Any,
) -> None:
    await _bonus(tenant)
    done = await bet(tenant, "w1", "2.00", funding="bonus", win_amount="7.50")
    [effect] = done["effects"]["bonus_wagering"]
    assert (effect["balance_change"], effect["balance"]) == (Decimal("5.50"), Decimal("15.50"))
    # 20.00 staked, only 15.50 of it bonus money: the rest was the operator's real money
    done = await bet(tenant, "w2", "20.00", funding="bonus")
    [effect] = done["effects"]["bonus_wagering"]
    assert (effect["balance_change"], effect["balance"]) == (Decimal("-15.50"), Decimal("0.00"))
    # real-funded play never touches bonus money
    done = await bet(tenant, "w3", "1.00", win_amount="50.00")
    assert all("balance_change" not in e for e in done["effects"]["bonus_wagering"])
    assert (await balances(tenant, "alice"))["bonus"]["USD"] == Decimal("0.00")
    assert await ledger_problems(engine) == []


async def test_the_stake_comes_off_the_oldest_bonus_first_and_the_win_goes_back_to_it(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    first = (await grant(tenant, (await template(tenant, amount="3.00",
                                                wagering_multiple=50))["id"]))["bonus"]
    second = (await grant(tenant, (await template(tenant, name="Second", amount="5.00",
                                                 wagering_multiple=50))["id"]))["bonus"]
    done = await bet(tenant, "w1", "4.00", funding="bonus", win_amount="1.00")
    moved = {e["bonus_id"]: e["balance_change"] for e in done["effects"]["bonus_wagering"]}
    assert moved == {first["id"]: Decimal("-2.00"), second["id"]: Decimal("-1.00")}
    views = {v["id"]: v["balance"] for v in await bonuses_of(tenant)}
    assert views == {first["id"]: Decimal("1.00"), second["id"]: Decimal("4.00")}


async def test_a_rollback_gives_the_stake_back_and_takes_the_win_away(
    tenant: Tenant, engine: Any,
) -> None:
    await _bonus(tenant)
    await bet(tenant, "w1", "4.00", funding="bonus", win_amount="1.00")  # balance 7.00
    await bet(tenant, "w2", "1.00", funding="bonus", win_amount="3.00")  # balance 9.00
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": "w1"})
    assert r.status_code == 201, r.text
    [view] = await bonuses_of(tenant)
    assert view["balance"] == Decimal("12.00")
    assert view["wagering_completed"] == Decimal("1.00")
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": "w2"})
    assert r.status_code == 201, r.text
    [view] = await bonuses_of(tenant)
    assert view["balance"] == Decimal("10.00")
    assert (await balances(tenant, "alice"))["bonus"]["USD"] == Decimal("10.00")
    assert body(await tenant.get("/v1/players/alice"))["player"]["active_bonuses"][0][
        "balance"] == Decimal("10.00")
    assert await ledger_problems(engine) == []

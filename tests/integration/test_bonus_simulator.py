"""The bonus cost simulator: deterministic per seed, fast, and sensible."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import Tenant
from tests.integration.bonus_support import template
from tests.integration.support import assert_validation, body


async def test_the_same_seed_gives_the_same_answer(tenant: Tenant) -> None:
    made = await template(tenant, amount="20.00", wagering_multiple=30, max_conversion="100.00")
    ask = {"players": 10000, "game_category": "slots", "rtp": "0.96", "volatility": 3,
           "bet_size": "1.00", "seed": 42}
    r = await tenant.post(f"/v1/bonus-templates/{made['id']}/simulate", ask)
    assert r.status_code == 200, r.text
    first = body(r)["simulation"]
    again = body(await tenant.post(f"/v1/bonus-templates/{made['id']}/simulate", ask))
    assert again["simulation"] == first
    assert Decimal(0) < first["completion_rate"] < Decimal(1)
    assert first["cost_p5"] <= first["cost_p50"] <= first["cost_p95"] <= Decimal("100.00")
    # both rounded to cents from the same mean
    assert abs(first["expected_cost_per_1000_grants"]
               - first["expected_converted_real"] * 1000) <= 5
    other = body(await tenant.post(f"/v1/bonus-templates/{made['id']}/simulate",
                                   {**ask, "seed": 43}))["simulation"]
    assert other != first


async def test_without_volatility_and_a_fair_game_every_player_completes(
    tenant: Tenant,
) -> None:
    made = await template(tenant, amount="10.00", wagering_multiple=5)
    r = await tenant.post(f"/v1/bonus-templates/{made['id']}/simulate", {
        "players": 100, "rtp": 1, "volatility": 0, "bet_size": "1.00"})
    result = body(r)["simulation"]
    assert result["completion_rate"] == 1
    assert result["expected_converted_real"] == Decimal("10.00")
    assert result["expected_turnover"] == Decimal("50.00")


async def test_bad_simulation_requests_name_the_field(tenant: Tenant) -> None:
    made = await template(tenant, type="deposit_match", amount=None, amount_pct=100)
    path = f"/v1/bonus-templates/{made['id']}/simulate"
    assert_validation(await tenant.post(path, {"bet_size": "1.00"}), "deposit_amount")
    assert_validation(await tenant.post(path, {"bet_size": "1.001", "deposit_amount": 10}),
                      "bet_size")
    assert_validation(await tenant.post(path, {"bet_size": 1, "players": 10**9}), "players")
    assert_validation(await tenant.post(path, {"bet_size": 1, "rtp": 5}), "rtp")

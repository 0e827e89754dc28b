"""Edge cases of player input that must be refused cleanly (400, nothing changed)."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import Tenant
from tests.integration.support import create_player


async def test_boolean_amount_is_refused_not_read_as_one(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/players/alice/adjustments",
                          {"rail": "real", "asset": "USD", "amount": True, "reason": "x"})
    assert r.status_code == 400 and r.json()["details"]["field"] == "amount"
    dossier = (await tenant.get("/v1/players/alice")).json()["player"]
    assert dossier["balances"]["real"]["USD"] == 0


async def test_timeout_without_timezone_or_in_the_past_is_refused(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/players/alice/rg", {"timeout_until": "2030-01-01T00:00:00Z"})
    assert r.status_code == 200
    naive = await tenant.post("/v1/players/alice/rg", {"timeout_until": "2030-01-02T00:00:00"})
    assert naive.status_code == 400 and naive.json()["details"]["field"] == "timeout_until"
    past = await tenant.post("/v1/players/alice/rg", {"timeout_until": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400 and past.json()["details"]["field"] == "timeout_until"
    rg = (await tenant.get("/v1/players/alice")).json()["player"]["rg"]
    assert rg["timeout_until"] == "2030-01-01T00:00:00Z"
    assert rg["pending"] == {}


async def test_a_zero_deposit_limit_is_a_real_limit_and_applies_at_once(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/players/alice/rg", {"deposit_daily_limit": 0})
    assert r.status_code == 200, r.text
    assert Decimal(str(r.json()["player"]["rg"]["deposit_daily_limit"])) == 0


async def test_timeline_shows_ledger_amounts_in_the_assets_unit(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/players/alice/adjustments",
                          {"rail": "real", "asset": "USD", "amount": 12.5, "reason": "welcome"})
    assert r.status_code == 201
    items = (await tenant.get("/v1/players/alice/timeline")).json()["data"]
    ledger = [i for i in items if i["source"] == "ledger"]
    assert ledger[0]["detail"]["postings"] == [{"rail": "real", "asset": "USD", "amount": 12.5}]


async def test_search_shows_each_players_own_balances(tenant: Tenant) -> None:
    for name, amount in (("ann", 5), ("bob", 7)):
        await create_player(tenant, name)
        r = await tenant.post(f"/v1/players/{name}/adjustments",
                              {"rail": "winz", "asset": "WINZ", "amount": amount, "reason": "x"})
        assert r.status_code == 201
    await create_player(tenant, "cy")
    found = {p["username"]: p["balances"]["winz"]["WINZ"]
             for p in (await tenant.get("/v1/players")).json()["data"]}
    assert found == {"ann": 5, "bob": 7, "cy": 0}

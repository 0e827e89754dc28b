"""Manual adjustments: credits and debits through the ledger, shown in the dossier."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    balances,
    bearer,
    body,
    count_rows,
    create_key,
    create_player,
)


async def ledger(tenant: Tenant, ref: str = "alice", **params: Any) -> list[dict[str, Any]]:
    r = await tenant.get(f"/v1/players/{ref}/ledger", params=params)
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = body(r)["data"]
    return result


async def test_credit_then_debit_moves_the_balance_exactly(tenant: Tenant) -> None:
    player = await create_player(tenant, "alice")
    r = await adjust(tenant, "alice", "12.50")
    assert r.status_code == 201, r.text
    made = body(r)["adjustment"]
    assert made["user_id"] == player["user_id"]
    assert made["rail"] == "real"
    assert made["asset"] == "USD"
    assert made["amount"] == Decimal("12.50")
    assert made["balance_after"] == Decimal("12.50")
    assert made["reason"] == "manual correction"
    assert isinstance(made["entry_id"], int | Decimal)

    r = await adjust(tenant, player["user_id"], "-5.25")
    assert r.status_code == 201, r.text
    assert body(r)["adjustment"]["amount"] == Decimal("-5.25")
    assert body(r)["adjustment"]["balance_after"] == Decimal("7.25")

    assert (await adjust(tenant, "alice", "1500", rail="winz", asset="WINZ")).status_code == 201
    assert (await adjust(tenant, "alice", "340", rail="xp", asset="XP")).status_code == 201
    assert (await adjust(tenant, "alice", "3", rail="bonus", asset="usd")).status_code == 201

    assert await balances(tenant, "alice") == {
        "real": {"USD": Decimal("7.25")}, "bonus": {"USD": Decimal("3")},
        "winz": {"WINZ": Decimal("1500")}, "xp": {"XP": Decimal("340")}}
    dossier = (await tenant.get("/v1/players/alice")).json()["player"]
    assert dossier["vip"]["xp"] == 340


async def test_balances_are_json_numbers_not_strings(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    await adjust(tenant, "alice", "0.10")
    r = await tenant.get("/v1/players/alice")
    real = r.json()["player"]["balances"]["real"]["USD"]
    assert isinstance(real, float)
    assert real == 0.1
    assert '"real":{"USD":0.10}' in r.text


async def test_other_currencies_keep_their_own_scale(tenant: Tenant) -> None:
    await create_player(tenant, "satoshi", currency="BTC")
    r = await adjust(tenant, "satoshi", "0.00000001", asset="BTC")
    assert r.status_code == 201, r.text
    assert await balances(tenant, "satoshi") == {
        "real": {"BTC": Decimal("0.00000001")}, "bonus": {"BTC": Decimal("0E-8")},
        "winz": {"WINZ": Decimal("0")}, "xp": {"XP": Decimal("0")}}
    assert_validation(await adjust(tenant, "satoshi", "0.000000001", asset="BTC"), "amount")


async def test_debit_beyond_the_balance_is_402_and_changes_nothing(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await adjust(tenant, "alice", "10.00")
    await adjust(tenant, "alice", "100", rail="winz", asset="WINZ")
    entries = await count_rows(engine, "ledger_entries", tenant.id, "test")
    before = await balances(tenant, "alice")

    assert_error(await adjust(tenant, "alice", "-10.01"), 402, "INSUFFICIENT_FUNDS")
    assert_error(await adjust(tenant, "alice", "-101", rail="winz", asset="WINZ"),
                 402, "INSUFFICIENT_WINZ")
    assert_error(await adjust(tenant, "alice", "-1", rail="xp", asset="XP"),
                 402, "INSUFFICIENT_FUNDS")
    assert_error(await adjust(tenant, "alice", "-1", rail="bonus", asset="USD"),
                 402, "INSUFFICIENT_FUNDS")

    assert await balances(tenant, "alice") == before
    assert await count_rows(engine, "ledger_entries", tenant.id, "test") == entries
    # the whole balance can be taken out, to zero
    r = await adjust(tenant, "alice", "-10.00")
    assert r.status_code == 201, r.text
    assert body(r)["adjustment"]["balance_after"] == Decimal("0")


async def test_wrong_rail_and_asset_combinations_are_400(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    cases = [
        ("real", "WINZ", "asset"), ("real", "XP", "asset"), ("bonus", "WINZ", "asset"),
        ("winz", "USD", "asset"), ("winz", "XP", "asset"), ("xp", "WINZ", "asset"),
        ("xp", "EUR", "asset"), ("real", "ABC", "asset"), ("gold", "USD", "rail"),
    ]
    for rail, asset_code, field in cases:
        r = await adjust(tenant, "alice", "5", rail=rail, asset=asset_code)
        assert r.status_code == 400, (rail, asset_code, r.text)
        assert_validation(r, field)
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0
    assert await ledger(tenant) == []


async def test_bad_amounts_are_400_naming_amount(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    for amount, rail, asset_code in [
        ("12.345", "real", "USD"), ("0.001", "real", "USD"), ("1.5", "winz", "WINZ"),
        ("0", "real", "USD"), ("0.00", "real", "USD"), ('"ten"', "real", "USD"),
        ("true", "real", "USD"), ("null", "real", "USD"), ("1e30", "real", "USD"),
    ]:
        r = await adjust(tenant, "alice", amount, rail=rail, asset=asset_code)
        assert r.status_code == 400, (amount, r.text)
        assert_validation(r, "amount")
    for amount in ("NaN", "Infinity", "-Infinity"):
        assert_error(await adjust(tenant, "alice", amount), 400, "VALIDATION_ERROR")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0


async def test_reason_is_required(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/players/alice/adjustments",
                          {"rail": "real", "asset": "USD", "amount": 5})
    assert_validation(r, "reason")
    assert_validation(await adjust(tenant, "alice", "5", reason=""), "reason")
    assert (await balances(tenant, "alice"))["real"]["USD"] == 0


async def test_adjusting_an_unknown_player_is_404(tenant: Tenant, engine: Any) -> None:
    assert_error(await adjust(tenant, "ghost", "5"), 404, "NO_PLAYER")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0


async def test_ledger_view_shows_postings_newest_first_with_running_balances(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    for amount in ("10.00", "-2.50", "0.75"):
        assert (await adjust(tenant, "alice", amount)).status_code == 201
    assert (await adjust(tenant, "alice", "50", rail="winz", asset="WINZ")).status_code == 201

    rows = await ledger(tenant)
    assert [(r["rail"], r["asset"], r["amount"], r["balance_after"]) for r in rows] == [
        ("winz", "WINZ", Decimal("50"), Decimal("50")),
        ("real", "USD", Decimal("0.75"), Decimal("8.25")),
        ("real", "USD", Decimal("-2.50"), Decimal("7.50")),
        ("real", "USD", Decimal("10.00"), Decimal("10.00")),
    ]
    assert all(r["kind"] == "adjustment" for r in rows)
    assert rows[0]["metadata"]["reason"] == "manual correction"
    entry_ids = [r["entry_id"] for r in rows]
    assert entry_ids == sorted(entry_ids, reverse=True)

    usd = await ledger(tenant, rail="real", asset="USD")
    assert [r["amount"] for r in usd] == [Decimal("0.75"), Decimal("-2.50"), Decimal("10.00")]
    assert await ledger(tenant, rail="xp") == []

    first = (await tenant.get("/v1/players/alice/ledger", params={"limit": 3})).json()
    assert len(first["data"]) == 3
    second = (await tenant.get("/v1/players/alice/ledger",
                               params={"limit": 3, "cursor": first["next_cursor"]})).json()
    assert second["next_cursor"] is None
    assert [r["entry_id"] for r in first["data"] + second["data"]] == entry_ids


async def test_adjustment_writes_an_audit_row(tenant: Tenant) -> None:
    player = await create_player(tenant, "alice")
    r = await adjust(tenant, "alice", "4.20", reason="goodwill")
    entry_id = r.json()["adjustment"]["entry_id"]
    rows = (await tenant.get("/v1/audit", params={
        "action": "player.adjusted", "target": f"player:{player['user_id']}"})).json()["data"]
    assert len(rows) == 1
    assert rows[0]["after"]["entry_id"] == entry_id
    assert rows[0]["after"]["amount"] == 4.2
    assert rows[0]["after"]["reason"] == "goodwill"
    assert rows[0]["actor"]["type"] == "api_key"
    assert rows[0]["request_id"] == r.headers["x-request-id"]


async def test_adjustments_require_the_config_write_scope(
    client: httpx.AsyncClient, tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    payload = {"rail": "real", "asset": "USD", "amount": 5, "reason": "r"}
    writer = bearer((await create_key(client, tenant, ["players:write", "players:read"]))["key"])
    r = await client.post("/v1/players/alice/adjustments", json=payload, headers=writer)
    assert_error(r, 403, "SCOPE_DENIED")
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0

    config = bearer((await create_key(client, tenant, ["config:write"]))["key"])
    r = await client.post("/v1/players/alice/adjustments", json=payload, headers=config)
    assert r.status_code == 201, r.text
    assert (await balances(tenant, "alice"))["real"]["USD"] == Decimal("5")

"""Amount bounds: no posting moves more than its asset's bound, no balance passes it, and
no pool total outgrows it; every refusal is a 400 naming the field, never an overflow.
Also: the real and bonus rails hold the player's currency only; a reversal is never
reversed; the append-only tables refuse TRUNCATE."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import Tenant
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    balances,
    body,
    create_player,
)
from wowsino.kernel import ledger
from wowsino.kernel.db import sqlstate, unit_of_work
from wowsino.kernel.errors import Conflict
from wowsino.kernel.money import ASSETS, MAX_MINOR, Rail
from wowsino.kernel.realm import Mode, Realm

TOP = "10000000000000.00"  # MAX_MINOR cents: the most a USD posting or balance holds
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def realm_of(tenant: Tenant) -> Realm:
    return Realm(UUID(tenant.id), Mode.TEST)


async def test_a_bigint_sized_amount_is_refused_naming_the_field(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    for amount in ("9223372036854775807", "1000000000000001", "-1000000000000001"):
        assert_validation(await adjust(tenant, "alice", amount, rail="winz", asset="WINZ"),
                          "amount")
    assert_validation(await adjust(tenant, "alice", "92233720368547758.07"), "amount")
    assert (await balances(tenant, "alice"))["winz"] == {"WINZ": 0}


async def test_a_balance_stops_at_the_bound_and_the_player_stays_usable(tenant: Tenant) -> None:
    await create_player(tenant, "alice")
    assert (await adjust(tenant, "alice", str(MAX_MINOR), rail="winz",
                         asset="WINZ")).status_code == 201
    payload = assert_validation(await adjust(tenant, "alice", "1", rail="winz", asset="WINZ"),
                                "amount")
    assert "balance would exceed" in payload["error"]
    assert (await adjust(tenant, "alice", "-1", rail="winz", asset="WINZ")).status_code == 201
    assert (await adjust(tenant, "alice", "1", rail="winz", asset="WINZ")).status_code == 201
    assert (await adjust(tenant, "alice", TOP)).status_code == 201
    assert_validation(await adjust(tenant, "alice", "0.01"), "amount")
    held = await balances(tenant, "alice")
    assert (held["real"], held["winz"]) == ({"USD": Decimal(TOP)}, {"WINZ": MAX_MINOR})


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.integers(1, MAX_MINOR), second=st.integers(1, MAX_MINOR))
async def test_two_credits_never_overflow_whatever_their_size(
    tenant: Tenant, first: int, second: int,
) -> None:
    """Property: a second credit lands if the sum stays within the bound, else a 400."""
    name = f"p{first % 9973}x{second % 9973}"
    await create_player(tenant, name)
    assert (await adjust(tenant, name, str(first), rail="winz", asset="WINZ")).status_code == 201
    r = await adjust(tenant, name, str(second), rail="winz", asset="WINZ")
    if first + second <= MAX_MINOR:
        assert r.status_code == 201, r.text
    else:
        assert_validation(r, "amount")
    held = (await balances(tenant, name))["winz"]["WINZ"]
    assert held == (first + second if first + second <= MAX_MINOR else first)
    await adjust(tenant, name, str(-held), rail="winz", asset="WINZ")  # the name may recur


async def test_ledger_post_refuses_out_of_bound_postings_and_balances_itself(
    db_url: str,
) -> None:
    """``ledger_post`` checks the bounds again for any writer that bypasses the kernel:
    WZ005 with the posting's position, before any arithmetic can overflow."""
    conn = await asyncpg.connect(db_url)
    call = ("SELECT * FROM ledger_post($1, 'live', 'raw', NULL, NULL, '{}'::jsonb, NULL, "
            "'\\x00'::bytea, now(), $2, $3, $4, $5, $6, $7)")
    accounts = (["system", "player"], ["house", "p"], ["real", "real"], ["USD", "USD"],
                [False, True])
    try:
        for amounts in ([-(2**63 - 1), 2**63 - 1], [-(MAX_MINOR + 1), MAX_MINOR + 1]):
            with pytest.raises(asyncpg.PostgresError) as caught:
                await conn.fetch(call, UUID(int=5), *accounts, amounts)
            assert caught.value.sqlstate == "WZ005"
            assert caught.value.detail == "1"
        await conn.fetch(call, UUID(int=5), *accounts, [-MAX_MINOR, MAX_MINOR])
        with pytest.raises(asyncpg.PostgresError) as caught:
            await conn.fetch(call, UUID(int=5), *accounts, [-1, 1])
        assert caught.value.sqlstate == "WZ005"
        assert caught.value.detail == "2"
        assert "balance" in str(caught.value)
        # a balance written beyond the bound before the bound existed can still be spent
        await conn.execute("UPDATE ledger_accounts SET balance = $1 WHERE owner_key = 'p'",
                           2**63 - 1)
        with pytest.raises(asyncpg.PostgresError) as caught:
            await conn.fetch(call, UUID(int=5), *accounts, [-1, 1])
        assert caught.value.sqlstate == "WZ005"
        rows = await conn.fetch(call, UUID(int=5), *accounts, [5, -5])
        assert rows[1]["balance_after"] == 2**63 - 6
    finally:
        await conn.close()


# -- jackpot pools --------------------------------------------------------------------------


async def make_jackpot(tenant: Tenant, **fields: Any) -> str:
    payload = {"name": "Pot", "currency": "USD", "seed_usd": 10, **fields}
    r = await tenant.post("/v1/jackpots", payload)
    assert r.status_code == 201, r.text
    jackpot_id: str = r.json()["jackpot"]["id"]
    return jackpot_id


async def contribute(tenant: Tenant, jackpot_id: str, wager: str, amount: str) -> Any:
    raw = (f'{{"user_id": "alice", "source_wager_id": "{wager}", "amount": {amount}}}')
    return await tenant.client.post(
        f"/v1/jackpots/{jackpot_id}/contribute", content=raw,
        headers={**tenant.headers(), "Content-Type": "application/json"})


async def test_jackpot_configuration_is_bounded(tenant: Tenant) -> None:
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    for field, raw in (
        ("seed_usd", '{"name": "Pot", "currency": "USD", "seed_usd": 92233720368547758.07}'),
        ("must_drop_at", '{"name": "Pot", "currency": "USD", "seed_usd": 10, '
                         '"must_drop_at": 10000000000000.01}'),
    ):
        assert_validation(await tenant.client.post("/v1/jackpots", content=raw,
                                                   headers=headers), field)
    jackpot_id = await make_jackpot(tenant)
    r = await tenant.client.patch(f"/v1/jackpots/{jackpot_id}",
                                  content='{"seed_usd": 92233720368547758.07}', headers=headers)
    assert_validation(r, "seed_usd")


async def test_a_pool_never_outgrows_the_bound_and_still_drops(
    tenant: Tenant, engine: Any,
) -> None:
    """The reported case: two bigint-sized contributions left a pool beyond a bigint and
    every later contribution and drop failed. Now the pool stops at the bound (the
    contribution that would pass it is refused), and it drops as usual."""
    await create_player(tenant, "alice")
    jackpot_id = await make_jackpot(tenant)
    assert_validation(await contribute(tenant, jackpot_id, "w0", "92233720368547758.07"),
                      "amount")
    big = "5000000000000.00"
    assert (await contribute(tenant, jackpot_id, "w1", big)).status_code == 201
    r = await contribute(tenant, jackpot_id, "w2", big)
    assert_validation(r, "amount")
    assert "pool would exceed" in r.json()["error"]
    room = Decimal(TOP) - Decimal(big) - 10
    r = await contribute(tenant, jackpot_id, "w3", str(room))
    assert r.status_code == 201, r.text
    assert body(r)["pool"] == Decimal(TOP)
    assert_validation(await contribute(tenant, jackpot_id, "w4", "0.01"), "amount")
    r = await tenant.post(f"/v1/jackpots/{jackpot_id}/drop", {})
    assert r.status_code == 201, r.text
    assert body(r)["drop"]["amount"] == Decimal(TOP)
    assert (await contribute(tenant, jackpot_id, "w5", "1.00")).status_code == 201
    async with engine.connect() as conn:
        assert (await ledger.verify_realm(conn, realm_of(tenant))).problems == []


async def test_many_small_contributions_stop_at_the_bound_on_the_fast_path(
    tenant: Tenant, engine: Any,
) -> None:
    """The stripes of a pool without a trigger share the room below the bound, so the fast
    path (no jackpot lock) can never take a pool past it either."""
    await create_player(tenant, "alice")
    jackpot_id = await make_jackpot(tenant)
    async with engine.connect() as conn:
        headroom = await conn.scalar(text(
            "SELECT sum(headroom) FROM jackpot_stripes WHERE jackpot_id = CAST(:j AS uuid)"),
            {"j": jackpot_id})
    assert headroom == MAX_MINOR - 1000
    share = "100000000000.00"  # below one stripe's share: fast path
    for i in range(3):
        assert (await contribute(tenant, jackpot_id, f"s{i}", share)).status_code == 201
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT sum(headroom) AS room, sum(contributed) AS taken FROM jackpot_stripes "
            "WHERE jackpot_id = CAST(:j AS uuid)"), {"j": jackpot_id})).one()
    assert row.room + row.taken + 1000 == MAX_MINOR


# -- currencies on the money rails ----------------------------------------------------------


async def test_money_in_another_currency_is_a_currency_mismatch(tenant: Tenant) -> None:
    await create_player(tenant, "alice", currency="USD")
    for rail in ("real", "bonus"):
        payload = assert_error(await adjust(tenant, "alice", "5.00", rail=rail, asset="EUR"),
                               400, "CURRENCY_MISMATCH")
        assert payload["details"]["field"] == "asset"
        assert "USD" in payload["error"]
    assert (await adjust(tenant, "alice", "5.00", rail="real", asset="usd")).status_code == 201
    assert (await adjust(tenant, "alice", "5.00", rail="bonus", asset="USD")).status_code == 201
    await create_player(tenant, "bruno", currency="EUR")
    assert (await adjust(tenant, "bruno", "5.00", asset="EUR")).status_code == 201
    assert_error(await adjust(tenant, "bruno", "5.00", asset="USD"), 400, "CURRENCY_MISMATCH")
    held = await balances(tenant, "alice")
    assert (held["real"], held["bonus"]) == ({"USD": Decimal("5.00")}, {"USD": Decimal("5.00")})


# -- reversals and the append-only tables ---------------------------------------------------


async def test_a_reversal_cannot_be_reversed(tenant: Tenant, engine: Any) -> None:
    await create_player(tenant, "alice")
    r = await adjust(tenant, "alice", "20.00")
    entry_id = int(r.json()["adjustment"]["entry_id"])
    realm = realm_of(tenant)
    reversal = await unit_of_work(engine, lambda conn: ledger.reverse_entry(
        conn, realm=realm, entry_id=entry_id, at=AT))
    with pytest.raises(Conflict) as caught:
        await unit_of_work(engine, lambda conn: ledger.reverse_entry(
            conn, realm=realm, entry_id=reversal.id, at=AT))
    assert caught.value.code == "REVERSAL_NOT_REVERSIBLE"
    assert caught.value.status == 409
    # the database refuses it too, for a writer that bypasses the kernel
    posting = ledger.Posting(ledger.Account.player(UUID(r.json()["adjustment"]["user_id"]),
                                                   Rail.REAL, "USD"), 2000)
    house = ledger.Posting(ledger.Account.system(ledger.HOUSE, Rail.REAL, "USD"), -2000)
    with pytest.raises(Conflict) as caught:
        await unit_of_work(engine, lambda conn: ledger.post_entry(
            conn, realm=realm, kind="raw", postings=[posting, house], at=AT,
            reverses=reversal.id))
    assert caught.value.code == "REVERSAL_NOT_REVERSIBLE"
    assert (await balances(tenant, "alice"))["real"] == {"USD": 0}


@pytest.mark.parametrize("table", ["ledger_entries", "ledger_postings", "audit_log"])
async def test_append_only_tables_refuse_truncate(tenant: Tenant, engine: Any,
                                                  table: str) -> None:
    await create_player(tenant, "alice")
    assert (await adjust(tenant, "alice", "1.00")).status_code == 201
    with pytest.raises(DBAPIError) as caught:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {table} CASCADE"))
    assert sqlstate(caught.value) == "WZ003"
    assert "is append-only" in str(caught.value)
    async with engine.connect() as conn:
        assert await conn.scalar(text(f"SELECT count(*) FROM {table}")) > 0


def test_every_asset_has_the_documented_bound() -> None:
    assert {a.max_minor for a in ASSETS.values()} == {10**15}


async def test_a_white_label_pool_takes_and_pays_its_own_currency_only(
    client: Any,
) -> None:
    """A win is paid to the player's real rail: in white-label, a EUR player neither feeds
    nor wins a USD pool; in plug-in the operator pays, so any player may."""
    from tests.conftest import make_tenant

    for service_mode, refused in (("white_label", True), ("plug_in", False)):
        tenant = await make_tenant(client, f"t-{service_mode.replace('_', '-')}", service_mode)
        await create_player(tenant, "alice", currency="EUR")
        jackpot_id = await make_jackpot(tenant)
        r = await contribute(tenant, jackpot_id, "w1", "1.00")
        drop = await tenant.post(f"/v1/jackpots/{jackpot_id}/drop",
                                 {"winner_user_id": "alice"})
        if refused:
            assert_error(r, 400, "CURRENCY_MISMATCH")
            assert_error(drop, 400, "CURRENCY_MISMATCH")
        else:
            assert r.status_code == 201, r.text
            assert drop.status_code == 201, drop.text

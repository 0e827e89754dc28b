"""Jackpots: configuration, the striped pool under concurrency, must-drop and mystery
drops, manual drops, and the money flows of plug-in and white-label tenants."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import Tenant, make_tenant
from tests.integration.support import (
    assert_error,
    assert_validation,
    balances,
    body,
    count_rows,
    create_key,
    create_player,
    outbox,
    unthrottle,
)
from wowsino.engines.jackpots import service as jackpots
from wowsino.engines.jackpots.flows import pool_account
from wowsino.kernel import fairness, ledger
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Mode, Realm

D = Decimal


def realm_of(tenant: Tenant, mode: str = "test") -> Realm:
    return Realm(UUID(tenant.id), Mode(mode))


async def make_jackpot(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    payload = {"name": "Mega", "currency": "USD", "seed_usd": 100, **fields}
    r = await tenant.post("/v1/jackpots", payload)
    assert r.status_code == 201, r.text
    jackpot: dict[str, Any] = body(r)["jackpot"]
    return jackpot


async def contribute(tenant: Tenant, jackpot_id: str, user: str, wager: str, amount: Any,
                     key: str | None = None) -> httpx.Response:
    payload = {"user_id": user, "source_wager_id": wager, "amount": amount}
    if key is not None:
        payload["idempotency_key"] = key
    return await tenant.post(f"/v1/jackpots/{jackpot_id}/contribute", payload)


async def show(tenant: Tenant, jackpot_id: str, mode: str = "test") -> dict[str, Any]:
    r = await tenant.get(f"/v1/jackpots/{jackpot_id}", mode=mode)
    assert r.status_code == 200, r.text
    jackpot: dict[str, Any] = body(r)["jackpot"]
    return jackpot


async def system(engine: Any, tenant: Tenant, name: str, currency: str = "USD") -> Decimal:
    """A system account's balance summed from the ledger's postings, in units."""
    async with engine.connect() as conn:
        minor = await ledger.system_balance(conn, realm_of(tenant),
                                            ledger.Account.system(name, Rail.REAL, currency))
    return D(minor) / 100


async def pool_in_ledger(engine: Any, tenant: Tenant, jackpot_id: str) -> Decimal:
    async with engine.connect() as conn:
        minor = await ledger.system_balance(conn, realm_of(tenant),
                                            pool_account(UUID(jackpot_id), "USD"))
    return D(minor) / 100


async def ledger_problems(engine: Any, tenant: Tenant) -> list[str]:
    async with engine.connect() as conn:
        return (await ledger.verify_realm(conn, realm_of(tenant))).problems


async def contributions(engine: Any, jackpot_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, round, player_id, requested, amount, seq FROM jackpot_contributions "
                 "WHERE jackpot_id = CAST(:j AS uuid) ORDER BY seq"), {"j": jackpot_id})
        return [dict(r._mapping) for r in rows]


async def drops(tenant: Tenant, jackpot_id: str) -> list[dict[str, Any]]:
    r = await tenant.get(f"/v1/jackpots/{jackpot_id}/drops", params={"limit": 500})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = body(r)["data"]
    return found


# --- configuration -------------------------------------------------------------------------


async def test_create_funds_the_seed_and_lists_the_pool(tenant: Tenant, engine: Any) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=250.5, must_drop_at=1000, contribution_pct=1.5)
    assert jackpot["pool"] == D("250.50")
    assert jackpot["seed_usd"] == D("250.50")
    assert jackpot["must_drop_at"] == D("1000.00")
    assert jackpot["contribution_pct"] == D("1.5")
    assert jackpot["status"] == "active"
    assert jackpot["mystery"] is False and jackpot["mystery_seed_hash"] is None
    assert jackpot["round"]["number"] == 1 and jackpot["last_drop"] is None
    listed = body(await tenant.get("/v1/jackpots"))
    assert [j["id"] for j in listed["data"]] == [jackpot["id"]]
    assert listed["next_cursor"] is None
    assert await pool_in_ledger(engine, tenant, jackpot["id"]) == D("250.50")
    assert await system(engine, tenant, ledger.OPERATOR_SETTLEMENT) == D("-250.50")
    assert await count_rows(engine, "audit_log", tenant.id, "test",
                            "action = 'jackpot.created'") == 1


async def test_invalid_configuration_is_refused_naming_the_field(tenant: Tenant,
                                                                 engine: Any) -> None:
    base = {"name": "Bad", "currency": "USD", "seed_usd": 100}
    cases = [
        ({"must_drop_at": 100}, "must_drop_at"),
        ({"must_drop_at": 50}, "must_drop_at"),
        ({"mystery": True}, "must_drop_at"),
        ({"mystery": True, "must_drop_at": 100_000_000}, "must_drop_at"),  # > 2**32 cents
        ({"contribution_pct": 0}, "contribution_pct"),
        ({"contribution_pct": 100.5}, "contribution_pct"),
        ({"contribution_pct": 0.00001}, "contribution_pct"),
        ({"seed_usd": 1.005}, "seed_usd"),
        ({"seed_usd": 0}, "seed_usd"),
        ({"seed_usd": -5}, "seed_usd"),
        ({"currency": "WINZ"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
    ]
    for change, field in cases:
        assert_validation(await tenant.post("/v1/jackpots", {**base, **change}), field)
    assert await count_rows(engine, "jackpots", tenant.id) == 0
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0


async def test_mystery_listing_publishes_only_the_seed_hash(tenant: Tenant) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=10, must_drop_at=12, mystery=True)
    assert len(jackpot["mystery_seed_hash"]) == 64
    assert jackpot["round"]["mystery_client_seed"] == f"{jackpot['id']}:1"
    raw = (await tenant.get("/v1/jackpots")).text
    assert "server_seed\"" not in raw and "drop_point" not in raw and "trigger" not in raw


async def test_patch_pause_and_resume(tenant: Tenant, engine: Any) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=100, must_drop_at=200)
    jid = await create_player(tenant, "alice")
    await contribute(tenant, jackpot["id"], jid["username"], "w1", 30)
    path = f"/v1/jackpots/{jackpot['id']}"
    assert_validation(await tenant.patch(path, {"must_drop_at": 130}), "must_drop_at")
    assert_validation(await tenant.patch(path, {"seed_usd": 250}), "must_drop_at")
    assert_validation(await tenant.patch(path, {"mystery": True}), "mystery")
    assert_validation(await tenant.patch(path, {"name": None}), "name")
    r = await tenant.patch(path, {"must_drop_at": 131, "seed_usd": 120, "name": "Giga",
                                  "contribution_pct": 2})
    assert r.status_code == 200, r.text
    changed = body(r)["jackpot"]
    assert changed["name"] == "Giga" and changed["contribution_pct"] == 2
    assert changed["must_drop_at"] == D("131.00") and changed["round"]["must_drop_at"] == D(131)
    assert changed["seed_usd"] == D(120) and changed["round"]["seed"] == D(100)  # next reset
    assert changed["pool"] == D(130)
    # the new threshold holds at once: 1.00 more reaches it exactly, and drops
    dropped = body(await contribute(tenant, jackpot["id"], "alice", "w2", 5))
    assert dropped["amount"] == D("1.00") and dropped["dropped"]["amount"] == D("131.00")
    assert dropped["pool"] == D(120)  # the next round starts at the new seed

    assert (await tenant.post(f"{path}/pause")).status_code == 200
    assert (await show(tenant, jackpot["id"]))["status"] == "paused"
    assert_error(await contribute(tenant, jackpot["id"], "alice", "w3", 1), 409, "NOT_ACTIVE")
    assert_error(await tenant.post(f"{path}/drop", {}), 409, "NOT_ACTIVE")
    assert (await tenant.post(f"{path}/resume")).status_code == 200
    assert (await contribute(tenant, jackpot["id"], "alice", "w3", 1)).status_code == 201
    assert await count_rows(engine, "audit_log", tenant.id, "test",
                            "action IN ('jackpot.updated', 'jackpot.paused', "
                            "'jackpot.active')") == 3


# --- contributions under concurrency -------------------------------------------------------


async def test_200_concurrent_contributions_from_50_players_lose_nothing(
        client: httpx.AsyncClient, tenant: Tenant, engine: Any) -> None:
    await unthrottle(tenant)
    jackpot = await make_jackpot(tenant, seed_usd=1000, must_drop_at=1_000_000)
    names = [f"p{i:02d}" for i in range(50)]
    for name in names:
        await create_player(tenant, name)
    rng = random.Random(7)
    cents = [rng.randint(1, 5000) for _ in range(200)]
    responses = await asyncio.gather(*(
        contribute(tenant, jackpot["id"], names[i % 50], f"wager-{i}", c / 100)
        for i, c in enumerate(cents)))
    assert [r.status_code for r in responses] == [201] * 200
    expected = D(1000) + D(sum(cents)) / 100
    assert (await show(tenant, jackpot["id"]))["pool"] == expected
    assert await pool_in_ledger(engine, tenant, jackpot["id"]) == expected
    assert await system(engine, tenant, ledger.OPERATOR_SETTLEMENT) == -expected
    rows = await contributions(engine, jackpot["id"])
    assert sorted(int(r["amount"]) for r in rows) == sorted(cents)
    assert await ledger_problems(engine, tenant) == []


async def test_ordinary_contribution_does_not_wait_for_the_jackpot_row(
        tenant: Tenant, engine: Any) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=100, must_drop_at=10_000)
    await create_player(tenant, "alice")
    async with engine.connect() as holder:
        await holder.execute(text("SELECT 1 FROM jackpots WHERE id = CAST(:j AS uuid) "
                                  "FOR UPDATE"), {"j": jackpot["id"]})
        r = await asyncio.wait_for(contribute(tenant, jackpot["id"], "alice", "w1", 5), 10)
        assert r.status_code == 201, r.text
        await holder.rollback()
    assert (await show(tenant, jackpot["id"]))["pool"] == D(105)


async def test_a_drop_waits_for_a_contribution_in_flight_and_pays_it(
        tenant: Tenant, engine: Any, clock: ManualClock) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=100)
    await create_player(tenant, "alice")
    await contribute(tenant, jackpot["id"], "alice", "w1", 1)
    async with engine.connect() as conn:
        in_flight = await conn.begin()
        status, _ = await jackpots.contribute(
            conn, realm=realm_of(tenant), brand_id=UUID(tenant.brand_id),
            service_mode="plug_in", ref=jackpot["id"], user_ref="alice",
            source_wager_id="w2", amount=D("2.50"), at=clock.now())
        assert status == 201
        dropping = asyncio.create_task(tenant.post(f"/v1/jackpots/{jackpot['id']}/drop", {}))
        await asyncio.sleep(0.5)
        assert not dropping.done()  # the drop needs the exact pool: it waits
        await in_flight.commit()
    r = await asyncio.wait_for(dropping, 10)
    assert r.status_code == 201, r.text
    assert body(r)["drop"]["amount"] == D("103.50")
    assert await pool_in_ledger(engine, tenant, jackpot["id"]) == D(100)
    assert await ledger_problems(engine, tenant) == []


async def test_source_wager_id_dedupes_under_concurrency(
        client: httpx.AsyncClient, tenant: Tenant, engine: Any) -> None:
    await unthrottle(tenant)
    jackpot = await make_jackpot(tenant, seed_usd=100)
    await create_player(tenant, "alice")
    responses = await asyncio.gather(*(
        contribute(tenant, jackpot["id"], "alice", "wager-1", 2.5, key=f"key-{i}")
        for i in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    answers = [body(r) for r in responses]
    assert len({a["contribution_id"] for a in answers}) == 1
    assert [a["deduped"] for a in answers].count(False) == 1
    assert all(a["amount"] == D("2.50") for a in answers)
    assert (await show(tenant, jackpot["id"]))["pool"] == D("102.50")
    assert await count_rows(engine, "ledger_entries", tenant.id, "test",
                            "kind = 'jackpot.contribution'") == 1
    # another pool may take the same wager: the natural key is per pool
    other = await make_jackpot(tenant, name="Mini", seed_usd=10)
    assert (await contribute(tenant, other["id"], "alice", "wager-1", 1)).status_code == 201


async def test_replay_with_same_key_returns_original_and_moves_no_money(
        tenant: Tenant, engine: Any) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=100)
    await create_player(tenant, "alice")
    first = await contribute(tenant, jackpot["id"], "alice", "w1", 3, key="k1")
    again = await contribute(tenant, jackpot["id"], "alice", "w1", 3, key="k1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert body(again) == {**body(first), "deduped": True}
    assert_error(await contribute(tenant, jackpot["id"], "alice", "w1", 4, key="k1"),
                 422, "IDEMPOTENCY_KEY_REUSED")
    assert (await show(tenant, jackpot["id"]))["pool"] == D(103)


async def test_contribution_input_is_checked(tenant: Tenant, engine: Any) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=100)
    await create_player(tenant, "alice")
    jid = jackpot["id"]
    assert_validation(await contribute(tenant, jid, "alice", "w", 0), "amount")
    assert_validation(await contribute(tenant, jid, "alice", "w", -1), "amount")
    assert_validation(await contribute(tenant, jid, "alice", "w", 0.001), "amount")
    assert_validation(await contribute(tenant, jid, "alice", "", 1), "source_wager_id")
    assert_error(await contribute(tenant, jid, "nobody", "w", 1), 404, "NO_PLAYER")
    assert await count_rows(engine, "jackpot_contributions", tenant.id) == 0


# --- automatic drops -----------------------------------------------------------------------


async def test_must_drop_caps_the_reaching_contribution_and_reseeds(
        tenant: Tenant, engine: Any) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=100, must_drop_at=110)
    alice = await create_player(tenant, "alice")
    await create_player(tenant, "bob")
    assert body(await contribute(tenant, jackpot["id"], "bob", "w1", 4))["pool"] == D(104)
    assert body(await contribute(tenant, jackpot["id"], "bob", "w2", 4))["pool"] == D(108)
    won = body(await contribute(tenant, jackpot["id"], "alice", "w3", 5))
    assert won["amount"] == D("2.00") and won["requested_amount"] == D("5.00")
    assert won["pool"] == D("100.00")
    dropped = won["dropped"]
    assert dropped["winner_username"] == "alice"
    assert dropped["winner"]["user_id"] == alice["user_id"]
    assert dropped["amount"] == dropped["pool_before"] == D("110.00")
    assert dropped["pool_after"] == D("100.00")
    assert dropped["trigger_reason"] == "must_drop"
    assert dropped["contribution_id"] == won["contribution_id"]
    assert dropped["round"] == 1
    listed = await show(tenant, jackpot["id"])
    assert listed["pool"] == D(100) and listed["round"]["number"] == 2
    assert listed["last_drop"]["winner_username"] == "alice"
    # the excess (3.00) was not taken: the operator funded 100 + 8 + 2, then the new seed
    assert await system(engine, tenant, ledger.OPERATOR_SETTLEMENT) == D(-210)
    assert await system(engine, tenant, ledger.OPERATOR_PAYOUTS) == D(110)
    assert await pool_in_ledger(engine, tenant, jackpot["id"]) == D(100)
    events = await outbox(engine, tenant.id, "test", "jackpot.dropped")
    assert len(events) == 1
    assert {k: events[0][k] for k in ("jackpot_id", "winner_username", "trigger_reason")} == {
        "jackpot_id": jackpot["id"], "winner_username": "alice", "trigger_reason": "must_drop"}
    assert D(str(events[0]["amount"])) == D(110) and D(str(events[0]["pool_after"])) == D(100)
    assert await ledger_problems(engine, tenant) == []


async def test_the_contribution_that_uses_up_the_last_headroom_wins(
        tenant: Tenant, engine: Any) -> None:
    # 64.00 of headroom: 1.00 per stripe, so halves fit a stripe's share until none is left
    jackpot = await make_jackpot(tenant, seed_usd=1, must_drop_at=65)
    await create_player(tenant, "alice")
    for i in range(127):
        answer = body(await contribute(tenant, jackpot["id"], "alice", f"w{i}", 0.5))
        assert answer["dropped"] is None and answer["amount"] == D("0.50"), (i, answer)
    assert (await show(tenant, jackpot["id"]))["pool"] == D("64.50")
    last = body(await contribute(tenant, jackpot["id"], "alice", "w127", 0.5))
    assert last["dropped"]["amount"] == D("65.00") and last["pool"] == D(1)
    assert await pool_in_ledger(engine, tenant, jackpot["id"]) == D(1)


@pytest.mark.parametrize(("must_drop_at", "count"), [(20, 150), (60, 300)])
async def test_concurrent_contributions_never_push_the_pool_past_must_drop(
        client: httpx.AsyncClient, tenant: Tenant, engine: Any, must_drop_at: int,
        count: int) -> None:
    # 20: every contribution is near the trigger (exclusive path); 60: the stripes' shares
    # fit about half of them, so fast and exclusive contributions interleave
    await unthrottle(tenant)
    jackpot = await make_jackpot(tenant, seed_usd=10, must_drop_at=must_drop_at)
    names = [f"p{i:02d}" for i in range(30)]
    for name in names:
        await create_player(tenant, name)
    rng = random.Random(11)
    cents = [rng.randint(1, 150) for _ in range(count)]
    responses = await asyncio.gather(*(
        contribute(tenant, jackpot["id"], names[i % 30], f"w{i}", c / 100)
        for i, c in enumerate(cents)))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses][:3]
    rows = await contributions(engine, jackpot["id"])
    by_id = {str(r["id"]): r for r in rows}
    history = await drops(tenant, jackpot["id"])
    assert len(history) >= 3
    assert sorted(d["round"] for d in history) == list(range(1, len(history) + 1))
    for drop in history:
        assert drop["amount"] == drop["pool_before"] == must_drop_at
        assert drop["trigger_reason"] == "must_drop"
        reaching = by_id[drop["contribution_id"]]
        assert reaching["round"] == drop["round"]
        assert str(reaching["player_id"]) == drop["winner"]["user_id"]
        in_round = sum(r["amount"] for r in rows if r["round"] == drop["round"])
        assert in_round == (must_drop_at - 10) * 100
    # only a reaching contribution is ever capped
    capped = {str(r["id"]) for r in rows if r["amount"] < r["requested"]}
    assert capped <= {d["contribution_id"] for d in history}
    current = len(history) + 1
    in_play = sum(r["amount"] for r in rows if r["round"] == current)
    pool = (await show(tenant, jackpot["id"]))["pool"]
    assert pool == D(10) + D(in_play) / 100 < must_drop_at
    assert await pool_in_ledger(engine, tenant, jackpot["id"]) == pool
    taken = D(sum(r["amount"] for r in rows)) / 100
    assert await system(engine, tenant, ledger.OPERATOR_SETTLEMENT) == -(10 * current + taken)
    assert await system(engine, tenant, ledger.OPERATOR_PAYOUTS) == must_drop_at * len(history)
    assert await ledger_problems(engine, tenant) == []


async def test_mystery_drop_is_recomputable_from_the_revealed_seed(
        tenant: Tenant, engine: Any) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=10, must_drop_at=12, mystery=True)
    published = jackpot["mystery_seed_hash"]
    listing_before = (await tenant.get("/v1/jackpots")).text
    await create_player(tenant, "alice")
    won = None
    for i in range(9):  # 8 × 0.25 covers the whole range (10, 12]
        answer = body(await contribute(tenant, jackpot["id"], "alice", f"w{i}", 0.25))
        if answer["dropped"] is not None:
            won = answer
            break
    assert won is not None
    dropped = won["dropped"]
    reveal = dropped["mystery"]
    assert dropped["trigger_reason"] == "mystery"
    assert reveal["server_seed_hash"] == published == fairness.hash_seed(reveal["server_seed"])
    assert reveal["server_seed"] not in listing_before
    assert reveal["client_seed"] == f"{jackpot['id']}:1"
    assert (reveal["seed"], reveal["must_drop_at"]) == (D(10), D(12))
    point = 1000 + 1 + fairness.draw_uniform(reveal["server_seed"], reveal["client_seed"], 200)
    assert reveal["drop_point"] == D(point) / 100 == dropped["amount"]
    assert D(10) < dropped["amount"] <= D(12)
    assert [d["mystery"] for d in await drops(tenant, jackpot["id"])] == [reveal]
    after = await show(tenant, jackpot["id"])
    assert after["pool"] == D(10) and after["mystery_seed_hash"] not in (None, published)
    events = await outbox(engine, tenant.id, "test", "jackpot.dropped")
    assert events[0]["mystery"]["server_seed"] == reveal["server_seed"]
    assert events[0]["next_mystery_seed_hash"] == after["mystery_seed_hash"]


async def test_automatic_drop_skips_a_blocked_contributor(tenant: Tenant, engine: Any) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=10, must_drop_at=11)
    await create_player(tenant, "alice")
    await create_player(tenant, "bob")
    await create_player(tenant, "carol")
    r = await tenant.patch("/v1/players/bob/status", {"status": "self_excluded",
                                                      "reason": "player request"})
    assert r.status_code == 200, r.text
    await contribute(tenant, jackpot["id"], "alice", "w1", 0.5)
    reached = body(await contribute(tenant, jackpot["id"], "bob", "w2", 0.8))
    assert reached["amount"] == D("0.50")
    assert reached["dropped"]["winner_username"] == "alice"
    assert reached["dropped"]["contribution_id"] is None
    # a round only the blocked player reached waits, full, for an eligible contributor
    waiting = body(await contribute(tenant, jackpot["id"], "bob", "w3", 2))
    assert waiting["dropped"] is None and waiting["pool"] == D(11) and waiting["amount"] == 1
    assert (await show(tenant, jackpot["id"]))["pool"] == D(11)
    won = body(await contribute(tenant, jackpot["id"], "carol", "w4", 0.1))
    assert won["amount"] == D(0) and won["dropped"]["winner_username"] == "carol"
    assert won["dropped"]["amount"] == D(11)
    assert await pool_in_ledger(engine, tenant, jackpot["id"]) == D(10)
    assert await ledger_problems(engine, tenant) == []


# --- manual drops and money flows ----------------------------------------------------------


async def test_manual_drop_pays_the_last_contributor_or_the_named_winner(
        tenant: Tenant, engine: Any) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=100)
    path = f"/v1/jackpots/{jackpot['id']}/drop"
    await create_player(tenant, "alice")
    await create_player(tenant, "bob")
    assert_error(await tenant.post(path, {}), 409, "NO_CONTRIBUTIONS")
    await contribute(tenant, jackpot["id"], "alice", "w1", 7)
    await contribute(tenant, jackpot["id"], "bob", "w2", 3)
    r = await tenant.post(path, {"idempotency_key": "drop-1"})
    assert r.status_code == 201, r.text
    first = body(r)["drop"]
    assert first["winner_username"] == "bob" and first["amount"] == D(110)
    assert first["trigger_reason"] == "manual" and first["pool_after"] == D(100)
    replay = await tenant.post(path, {"idempotency_key": "drop-1"})
    assert replay.status_code == 200 and body(replay)["drop"] == first
    assert_error(await tenant.post(path, {}), 409, "NO_CONTRIBUTIONS")  # a new round

    await contribute(tenant, jackpot["id"], "bob", "w3", 5)
    named = body(await tenant.post(path, {"winner_user_id": "alice"}))["drop"]
    assert named["winner_username"] == "alice" and named["amount"] == D(105)
    # a blocked player still contributes, but a drop naming them is refused and a
    # default drop passes over them to the most recent eligible contributor
    await tenant.patch("/v1/players/alice/status", {"status": "suspended", "reason": "fraud"})
    await contribute(tenant, jackpot["id"], "bob", "w4", 2)
    await contribute(tenant, jackpot["id"], "alice", "w5", 1)
    assert_error(await tenant.post(path, {"winner_user_id": "alice"}), 403, "PLAYER_BLOCKED")
    assert_error(await tenant.post(path, {"winner_user_id": "nobody"}), 404, "NO_PLAYER")
    assert (await show(tenant, jackpot["id"]))["pool"] == D(103)
    passed_over = body(await tenant.post(path, {}))["drop"]
    assert passed_over["winner_username"] == "bob" and passed_over["amount"] == D(103)
    assert [d["winner_username"] for d in await drops(tenant, jackpot["id"])] == [
        "bob", "alice", "bob"]
    assert await system(engine, tenant, ledger.OPERATOR_PAYOUTS) == D(318)
    assert len(await outbox(engine, tenant.id, "test", "jackpot.dropped")) == 3


async def test_money_flows_differ_for_plug_in_and_white_label(
        client: httpx.AsyncClient, tenant: Tenant, engine: Any) -> None:
    label = await make_tenant(client, "wl", "white_label")
    for owner in (tenant, label):
        jackpot = await make_jackpot(owner, seed_usd=50)
        await create_player(owner, "alice")
        await contribute(owner, jackpot["id"], "alice", "w1", 5)
        r = await owner.post(f"/v1/jackpots/{jackpot['id']}/drop", {})
        assert r.status_code == 201, r.text
        assert await pool_in_ledger(engine, owner, jackpot["id"]) == D(50)
        assert await ledger_problems(engine, owner) == []
    # plug-in: the operator funds seeds and contributions and pays the win itself
    assert await system(engine, tenant, ledger.OPERATOR_SETTLEMENT) == D(-105)
    assert await system(engine, tenant, ledger.OPERATOR_PAYOUTS) == D(55)
    assert (await balances(tenant, "alice"))["real"]["USD"] == 0
    # white-label: the house funds them and the win lands in the player's real balance
    assert await system(engine, label, ledger.HOUSE) == D(-105)
    assert await system(engine, label, ledger.OPERATOR_PAYOUTS) == 0
    assert await system(engine, label, ledger.OPERATOR_SETTLEMENT) == 0
    assert (await balances(label, "alice"))["real"]["USD"] == D(55)


# --- isolation and scopes ------------------------------------------------------------------


async def test_other_tenants_and_the_live_world_cannot_see_a_jackpot(
        client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, engine: Any) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=100)
    await create_player(other_tenant, "alice")
    await create_player(tenant, "alice", mode="live")
    for outsider, mode in ((other_tenant, "test"), (tenant, "live")):
        path = f"/v1/jackpots/{jackpot['id']}"
        assert_error(await outsider.get(path, mode=mode), 404, "NO_JACKPOT")
        assert_error(await outsider.post(f"{path}/contribute", {
            "user_id": "alice", "source_wager_id": "w", "amount": 1}, mode=mode),
            404, "NO_JACKPOT")
        assert_error(await outsider.post(f"{path}/drop", {}, mode=mode), 404, "NO_JACKPOT")
        assert_error(await outsider.patch(path, {"name": "x"}, mode=mode), 404, "NO_JACKPOT")
        assert_error(await outsider.post(f"{path}/pause", mode=mode), 404, "NO_JACKPOT")
        assert_error(await outsider.get(f"{path}/drops", mode=mode), 404, "NO_JACKPOT")
        assert body(await outsider.get("/v1/jackpots", mode=mode))["data"] == []
    assert_error(await tenant.get("/v1/jackpots/not-a-uuid"), 404, "NO_JACKPOT")
    assert (await show(tenant, jackpot["id"]))["pool"] == D(100)


async def test_scopes_guard_configuration_use_and_reading(
        client: httpx.AsyncClient, tenant: Tenant) -> None:
    jackpot = await make_jackpot(tenant, seed_usd=100)
    await create_player(tenant, "alice")
    use = (await create_key(client, tenant, ["engagement:write"]))["key"]
    read = (await create_key(client, tenant, ["engagement:read"]))["key"]
    headers = {"Authorization": f"Bearer {use}"}
    path = f"/v1/jackpots/{jackpot['id']}"
    ok = await client.post(f"{path}/contribute", headers=headers,
                           json={"user_id": "alice", "source_wager_id": "w", "amount": 1})
    assert ok.status_code == 201, ok.text
    for denied in (await client.post(f"{path}/drop", headers=headers, json={}),
                   await client.post("/v1/jackpots", headers=headers,
                                     json={"name": "x", "currency": "USD", "seed_usd": 1}),
                   await client.get("/v1/jackpots", headers=headers)):
        assert_error(denied, 403, "SCOPE_DENIED")
    reader = {"Authorization": f"Bearer {read}"}
    assert (await client.get(f"{path}/drops", headers=reader)).status_code == 200
    assert_error(await client.post(f"{path}/contribute", headers=reader, json={
        "user_id": "alice", "source_wager_id": "w2", "amount": 1}), 403, "SCOPE_DENIED")

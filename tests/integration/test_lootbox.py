"""``/v1/lootbox``: configuration, provably fair opens, costs, refusals and the audit trail."""

from __future__ import annotations

import asyncio
import hashlib
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
from sqlalchemy import text

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
    outbox,
)
from wowsino.engines.lootbox import service
from wowsino.kernel import fairness
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.realm import Mode, Realm

TABLE = [
    {"segment_label": "pocket change", "weight": 70, "asset": "WINZ", "amount": 10},
    {"segment_label": "big win", "weight": 25, "asset": "WINZ", "amount": 100},
    {"segment_label": "xp boost", "weight": 5, "asset": "XP", "amount": 50},
]


async def make_box(tenant: Tenant, table: list[dict[str, Any]] | None = None,
                   **extra: Any) -> dict[str, Any]:
    r = await tenant.post("/v1/lootbox", {"name": "Daily chest", "prize_table": table or TABLE,
                                          **extra})
    assert r.status_code == 201, r.text
    box: dict[str, Any] = body(r)["lootbox"]
    return box


async def commitment(tenant: Tenant, user: str) -> dict[str, Any]:
    r = await tenant.get(f"/v1/players/{user}/fairness")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()["fairness"]
    return found


def canonical_table(shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A published table as its hash covers it: amounts as decimal strings."""
    return [{**s, "weight": int(s["weight"]), "amount": str(s["amount"])} for s in shown]


def assert_recomputes(opened: dict[str, Any], table: list[dict[str, Any]]) -> None:
    """The open's result follows from its published inputs alone."""
    seed = opened["server_seed"]
    assert hashlib.sha256(bytes.fromhex(seed)).hexdigest() == opened["server_seed_hash"]
    weights = [int(s["weight"]) for s in table]
    index = fairness.draw_weighted(seed, opened["client_seed"], weights)
    assert opened["segment_index"] == index
    assert opened["reward"] == {"asset": table[index]["asset"],
                                "amount": Decimal(table[index]["amount"]),
                                "segment_label": table[index]["segment_label"]}
    assert fairness.prize_table_hash(canonical_table(table)) == opened["prize_table_hash"]


async def test_create_lists_the_box_with_its_public_configuration(tenant: Tenant) -> None:
    box = await make_box(tenant, cost_winz=25)
    assert box["name"] == "Daily chest"
    assert box["status"] == "active"
    assert box["cost_winz"] == 25
    assert box["prize_table"] == [{**s, "amount": Decimal(s["amount"])} for s in TABLE]
    assert box["prize_table_hash"] == fairness.prize_table_hash(canonical_table(TABLE))
    listed = body(await tenant.get("/v1/lootbox"))
    assert listed == {"data": [box], "next_cursor": None}
    assert "seed" not in (await tenant.get("/v1/lootbox")).text
    one = await tenant.get(f"/v1/lootbox/{box['id']}")
    assert body(one)["lootbox"] == box


async def test_open_is_recomputable_and_chains_the_players_commitments(
    tenant: Tenant, engine: Any
) -> None:
    box = await make_box(tenant)
    await create_player(tenant, "alice")
    before = await commitment(tenant, "alice")
    assert before["draws"] == 0

    first = await tenant.post(f"/v1/lootbox/{box['id']}/open",
                              {"user_id": "alice", "client_seed": "lucky-7",
                               "idempotency_key": "open-1"})
    assert first.status_code == 201, first.text
    one = body(first)
    assert one["deduped"] is False
    assert one["server_seed_hash"] == before["server_seed_hash"]
    assert one["client_seed"] == "lucky-7"
    assert_recomputes(one, TABLE)

    second = body(await tenant.post(f"/v1/lootbox/{box['id']}/open",
                                    {"user_id": "alice", "idempotency_key": "open-2"}))
    assert second["server_seed_hash"] == one["next_server_seed_hash"]
    assert second["client_seed"] == before["client_seed"]
    assert second["server_seed"] != one["server_seed"]
    assert_recomputes(second, TABLE)

    after = await commitment(tenant, "alice")
    assert after["server_seed_hash"] == second["next_server_seed_hash"]
    assert after["draws"] == 2

    won: dict[str, Decimal] = {"WINZ": Decimal(0), "XP": Decimal(0)}
    for opened in (one, second):
        won[opened["reward"]["asset"]] += opened["reward"]["amount"]
    shown = await balances(tenant, "alice")
    assert shown["winz"]["WINZ"] == won["WINZ"]
    assert shown["xp"]["XP"] == won["XP"]

    events = await outbox(engine, tenant.id, "test", "lootbox.opened")
    assert [e["open_id"] for e in events] == [one["open_id"], second["open_id"]]
    assert events[0]["lootbox_id"] == box["id"]
    assert events[0]["lootbox_name"] == "Daily chest"
    assert events[0]["user"]["username"] == "alice"
    assert events[0]["server_seed_hash"] == one["server_seed_hash"]
    assert events[0]["opened_at"] == one["opened_at"]
    assert {k: Decimal(str(v)) if k == "amount" else v for k, v in
            events[0]["reward"].items()} == one["reward"]


async def test_replay_with_same_key_returns_original_reward_and_moves_no_money(
    tenant: Tenant, engine: Any
) -> None:
    box = await make_box(tenant)
    await create_player(tenant, "alice")
    payload = {"user_id": "alice", "idempotency_key": "once"}
    first = body(await tenant.post(f"/v1/lootbox/{box['id']}/open", payload))
    money = await balances(tenant, "alice")
    seeds = await commitment(tenant, "alice")

    replay = await tenant.post(f"/v1/lootbox/{box['id']}/open", payload)
    assert replay.status_code == 200
    again = body(replay)
    assert again["deduped"] is True
    assert {k: v for k, v in again.items() if k != "deduped"} == \
        {k: v for k, v in first.items() if k != "deduped"}
    assert await balances(tenant, "alice") == money
    assert await commitment(tenant, "alice") == seeds
    assert await count_rows(engine, "lootbox_opens", tenant.id) == 1
    assert len(await outbox(engine, tenant.id, "test", "lootbox.opened")) == 1

    reused = await tenant.post(f"/v1/lootbox/{box['id']}/open",
                               {"user_id": "alice", "idempotency_key": "once",
                                "client_seed": "different"})
    assert_error(reused, 422, "IDEMPOTENCY_KEY_REUSED")


async def test_concurrent_opens_with_one_key_draw_once_and_credit_once(
    tenant: Tenant, engine: Any
) -> None:
    box = await make_box(tenant, [{"segment_label": "sure thing", "weight": 1,
                                   "asset": "WINZ", "amount": 7}])
    await create_player(tenant, "alice")
    payload = {"user_id": "alice", "idempotency_key": "stampede"}
    answers = await asyncio.gather(*[
        tenant.post(f"/v1/lootbox/{box['id']}/open", payload) for _ in range(32)])

    created = [r for r in answers if r.status_code == 201]
    assert len(created) == 1
    original = body(created[0])
    for r in answers:
        if r.status_code == 200:
            assert body(r)["open_id"] == original["open_id"]
            assert body(r)["deduped"] is True
        elif r.status_code != 201:
            assert_error(r, 409, "IDEMPOTENCY_IN_PROGRESS")
    assert await count_rows(engine, "lootbox_opens", tenant.id) == 1
    assert await count_rows(engine, "ledger_entries", tenant.id,
                            where="kind = 'lootbox.open'") == 1
    assert (await commitment(tenant, "alice"))["draws"] == 1
    assert (await balances(tenant, "alice"))["winz"]["WINZ"] == 7


async def test_cost_is_debited_and_insufficient_winz_changes_nothing(
    tenant: Tenant, engine: Any
) -> None:
    box = await make_box(tenant, [{"segment_label": "refund", "weight": 1, "asset": "WINZ",
                                   "amount": 30}], cost_winz=50)
    await create_player(tenant, "alice")
    assert (await adjust(tenant, "alice", 49, rail="winz", asset="WINZ")).status_code == 201
    seeds = await commitment(tenant, "alice")

    short = await tenant.post(f"/v1/lootbox/{box['id']}/open",
                              {"user_id": "alice", "idempotency_key": "pay"})
    assert_error(short, 402, "INSUFFICIENT_WINZ")
    assert (await balances(tenant, "alice"))["winz"]["WINZ"] == 49
    assert await commitment(tenant, "alice") == seeds
    assert await count_rows(engine, "lootbox_opens", tenant.id) == 0
    assert await outbox(engine, tenant.id, "test", "lootbox.opened") == []

    assert (await adjust(tenant, "alice", 1, rail="winz", asset="WINZ")).status_code == 201
    paid = await tenant.post(f"/v1/lootbox/{box['id']}/open",
                             {"user_id": "alice", "idempotency_key": "pay"})
    assert paid.status_code == 201, paid.text
    opened = body(paid)
    assert opened["cost_winz"] == 50
    assert opened["server_seed_hash"] == seeds["server_seed_hash"]
    assert (await balances(tenant, "alice"))["winz"]["WINZ"] == 30
    assert await count_rows(engine, "ledger_entries", tenant.id,
                            where="kind = 'lootbox.cost'") == 1


async def test_paused_box_answers_409_not_active_until_resumed(tenant: Tenant) -> None:
    box = await make_box(tenant)
    await create_player(tenant, "alice")
    paused = await tenant.post(f"/v1/lootbox/{box['id']}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["lootbox"]["status"] == "paused"
    assert (await tenant.get("/v1/lootbox?status=paused")).json()["data"][0]["id"] == box["id"]
    assert (await tenant.get("/v1/lootbox?status=active")).json()["data"] == []

    refused = await tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "alice"})
    assert_error(refused, 409, "NOT_ACTIVE")
    assert (await commitment(tenant, "alice"))["draws"] == 0

    resumed = await tenant.post(f"/v1/lootbox/{box['id']}/resume")
    assert resumed.json()["lootbox"]["status"] == "active"
    assert (await tenant.post(f"/v1/lootbox/{box['id']}/open",
                              {"user_id": "alice"})).status_code == 201


async def test_blocked_player_is_refused_403_and_nothing_moves(
    tenant: Tenant, engine: Any
) -> None:
    box = await make_box(tenant, cost_winz=5)
    await create_player(tenant, "alice")
    assert (await adjust(tenant, "alice", 100, rail="winz", asset="WINZ")).status_code == 201
    r = await tenant.patch("/v1/players/alice/status",
                           {"status": "self_excluded", "reason": "asked for a break"})
    assert r.status_code == 200, r.text
    seeds = await commitment(tenant, "alice")
    entries = await count_rows(engine, "ledger_entries", tenant.id)

    refused = await tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "alice"})
    assert_error(refused, 403, "PLAYER_BLOCKED")
    assert (await balances(tenant, "alice"))["winz"]["WINZ"] == 100
    assert await commitment(tenant, "alice") == seeds
    assert await count_rows(engine, "ledger_entries", tenant.id) == entries
    assert await count_rows(engine, "lootbox_opens", tenant.id) == 0
    assert await outbox(engine, tenant.id, "test", "lootbox.opened") == []


async def test_unknown_box_or_player_is_404(tenant: Tenant) -> None:
    box = await make_box(tenant)
    await create_player(tenant, "alice")
    for ref in (str(uuid4()), "not-a-uuid"):
        assert_error(await tenant.post(f"/v1/lootbox/{ref}/open", {"user_id": "alice"}),
                     404, "NO_LOOTBOX")
        assert_error(await tenant.get(f"/v1/lootbox/{ref}"), 404, "NO_LOOTBOX")
        assert_error(await tenant.patch(f"/v1/lootbox/{ref}", {"name": "x"}), 404, "NO_LOOTBOX")
        assert_error(await tenant.post(f"/v1/lootbox/{ref}/pause"), 404, "NO_LOOTBOX")
    assert_error(await tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "nobody"}),
                 404, "NO_PLAYER")


async def test_patching_the_table_changes_its_hash_and_each_open_keeps_its_own(
    tenant: Tenant, engine: Any
) -> None:
    box = await make_box(tenant)
    await create_player(tenant, "alice")
    first = body(await tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "alice"}))
    new_table = [{"segment_label": "jackpot", "weight": 1, "asset": "WINZ", "amount": 1000},
                 {"segment_label": "nothing", "weight": 3, "asset": "WINZ", "amount": 0}]
    patched = await tenant.patch(f"/v1/lootbox/{box['id']}",
                                 {"prize_table": new_table, "name": "Weekly chest"})
    assert patched.status_code == 200, patched.text
    changed = body(patched)["lootbox"]
    assert changed["name"] == "Weekly chest"
    assert changed["prize_table_hash"] != box["prize_table_hash"]
    assert changed["prize_table_hash"] == fairness.prize_table_hash(canonical_table(new_table))
    second = body(await tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "alice"}))
    assert first["prize_table_hash"] == box["prize_table_hash"]
    assert second["prize_table_hash"] == changed["prize_table_hash"]
    assert_recomputes(second, new_table)

    history = body(await tenant.get(f"/v1/lootbox/{box['id']}/opens?user_id=alice"))
    assert [o["open_id"] for o in history["data"]] == [second["open_id"], first["open_id"]]
    for row in history["data"]:
        assert_recomputes(row, row["prize_table"])
    assert history["data"][1]["prize_table"] == [
        {**s, "amount": Decimal(s["amount"])} for s in TABLE]
    actions = await _audit_actions(engine, tenant.id, box["id"])
    assert actions == ["lootbox.created", "lootbox.updated"]


async def _audit_actions(engine: Any, tenant_id: str, target: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT action FROM audit_log WHERE tenant_id = CAST(:t AS uuid) "
                 "AND target_id = :target ORDER BY id"), {"t": tenant_id, "target": target})
        return [r.action for r in rows]


async def test_pause_and_resume_are_audited(tenant: Tenant, engine: Any) -> None:
    box = await make_box(tenant)
    await tenant.post(f"/v1/lootbox/{box['id']}/pause")
    await tenant.post(f"/v1/lootbox/{box['id']}/resume")
    assert await _audit_actions(engine, tenant.id, box["id"]) == [
        "lootbox.created", "lootbox.paused", "lootbox.active"]


async def test_bad_configuration_is_400_naming_the_field_and_creates_nothing(
    tenant: Tenant,
) -> None:
    cases = [
        ({"prize_table": TABLE}, "name"),
        ({"name": "x", "prize_table": []}, "prize_table"),
        ({"name": "x", "prize_table": [{**TABLE[0], "weight": 1.5}]}, "prize_table[0].weight"),
        ({"name": "x", "prize_table": [{**TABLE[0], "asset": "USD"}]}, "prize_table[0].asset"),
        ({"name": "x", "prize_table": [TABLE[0], {**TABLE[1], "amount": -3}]},
         "prize_table[1].amount"),
        ({"name": "x", "prize_table": [{**TABLE[0], "weight": 0}]}, "prize_table"),
        ({"name": "x", "prize_table": TABLE, "cost_winz": 1.5}, "cost_winz"),
        ({"name": "x", "prize_table": TABLE, "cost_winz": -1}, "cost_winz"),
        ({"name": "x", "prize_table": TABLE, "colour": "red"}, "colour"),
    ]
    for payload, field in cases:
        assert_validation(await tenant.post("/v1/lootbox", payload), field)
    assert (await tenant.get("/v1/lootbox")).json()["data"] == []
    box = await make_box(tenant)
    assert_validation(await tenant.patch(f"/v1/lootbox/{box['id']}", {"name": None}), "name")
    assert_validation(await tenant.post(f"/v1/lootbox/{box['id']}/open",
                                        {"user_id": "alice", "client_seed": ""}), "client_seed")
    assert body(await tenant.get(f"/v1/lootbox/{box['id']}"))["lootbox"] == box


async def test_scopes_guard_configuration_use_and_reads(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    box = await make_box(tenant)
    await create_player(tenant, "alice")
    user = bearer((await create_key(client, tenant, ["engagement:write"]))["key"])
    reader = bearer((await create_key(client, tenant, ["engagement:read"]))["key"])
    assert_error(await client.post("/v1/lootbox", headers=user,
                                   json={"name": "x", "prize_table": TABLE}), 403, "SCOPE_DENIED")
    assert_error(await client.post(f"/v1/lootbox/{box['id']}/pause", headers=user),
                 403, "SCOPE_DENIED")
    assert_error(await client.get("/v1/lootbox", headers=user), 403, "SCOPE_DENIED")
    opened = await client.post(f"/v1/lootbox/{box['id']}/open", headers=user,
                               json={"user_id": "alice"})
    assert opened.status_code == 201, opened.text
    assert (await client.get("/v1/lootbox", headers=reader)).status_code == 200
    assert (await client.get(f"/v1/lootbox/{box['id']}/opens", headers=reader)).status_code == 200
    assert_error(await client.post(f"/v1/lootbox/{box['id']}/open", headers=reader,
                                   json={"user_id": "alice"}), 403, "SCOPE_DENIED")


async def test_tenants_and_modes_never_see_each_others_boxes(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    box = await make_box(tenant)
    await create_player(other_tenant, "alice")
    await create_player(tenant, "alice", mode="live")
    assert (await other_tenant.get("/v1/lootbox")).json()["data"] == []
    assert (await tenant.get("/v1/lootbox", mode="live")).json()["data"] == []
    assert_error(await other_tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "alice"}),
                 404, "NO_LOOTBOX")
    assert_error(await tenant.post(f"/v1/lootbox/{box['id']}/open", {"user_id": "alice"},
                                   mode="live"), 404, "NO_LOOTBOX")
    assert_error(await other_tenant.patch(f"/v1/lootbox/{box['id']}", {"name": "mine"}),
                 404, "NO_LOOTBOX")


async def test_listings_page_with_a_cursor(tenant: Tenant) -> None:
    made = [await make_box(tenant) for _ in range(3)]
    await create_player(tenant, "alice")
    first = (await tenant.get("/v1/lootbox?limit=2")).json()
    assert [b["id"] for b in first["data"]] == [made[2]["id"], made[1]["id"]]
    rest = (await tenant.get(f"/v1/lootbox?limit=2&cursor={first['next_cursor']}")).json()
    assert [b["id"] for b in rest["data"]] == [made[0]["id"]]
    assert rest["next_cursor"] is None
    assert_validation(await tenant.get("/v1/lootbox?cursor=garbage"), "cursor")

    opens = [body(await tenant.post(f"/v1/lootbox/{made[0]['id']}/open",
                                    {"user_id": "alice"}))["open_id"] for _ in range(3)]
    page1 = (await tenant.get(f"/v1/lootbox/{made[0]['id']}/opens?limit=2")).json()
    page2 = (await tenant.get(f"/v1/lootbox/{made[0]['id']}/opens?limit=2"
                              f"&cursor={page1['next_cursor']}")).json()
    assert [o["open_id"] for o in page1["data"] + page2["data"]] == opens[::-1]
    assert_error(await tenant.get(f"/v1/lootbox/{made[0]['id']}/opens?user_id=ghost"),
                 404, "NO_PLAYER")


async def test_a_thousand_service_draws_recompute_with_the_standalone_module(
    tenant: Tenant, engine: Any, clock: ManualClock
) -> None:
    box = await make_box(tenant)
    realm = Realm(UUID(tenant.id), Mode.TEST)
    weights = [s["weight"] for s in TABLE]
    names = [f"player{n}" for n in range(4)]
    for name in names:
        await create_player(tenant, name)

    async def open_many(name: str) -> list[dict[str, Any]]:
        async def work(conn: Any) -> list[dict[str, Any]]:
            return [await service.open_lootbox(
                conn, realm=realm, brand_id=UUID(tenant.brand_id), ref=box["id"],
                user_ref=name, client_seed=f"round-{i}" if i % 2 else None, at=clock.now())
                for i in range(250)]
        return await unit_of_work(engine, work)

    chains = await asyncio.gather(*[open_many(name) for name in names])
    tally = [0] * len(TABLE)
    for name, opened in zip(names, chains, strict=True):
        previous = None
        for o in opened:
            assert fairness.hash_seed(o["server_seed"]) == o["server_seed_hash"]
            index = fairness.draw_weighted(o["server_seed"], o["client_seed"], weights)
            assert index == o["segment_index"]
            assert o["reward"]["segment_label"] == TABLE[index]["segment_label"]
            if previous is not None:
                assert o["server_seed_hash"] == previous["next_server_seed_hash"]
            previous = o
            tally[index] += 1
        assert (await commitment(tenant, name))["server_seed_hash"] == \
            opened[-1]["next_server_seed_hash"]
    assert sum(tally) == 1000
    assert len({o["server_seed"] for opened in chains for o in opened}) == 1000
    # 70/25/5 over 1,000 draws: every segment comes up, the commonest most often
    assert tally[0] > tally[1] > tally[2] > 0

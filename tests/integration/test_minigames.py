"""``/v1/mini-games``: configuration, provably fair plays, daily limits, costs and refusals."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from tests.conftest import Tenant
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    balances,
    body,
    count_rows,
    create_player,
    outbox,
)
from wowsino.kernel import fairness
from wowsino.kernel.clock import ManualClock

WHEEL = [
    {"segment_label": "10 WINZ", "weight": 50, "asset": "WINZ", "amount": 10},
    {"segment_label": "50 WINZ", "weight": 30, "asset": "WINZ", "amount": 50},
    {"segment_label": "25 XP", "weight": 15, "asset": "XP", "amount": 25},
    {"segment_label": "try again", "weight": 5, "asset": "WINZ", "amount": 0},
]


async def make_game(tenant: Tenant, kind: str = "wheel", **extra: Any) -> dict[str, Any]:
    r = await tenant.post("/v1/mini-games", {"name": "Wheel of WINZ", "kind": kind,
                                             "prize_table": WHEEL, **extra})
    assert r.status_code == 201, r.text
    game: dict[str, Any] = body(r)["mini_game"]
    return game


async def play(tenant: Tenant, game: dict[str, Any], user: str = "alice",
               **extra: Any) -> dict[str, Any]:
    r = await tenant.post(f"/v1/mini-games/{game['id']}/play", {"user_id": user, **extra})
    assert r.status_code == 201, r.text
    played: dict[str, Any] = body(r)
    return played


async def commitment(tenant: Tenant, user: str) -> dict[str, Any]:
    found: dict[str, Any] = (await tenant.get(f"/v1/players/{user}/fairness")).json()["fairness"]
    return found


def assert_recomputes(played: dict[str, Any], table: list[dict[str, Any]]) -> None:
    seed = played["server_seed"]
    assert hashlib.sha256(bytes.fromhex(seed)).hexdigest() == played["server_seed_hash"]
    index = fairness.draw_weighted(seed, played["client_seed"], [s["weight"] for s in table])
    assert played["outcome"] == {
        "segment_label": table[index]["segment_label"], "segment_index": index,
        "reward": {"asset": table[index]["asset"], "amount": Decimal(table[index]["amount"])}}
    canonical = [{**s, "amount": str(s["amount"])} for s in table]
    assert fairness.prize_table_hash(canonical) == played["prize_table_hash"]


async def test_create_lists_the_game_with_kind_and_limits(tenant: Tenant) -> None:
    game = await make_game(tenant, kind="scratch", cost_winz=5, plays_per_day=3)
    assert game["kind"] == "scratch"
    assert game["status"] == "active"
    assert game["cost_winz"] == 5
    assert game["plays_per_day"] == 3
    assert game["prize_table_hash"] == fairness.prize_table_hash(
        [{**s, "amount": str(s["amount"])} for s in WHEEL])
    assert body(await tenant.get("/v1/mini-games")) == {"data": [game], "next_cursor": None}
    assert body(await tenant.get(f"/v1/mini-games/{game['id']}"))["mini_game"] == game
    free = await make_game(tenant, kind="pick")
    assert free["cost_winz"] == 0
    assert free["plays_per_day"] is None


async def test_play_is_recomputable_and_reveals_the_committed_seed(
    tenant: Tenant, engine: Any
) -> None:
    game = await make_game(tenant)
    await create_player(tenant, "alice")
    before = await commitment(tenant, "alice")

    first = await play(tenant, game, client_seed="my-seed")
    assert first["deduped"] is False
    assert first["server_seed_hash"] == before["server_seed_hash"]
    assert first["client_seed"] == "my-seed"
    assert_recomputes(first, WHEEL)
    second = await play(tenant, game)
    assert second["server_seed_hash"] == first["next_server_seed_hash"]
    assert second["client_seed"] == before["client_seed"]
    assert_recomputes(second, WHEEL)
    assert (await commitment(tenant, "alice"))["server_seed_hash"] == \
        second["next_server_seed_hash"]

    won = {"WINZ": Decimal(0), "XP": Decimal(0)}
    for played in (first, second):
        won[played["outcome"]["reward"]["asset"]] += played["outcome"]["reward"]["amount"]
    shown = await balances(tenant, "alice")
    assert (shown["winz"]["WINZ"], shown["xp"]["XP"]) == (won["WINZ"], won["XP"])

    events = await outbox(engine, tenant.id, "test", "mini_game.played")
    assert [e["play_id"] for e in events] == [first["play_id"], second["play_id"]]
    assert events[0]["mini_game_id"] == game["id"]
    assert events[0]["user"]["username"] == "alice"
    assert events[0]["server_seed_hash"] == first["server_seed_hash"]
    assert events[0]["outcome"]["segment_label"] == first["outcome"]["segment_label"]


async def test_replay_with_same_key_returns_original_outcome_and_moves_no_money(
    tenant: Tenant, engine: Any
) -> None:
    game = await make_game(tenant, plays_per_day=1)
    await create_player(tenant, "alice")
    first = await play(tenant, game, idempotency_key="spin-1")
    money = await balances(tenant, "alice")
    replay = await tenant.post(f"/v1/mini-games/{game['id']}/play",
                               {"user_id": "alice", "idempotency_key": "spin-1"})
    assert replay.status_code == 200
    assert body(replay) == {**first, "deduped": True}
    assert await balances(tenant, "alice") == money
    assert await count_rows(engine, "mini_game_plays", tenant.id) == 1
    assert len(await outbox(engine, tenant.id, "test", "mini_game.played")) == 1


async def test_plays_per_day_is_enforced_per_player_and_game_and_resets_at_utc_midnight(
    tenant: Tenant, clock: ManualClock, engine: Any
) -> None:
    game = await make_game(tenant, plays_per_day=2)
    other_game = await make_game(tenant, plays_per_day=2)
    await create_player(tenant, "alice")
    await create_player(tenant, "bob")
    assert (await play(tenant, game))["plays_left_today"] == 1
    assert (await play(tenant, game))["plays_left_today"] == 0
    seeds = await commitment(tenant, "alice")

    refused = await tenant.post(f"/v1/mini-games/{game['id']}/play", {"user_id": "alice"})
    payload = assert_error(refused, 409, "PLAY_LIMIT_REACHED")
    assert payload["details"]["plays_per_day"] == 2
    assert payload["details"]["resets_at"] == "2026-01-02T00:00:00Z"
    assert await commitment(tenant, "alice") == seeds
    assert await count_rows(engine, "mini_game_plays", tenant.id) == 2

    await play(tenant, game, user="bob")
    await play(tenant, other_game)
    clock.advance(timedelta(hours=11, minutes=59))  # 23:59 UTC, still the same day
    assert_error(await tenant.post(f"/v1/mini-games/{game['id']}/play", {"user_id": "alice"}),
                 409, "PLAY_LIMIT_REACHED")
    clock.advance(timedelta(minutes=1))
    assert (await play(tenant, game))["plays_left_today"] == 1

    unlimited = await tenant.patch(f"/v1/mini-games/{game['id']}", {"plays_per_day": None})
    assert body(unlimited)["mini_game"]["plays_per_day"] is None
    for _ in range(3):
        assert (await play(tenant, game))["plays_left_today"] is None


async def test_concurrent_plays_with_distinct_keys_never_exceed_the_daily_limit(
    tenant: Tenant, engine: Any
) -> None:
    game = await make_game(tenant, plays_per_day=3)
    await create_player(tenant, "alice")
    answers = await asyncio.gather(*[
        tenant.post(f"/v1/mini-games/{game['id']}/play",
                    {"user_id": "alice", "idempotency_key": f"spin-{i}"}) for i in range(12)])
    assert sorted(r.status_code for r in answers) == [201] * 3 + [409] * 9
    for r in answers:
        if r.status_code == 409:
            assert_error(r, 409, "PLAY_LIMIT_REACHED")
    assert await count_rows(engine, "mini_game_plays", tenant.id) == 3
    assert (await commitment(tenant, "alice"))["draws"] == 3


async def test_cost_is_debited_and_insufficient_winz_changes_nothing(
    tenant: Tenant, engine: Any
) -> None:
    game = await make_game(tenant, cost_winz=20)
    await create_player(tenant, "alice")
    seeds = await commitment(tenant, "alice")
    assert_error(await tenant.post(f"/v1/mini-games/{game['id']}/play", {"user_id": "alice"}),
                 402, "INSUFFICIENT_WINZ")
    assert await commitment(tenant, "alice") == seeds
    assert await count_rows(engine, "mini_game_plays", tenant.id) == 0
    assert await count_rows(engine, "ledger_entries", tenant.id) == 0

    assert (await adjust(tenant, "alice", 20, rail="winz", asset="WINZ")).status_code == 201
    played = await play(tenant, game)
    assert played["cost_winz"] == 20
    reward = played["outcome"]["reward"]
    expected = reward["amount"] if reward["asset"] == "WINZ" else 0
    assert (await balances(tenant, "alice"))["winz"]["WINZ"] == expected


async def test_paused_game_is_409_blocked_player_is_403_unknown_is_404(
    tenant: Tenant, engine: Any
) -> None:
    game = await make_game(tenant)
    await create_player(tenant, "alice")
    await create_player(tenant, "bob")
    assert (await tenant.post(f"/v1/mini-games/{game['id']}/pause")).json()["mini_game"][
        "status"] == "paused"
    assert_error(await tenant.post(f"/v1/mini-games/{game['id']}/play", {"user_id": "alice"}),
                 409, "NOT_ACTIVE")
    await tenant.post(f"/v1/mini-games/{game['id']}/resume")

    r = await tenant.patch("/v1/players/bob/status", {"status": "fraud_hold", "reason": "x"})
    assert r.status_code == 200, r.text
    seeds = await commitment(tenant, "bob")
    assert_error(await tenant.post(f"/v1/mini-games/{game['id']}/play", {"user_id": "bob"}),
                 403, "PLAYER_BLOCKED")
    assert await commitment(tenant, "bob") == seeds
    assert await balances(tenant, "bob") == {"real": {"USD": 0}, "bonus": {"USD": 0},
                                             "winz": {"WINZ": 0}, "xp": {"XP": 0}}

    for ref in (str(uuid4()), "wheel"):
        assert_error(await tenant.post(f"/v1/mini-games/{ref}/play", {"user_id": "alice"}),
                     404, "NO_MINI_GAME")
        assert_error(await tenant.get(f"/v1/mini-games/{ref}"), 404, "NO_MINI_GAME")
        assert_error(await tenant.post(f"/v1/mini-games/{ref}/resume"), 404, "NO_MINI_GAME")
    assert await count_rows(engine, "mini_game_plays", tenant.id) == 0


async def test_bad_configuration_is_400_naming_the_field(tenant: Tenant) -> None:
    base = {"name": "Wheel", "kind": "wheel", "prize_table": WHEEL}
    cases = [
        ({**base, "kind": "slot"}, "kind"),
        ({k: v for k, v in base.items() if k != "kind"}, "kind"),
        ({**base, "plays_per_day": 0}, "plays_per_day"),
        ({**base, "plays_per_day": 2.5}, "plays_per_day"),
        ({**base, "prize_table": [{"segment_label": "", "weight": 1, "asset": "WINZ",
                                   "amount": 1}]}, "prize_table[0].segment_label"),
        ({**base, "cost_winz": "ten"}, "cost_winz"),
    ]
    for payload, field in cases:
        assert_validation(await tenant.post("/v1/mini-games", payload), field)
    assert (await tenant.get("/v1/mini-games")).json()["data"] == []
    game = await make_game(tenant)
    assert_validation(await tenant.patch(f"/v1/mini-games/{game['id']}", {"kind": None}), "kind")


async def test_patch_changes_the_table_hash_and_plays_list_the_table_they_used(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    game = await make_game(tenant)
    await create_player(tenant, "alice")
    first = await play(tenant, game)
    sure = [{"segment_label": "sure", "weight": 1, "asset": "XP", "amount": 5}]
    patched = body(await tenant.patch(f"/v1/mini-games/{game['id']}",
                                      {"prize_table": sure, "kind": "pick"}))["mini_game"]
    assert patched["kind"] == "pick"
    assert patched["prize_table_hash"] != game["prize_table_hash"]
    second = await play(tenant, game)
    assert second["prize_table_hash"] == patched["prize_table_hash"]
    assert second["outcome"]["reward"] == {"asset": "XP", "amount": 5}

    plays = body(await tenant.get(f"/v1/mini-games/{game['id']}/plays?user_id=alice"))["data"]
    assert [p["play_id"] for p in plays] == [second["play_id"], first["play_id"]]
    for row in plays:
        table = [{**s, "weight": int(s["weight"])} for s in row["prize_table"]]
        assert_recomputes(row, table)
    assert_error(await other_tenant.get(f"/v1/mini-games/{game['id']}/plays"), 404,
                 "NO_MINI_GAME")

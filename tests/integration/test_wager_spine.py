"""The wager spine over HTTP: one path for single events and batches, deduped on
``source_wager_id``, every consumer in one transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import text

from tests.conftest import Tenant
from tests.integration import vip_support as vip
from tests.integration.bonus_support import bonuses_of, template
from tests.integration.support import assert_error, assert_validation, body, create_player
from wowsino.events import service
from wowsino.kernel import db
from wowsino.kernel.jsonio import loads
from wowsino.kernel.realm import Mode, Realm


def wager(n: int | str, amount: str = "1.00", **extra: Any) -> dict[str, Any]:
    return {"user_id": "alice", "source_wager_id": f"w-{n}", "amount": amount,
            "currency": "USD", **extra}


async def activity(engine: Any, username: str = "alice") -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT a.wager_count, a.total_wagered, a.total_won, a.deposit_count, "
            "a.total_deposited, a.first_deposit_at FROM player_stats a JOIN players p "
            "ON p.tenant_id = a.tenant_id AND p.id = a.player_id WHERE p.username = :u "
            "AND a.mode = 'test'"), {"u": username})).first()
    return {} if row is None else dict(row._mapping)


async def test_a_wager_is_recorded_once_and_counted_in_the_activity_stats(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/events/wager", wager(1, "2.50", win_amount="1.00",
                                                     game_category="slots"))
    assert r.status_code == 201, r.text
    first = body(r)
    assert first["deduped"] is False
    assert set(first["effects"]) == {"bonus_wagering", "drops", "jackpots", "tournaments",
                                     "vip", "journeys"}
    again = await tenant.post("/v1/events/wager", wager(1, "2.50", win_amount="1.00",
                                                         game_category="slots"))
    assert again.status_code == 200, again.text
    assert body(again)["deduped"] is True
    assert body(again)["effects"] == first["effects"]
    # stored as written: the replay answers the effects in the order first answered
    assert list(body(again)["effects"]) == list(first["effects"])
    stats = await activity(engine)
    assert (stats["wager_count"], stats["total_wagered"], stats["total_won"]) == (1, 250, 100)


async def test_the_same_source_id_with_other_content_is_refused_and_changes_nothing(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    assert (await tenant.post("/v1/events/wager", wager(1))).status_code == 201
    r = await tenant.post("/v1/events/wager", wager(1, "9.00"))
    assert_error(r, 409, "SOURCE_ID_REUSED")
    assert (await activity(engine))["total_wagered"] == 100


async def test_bad_wagers_are_400_naming_the_field_and_unknown_players_404(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    assert_validation(await tenant.post("/v1/events/wager", wager(1, "1.001")), "amount")
    assert_validation(await tenant.post("/v1/events/wager", wager(1, "0")), "amount")
    assert_validation(await tenant.post("/v1/events/wager", wager(1, currency="WINZ")),
                      "currency")
    assert_validation(await tenant.post("/v1/events/wager", wager(1, game_category="bingo")),
                      "game_category")
    assert_validation(await tenant.post("/v1/events/wager", wager(1, win_amount="-1")),
                      "win_amount")
    assert_error(await tenant.post("/v1/events/wager", {**wager(1), "user_id": "nobody"}),
                 404, "NO_PLAYER")


async def test_a_batch_reports_each_event_and_refused_events_do_not_refuse_the_batch(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    events = [wager(1), wager(2, "1.234"), {**wager(3), "user_id": "nobody"}, wager(1),
              wager(1, "5.00"), {"amount": "1"}, wager(4, "3.00")]
    r = await tenant.post("/v1/events/wager:batch", {"events": events})
    assert r.status_code == 201, r.text
    results = body(r)["results"]
    assert [x["status"] for x in results] == [201, 400, 404, 200, 409, 400, 201]
    assert results[1]["details"]["field"] == "amount"
    assert results[4]["code"] == "SOURCE_ID_REUSED"
    assert results[3]["deduped"] is True
    assert (await activity(engine))["total_wagered"] == 400
    assert_validation(await tenant.post("/v1/events/wager:batch", {"events": []}), "events")


async def test_a_rollback_takes_the_wager_out_of_the_stats_once(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await tenant.post("/v1/events/wager", wager(1, "3.00"))
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": "w-1"})
    assert r.status_code == 201, r.text
    assert body(r)["already_rolled_back"] is False
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": "w-1"})
    assert body(r)["already_rolled_back"] is True
    assert (await activity(engine))["total_wagered"] == 0
    assert_error(await tenant.post("/v1/events/wager-rollback", {"source_wager_id": "nope"}),
                 404, "NO_WAGER")


async def test_a_deposit_counts_and_marks_the_first_deposit(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    d = {"user_id": "alice", "source_deposit_id": "d-1", "amount": "20.00", "currency": "USD"}
    r = await tenant.post("/v1/events/deposit", d)
    assert r.status_code == 201, r.text
    assert body(r)["triggers"] == ["deposit", "first_deposit"]
    again = await tenant.post("/v1/events/deposit", d)
    assert again.status_code == 200 and body(again)["deduped"] is True
    assert_error(await tenant.post("/v1/events/deposit", {**d, "amount": "21.00"}),
                 409, "SOURCE_ID_REUSED")
    r = await tenant.post("/v1/events/deposit", {**d, "source_deposit_id": "d-2"})
    assert body(r)["triggers"] == ["deposit"]
    stats = await activity(engine)
    assert (stats["deposit_count"], stats["total_deposited"]) == (2, 4000)
    assert stats["first_deposit_at"] is not None


async def test_jackpot_pools_with_a_rate_take_their_share_of_each_wager(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/jackpots", {"name": "Pot", "currency": "USD", "seed_usd": 50,
                                           "contribution_pct": 1})
    jackpot_id = r.json()["jackpot"]["id"]
    await tenant.post("/v1/jackpots", {"name": "No rate", "currency": "USD", "seed_usd": 5})
    r = await tenant.post("/v1/events/wager", wager(1, "10.00"))
    [effect] = body(r)["effects"]["jackpots"]
    assert effect["jackpot_id"] == jackpot_id
    assert effect["contribution"] == Decimal("0.10")
    r = await tenant.post("/v1/events/wager:batch",
                          {"events": [wager(n, "100.00") for n in range(2, 12)]})
    assert all(x["status"] == 201 for x in body(r)["results"])
    pool = body(await tenant.get(f"/v1/jackpots/{jackpot_id}"))["jackpot"]["pool"]
    assert pool == Decimal("60.10")
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": "w-1"})
    assert body(r)["effects"]["jackpots"][0]["kept"] is True
    pool = body(await tenant.get(f"/v1/jackpots/{jackpot_id}"))["jackpot"]["pool"]
    assert pool == Decimal("60.10")


async def test_a_contribution_the_pool_cannot_take_is_that_wagers_effect_not_the_batchs(
    tenant: Tenant,
) -> None:
    await create_player(tenant, "alice")
    r = await tenant.post("/v1/jackpots", {"name": "Brim", "currency": "USD",
                                           "seed_usd": "9999999999999.00",
                                           "contribution_pct": 100})
    assert r.status_code == 201, r.text
    r = await tenant.post("/v1/events/wager:batch", {"events": [
        {"user_id": "alice", "source_wager_id": "brim-1", "amount": "10.00", "currency": "USD"},
    ]})
    assert r.status_code == 201, r.text
    (result,) = r.json()["results"]
    (effect,) = result["effects"]["jackpots"]
    assert effect["code"] == "VALIDATION_ERROR" and effect["contribution"] is None, r.text


async def test_a_first_use_that_loses_the_race_for_its_id_is_retried_as_a_replay(
    tenant: Tenant, engine: Any,
) -> None:
    """A wager's row is written last: a transaction that read the id as free while another
    was recording it loses the race on the key, and its retry answers the replay. (With
    VIP on and a bonus to wager, the wager's XP and progress rows come before its own; the
    XP row's reference to the wager holds at commit.)"""
    await create_player(tenant, "alice")
    await vip.configure(tenant)
    made = await template(tenant, name="Race", amount="10.00", wagering_multiple=10)
    granted = await tenant.post("/v1/bonuses/grant", {"player_id": "alice",
                                                      "template": made["id"]})
    assert granted.status_code == 201, granted.text
    realm = Realm(UUID(tenant.id), Mode.TEST)

    async def record(conn: Any) -> list[dict[str, Any]]:
        return await service.record_wagers(
            conn, realm=realm, brand_id=UUID(tenant.brand_id), service_mode="plug_in",
            events=[wager("raced", "2.00", game_category="slots")], at=datetime.now(UTC))

    retried = db.RETRIES["23505"]
    async with engine.begin() as first:
        [mine] = await record(first)
        second = asyncio.create_task(db.unit_of_work(engine, record))
        await asyncio.sleep(0.5)  # it reads the id as free, then waits on the first's rows
        assert not second.done()
    [theirs] = await second
    assert (mine["status"], mine["deduped"]) == (201, False)
    assert (theirs["status"], theirs["deduped"]) == (200, True)
    assert theirs["effects"] == loads(mine["effects"].encoded_json)
    assert db.RETRIES["23505"] == retried + 1
    stats = await activity(engine)
    assert (stats["wager_count"], stats["total_wagered"]) == (1, 200)
    assert mine["effects"].encoded_json.count('"xp":') == 1
    assert await vip.cached_xp(engine, "alice") == theirs["effects"]["vip"][0]["xp"]
    [progress] = theirs["effects"]["bonus_wagering"]
    assert progress["wagering_completed"] == Decimal("2.00")
    assert [b["wagering_completed"] for b in await bonuses_of(tenant)] == [Decimal("2.00")]

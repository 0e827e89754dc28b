"""Closing tournaments: the prize table paid once in balanced entries (by hand, by the
worker at ``ends_at``, both at once), ``tournament.closed``, recurring series, and
players held by responsible gambling kept out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import text

from tests.conftest import ADMIN, Tenant, make_tenant
from tests.integration.bonus_support import ledger_problems
from tests.integration.support import (
    assert_error,
    balances,
    body,
    count_rows,
    create_player,
    outbox,
    unthrottle,
)
from tests.integration.tournament_support import (
    make_tournament,
    score,
    show,
    standings,
    wager,
    window,
)
from wowsino.kernel import ledger
from wowsino.kernel.clock import ManualClock, iso
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Mode, Realm
from wowsino.worker import Worker

D = Decimal
PRIZES = [{"rank_from": 1, "rank_to": 1, "prize": {"asset": "WINZ", "amount": 1000}},
          {"rank_from": 2, "rank_to": 2, "prize": {"asset": "USD", "amount": "50.00"}},
          {"rank_from": 3, "rank_to": 5, "prize": {"asset": "XP", "amount": 100}}]


async def played(tenant: Tenant, clock: ManualClock, **fields: Any) -> dict[str, Any]:
    """A running tournament where carol (9.00), alice (5.00) and bob (1.00) played."""
    for name in ("alice", "bob", "carol"):
        await create_player(tenant, name)
    race = await make_tournament(tenant, clock, prize_table=PRIZES, **fields)
    for user, amount in (("alice", "5.00"), ("bob", "1.00"), ("carol", "9.00")):
        await wager(tenant, user, f"w-{user}", amount)
    return race


async def operator_payouts(engine: Any, tenant: Tenant) -> int:
    async with engine.connect() as conn:
        return await ledger.system_balance(
            conn, Realm(UUID(tenant.id), Mode.TEST),
            ledger.Account.system(ledger.OPERATOR_PAYOUTS, Rail.REAL, "USD"))


async def test_a_close_pays_the_prize_table_in_balanced_entries_and_announces_it(
    tenant: Tenant, clock: ManualClock, engine: Any,
) -> None:
    race = await played(tenant, clock)
    r = await tenant.post(f"/v1/tournaments/{race['id']}/close")
    assert r.status_code == 201, r.text
    closed = body(r)
    assert closed["tournament"]["status"] == "closed"
    assert closed["tournament"]["total_paid"] == {"USD": D("50.00"), "WINZ": D(1000),
                                                  "XP": D(100)}
    assert [(p["rank"], p["user"]["username"], p["status"]) for p in closed["payouts"]] == [
        (1, "carol", "paid"), (2, "alice", "paid"), (3, "bob", "paid")]
    assert closed["payouts"][1]["paid_by"] == "operator"
    assert (await balances(tenant, "carol"))["winz"]["WINZ"] == D(1000)
    assert (await balances(tenant, "bob"))["xp"]["XP"] == D(100)
    # plug-in: the operator pays real money in its own wallet; we record what it owes
    assert (await balances(tenant, "alice"))["real"]["USD"] == D("0.00")
    assert await operator_payouts(engine, tenant) == 5000
    [event] = await outbox(engine, tenant.id, "test", "tournament.closed")
    assert event["tournament_id"] == race["id"] and event["trigger"] == "manual"
    assert event["total_paid"] == {"USD": 50.0, "WINZ": 1000, "XP": 100}
    assert [p["rank"] for p in event["payouts"]] == [1, 2, 3]
    assert await ledger_problems(engine) == []
    assert await standings(tenant, race["id"]) == [
        (1, "carol", D("9.00")), (2, "alice", D("5.00")), (3, "bob", D("1.00"))]


async def test_a_white_label_currency_prize_is_credited_to_the_player(
    client: httpx.AsyncClient, clock: ManualClock, engine: Any,
) -> None:
    tenant = await make_tenant(client, "wl", service_mode="white_label")
    race = await played(tenant, clock)
    assert (await tenant.post(f"/v1/tournaments/{race['id']}/close")).status_code == 201
    assert (await balances(tenant, "alice"))["real"]["USD"] == D("50.00")
    assert await ledger_problems(engine) == []


async def test_close_pays_once_under_16_concurrent_closes_and_the_worker(
    client: httpx.AsyncClient, tenant: Tenant, clock: ManualClock, app: Any, engine: Any,
) -> None:
    await unthrottle(tenant)
    race = await played(tenant, clock)
    clock.advance(timedelta(days=2))  # past ends_at: the worker closes it too
    worker = Worker(app.state.platform)
    results = await asyncio.gather(
        *(tenant.post(f"/v1/tournaments/{race['id']}/close") for _ in range(16)),
        worker.tick())
    answers = [r.status_code for r in results[:16]]  # type: ignore[union-attr]
    closed_by_worker = results[16]["tournaments_closed"]  # type: ignore[index]
    assert answers.count(201) + closed_by_worker == 1, (answers, closed_by_worker)
    assert all(s in (201, 409) for s in answers)
    for r in results[:16]:
        if r.status_code == 409:  # type: ignore[union-attr]
            assert_error(r, 409, "NOT_ACTIVE")  # type: ignore[arg-type]
    assert await count_rows(engine, "tournament_payouts", tenant.id) == 3
    assert len(await outbox(engine, tenant.id, "test", "tournament.closed")) == 1
    assert (await balances(tenant, "carol"))["winz"]["WINZ"] == D(1000)
    assert await operator_payouts(engine, tenant) == 5000
    assert await ledger_problems(engine) == []


async def test_the_worker_closes_at_ends_at_and_not_before(
    tenant: Tenant, clock: ManualClock, app: Any, engine: Any,
) -> None:
    race = await played(tenant, clock)
    worker = Worker(app.state.platform)
    assert (await worker.tick())["tournaments_closed"] == 0
    clock.set(datetime.fromisoformat(race["ends_at"].replace("Z", "+00:00")))
    assert (await worker.tick())["tournaments_closed"] == 1
    shown = await show(tenant, race["id"])
    assert shown["status"] == "closed" and shown["close_trigger"] == "scheduled"
    [event] = await outbox(engine, tenant.id, "test", "tournament.closed")
    assert event["trigger"] == "scheduled"
    assert (await worker.tick())["tournaments_closed"] == 0
    # a wager settled after the close changes nothing
    assert (await wager(tenant, "bob", "late", "100.00"))["tournaments"] == []


async def test_a_paused_tournament_waits_for_resume_before_the_worker_closes_it(
    tenant: Tenant, clock: ManualClock, app: Any,
) -> None:
    race = await played(tenant, clock)
    assert (await tenant.post(f"/v1/tournaments/{race['id']}/pause")).status_code == 200
    clock.advance(timedelta(days=2))
    worker = Worker(app.state.platform)
    assert (await worker.tick())["tournaments_closed"] == 0
    assert (await tenant.post(f"/v1/tournaments/{race['id']}/resume")).status_code == 200
    assert (await worker.tick())["tournaments_closed"] == 1


async def test_a_blocked_winner_is_skipped_and_a_rollback_after_the_close_keeps_the_score(
    tenant: Tenant, clock: ManualClock,
) -> None:
    race = await played(tenant, clock)
    r = await tenant.patch("/v1/players/carol/status", {"status": "suspended", "reason": "kyc"})
    assert r.status_code == 200, r.text
    closed = body(await tenant.post(f"/v1/tournaments/{race['id']}/close"))
    first = closed["payouts"][0]
    assert (first["status"], first["reason"]) == ("skipped", "player_blocked")
    assert closed["payouts"][1]["status"] == "paid"  # alice keeps rank 2, not rank 1
    assert "WINZ" not in closed["tournament"]["total_paid"]
    r = await tenant.post("/v1/events/wager-rollback", {"source_wager_id": "w-carol"})
    assert body(r)["effects"]["tournaments"] == [{
        "tournament_id": race["id"], "name": "Weekend race", "reversed": False,
        "reason": "the tournament is closed"}]
    assert (await standings(tenant, race["id"]))[0] == (1, "carol", D("9.00"))


async def test_a_bonus_template_prize_is_granted_through_the_bonus_engine(
    tenant: Tenant, clock: ManualClock,
) -> None:
    r = await tenant.post("/v1/bonus-templates", {"name": "Winner", "type": "manual",
                                                  "amount": "20.00", "promo_code": "WINNER",
                                                  "wagering_multiple": 5})
    assert r.status_code == 201, r.text
    await create_player(tenant, "alice")
    race = await make_tournament(tenant, clock, prize_table=[
        {"rank_from": 1, "rank_to": 1, "prize": {"bonus_template": "WINNER"}}])
    assert race["prize_table"][0]["prize"] == {"bonus_template": body(r)["template"]["id"]}
    await wager(tenant, "alice", "w1", "1.00")
    closed = body(await tenant.post(f"/v1/tournaments/{race['id']}/close"))
    assert closed["payouts"][0]["status"] == "paid" and closed["payouts"][0]["bonus_id"]
    assert (await balances(tenant, "alice"))["bonus"]["USD"] == D("20.00")


async def test_a_recurring_tournament_starts_its_next_instance_in_local_time_across_dst(
    tenant: Tenant, clock: ManualClock, app: Any,
) -> None:
    # Malta leaves summer time on 2026-10-25: 18:00 local is 16:00 UTC before, 17:00 after
    clock.set(datetime(2026, 10, 24, 17, 0, tzinfo=UTC))
    await create_player(tenant, "alice")
    race = await make_tournament(
        tenant, clock, starts_at="2026-10-24T16:00:00Z", ends_at="2026-10-24T20:00:00Z",
        recurrence={"every": "daily", "timezone": "Europe/Malta"})
    await wager(tenant, "alice", "w1", "1.00")
    clock.set(datetime(2026, 10, 24, 20, 0, tzinfo=UTC))
    worker = Worker(app.state.platform)
    assert (await worker.tick())["tournaments_closed"] == 1
    first = await show(tenant, race["id"])
    second = await show(tenant, first["next_instance_id"])
    assert (second["starts_at"], second["ends_at"]) == ("2026-10-25T17:00:00Z",
                                                        "2026-10-25T21:00:00Z")
    assert (second["series_id"], second["instance"]) == (race["id"], 2)
    assert second["participants"] == 0 and second["status"] == "active"
    # closed late, days after its end: the next instance is the next one still to come
    clock.set(datetime(2026, 10, 29, 12, 0, tzinfo=UTC))
    assert (await worker.tick())["tournaments_closed"] == 1
    third = await show(tenant, (await show(tenant, second["id"]))["next_instance_id"])
    assert (third["starts_at"], third["instance"]) == ("2026-10-29T17:00:00Z", 3)


async def test_players_held_by_responsible_gambling_are_not_entered_and_each_skip_is_on_the_timeline(
    tenant: Tenant, clock: ManualClock,
) -> None:
    for name in ("alice", "bob", "carol", "dave"):
        await create_player(tenant, name)
    until = iso(clock.now() + timedelta(days=1))
    assert (await tenant.post("/v1/players/alice/rg", {"timeout_until": until})).status_code \
        == 200
    r = await tenant.patch("/v1/players/bob/status", {"status": "self_excluded",
                                                      "reason": "asked"})
    assert r.status_code == 200
    await tenant.post("/v1/players/carol/rg", {"wager_daily_limit": 10})
    await wager(tenant, "carol", "before", "10.00")  # reaches her daily limit
    race = await make_tournament(tenant, clock)
    opt = await make_tournament(tenant, clock, opt_in=True)
    for user, reason in (("alice", "timeout"), ("bob", "self_excluded"),
                         ("carol", "limit_hit")):
        effects = await wager(tenant, user, f"w-{user}", "1.00")
        assert effects["tournaments"] == [{"tournament_id": race["id"], "name": "Weekend race",
                                           "skipped": "rg", "reason": reason}], user
        joined = await tenant.post(f"/v1/tournaments/{opt['id']}/join", {"user_id": user})
        if user == "bob":  # the gate refuses a self-excluded player outright
            assert_error(joined, 403, "PLAYER_BLOCKED")
        else:
            assert joined.status_code == 201 and body(joined)["skipped"] == "rg", joined.text
        r = await score(tenant, race["id"], user, f"api-{user}", amount="1.00")
        assert body(r)["scored"] is False and body(r)["skipped"] == "rg"
        timeline = body(await tenant.get(f"/v1/players/{user}/timeline"))["data"]
        skips = [t for t in timeline if t["type"] == "engagement.skipped"]
        assert skips and all(t["detail"]["after"]["engine"] == "tournaments" for t in skips)
        assert skips[0]["detail"]["after"]["reason"] == reason
    await wager(tenant, "dave", "w-dave", "1.00")
    assert await standings(tenant, race["id"]) == [(1, "dave", D("1.00"))]
    # once entered, a player is not asked about again: a later hold does not remove them
    await tenant.post("/v1/players/dave/rg", {"timeout_until": until})
    assert (await wager(tenant, "dave", "w-dave-2", "1.00"))["tournaments"][0]["score"] \
        == D("2.00")


async def test_a_tenant_without_running_tournaments_pays_one_statement_per_batch(
    tenant: Tenant, engine: Any,
) -> None:
    from sqlalchemy import event

    from wowsino.engines.tournaments import scores
    from wowsino.events.wagers import Context, Wager

    player = await create_player(tenant, "alice")
    realm = Realm(UUID(tenant.id), Mode.TEST)
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    wagers = [Wager(f"w{i}", UUID(player["user_id"]), UUID(tenant.brand_id), "USD", 100, 0,
                    None, "slots", "real", now) for i in range(500)]
    statements: list[str] = []

    def sent(record: Any) -> None:  # a statement sent on the driver (kernel.wire)
        if not record.query.startswith("BEGIN"):  # the transaction's, not the engine's
            statements.append(record.query)

    def executed(*args: Any) -> None:  # one sent through SQLAlchemy
        statements.append(args[2])

    async with engine.connect() as conn:
        for counted in (False, True):  # counted once its statements are prepared
            async with conn.begin():
                driver = (await conn.get_raw_connection()).driver_connection
                if counted:
                    driver.add_query_logger(sent)
                    event.listen(engine.sync_engine, "before_cursor_execute", executed)
                try:
                    assert await scores.apply(conn, realm, wagers, Context("plug_in", now)) == {}
                    assert await scores.reverse(conn, realm, wagers,
                                                Context("plug_in", now)) == {}
                finally:
                    if counted:
                        driver.remove_query_logger(sent)
                        event.remove(engine.sync_engine, "before_cursor_execute", executed)
    assert len(statements) == 2, [" ".join(s.split())[:80] for s in statements]


async def test_a_leaderboard_names_only_players_of_the_keys_brand(
    client: httpx.AsyncClient, tenant: Tenant, clock: ManualClock,
) -> None:
    from tests.integration.support import bearer, create_key

    r = await client.post(f"/tenants/{tenant.id}/brands", headers=ADMIN,
                          json={"slug": "other", "name": "Other"})
    assert r.status_code == 201
    other = bearer((await create_key(client, tenant, ["*"], brand="other"))["key"])
    await create_player(tenant, "alice")
    r = await client.post("/v1/players", headers=other, json={"username": "zed",
                                                              "email": "z@x.example"})
    assert r.status_code == 201
    race = await make_tournament(tenant, clock)
    await wager(tenant, "alice", "a1", "1.00")
    r = await client.post("/v1/events/wager", headers=other, json={
        "user_id": "zed", "source_wager_id": "z1", "amount": "2.00", "currency": "USD"})
    assert r.status_code == 201
    mine = body(await tenant.get(f"/v1/tournaments/{race['id']}/leaderboard"))["data"]
    assert [row["user"]["username"] for row in mine] == [None, "alice"]
    theirs = body(await client.get(f"/v1/tournaments/{race['id']}/leaderboard",
                                   headers=other))["data"]
    assert [row["user"]["username"] for row in theirs] == ["zed", None]
    assert "alice" not in str(theirs)


async def test_configuration_is_validated_before_anything_is_written(
    tenant: Tenant, clock: ManualClock, engine: Any,
) -> None:
    from tests.integration.support import assert_validation

    base = {"name": "Race", "scoring": "sum_wagered", **window(clock),
            "prize_table": [{"rank_from": 1, "rank_to": 1,
                             "prize": {"asset": "WINZ", "amount": 10}}]}
    bad = {
        "ends_at": {"ends_at": base["starts_at"]},
        "prize_table.1.rank_from": {"prize_table": [
            {"rank_from": 1, "rank_to": 3, "prize": {"asset": "WINZ", "amount": 10}},
            {"rank_from": 3, "rank_to": 4, "prize": {"asset": "WINZ", "amount": 5}}]},
        "prize_table.0.rank_to": {"prize_table": [
            {"rank_from": 3, "rank_to": 2, "prize": {"asset": "WINZ", "amount": 10}}]},
        "prize_table.0.prize.asset": {"prize_table": [
            {"rank_from": 1, "rank_to": 1, "prize": {"asset": "DOGE", "amount": 10}}]},
        "prize_table.0.prize.amount": {"prize_table": [
            {"rank_from": 1, "rank_to": 1, "prize": {"asset": "USD", "amount": "0.001"}}]},
        "prize_table.0.prize": {"prize_table": [
            {"rank_from": 1, "rank_to": 1, "prize": {"asset": "WINZ", "amount": 1,
                                                     "bonus_template": "X"}}]},
        "currency": {"currency": "WINZ"},
        "min_bet": {"min_bet": "-1"},
        "recurrence.timezone": {"recurrence": {"every": "daily", "timezone": "Mars/Olympus"}},
        "recurrence": {"recurrence": {"every": "daily", "timezone": "UTC"},
                       **window(clock, lasts=timedelta(hours=30))},
        "game_categories": {"game_categories": ["slots", "slots"]},
        "max_participants": {"max_participants": 0},
    }
    for field, change in bad.items():
        r = await tenant.post("/v1/tournaments", {**base, **change})
        assert_validation(r, field)
    assert await count_rows(engine, "tournaments", tenant.id) == 0


async def test_patch_changes_scoring_rules_only_before_the_start(
    tenant: Tenant, clock: ManualClock,
) -> None:
    later = await make_tournament(tenant, clock, **window(clock, started=-timedelta(hours=1)))
    r = await tenant.patch(f"/v1/tournaments/{later['id']}", {
        "scoring": "bet_count", "min_bet": None, "game_categories": ["slots"]})
    assert r.status_code == 200, r.text
    assert body(r)["tournament"]["scoring"] == "bet_count"
    running = await make_tournament(tenant, clock)
    assert_error(await tenant.patch(f"/v1/tournaments/{running['id']}",
                                    {"scoring": "bet_count"}), 409, "TOURNAMENT_STARTED")
    r = await tenant.patch(f"/v1/tournaments/{running['id']}", {
        "name": "Longer race", "ends_at": iso(clock.now() + timedelta(days=3))})
    assert r.status_code == 200 and body(r)["tournament"]["name"] == "Longer race"


async def test_the_scores_of_a_realm_stay_in_it(
    tenant: Tenant, clock: ManualClock, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await create_player(tenant, "alice", mode="live")
    race = await make_tournament(tenant, clock)
    await wager(tenant, "alice", "w1", "1.00", mode="live")
    assert (await show(tenant, race["id"]))["participants"] == 0
    async with engine.connect() as conn:
        found = await conn.scalar(text("SELECT count(*) FROM tournament_scores"))
    assert found == 0

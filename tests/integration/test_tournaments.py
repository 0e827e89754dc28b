"""Tournaments: configuration, scores from wager events and POST /score for every scoring
kind, the filters, opt-in and capacity, rollbacks, the leaderboard's order and reads."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.integration.support import (
    assert_error,
    assert_validation,
    body,
    create_player,
    unthrottle,
)
from tests.integration.tournament_support import (
    board,
    make_tournament,
    rollback,
    score,
    show,
    standings,
    wager,
    window,
)
from wowsino.kernel.clock import ManualClock

D = Decimal


async def test_wagers_score_every_running_tournament_they_qualify_for(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    race = await make_tournament(tenant, clock)
    effects = await wager(tenant, "alice", "w1", "2.50", win="5.00")
    assert effects["tournaments"] == [{"tournament_id": race["id"], "name": "Weekend race",
                                       "added": D("2.50"), "score": D("2.50")}]
    await wager(tenant, "alice", "w2", "1.00")
    assert await standings(tenant, race["id"]) == [(1, "alice", D("3.50"))]
    assert (await show(tenant, race["id"]))["participants"] == 1


@pytest.mark.parametrize(("scoring", "expected"), [
    ("sum_wagered", D("6.00")),     # 1.00 + 2.00 + 3.00
    ("sum_won", D("4.50")),         # 0.00 + 4.50 + 0.00
    ("bet_count", D(3)),
    ("max_multiplier", D("2.25")),  # 4.50 / 2.00
    ("sum_multipliers", D("2.25")),  # 0 + 2.25 + 0
])
async def test_each_wager_scoring_kind_scores_as_documented(
    tenant: Tenant, clock: ManualClock, scoring: str, expected: Decimal,
) -> None:
    await create_player(tenant, "alice")
    race = await make_tournament(tenant, clock, scoring=scoring)
    for wager_id, amount, win in (("w1", "1.00", "0"), ("w2", "2.00", "4.50"),
                                  ("w3", "3.00", "0")):
        await wager(tenant, "alice", wager_id, amount, win=win)
    assert await standings(tenant, race["id"]) == [(1, "alice", expected)]


async def test_multipliers_are_exact_decimals_rounded_down_to_six_places(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    best = await make_tournament(tenant, clock, scoring="max_multiplier")
    total = await make_tournament(tenant, clock, scoring="sum_multipliers")
    await wager(tenant, "alice", "w1", "3.00", win="1.00")   # 0.333333…
    await wager(tenant, "alice", "w2", "0.03", win="0.02")   # 0.666666…
    assert await standings(tenant, best["id"]) == [(1, "alice", D("0.666666"))]
    assert await standings(tenant, total["id"]) == [(1, "alice", D("0.999999"))]


async def test_a_points_tournament_is_scored_by_the_api_only(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    race = await make_tournament(tenant, clock, scoring="points")
    assert await wager(tenant, "alice", "w1", "5.00") == {
        "bonus_wagering": [], "drops": [], "jackpots": [], "tournaments": [], "vip": [],
        "journeys": []}
    r = await score(tenant, race["id"], "alice", "quest-1", points="12.5")
    assert r.status_code == 201, r.text
    assert body(r)["added"] == D("12.5") and body(r)["score"] == D("12.5")
    assert_validation(await score(tenant, race["id"], "alice", "quest-2"), "points")
    assert_validation(await score(tenant, race["id"], "alice", "quest-2", points="0.0000001"),
                      "points")
    assert await standings(tenant, race["id"]) == [(1, "alice", D("12.5"))]


async def test_min_bet_categories_currency_and_window_decide_what_scores(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    race = await make_tournament(tenant, clock, scoring="bet_count", min_bet="1.00",
                                 game_categories=["slots", "live"])
    assert race["currency"] == "USD" and race["min_bet"] == D("1.00")
    counted = {"ok-slots": ("1.00", "slots"), "ok-live": ("5.00", "live")}
    ignored = {"small": ("0.99", "slots"), "table": ("5.00", "table")}
    for wager_id, (amount, category) in {**counted, **ignored}.items():
        effects = await wager(tenant, "alice", wager_id, amount, game_category=category)
        assert bool(effects["tournaments"]) == (wager_id in counted), wager_id
    r = await tenant.post("/v1/events/wager", {"user_id": "alice", "source_wager_id": "eur",
                                               "amount": "5.00", "currency": "EUR",
                                               "game_category": "slots"})
    assert body(r)["effects"]["tournaments"] == []
    before = clock.now().replace(year=2025)
    r = await tenant.post("/v1/events/wager", {"user_id": "alice", "source_wager_id": "old",
                                               "amount": "5.00", "currency": "USD",
                                               "game_category": "slots",
                                               "settled_at": before.isoformat()})
    assert body(r)["effects"]["tournaments"] == []
    assert await standings(tenant, race["id"]) == [(1, "alice", D(2))]


async def test_a_tournament_of_every_currency_counts_each_and_a_money_one_defaults_to_usd(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    count = await make_tournament(tenant, clock, scoring="bet_count")
    money = await make_tournament(tenant, clock, scoring="sum_wagered")
    assert count["currency"] is None and money["currency"] == "USD"
    await wager(tenant, "alice", "w1", "1.00")
    await tenant.post("/v1/events/wager", {"user_id": "alice", "source_wager_id": "w2",
                                           "amount": "1.00", "currency": "EUR"})
    assert await standings(tenant, count["id"]) == [(1, "alice", D(2))]
    assert await standings(tenant, money["id"]) == [(1, "alice", D("1.00"))]


async def test_an_opt_in_tournament_scores_only_players_who_joined(
    tenant: Tenant, clock: ManualClock,
) -> None:
    for name in ("alice", "bob"):
        await create_player(tenant, name)
    race = await make_tournament(tenant, clock, opt_in=True)
    assert (await wager(tenant, "alice", "w1", "5.00"))["tournaments"] == []
    r = await tenant.post(f"/v1/tournaments/{race['id']}/join", {"user_id": "bob"})
    assert r.status_code == 201 and body(r)["joined"] is True, r.text
    again = await tenant.post(f"/v1/tournaments/{race['id']}/join", {"user_id": "bob"})
    assert again.status_code == 200 and body(again)["already_joined"] is True
    await wager(tenant, "bob", "w2", "3.00")
    await wager(tenant, "alice", "w3", "9.00")
    assert await standings(tenant, race["id"]) == [(1, "bob", D("3.00"))]
    assert_error(await score(tenant, race["id"], "alice", "api-1", amount="1.00"), 409,
                 "NOT_JOINED")


async def test_max_participants_admits_exactly_that_many_under_concurrency(
    client: httpx.AsyncClient, tenant: Tenant, clock: ManualClock,
) -> None:
    await unthrottle(tenant)
    names = [f"p{i}" for i in range(12)]
    for name in names:
        await create_player(tenant, name)
    joined = await make_tournament(tenant, clock, opt_in=True, max_participants=5)
    spine = await make_tournament(tenant, clock, max_participants=4)
    joins = await asyncio.gather(*(
        tenant.post(f"/v1/tournaments/{joined['id']}/join", {"user_id": n}) for n in names))
    assert sorted(r.status_code for r in joins) == [201] * 5 + [409] * 7
    for r in joins:
        if r.status_code == 409:
            assert_error(r, 409, "TOURNAMENT_FULL")
    bets = await asyncio.gather(*(wager(tenant, n, f"w-{n}", "1.00") for n in names))
    skipped = [e for effects in bets for e in effects["tournaments"]
               if e["tournament_id"] == spine["id"] and e.get("skipped") == "full"]
    assert len(skipped) == 8
    assert (await show(tenant, spine["id"]))["participants"] == 4
    assert len((await board(tenant, spine["id"]))["data"]) == 4
    assert (await show(tenant, joined["id"]))["participants"] == 5


async def test_a_rollback_takes_the_score_out_and_a_best_multiplier_falls_back(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    total = await make_tournament(tenant, clock, scoring="sum_wagered")
    best = await make_tournament(tenant, clock, scoring="max_multiplier")
    await wager(tenant, "alice", "w1", "1.00", win="2.00")   # x2
    await wager(tenant, "alice", "w2", "1.00", win="10.00")  # x10
    await wager(tenant, "alice", "w3", "1.00", win="3.00")   # x3
    assert await standings(tenant, best["id"]) == [(1, "alice", D(10))]
    effects = await rollback(tenant, "w2")
    by_id = {e["tournament_id"]: e for e in effects["tournaments"]}
    assert by_id[total["id"]] == {"tournament_id": total["id"], "name": "Weekend race",
                                  "reversed": True, "removed": D("1.00"), "score": D("2.00")}
    assert by_id[best["id"]]["score"] == D(3)
    assert await standings(tenant, best["id"]) == [(1, "alice", D(3))]
    assert await standings(tenant, total["id"]) == [(1, "alice", D("2.00"))]
    assert (await rollback(tenant, "w1"))["tournaments"][0]["reversed"] is True
    await rollback(tenant, "w3")
    assert await standings(tenant, best["id"]) == [(1, "alice", D(0))]


async def test_ties_go_to_whoever_reached_the_score_first(
    tenant: Tenant, clock: ManualClock,
) -> None:
    for name in ("alice", "bob", "carol"):
        await create_player(tenant, name)
    race = await make_tournament(tenant, clock)
    await wager(tenant, "bob", "b1", "5.00")
    await wager(tenant, "alice", "a1", "2.00")
    await wager(tenant, "carol", "c1", "5.00")
    await wager(tenant, "alice", "a2", "3.00")  # alice reaches 5.00 last
    assert await standings(tenant, race["id"]) == [
        (1, "bob", D("5.00")), (2, "carol", D("5.00")), (3, "alice", D("5.00"))]
    await wager(tenant, "carol", "c2", "0.01")
    assert [r[1] for r in await standings(tenant, race["id"])] == ["carol", "bob", "alice"]


async def test_the_leaderboard_pages_with_cursors_and_centres_on_a_player(
    tenant: Tenant, clock: ManualClock,
) -> None:
    names = [f"p{i:02}" for i in range(12)]
    for name in names:
        await create_player(tenant, name)
    race = await make_tournament(tenant, clock, scoring="bet_count")
    batch = [{"user_id": n, "source_wager_id": f"{n}-{k}", "amount": "1.00", "currency": "USD"}
             for i, n in enumerate(names) for k in range(12 - i // 2)]  # pairs tie
    assert (await tenant.post("/v1/events/wager:batch", {"events": batch})).status_code == 201
    full = await standings(tenant, race["id"], limit=500)
    assert [r[0] for r in full] == list(range(1, 13))
    assert [r[1] for r in full] == names  # within a tied pair, the earlier in the batch
    seen, cursor = [], None
    while True:
        page = await board(tenant, race["id"], limit=5, **({"cursor": cursor} if cursor else {}))
        seen += [(int(r["rank"]), r["user"]["username"], r["score"]) for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == full
    around = await board(tenant, race["id"], around="p06", limit=5)
    assert around["around"]["rank"] == 7
    assert [(int(r["rank"]), r["user"]["username"]) for r in around["data"]] == [
        (5, "p04"), (6, "p05"), (7, "p06"), (8, "p07"), (9, "p08")]
    top = await board(tenant, race["id"], around="p00", limit=3)
    assert [r["user"]["username"] for r in top["data"]] == ["p00", "p01", "p02"]
    r = await tenant.get(f"/v1/tournaments/{race['id']}/leaderboard",
                         params={"cursor": "bm90IGEgY3Vyc29y"})
    assert_validation(r, "cursor")


async def test_a_player_not_entered_has_no_rank(tenant: Tenant, clock: ManualClock) -> None:
    await create_player(tenant, "alice")
    race = await make_tournament(tenant, clock)
    shown = await board(tenant, race["id"], around="alice")
    assert shown["around"]["rank"] is None and shown["data"] == []
    r = await tenant.get(f"/v1/tournaments/{race['id']}/leaderboard", params={"around": "nobody"})
    assert_error(r, 404, "NO_PLAYER")


async def test_score_is_deduped_on_source_wager_id_and_refuses_reused_ids(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    await create_player(tenant, "bob")
    race = await make_tournament(tenant, clock)
    first = await score(tenant, race["id"], "alice", "round-9", amount="2.00")
    assert first.status_code == 201 and body(first)["score"] == D("2.00"), first.text
    again = await score(tenant, race["id"], "alice", "round-9", amount="2.00")
    assert again.status_code == 200 and body(again)["deduped"] is True
    assert body(again)["added"] == D("2.00")
    assert_error(await score(tenant, race["id"], "alice", "round-9", amount="3.00"), 409,
                 "SOURCE_ID_REUSED")
    assert_error(await score(tenant, race["id"], "bob", "round-9", amount="2.00"), 409,
                 "SOURCE_ID_REUSED")
    # the spine's wager of the same id was already counted through the API: not twice
    assert (await wager(tenant, "alice", "round-9", "2.00"))["tournaments"] == []
    assert await standings(tenant, race["id"]) == [(1, "alice", D("2.00"))]
    concurrent = await asyncio.gather(*(score(tenant, race["id"], "bob", "round-10",
                                              amount="1.00") for _ in range(6)))
    assert sorted(r.status_code for r in concurrent) == [200] * 5 + [201]
    assert (await standings(tenant, race["id"]))[1] == (2, "bob", D("1.00"))
    skipped = await score(tenant, (await make_tournament(tenant, clock, min_bet=5))["id"],
                          "alice", "tiny", amount="1.00")
    assert skipped.status_code == 201 and body(skipped)["skipped"] == "min_bet"


async def test_paused_closed_and_upcoming_tournaments_refuse_every_write(
    tenant: Tenant, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    upcoming = await make_tournament(tenant, clock, **window(clock, started=-timedelta(hours=2)))
    paused = await make_tournament(tenant, clock)
    closed = await make_tournament(tenant, clock)
    assert (await tenant.post(f"/v1/tournaments/{paused['id']}/pause")).status_code == 200
    assert (await tenant.post(f"/v1/tournaments/{closed['id']}/close")).status_code == 201
    for race in (upcoming, paused, closed):
        rid = race["id"]
        for r in (await score(tenant, rid, "alice", "x", amount="1.00"),
                  await tenant.post(f"/v1/tournaments/{rid}/join", {"user_id": "alice"}),
                  await tenant.post(f"/v1/tournaments/{rid}/close")):
            assert_error(r, 409, "NOT_ACTIVE")
    assert (await wager(tenant, "alice", "w1", "1.00"))["tournaments"] == []
    for path in ("pause", "resume"):
        assert_error(await tenant.post(f"/v1/tournaments/{closed['id']}/{path}"), 409,
                     "NOT_ACTIVE")
    assert_error(await tenant.patch(f"/v1/tournaments/{closed['id']}", {"name": "x"}), 409,
                 "NOT_ACTIVE")
    assert (await show(tenant, upcoming["id"]))["phase"] == "upcoming"


async def test_a_player_entered_by_another_transaction_meanwhile_still_scores(
    tenant: Tenant, clock: ManualClock, engine: Any,
) -> None:
    """``sql.SCORE`` saw the player not entered; before ``sql.ENTER`` ran, a concurrent
    request entered them: the wager still counts, once, and the player is not counted
    twice."""
    from collections import namedtuple
    from uuid import UUID

    from wowsino.engines.tournaments import scores
    from wowsino.kernel.realm import Mode, Realm

    player = await create_player(tenant, "alice")
    race = await make_tournament(tenant, clock)
    assert (await tenant.post(f"/v1/tournaments/{race['id']}/join",
                              {"user_id": "alice"})).status_code == 201
    Pending = namedtuple("Pending", "source_wager_id tournament_id player_id seq value amount "
                                    "win_amount points")
    row = Pending("late-w", UUID(race["id"]), UUID(player["user_id"]), 10**12, 250, 250, 0,
                  None)
    async with engine.begin() as conn:
        done = await scores.enter(conn, Realm(UUID(tenant.id), Mode.TEST),
                                  [(row.tournament_id, row.player_id, UUID(tenant.brand_id))],
                                  at=clock.now(), source="wager", contributions=[row])
    assert done.outcomes[(row.tournament_id, row.player_id)] == ("already", 250)
    assert done.scored == {(row.tournament_id, "late-w"): 250}
    assert await standings(tenant, race["id"]) == [(1, "alice", D("2.50"))]
    assert (await show(tenant, race["id"]))["participants"] == 1


async def test_entering_an_uncapped_race_does_not_wait_for_another_entering_transaction(
    tenant: Tenant, clock: ManualClock, engine: Any,
) -> None:
    """At a race's start every wager enters a new player: in a race without
    ``max_participants`` two transactions entering different players do not queue on the
    race's row (the second would time out on it), and the count of participants is
    exact once both commit. A capped race still admits one at a time, to hold its cap;
    capping a race that is running counts those already in."""
    from uuid import UUID

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from wowsino.engines.tournaments import scores
    from wowsino.kernel.realm import Mode, Realm

    realm, brand = Realm(UUID(tenant.id), Mode.TEST), UUID(tenant.brand_id)
    ids = [UUID((await create_player(tenant, name))["user_id"])
           for name in ("alice", "bob", "carol")]
    race = await make_tournament(tenant, clock)
    capped = await make_tournament(tenant, clock, max_participants=2)
    open_id, capped_id = UUID(race["id"]), UUID(capped["id"])

    async with engine.begin() as first:  # entered alice, not committed yet
        entered = await scores.enter(first, realm, [(open_id, ids[0], brand)], at=clock.now())
        assert entered.outcomes[(open_id, ids[0])][0] == "entered"
        async with engine.begin() as second:
            await second.execute(text("SET LOCAL lock_timeout = '2s'"))
            entered = await scores.enter(second, realm, [(open_id, ids[1], brand)],
                                         at=clock.now())
            assert entered.outcomes[(open_id, ids[1])][0] == "entered"
    assert (await show(tenant, race["id"]))["participants"] == 2
    assert (await board(tenant, race["id"]))["participants"] == 2

    async with engine.begin() as first:
        await scores.enter(first, realm, [(capped_id, ids[0], brand)], at=clock.now())
        async with engine.begin() as second:
            await second.execute(text("SET LOCAL lock_timeout = '500ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                await scores.enter(second, realm, [(capped_id, ids[1], brand)], at=clock.now())
    assert (await show(tenant, capped["id"]))["participants"] == 1

    # a cap below those already in is refused; at or above, the count carries on from them
    await scores_enter(engine, realm, open_id, ids[2], brand, clock)
    assert_validation(await tenant.patch(f"/v1/tournaments/{race['id']}",
                                         {"max_participants": 2}), "max_participants")
    r = await tenant.patch(f"/v1/tournaments/{race['id']}", {"max_participants": 3})
    assert r.status_code == 200, r.text
    assert body(r)["tournament"]["participants"] == 3
    r = await tenant.patch(f"/v1/tournaments/{race['id']}", {"max_participants": None})
    assert r.status_code == 200, r.text
    assert (await show(tenant, race["id"]))["participants"] == 3


async def scores_enter(engine: Any, realm: Any, tournament_id: Any, player_id: Any, brand: Any,
                       clock: ManualClock) -> None:
    from wowsino.engines.tournaments import scores

    async with engine.begin() as conn:
        done = await scores.enter(conn, realm, [(tournament_id, player_id, brand)],
                                  at=clock.now())
    assert done.outcomes[(tournament_id, player_id)][0] == "entered"


async def test_the_count_of_participants_is_exact_while_players_enter_and_a_race_is_capped(
    client: httpx.AsyncClient, tenant: Tenant, clock: ManualClock, engine: Any,
) -> None:
    """Thirty first wagers at once enter thirty players into two running races; one race
    is capped at 20 while they do. However the two interleave, each race's participants
    equal its entries, and a cap that was set holds."""
    from sqlalchemy import text

    await unthrottle(tenant)
    names = [f"q{i}" for i in range(30)]
    for name in names:
        await create_player(tenant, name)
    open_race = await make_tournament(tenant, clock)
    capped_race = await make_tournament(tenant, clock)

    async def cap() -> httpx.Response:
        await asyncio.sleep(0.05)
        return await tenant.patch(f"/v1/tournaments/{capped_race['id']}",
                                  {"max_participants": 20})

    *_, capping = await asyncio.gather(
        *(wager(tenant, n, f"first-{n}", "1.00") for n in names), cap())
    async with engine.connect() as conn:
        entries = dict((await conn.execute(text(
            "SELECT CAST(tournament_id AS text), count(*) FROM tournament_entries "
            "GROUP BY tournament_id"))).all())
    assert entries[open_race["id"]] == 30
    assert (await show(tenant, open_race["id"]))["participants"] == 30
    shown = await show(tenant, capped_race["id"])
    assert shown["participants"] == entries[capped_race["id"]]
    if capping.status_code == 200:  # capped before 21 were in: it held from there
        assert shown["max_participants"] == 20 and entries[capped_race["id"]] <= 20
    else:  # more than 20 were in already
        assert_validation(capping, "max_participants")
        assert shown["max_participants"] is None and entries[capped_race["id"]] == 30

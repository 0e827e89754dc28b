"""``/v1/player/...``: a logged-in white-label player claims and cancels bonuses, reads
their VIP standing and journeys, opens lootboxes, plays mini-games, enters raffles,
joins tournaments and reads jackpots, through the engines' own services.

Every case runs over HTTP with a registered player's session; the effect is checked
where the operator sees it (its routes, the ledger)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import ADMIN
from tests.integration.support import (
    adjust,
    assert_error,
    assert_validation,
    balances,
    bearer,
    body,
    count_rows,
    create_key,
)
from tests.integration.wl_support import (
    PASSWORD,
    WhiteLabel,
    login,
    make_white_label,
    player_session,
    register,
    registration,
)
from wowsino.kernel import fairness
from wowsino.kernel.clock import ManualClock, iso

PRIZES = [{"segment_label": "coins", "weight": 9, "asset": "WINZ", "amount": 10},
          {"segment_label": "xp", "weight": 1, "asset": "XP", "amount": 5}]
SPINS = {"name": "Spins", "type": "free_spins", "promo_code": "SPINS", "currency": "USD",
         "free_spin_count": 10, "free_spin_value": "0.20", "wagering_multiple": 5}
WELCOME = {"name": "Welcome", "type": "no_deposit", "promo_code": "WELCOME", "currency": "USD",
           "amount": 5, "wagering_multiple": 10, "max_grants_per_player": 1}


async def created(r: httpx.Response, key: str) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    found: dict[str, Any] = r.json()[key]
    return found


async def fund(wl: WhiteLabel, username: str, winz: int, mode: str = "test") -> None:
    r = await adjust(wl, username, winz, rail="winz", asset="WINZ", mode=mode)
    assert r.status_code == 201, r.text


async def site_with_alice(client: httpx.AsyncClient, winz: int = 1000
                          ) -> tuple[WhiteLabel, dict[str, str]]:
    wl = await make_white_label(client)
    alice = await player_session(wl, "alice")
    if winz:
        await fund(wl, "alice", winz)
    return wl, alice


async def second_brand(wl: WhiteLabel) -> dict[str, str]:
    """A second brand of the tenant: its test publishable key (``site``) and secret key."""
    r = await wl.client.post(f"/tenants/{wl.id}/brands", headers=ADMIN,
                             json={"slug": "second", "name": "Second"})
    assert r.status_code == 201, r.text
    secret = await create_key(wl.client, wl, ["*"], brand="second")
    return {"site": r.json()["brand"]["publishable_keys"]["test"], "secret": secret["key"]}


async def session_on(client: httpx.AsyncClient, site_key: str, username: str) -> dict[str, str]:
    """Register ``username`` through a brand's publishable key and log in."""
    r = await client.post("/v1/auth/register", headers=bearer(site_key),
                          json=registration(username))
    assert r.status_code == 201, r.text
    r = await client.post("/v1/auth/login", headers=bearer(site_key),
                          json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return bearer(r.json()["session_token"])


def running_tournament(clock: ManualClock, **extra: Any) -> dict[str, Any]:
    now = clock.now()
    return {"name": "Race", "scoring": "sum_wagered", "starts_at": iso(now - timedelta(hours=1)),
            "ends_at": iso(now + timedelta(days=1)),
            "prize_table": [{"rank_from": 1, "rank_to": 1,
                             "prize": {"asset": "WINZ", "amount": 100}}], **extra}


async def winz(wl: WhiteLabel, username: str, mode: str = "test") -> Decimal:
    return Decimal((await balances(wl, username, mode))["winz"]["WINZ"])


# --- bonuses -------------------------------------------------------------------------------

async def test_a_player_claims_a_bonus_by_promo_code_and_cancels_a_pending_one(
    client: httpx.AsyncClient,
) -> None:
    wl, alice = await site_with_alice(client, winz=0)
    await created(await wl.post("/v1/bonus-templates", SPINS), "template")
    await created(await wl.post("/v1/bonus-templates", WELCOME), "template")

    claim = {"promo_code": "spins", "idempotency_key": "claim-1"}  # codes match in any case
    first = await client.post("/v1/player/bonuses/claim", headers=alice, json=claim)
    assert first.status_code == 201, first.text
    spins = first.json()["bonus"]
    assert spins["status"] == "pending" and spins["type"] == "free_spins"
    again = await client.post("/v1/player/bonuses/claim", headers=alice, json=claim)
    assert again.status_code == 200 and again.json()["deduped"] is True
    assert again.json()["bonus"]["id"] == spins["id"]
    # the operator sees the grant, made by the player
    seen = (await wl.get("/v1/players/alice/bonuses")).json()["data"]
    assert [b["id"] for b in seen] == [spins["id"]]
    r = await wl.get(f"/v1/audit?target=player:{spins['player_id']}")
    assert r.status_code == 200

    welcome = await client.post("/v1/player/bonuses/claim", headers=alice,
                                json={"promo_code": "WELCOME"},)
    assert welcome.status_code == 201, welcome.text
    granted = welcome.json()["bonus"]
    assert granted["status"] == "active" and granted["bonus_amount"] == 5
    assert body(welcome)["bonus"]["wagering_required"] == Decimal("50.00")
    assert Decimal((await balances(wl, "alice"))["bonus"]["USD"]) == Decimal("5.00")
    assert_error(await client.post("/v1/player/bonuses/claim", headers=alice,
                                   json={"promo_code": "WELCOME"}), 409, "MAX_GRANTS")

    # the player's own list: newest first, with the wagering progress
    mine = await client.get("/v1/player/bonuses", headers=alice)
    assert mine.status_code == 200, mine.text
    listed = mine.json()["data"]
    assert [b["id"] for b in listed] == [granted["id"], spins["id"]]
    assert listed[0]["progress_pct"] == 0 and listed[0]["remaining_turnover"] == 50
    assert listed == (await wl.get("/v1/players/alice/bonuses")).json()["data"]
    page = (await client.get("/v1/player/bonuses?limit=1", headers=alice)).json()
    assert len(page["data"]) == 1 and page["next_cursor"]
    rest = await client.get(f"/v1/player/bonuses?limit=1&cursor={page['next_cursor']}",
                            headers=alice)
    assert [b["id"] for b in rest.json()["data"]] == [spins["id"]]

    # cancel: the pending one only
    cancel = await client.post(f"/v1/player/bonuses/{spins['id']}/cancel", headers=alice,
                               json={"idempotency_key": "cancel-1"})
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["bonus"]["status"] == "cancelled"
    replay = await client.post(f"/v1/player/bonuses/{spins['id']}/cancel", headers=alice,
                               json={"idempotency_key": "cancel-1"})
    assert replay.status_code == 200 and replay.json()["deduped"] is True
    assert_error(await client.post(f"/v1/player/bonuses/{spins['id']}/cancel", headers=alice),
                 409, "NOT_PENDING")
    assert_error(await client.post(f"/v1/player/bonuses/{granted['id']}/cancel",
                                   headers=alice), 409, "NOT_PENDING")
    statuses = {b["id"]: b["status"] for b in (await wl.get("/v1/players/alice/bonuses"))
                .json()["data"]}
    assert statuses == {spins["id"]: "cancelled", granted["id"]: "active"}
    # a template without a limit of its own is claimed once per player, a cancel included
    payload = assert_error(await client.post("/v1/player/bonuses/claim", headers=alice,
                                             json={"promo_code": "SPINS"}), 409, "MAX_GRANTS")
    assert payload["details"]["limit"] == 1
    assert len((await wl.get("/v1/players/alice/bonuses")).json()["data"]) == 2
    # the operator still grants it as before
    r = await wl.post("/v1/bonuses/grant", {"player_id": "alice", "template": "SPINS"})
    assert r.status_code == 201, r.text


async def test_concurrent_claims_of_a_code_grant_it_once(client: httpx.AsyncClient) -> None:
    wl, alice = await site_with_alice(client, winz=0)
    unlimited = {k: v for k, v in WELCOME.items() if k != "max_grants_per_player"}
    await created(await wl.post("/v1/bonus-templates", unlimited), "template")
    answers = await asyncio.gather(*(
        client.post("/v1/player/bonuses/claim", headers={**alice, "Idempotency-Key": f"c-{i}"},
                    json={"promo_code": "WELCOME"}) for i in range(4)))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], \
        [r.text for r in answers]
    assert all(r.json()["code"] == "MAX_GRANTS" for r in answers if r.status_code == 409)
    assert len((await wl.get("/v1/players/alice/bonuses")).json()["data"]) == 1
    assert Decimal((await balances(wl, "alice"))["bonus"]["USD"]) == Decimal("5.00")


async def test_claim_refusals_name_the_code_or_the_field(client: httpx.AsyncClient) -> None:
    wl, alice = await site_with_alice(client, winz=0)
    await created(await wl.post("/v1/bonus-templates", {
        "name": "Goodwill", "type": "manual", "promo_code": "SORRY", "currency": "USD",
        "amount": 5}), "template")
    await created(await wl.post("/v1/bonus-templates", {
        "name": "Match", "type": "deposit_match", "promo_code": "MATCH", "currency": "USD",
        "amount_pct": 100}), "template")
    template = await created(await wl.post("/v1/bonus-templates", WELCOME), "template")
    claim = "/v1/player/bonuses/claim"
    assert_error(await client.post(claim, headers=alice, json={"promo_code": "NOPE"}), 404,
                 "NO_TEMPLATE")
    # a template is claimed by its code, never by its id
    assert_error(await client.post(claim, headers=alice, json={"promo_code": template["id"]}),
                 404, "NO_TEMPLATE")
    for code in ("SORRY", "MATCH"):
        payload = assert_error(await client.post(claim, headers=alice,
                                                 json={"promo_code": code}), 409,
                               "NOT_CLAIMABLE")
        assert payload["details"]["type"] in ("manual", "deposit_match")
    for bad in ({}, {"promo_code": ""}, {"promo_code": "two words"},
                {"promo_code": "x" * 65}, {"promo_code": 5}):
        assert_validation(await client.post(claim, headers=alice, json=bad), "promo_code")
    assert_validation(await client.post(claim, headers=alice, json={
        "promo_code": "WELCOME", "player_id": "bob"}), "player_id")
    assert_validation(await client.post(claim, headers=alice, json={
        "promo_code": "WELCOME", "deposit_amount": 100}), "deposit_amount")
    # a paused template answers as the grant does
    await created(await wl.post(f"/v1/bonus-templates/{template['id']}/pause", {}), "template")
    assert_error(await client.post(claim, headers=alice, json={"promo_code": "WELCOME"}),
                 409, "NOT_ACTIVE")
    assert (await wl.get("/v1/players/alice/bonuses")).json()["data"] == []


async def test_a_claim_passes_the_brands_compliance_decision(client: httpx.AsyncClient) -> None:
    wl, alice = await site_with_alice(client, winz=0)
    r = await wl.put("/v1/brands/main/jurisdiction", {"profile": "GB"})
    assert r.status_code == 200, r.text
    unlimited = {k: v for k, v in WELCOME.items() if k != "max_grants_per_player"}
    await created(await wl.post("/v1/bonus-templates", {**unlimited, "wagering_multiple": 35}),
                  "template")
    refused = await client.post("/v1/player/bonuses/claim", headers=alice,
                                json={"promo_code": "WELCOME"})
    payload = assert_error(refused, 403, "PROMO_RULE_VIOLATION")
    assert "max_wagering_multiple" in refused.text, payload
    assert (await wl.get("/v1/players/alice/bonuses")).json()["data"] == []
    assert Decimal((await balances(wl, "alice"))["bonus"]["USD"]) == 0
    # a refused claim counts nothing: under the default profile it is granted
    r = await wl.put("/v1/brands/main/jurisdiction", {"profile": "default"})
    assert r.status_code == 200, r.text
    r = await client.post("/v1/player/bonuses/claim", headers=alice,
                          json={"promo_code": "WELCOME"})
    assert r.status_code == 201, r.text


async def test_another_players_bonus_is_not_found(client: httpx.AsyncClient) -> None:
    wl, alice = await site_with_alice(client, winz=0)
    await created(await wl.post("/v1/bonus-templates", SPINS), "template")
    spins = (await client.post("/v1/player/bonuses/claim", headers=alice,
                               json={"promo_code": "SPINS"})).json()["bonus"]
    bob = await player_session(wl, "bob")
    other = await second_brand(wl)
    zed = await session_on(client, other["site"], "zed")
    for caller in (bob, zed):
        assert_error(await client.post(f"/v1/player/bonuses/{spins['id']}/cancel",
                                       headers=caller), 404, "NO_BONUS")
        mine = await client.get("/v1/player/bonuses", headers=caller)
        assert mine.status_code == 200 and mine.json()["data"] == []
        assert spins["id"] not in mine.text
    for ref in ("not-a-uuid", "00000000-0000-4000-8000-000000000001"):
        assert_error(await client.post(f"/v1/player/bonuses/{ref}/cancel", headers=alice),
                     404, "NO_BONUS")
    # the operator's key with the player's bonus works as before; the player's is intact
    seen = (await wl.get("/v1/players/alice/bonuses")).json()["data"]
    assert [b["status"] for b in seen] == ["pending"]


# --- VIP and journeys ----------------------------------------------------------------------

async def test_the_players_vip_standing_and_journeys_are_the_operators_view(
    client: httpx.AsyncClient,
) -> None:
    wl, alice = await site_with_alice(client, winz=0)
    mine = await client.get("/v1/player/vip", headers=alice)
    assert mine.status_code == 200, mine.text
    assert mine.json() == (await wl.get("/v1/players/alice/vip")).json()
    r = await wl.put("/v1/vip", {
        "xp_per_unit": 10, "xp_daily_cap": 1000, "timezone": "UTC", "cashback_period": "daily",
        "cashback_as": "real", "levels": [
            {"level": 1, "name": "Bronze", "xp_required": 0, "cashback_pct": 5},
            {"level": 2, "name": "Silver", "xp_required": 50, "cashback_pct": 10}]})
    assert r.status_code == 200, r.text
    r = await wl.post("/v1/events/wager", {"user_id": "alice", "source_wager_id": "w-1",
                                           "amount": 2, "currency": "USD"})
    assert r.status_code in (200, 201), r.text
    mine = await client.get("/v1/player/vip", headers=alice)
    vip = mine.json()["vip"]
    assert vip["level"] == 1 and vip["name"] == "Bronze" and vip["xp"] == 20
    assert vip["progress"] is not None and vip["cashback"]["cashback_pct"] == 5
    assert mine.json() == (await wl.get("/v1/players/alice/vip")).json()

    r = await wl.post("/v1/journeys", {"name": "First steps", "entry_trigger": "signup",
                                       "steps": [{"trigger": "wager"}, {"trigger": "deposit"}],
                                       "reward_winz": 50})
    journey = await created(r, "journey")
    assert (await client.get("/v1/player/journeys", headers=alice)).json()["data"] == []
    r = await wl.post("/v1/journeys/event", {"user_id": "alice", "trigger": "signup"})
    assert r.status_code == 201, r.text
    r = await wl.post("/v1/events/wager", {"user_id": "alice", "source_wager_id": "w-2",
                                           "amount": 1, "currency": "USD"})
    assert r.status_code in (200, 201), r.text
    runs = await client.get("/v1/player/journeys", headers=alice)
    assert runs.status_code == 200, runs.text
    [run] = runs.json()["data"]
    assert run["journey_id"] == journey["id"] and run["status"] == "active"
    assert (run["step"], run["steps_total"]) == (1, 2)
    assert runs.json() == (await wl.get("/v1/players/alice/journeys")).json()
    assert_validation(await client.get("/v1/player/journeys?limit=0", headers=alice), "limit")


# --- lootboxes and mini-games ----------------------------------------------------------------

async def test_a_player_opens_a_lootbox(client: httpx.AsyncClient, engine: Any) -> None:
    wl, alice = await site_with_alice(client)
    box = await created(await wl.post("/v1/lootbox", {"name": "Chest", "prize_table": PRIZES,
                                                      "cost_winz": 5}), "lootbox")
    listed = await client.get("/v1/player/lootboxes", headers=alice)
    assert listed.status_code == 200, listed.text
    assert listed.json() == (await wl.get("/v1/lootbox")).json()

    path = f"/v1/player/lootboxes/{box['id']}/open"
    request = {"client_seed": " my seed ", "idempotency_key": "open-1"}
    first = await client.post(path, headers=alice, json=request)
    assert first.status_code == 201, first.text
    opened = first.json()
    assert opened["client_seed"] == " my seed " and opened["cost_winz"] == 5
    assert opened["user"]["username"] == "alice"
    assert fairness.hash_seed(opened["server_seed"]) == opened["server_seed_hash"]
    assert opened["prize_table_hash"] == box["prize_table_hash"]
    replay = await client.post(path, headers=alice, json=request)
    assert replay.status_code == 200 and replay.json()["deduped"] is True
    assert replay.json()["open_id"] == opened["open_id"]
    # the header key works as the body's does
    other = await client.post(path, headers={**alice, "Idempotency-Key": "open-2"})
    assert other.status_code == 201 and other.json()["open_id"] != opened["open_id"]
    # the operator sees both opens, and the ledger moved
    seen = (await wl.get(f"/v1/lootbox/{box['id']}/opens?user_id=alice")).json()["data"]
    assert {o["open_id"] for o in seen} == {opened["open_id"], other.json()["open_id"]}
    won = sum(Decimal(o["reward"]["amount"]) for o in seen if o["reward"]["asset"] == "WINZ")
    assert await winz(wl, "alice") == 1000 - 10 + won


async def test_lootbox_refusals(client: httpx.AsyncClient, engine: Any) -> None:
    wl, alice = await site_with_alice(client, winz=0)
    box = await created(await wl.post("/v1/lootbox", {"name": "Chest", "prize_table": PRIZES,
                                                      "cost_winz": 5}), "lootbox")
    path = f"/v1/player/lootboxes/{box['id']}/open"
    assert_error(await client.post(path, headers=alice, json={}), 402, "INSUFFICIENT_WINZ")
    assert_validation(await client.post(path, headers=alice, json={"client_seed": ""}),
                      "client_seed")
    assert_validation(await client.post(path, headers=alice, json={"user_id": "bob"}),
                      "user_id")
    assert_validation(await client.post(path, headers=alice, json={"client_seed": "x" * 257}),
                      "client_seed")
    assert_error(await client.post("/v1/player/lootboxes/nope/open", headers=alice), 404,
                 "NO_LOOTBOX")
    await fund(wl, "alice", 100)
    await created(await wl.post(f"/v1/lootbox/{box['id']}/pause", {}), "lootbox")
    assert_error(await client.post(path, headers=alice), 409, "NOT_ACTIVE")
    assert await count_rows(engine, "lootbox_opens", wl.id) == 0
    assert await winz(wl, "alice") == 100
    assert_validation(await client.get("/v1/player/lootboxes?status=closed", headers=alice),
                      "status")


async def test_a_player_plays_a_mini_game(client: httpx.AsyncClient, engine: Any) -> None:
    wl, alice = await site_with_alice(client, winz=3)
    game = await created(await wl.post("/v1/mini-games", {
        "name": "Wheel", "kind": "wheel", "prize_table": PRIZES, "cost_winz": 3,
        "plays_per_day": 1}), "mini_game")
    listed = await client.get("/v1/player/mini-games", headers=alice)
    assert listed.json() == (await wl.get("/v1/mini-games")).json()
    path = f"/v1/player/mini-games/{game['id']}/play"
    first = await client.post(path, headers=alice, json={"idempotency_key": "spin-1"})
    assert first.status_code == 201, first.text
    played = first.json()
    assert played["plays_left_today"] == 0 and played["cost_winz"] == 3
    assert fairness.hash_seed(played["server_seed"]) == played["server_seed_hash"]
    replay = await client.post(path, headers=alice, json={"idempotency_key": "spin-1"})
    assert replay.status_code == 200 and replay.json()["play_id"] == played["play_id"]
    assert_error(await client.post(path, headers=alice), 409, "PLAY_LIMIT_REACHED")
    seen = (await wl.get(f"/v1/mini-games/{game['id']}/plays?user_id=alice")).json()["data"]
    assert [p["play_id"] for p in seen] == [played["play_id"]]
    bob = await player_session(wl, "bob")
    assert_error(await client.post(path, headers=bob), 402, "INSUFFICIENT_WINZ")
    assert_validation(await client.post(path, headers=bob, json={"client_seed": None,
                                                                 "extra": 1}), "extra")
    assert_error(await client.post("/v1/player/mini-games/nope/play", headers=bob), 404,
                 "NO_MINI_GAME")
    assert await count_rows(engine, "mini_game_plays", wl.id) == 1


# --- raffles ---------------------------------------------------------------------------------

async def test_a_player_enters_a_raffle_and_finds_their_tickets(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    wl, alice = await site_with_alice(client, winz=100)
    raffle = await created(await wl.post("/v1/raffles", {
        "name": "Weekly", "ticket_cost_winz": 10, "prize_winz": 500,
        "max_tickets_per_player": 5}), "raffle")
    path = f"/v1/player/raffles/{raffle['id']}/enter"
    first = await client.post(path, headers=alice, json={"tickets": 2,
                                                          "idempotency_key": "enter-1"})
    assert first.status_code == 201, first.text
    entry = first.json()
    assert (entry["tickets"], entry["first_ticket_idx"], entry["winz_debited"]) == (2, 0, 20)
    again = await client.post(path, headers=alice, json={"tickets": 2,
                                                          "idempotency_key": "enter-1"})
    assert again.status_code == 200 and again.json()["entry_id"] == entry["entry_id"]
    assert_error(await client.post(path, headers=alice, json={"tickets": 2,
                                                               "idempotency_key": "enter-1"}
                                   | {"idempotency_key": "enter-1", "tickets": 3}),
                 422, "IDEMPOTENCY_KEY_REUSED")
    assert await winz(wl, "alice") == 80
    assert_error(await client.post(path, headers=alice, json={"tickets": 4}), 403,
                 "LIMIT_EXCEEDED")
    for bad in ({}, {"tickets": 0}, {"tickets": "2"}, {"tickets": 1.5},
                {"tickets": 100_001}):
        assert_validation(await client.post(path, headers=alice, json=bad), "tickets")
    assert_validation(await client.post(path, headers=alice,
                                        json={"tickets": 1, "user_id": "bob"}), "user_id")
    bob = await player_session(wl, "bob")
    assert_error(await client.post(path, headers=bob, json={"tickets": 1}), 402,
                 "INSUFFICIENT_WINZ")
    assert_error(await client.post("/v1/player/raffles/nope/enter", headers=bob,
                                   json={"tickets": 1}), 404, "NO_RAFFLE")

    mine = await client.get(f"/v1/player/raffles/{raffle['id']}/entries", headers=alice)
    assert mine.status_code == 200, mine.text
    assert mine.json() == (await wl.get(f"/v1/raffles/{raffle['id']}/entries/alice")).json()
    assert mine.json()["tickets"] == 2
    none = (await client.get(f"/v1/player/raffles/{raffle['id']}/entries", headers=bob)).json()
    assert none["tickets"] == 0 and none["holder_id"] != mine.json()["holder_id"]

    drawn = await wl.post(f"/v1/raffles/{raffle['id']}/draw", {})
    assert drawn.status_code == 201, drawn.text
    listed = await client.get("/v1/player/raffles", headers=alice)
    [shown] = listed.json()["data"]
    # the draw names its winner by holder id only: the player finds their own
    assert shown["draw"]["winner"] == {"holder_id": mine.json()["holder_id"], "user_id": None,
                                       "username": None}
    assert "alice" not in listed.text
    assert await winz(wl, "alice") == 80 + 500
    assert_error(await client.post(path, headers=alice, json={"tickets": 1}), 409, "NOT_ACTIVE")


# --- tournaments and jackpots ----------------------------------------------------------------

async def test_a_player_joins_a_tournament_and_reads_the_board_with_their_rank(
    client: httpx.AsyncClient, clock: ManualClock,
) -> None:
    wl, alice = await site_with_alice(client, winz=0)
    tournament = await created(await wl.post("/v1/tournaments", running_tournament(
        clock, opt_in=True)), "tournament")
    tid = tournament["id"]
    listed = await client.get("/v1/player/tournaments", headers=alice)
    assert listed.json() == (await wl.get("/v1/tournaments")).json()

    board = (await client.get(f"/v1/player/tournaments/{tid}/leaderboard",
                              headers=alice)).json()
    assert board["data"] == [] and board["me"]["rank"] is None and board["me"]["score"] is None
    path = f"/v1/player/tournaments/{tid}/join"
    first = await client.post(path, headers=alice, json={"idempotency_key": "join-1"})
    assert first.status_code == 201 and first.json()["joined"] is True, first.text
    replay = await client.post(path, headers=alice, json={"idempotency_key": "join-1"})
    assert replay.status_code == 200 and replay.json()["deduped"] is True
    already = await client.post(path, headers=alice)
    assert already.status_code == 200 and already.json()["already_joined"] is True

    board = (await client.get(f"/v1/player/tournaments/{tid}/leaderboard",
                              headers=alice)).json()
    assert (board["me"]["rank"], board["me"]["score"]) == (1, 0)
    assert [row["user"]["username"] for row in board["data"]] == ["alice"]
    bob = await player_session(wl, "bob")
    other = await second_brand(wl)
    zed = await session_on(client, other["site"], "zed")
    for caller in (bob, zed):
        assert (await client.post(path, headers=caller)).status_code == 201
    scores = (("alice", wl.headers(), 5), ("bob", wl.headers(), 9),
              ("zed", bearer(other["secret"]), 7))
    for i, (name, key, amount) in enumerate(scores):
        r = await client.post(f"/v1/tournaments/{tid}/score", headers=key, json={
            "user_id": name, "source_wager_id": f"w-{i}", "amount": amount})
        assert r.status_code == 201 and r.json()["scored"] is True, r.text

    r = await client.get(f"/v1/player/tournaments/{tid}/leaderboard", headers=alice)
    assert r.status_code == 200, r.text
    board = r.json()
    mine = board["me"]
    assert mine["rank"] == 3 and mine["score"] == 5 and mine["user"]["username"] == "alice"
    users = [row["user"] for row in board["data"]]
    assert users == [{"user_id": None, "username": "bob"}, {"user_id": None, "username": None},
                     {"user_id": mine["user"]["user_id"], "username": "alice"}]
    assert "zed" not in r.text
    around = (await client.get(f"/v1/player/tournaments/{tid}/leaderboard?around_me=true"
                               "&limit=1", headers=alice)).json()
    assert [row["rank"] for row in around["data"]] == [3]
    page = (await client.get(f"/v1/player/tournaments/{tid}/leaderboard?limit=1",
                             headers=alice)).json()
    assert [row["rank"] for row in page["data"]] == [1] and page["next_cursor"]
    assert_validation(await client.get(
        f"/v1/player/tournaments/{tid}/leaderboard?around_me=true&cursor="
        f"{page['next_cursor']}", headers=alice), "around_me")
    assert_validation(await client.get(f"/v1/player/tournaments/{tid}/leaderboard?limit=501",
                                       headers=alice), "limit")
    # an empty cursor is no cursor, on the player's board and the operator's
    for r in (await client.get(f"/v1/player/tournaments/{tid}/leaderboard?cursor=&limit=1",
                               headers=alice),
              await wl.get(f"/v1/tournaments/{tid}/leaderboard?cursor=&limit=1")):
        assert r.status_code == 200 and r.json()["data"][0]["rank"] == 1, r.text
    assert_error(await client.get("/v1/player/tournaments/nope/leaderboard", headers=alice),
                 404, "NO_TOURNAMENT")
    assert_error(await client.post("/v1/player/tournaments/nope/join", headers=alice), 404,
                 "NO_TOURNAMENT")
    assert_validation(await client.post(path, headers=alice, json={"user_id": "bob"}),
                      "user_id")
    # the operator's board is unchanged: its own players by name and id
    operator = (await wl.get(f"/v1/tournaments/{tid}/leaderboard")).json()["data"]
    assert operator[0]["user"]["user_id"] is not None


async def test_jackpots_are_listed_without_naming_a_winner(client: httpx.AsyncClient) -> None:
    wl, alice = await site_with_alice(client, winz=0)
    jackpot = await created(await wl.post("/v1/jackpots", {
        "name": "Pot", "currency": "USD", "seed_usd": 50, "contribution_pct": 1}), "jackpot")
    listed = await client.get("/v1/player/jackpots", headers=alice)
    assert listed.status_code == 200, listed.text
    [shown] = listed.json()["data"]
    assert shown["id"] == jackpot["id"] and shown["pool"] == 50
    r = await wl.post(f"/v1/jackpots/{jackpot['id']}/contribute", {
        "user_id": "alice", "source_wager_id": "w-1", "amount": 10})
    assert r.status_code == 201, r.text
    r = await wl.post(f"/v1/jackpots/{jackpot['id']}/drop", {})
    assert r.status_code == 201, r.text
    listed = await client.get("/v1/player/jackpots?status=active", headers=alice)
    [shown] = listed.json()["data"]
    assert shown["last_drop"]["winner_username"] is None and "alice" not in listed.text
    operator = (await wl.get("/v1/jackpots")).json()["data"][0]
    assert operator["last_drop"]["winner_username"] == "alice"


# --- responsible gambling ------------------------------------------------------------------

async def play_everything(client: httpx.AsyncClient, player: dict[str, str],
                          ids: dict[str, str]) -> list[httpx.Response]:
    """One request to every play route."""
    return [
        await client.post("/v1/player/bonuses/claim", headers=player,
                          json={"promo_code": "WELCOME"}),
        await client.post(f"/v1/player/lootboxes/{ids['lootbox']}/open", headers=player),
        await client.post(f"/v1/player/mini-games/{ids['mini_game']}/play", headers=player),
        await client.post(f"/v1/player/raffles/{ids['raffle']}/enter", headers=player,
                          json={"tickets": 1}),
        await client.post(f"/v1/player/tournaments/{ids['tournament']}/join", headers=player),
    ]


PLAY_ROUTES = 5


async def everything(wl: WhiteLabel, clock: ManualClock) -> dict[str, str]:
    await created(await wl.post("/v1/bonus-templates", WELCOME), "template")
    await created(await wl.post("/v1/bonus-templates", SPINS), "template")
    return {
        "lootbox": (await created(await wl.post("/v1/lootbox", {
            "name": "Chest", "prize_table": PRIZES, "cost_winz": 1}), "lootbox"))["id"],
        "mini_game": (await created(await wl.post("/v1/mini-games", {
            "name": "Wheel", "kind": "wheel", "prize_table": PRIZES}), "mini_game"))["id"],
        "raffle": (await created(await wl.post("/v1/raffles", {
            "name": "Weekly", "ticket_cost_winz": 1, "prize_winz": 5}), "raffle"))["id"],
        "tournament": (await created(await wl.post("/v1/tournaments", running_tournament(
            clock, opt_in=True)), "tournament"))["id"],
    }


async def effects(engine: Any, wl: WhiteLabel) -> dict[str, int]:
    return {table: await count_rows(engine, table, wl.id) for table in (
        "bonuses", "lootbox_opens", "mini_game_plays", "raffle_entries", "tournament_entries",
        "ledger_entries")}


async def test_a_timed_out_player_is_refused_every_play_with_no_effect(
    client: httpx.AsyncClient, clock: ManualClock, engine: Any,
) -> None:
    wl, alice = await site_with_alice(client, winz=100)
    ids = await everything(wl, clock)
    spins = (await client.post("/v1/player/bonuses/claim", headers=alice,
                               json={"promo_code": "SPINS"})).json()["bonus"]
    until = clock.now() + timedelta(hours=2)
    r = await wl.post("/v1/players/alice/rg", {"timeout_until": iso(until)})
    assert r.status_code == 200, r.text
    before, balance = await effects(engine, wl), await balances(wl, "alice")
    answers = await play_everything(client, alice, ids)
    assert len(answers) == PLAY_ROUTES
    for r in answers:
        payload = assert_error(r, 403, "TIMED_OUT")
        assert payload["details"]["until"] == iso(until), payload
    assert await effects(engine, wl) == before
    assert await balances(wl, "alice") == balance
    # a shorter time-out waits out its cooling-off: the running one still holds
    r = await wl.post("/v1/players/alice/rg",
                      {"timeout_until": iso(clock.now() + timedelta(minutes=5))})
    assert r.status_code == 200 and r.json()["changes"][0]["immediate"] is False, r.text
    clock.advance(timedelta(hours=1))
    for r in await play_everything(client, alice, ids):
        assert_error(r, 403, "TIMED_OUT")
    assert await effects(engine, wl) == before
    # reading, and giving up a pending bonus, stay open during a time-out
    assert (await client.get("/v1/player/bonuses", headers=alice)).status_code == 200
    cancel = await client.post(f"/v1/player/bonuses/{spins['id']}/cancel", headers=alice)
    assert cancel.status_code == 200 and cancel.json()["bonus"]["status"] == "cancelled"
    # once it ends, play goes on
    clock.advance(timedelta(hours=1, seconds=1))
    for r in await play_everything(client, alice, ids):
        assert r.status_code == 201, r.text


async def test_a_player_who_may_not_play_is_refused_before_any_effect(
    client: httpx.AsyncClient, clock: ManualClock, engine: Any,
) -> None:
    wl, alice = await site_with_alice(client, winz=100)
    ids = await everything(wl, clock)
    before = await effects(engine, wl)
    r = await wl.patch("/v1/players/alice/status", {"status": "fraud_hold", "reason": "review"})
    assert r.status_code == 200, r.text
    for r in await play_everything(client, alice, ids):
        payload = assert_error(r, 403, "PLAYER_BLOCKED")
        assert payload["details"]["status"] == "fraud_hold"
    assert await effects(engine, wl) == before
    r = await wl.patch("/v1/players/alice/status", {"status": "self_excluded",
                                                   "reason": "asked to"})
    assert r.status_code == 200, r.text
    for r in await play_everything(client, alice, ids):
        assert_error(r, 403, "SELF_EXCLUDED")
    assert_error(await client.get("/v1/player/bonuses", headers=alice), 403, "SELF_EXCLUDED")
    assert await effects(engine, wl) == before


# --- live and test, brands -------------------------------------------------------------------

async def test_live_and_test_players_reach_only_their_own_world(
    client: httpx.AsyncClient, clock: ManualClock, engine: Any,
) -> None:
    wl, _ = await site_with_alice(client, winz=100)
    ids = await everything(wl, clock)
    await register(wl, "alice", mode="live")
    await fund(wl, "alice", 100, mode="live")
    live = bearer(await login(wl, "alice", mode="live"))
    before = await effects(engine, wl)
    answers = await play_everything(client, live, ids)
    codes = [assert_error(r, 404)["code"] for r in answers]
    assert codes == ["NO_TEMPLATE", "NO_LOOTBOX", "NO_MINI_GAME", "NO_RAFFLE",
                     "NO_TOURNAMENT"]
    assert await effects(engine, wl) == before
    for path in ("/v1/player/lootboxes", "/v1/player/mini-games", "/v1/player/raffles",
                 "/v1/player/tournaments", "/v1/player/jackpots", "/v1/player/bonuses",
                 "/v1/player/journeys"):
        r = await client.get(path, headers=live)
        assert r.status_code == 200 and r.json()["data"] == [], (path, r.text)
    assert_error(await client.get(f"/v1/player/raffles/{ids['raffle']}/entries",
                                  headers=live), 404, "NO_RAFFLE")
    assert await winz(wl, "alice", mode="live") == 100

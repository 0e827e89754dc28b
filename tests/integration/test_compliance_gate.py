"""The compliance gate's GB and DE rules, each refusal with its code and its audit row, and
one decision whichever route reaches it.

Bets go through the sandbox aggregator's signed protocol (the gate's code leads the
answer's message; the protocol's own code says PLAYER_BLOCKED or LIMIT_EXCEEDED), the
other actions through the player's own routes."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import text

from tests.integration.games_support import Table, launch
from tests.integration.support import adjust, assert_error, unthrottle
from tests.integration.wl_support import WhiteLabel, login, make_white_label, register
from wowsino.compliance import gate, profiles
from wowsino.kernel.clock import ManualClock, iso
from wowsino.kernel.db import read_only
from wowsino.kernel.realm import Mode, Realm
from wowsino.pam import guard

_ids = itertools.count(1)


async def refusals(engine: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT after FROM audit_log WHERE action = 'compliance.refused' ORDER BY id"))).all()
    return [r[0] for r in rows]


async def profile(wl: WhiteLabel, name: str, **overrides: Any) -> None:
    r = await wl.put("/v1/brands/main/jurisdiction", {"profile": name, "overrides": overrides})
    assert r.status_code == 200, r.text


async def verified(wl: WhiteLabel, username: str, level: int = 1) -> None:
    r = await wl.patch(f"/v1/players/{username}/kyc",
                       {"status": "approved", "level": level, "reason": "documents checked"})
    assert r.status_code == 200, r.text


async def seated(wl: WhiteLabel, username: str, currency: str, *, born: str = "1990-01-01",
                 cash: str = "100.00") -> Table:
    """A verified, funded player of ``wl`` in ``currency`` at the sandbox slot."""
    player = await register(wl, username, currency=currency, date_of_birth=born)
    await verified(wl, username)
    r = await adjust(wl, username, cash, reason="deposit", asset=currency)
    assert r.status_code == 201, r.text
    session = {"Authorization": f"Bearer {await login(wl, username)}"}
    launched = await launch(wl.client, session)
    return Table(wl, username, player["user_id"], session, launched["token"])


async def bet(table: Table, amount: str, currency: str, round_id: str | None = None
              ) -> httpx.Response:
    tx = f"tx-{next(_ids)}"
    return await table.call("bet", transaction_id=tx, round_id=round_id or f"r-{tx}",
                            game_id=table.game_id, amount=amount, currency=currency)


def refused_bet(r: httpx.Response, protocol: str, code: str) -> None:
    assert r.status_code == 403, r.text
    answer = r.json()
    assert answer["code"] == protocol, answer
    assert answer["error"].startswith(f"{code}: "), answer


def ok(r: httpx.Response) -> None:
    assert r.status_code == 200 and r.json()["code"] == "OK", r.text


# --- GB --------------------------------------------------------------------------------------

async def test_gb_needs_kyc_before_play_and_caps_slot_stakes_lower_for_young_adults(
    client: httpx.AsyncClient, engine: Any, clock: ManualClock,
) -> None:
    wl = await make_white_label(client, "gbcasino")
    await profile(wl, "GB")
    # identity verified before play: an unverified player cannot launch a game
    await register(wl, "nigel", currency="GBP")
    session = {"Authorization": f"Bearer {await login(wl, 'nigel')}"}
    refusal = assert_error(await client.post("/v1/games/sandbox-slot/launch", headers=session,
                                             json={}), 403, "KYC_REQUIRED")
    assert refusal["details"]["rule"] == "play_kyc_level"
    assert refusal["details"]["profile"] == "GB"
    [row] = await refusals(engine)
    assert (row["rule"], row["code"], row["profile"], row["action"]) == (
        "play_kyc_level", "KYC_REQUIRED", "GB", "game_launch")
    assert row["profile_version"] == 1
    await verified(wl, "nigel")
    await launch(client, session)

    adult = await seated(wl, "harriet", "GBP")
    refused_bet(await bet(adult, "5.01", "GBP"), "LIMIT_EXCEEDED", "STAKE_LIMIT")
    ok(await bet(adult, "5.00", "GBP"))
    # aged 18-24: GBP 2
    young = clock.now().date().replace(year=clock.now().year - 20)
    youth = await seated(wl, "tom", "GBP", born=young.isoformat())
    refused_bet(await bet(youth, "2.01", "GBP"), "LIMIT_EXCEEDED", "STAKE_LIMIT")
    ok(await bet(youth, "2.00", "GBP"))
    rules = [(r["rule"], r["code"], r["profile"]) for r in (await refusals(engine))[1:]]
    assert rules == [("slot_stake_cap", "STAKE_LIMIT", "GB"),
                     ("slot_stake_cap_young_adult", "STAKE_LIMIT", "GB")]
    # a stake in a currency the profile sets no cap for is not capped; an override adds one
    dollars = await seated(wl, "dora", "USD")
    ok(await bet(dollars, "50.00", "USD"))
    await profile(wl, "GB", slot_stake_cap={"USD": "6.00"})
    refused_bet(await bet(dollars, "6.01", "USD"), "LIMIT_EXCEEDED", "STAKE_LIMIT")
    assert (await refusals(engine))[-1]["profile_version"] == 2


def test_gb_refuses_bonuses_given_for_bets_and_wagering_over_ten_times() -> None:
    rules = gate.BrandRules("GB", 1, profiles.effective("GB", {}))
    player = {"id": "p", "status": "active", "rg": {}, "date_of_birth": date(1990, 1, 1),
              "country_code": "GB", "kyc_status": "approved", "kyc_level": 1}
    at = ManualClock().now()

    def grant(kind: str, multiple: int) -> gate.Decision:
        return gate.evaluate(gate.Facts(gate.Action.BONUS_GRANT, player, rules, at,
                                        terms={"wagering_multiple": multiple, "type": kind}))

    assert grant("deposit_match", 10).allowed
    for kind in ("drops", "rakeback"):
        refused = grant(kind, 0)
        assert (refused.code, refused.rule) == ("PROMO_RULE_VIOLATION", "bonus_on_bet_allowed")
    assert grant("deposit_match", 11).rule == "max_wagering_multiple"
    default = gate.BrandRules("default", 0, profiles.effective("default", {}))
    assert gate.evaluate(gate.Facts(gate.Action.BONUS_GRANT, player, default, at,
                                    terms={"wagering_multiple": 40, "type": "drops"})).allowed


# --- DE --------------------------------------------------------------------------------------

async def test_de_caps_stakes_spaces_spins_and_allows_one_game_and_one_login_at_a_time(
    client: httpx.AsyncClient, engine: Any, clock: ManualClock,
) -> None:
    wl = await make_white_label(client, "decasino")
    await profile(wl, "DE")
    table = await seated(wl, "jonas", "EUR")
    refused_bet(await bet(table, "1.01", "EUR"), "LIMIT_EXCEEDED", "STAKE_LIMIT")
    ok(await bet(table, "1.00", "EUR", round_id="spin-1"))
    # a second bet in the same round is not a new spin; a new round within 5 s is
    ok(await bet(table, "0.50", "EUR", round_id="spin-1"))
    clock.advance(timedelta(seconds=4))
    refused_bet(await bet(table, "1.00", "EUR", round_id="spin-2"), "LIMIT_EXCEEDED",
                "SPIN_TOO_FAST")
    clock.advance(timedelta(seconds=1))
    ok(await bet(table, "1.00", "EUR", round_id="spin-2"))
    # one game at a time: a game opened since refuses the older one's bets
    clock.advance(timedelta(seconds=10))
    newer = await launch(client, table.session)
    refused_bet(await bet(table, "1.00", "EUR"), "PLAYER_BLOCKED", "PARALLEL_SESSION")
    ok(await bet(Table(wl, table.username, table.player_id, table.session, newer["token"]),
                 "1.00", "EUR"))
    # one login at a time: a new login ends the others
    r = await client.post("/v1/auth/login", headers=wl.site("test"),
                          json={"username": "jonas", "password": "correct horse battery"})
    assert r.status_code == 201 and r.json()["ended_sessions"] == 1, r.text
    assert (await client.get("/v1/player/profile", headers=table.session)).status_code == 401
    found = [(r["rule"], r["code"]) for r in await refusals(engine)]
    assert found == [("slot_stake_cap", "STAKE_LIMIT"), ("min_spin_interval_seconds",
                                                         "SPIN_TOO_FAST"),
                     ("parallel_sessions", "PARALLEL_SESSION")]
    assert {r["profile"] for r in await refusals(engine)} == {"DE"}


async def test_de_players_feed_no_jackpot(client: httpx.AsyncClient, engine: Any) -> None:
    wl = await make_white_label(client, "dejackpot")
    await profile(wl, "DE")
    r = await wl.post("/v1/jackpots", {"name": "Mega", "currency": "EUR", "seed_usd": 100,
                                       "must_drop_at": 1000, "contribution_pct": 1})
    assert r.status_code == 201, r.text
    jackpot = r.json()["jackpot"]
    table = await seated(wl, "lena", "EUR")
    ok(await bet(table, "1.00", "EUR", round_id="j-1"))
    r = await table.call("win", transaction_id="w-1", round_id="j-1", game_id=table.game_id,
                         amount="0", currency="EUR")
    assert r.status_code == 200, r.text
    async with engine.connect() as conn:
        count = await conn.scalar(text("SELECT count(*) FROM jackpot_contributions"))
    assert count == 0
    # an operator reporting the wager itself is refused with the rule
    r = await wl.post(f"/v1/jackpots/{jackpot['id']}/contribute",
                      {"user_id": "lena", "source_wager_id": "w-9", "amount": "0.10"})
    refusal = assert_error(r, 403, "JURISDICTION_BLOCKED")
    assert refusal["details"]["rule"] == "jackpots_allowed"
    # the same pool takes the contribution once the brand's profile allows jackpots
    await profile(wl, "DE", jackpots_allowed=True)
    r = await wl.post(f"/v1/jackpots/{jackpot['id']}/contribute",
                      {"user_id": "lena", "source_wager_id": "w-9", "amount": "0.10"})
    assert r.status_code == 201, r.text


# --- one decision, whichever route -----------------------------------------------------------

STATUSES = ("active", "withdrawal_hold", "fraud_hold")
PROFILES = ("default", "GB", "DE")


async def test_every_route_to_an_action_gets_the_gates_one_decision(
    client: httpx.AsyncClient, engine: Any, clock: ManualClock,
) -> None:
    """Over every combination of status, time-out, KYC, profile and a blocked country,
    the three draw routes (lootbox, mini-game, raffle) answer exactly the decision
    ``gate.evaluate`` gives a draw, and a bet and a launch answer the gate's decision for
    theirs, reading the player as the routes do."""
    wl = await make_white_label(client, "paths")
    await unthrottle(wl)  # hundreds of requests, as fast as the machine goes
    await register(wl, "pat", date_of_birth="1990-01-01", country_code="MT")
    r = await adjust(wl, "pat", 1_000_000, rail="winz", asset="WINZ")
    assert r.status_code == 201, r.text
    r = await adjust(wl, "pat", "1000.00", reason="deposit")
    assert r.status_code == 201, r.text
    prizes = [{"segment_label": "coins", "weight": 1, "asset": "WINZ", "amount": 1}]
    box = (await wl.post("/v1/lootbox", {"name": "Chest", "prize_table": prizes,
                                         "cost_winz": 1})).json()["lootbox"]
    wheel = (await wl.post("/v1/mini-games", {"name": "Wheel", "kind": "wheel",
                                              "prize_table": prizes, "cost_winz": 1,
                                              "plays_per_day": 10_000})).json()["mini_game"]
    raffle = (await wl.post("/v1/raffles", {"name": "Weekly", "ticket_cost_winz": 1,
                                            "prize_winz": 10,
                                            "max_tickets_per_player": 10_000})).json()["raffle"]
    draws = (f"/v1/player/lootboxes/{box['id']}/open", f"/v1/player/mini-games/{wheel['id']}/play",
             f"/v1/player/raffles/{raffle['id']}/enter")
    realm = Realm(UUID(wl.id), Mode.TEST)
    checked = 0
    for status, timed_out, kyc, name, blocked in itertools.product(
            STATUSES, (False, True), (False, True), PROFILES, (False, True)):
        # a state every route allows first: a fresh login and game (the clock moves on)
        clock.advance(timedelta(hours=2))
        await profile(wl, "default")
        assert (await wl.patch("/v1/players/pat/status",
                               {"status": "active", "reason": "reset"})).status_code == 200
        await verified(wl, "pat")
        session = {"Authorization": f"Bearer {await login(wl, 'pat')}"}
        table = Table(wl, "pat", "", session, (await launch(client, session))["token"])
        # then the combination
        assert (await wl.patch("/v1/players/pat/status",
                               {"status": status, "reason": "check"})).status_code == 200
        if timed_out:
            r = await wl.post("/v1/players/pat/rg",
                              {"timeout_until": iso(clock.now() + timedelta(hours=1))})
            assert r.status_code == 200, r.text
        if not kyc:
            r = await wl.patch("/v1/players/pat/kyc", {"status": "none", "reason": "expired"})
            assert r.status_code == 200, r.text
        await profile(wl, name, **({"blocked_countries": ["MT"]} if blocked else {}))

        async with read_only(engine) as conn:
            row = await _player(conn, realm)
            rules = await gate.rules_for(conn, realm, row)

        def expected(action: gate.Action, row: dict[str, Any] = row,
                     rules: gate.BrandRules = rules, **facts: Any) -> gate.Decision:
            return gate.evaluate(gate.Facts(action, row, rules, clock.now(),
                                            currency="USD", **facts))

        draw = expected(gate.Action.DRAW)
        for path in draws:
            answer = await client.post(path, headers=session, json={"tickets": 1}
                                       if "raffles" in path else {})
            state = (status, timed_out, kyc, name, blocked, path)
            if draw.allowed:
                assert answer.status_code == 201, (state, answer.text)
            else:
                assert answer.status_code == 403, (state, answer.text)
                assert (answer.json()["code"], answer.json()["details"]["rule"]) == (
                    draw.code, draw.rule), state
        launched = await client.post("/v1/games/sandbox-slot/launch", headers=session, json={})
        decided = expected(gate.Action.LAUNCH)
        assert (launched.status_code == 201) == decided.allowed, (status, name, launched.text)
        if not decided.allowed:
            assert launched.json()["code"] == decided.code
        betting = expected(gate.Action.BET, amount=100, cash=100, category="slots")
        r = await bet(table, "1.00", "USD")
        if betting.allowed:
            ok(r)
        else:
            assert r.json()["error"].startswith(f"{betting.code}: "), (status, name, r.text)
        checked += 1
    assert checked == len(STATUSES) * 2 * 2 * len(PROFILES) * 2


async def _player(conn: Any, realm: Realm) -> dict[str, Any]:
    """The player's row as the routes read it (the play guard's statement)."""
    player_id = await conn.scalar(text(
        "SELECT id FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND username = 'pat'"), realm.params)
    row = await conn.execute(text(guard.lookup(realm, player_id).sql),
                             {**realm.params, "id": player_id})
    return dict(row.mappings().one())

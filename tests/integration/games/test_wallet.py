"""The seamless wallet over HTTP: money moves once per transaction id, cash first then
bonus in one entry, wins in the round's split, rollbacks of known and unknown bets,
signatures checked before anything, sessions that expire for bets but not for wins."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from tests.integration.bonus_support import bonuses_of, entries, grant, ledger_problems, template
from tests.integration.games_support import SECRET, Table, seat, signed
from tests.integration.support import adjust, body, count_rows
from wowsino.kernel import db
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.jsonio import dumps


def money(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = body(r)
    assert answer["code"] == "OK", answer
    return answer


async def with_bonus(table: Table, amount: str = "20.00", multiple: int = 10) -> str:
    made = await template(table.wl, name="Welcome", amount=amount, wagering_multiple=multiple)
    granted = await grant(table.wl, made["id"], user=table.username)
    bonus_id: str = granted["bonus"]["id"]
    return bonus_id


async def test_a_bet_spends_cash_first_then_bonus_in_one_entry_and_its_win_pays_in_that_split(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client, cash="10.00")
    bonus_id = await with_bonus(table)
    answer = money(await table.bet("15.00", tx="b1", round_id="r1"))
    assert (answer["cash"], answer["bonus"], answer["balance"]) == (
        Decimal("0.00"), Decimal("15.00"), Decimal("15.00"))
    [bet] = await entries(engine, "game.bet")
    player = table.player_id
    assert bet["postings"] == {f"{player} real USD": -1000, "house real USD": 1000,
                               f"{player} bonus USD": -500, "bonus_liability bonus USD": 500}
    async with engine.connect() as conn:
        metadata = (await conn.execute(text(
            "SELECT metadata FROM ledger_entries WHERE kind = 'game.bet'"))).scalar_one()
    assert (metadata["cash"], metadata["bonus"]) == (1000, 500)
    # a win of 30: the bonus share is floor(3000 x 500 / 1500) = 1000, the rest cash
    answer = money(await table.win("30.00", round_id="r1", tx="w1"))
    assert (answer["cash"], answer["bonus"]) == (Decimal("20.00"), Decimal("25.00"))
    [win] = await entries(engine, "game.win")
    assert win["postings"] == {f"{player} real USD": 2000, "house real USD": -2000,
                               f"{player} bonus USD": 1000, "bonus_liability bonus USD": -1000}
    assert await table.balances() == {"real": Decimal("20.00"), "bonus": Decimal("25.00")}
    # the settled bet's two parts count for wagering, and moved no bonus money twice
    [bonus] = await bonuses_of(table.wl, table.username)
    assert bonus["id"] == bonus_id
    assert (bonus["wagering_completed"], bonus["balance"]) == (Decimal("15.00"), Decimal("25.00"))
    assert await ledger_problems(engine) == []


async def test_a_win_shares_out_exactly_with_the_remainder_in_cash(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client, cash="0.01")
    await with_bonus(table, amount="0.02")
    money(await table.bet("0.03", tx="b1", round_id="r1"))  # cash 0.01, bonus 0.02
    answer = money(await table.win("0.01", round_id="r1"))
    # bonus share floor(1 x 2 / 3) = 0; the minor unit goes to cash
    assert (answer["cash"], answer["bonus"]) == (Decimal("0.01"), Decimal("0.00"))
    money(await table.bet("0.01", tx="b2", round_id="r2"))
    answer = money(await table.win("0.05", round_id="r2"))
    assert (answer["cash"], answer["bonus"]) == (Decimal("0.05"), Decimal("0.00"))
    assert await ledger_problems(engine) == []


async def test_the_same_transaction_twice_moves_money_once_and_answers_the_same(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    first = money(await table.bet("5.00", tx="b1", round_id="r1"))
    assert money(await table.bet("5.00", tx="b1", round_id="r1")) == first
    win = money(await table.win("7.00", round_id="r1", tx="w1"))
    assert money(await table.win("7.00", round_id="r1", tx="w1")) == win
    rolled = money(await table.rollback("b1", tx="rb1"))
    assert money(await table.rollback("b1", tx="rb1")) == rolled
    assert [len(await entries(engine, k)) for k in ("game.bet", "game.win", "game.rollback")] \
        == [1, 1, 1]
    assert await table.balances() == {"real": Decimal("107.00"), "bonus": Decimal("0.00")}


async def test_the_same_transaction_id_with_other_content_is_a_duplicate(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    money(await table.bet("5.00", tx="b1", round_id="r1"))
    for r in (await table.bet("6.00", tx="b1", round_id="r1"),
              await table.bet("5.00", tx="b1", round_id="r2"),
              await table.win("5.00", tx="b1", round_id="r1")):
        assert r.status_code == 409 and r.json()["code"] == "DUPLICATE_TRANSACTION", r.text
        assert body(r)["cash"] == Decimal("95.00")
    assert len(await entries(engine, "game.bet")) == 1


async def test_sixteen_concurrent_duplicates_have_one_effect(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    answers = await asyncio.gather(*(table.bet("3.00", tx="b1", round_id="r1")
                                     for _ in range(16)))
    assert {r.status_code for r in answers} == {200}
    assert len({r.text for r in answers}) == 1
    answers = await asyncio.gather(*(table.win("4.00", tx="w1", round_id="r1")
                                     for _ in range(16)))
    assert {r.status_code for r in answers} == {200}
    assert len(await entries(engine, "game.bet")) == len(await entries(engine, "game.win")) == 1
    assert await table.balances() == {"real": Decimal("101.00"), "bonus": Decimal("0.00")}


async def test_sixteen_concurrent_bets_beyond_the_balance_never_take_it_below_zero(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client, cash="10.00")
    await with_bonus(table, amount="5.00")
    deadlocks = db.RETRIES["40P01"]
    answers = await asyncio.gather(*(table.bet("1.50", tx=f"b{i}", round_id=f"r{i}")
                                     for i in range(16)))
    assert db.RETRIES["40P01"] == deadlocks, "the bets took their locks out of order"
    accepted = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code != 200]
    assert len(accepted) == 10  # 15.00 playable: ten stakes of 1.50
    assert {r.json()["code"] for r in refused} == {"INSUFFICIENT_FUNDS"}
    assert await table.balances() == {"real": Decimal("0.00"), "bonus": Decimal("0.00")}
    assert await ledger_problems(engine) == []


async def test_a_bad_signature_is_refused_before_anything_is_read_or_recorded(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    payload = {"token": table.token, "transaction_id": "b1", "round_id": "r1",
               "game_id": "sandbox-slot", "amount": Decimal("5.00"), "currency": "USD"}
    raw = dumps(payload).encode()
    for headers in (signed(raw, "another secret"), {"Content-Type": "application/json"},
                    {**signed(raw), "X-Signature": signed(raw)["X-Signature"].upper()},
                    signed(raw + b" ")):
        r = await client.post("/v1/aggregator/sandbox/bet", content=raw, headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "INVALID_SIGNATURE", r.text
    # not even a body that is not JSON is read without a signature
    r = await client.post("/v1/aggregator/sandbox/bet", content=b"[]",
                          headers={"Content-Type": "application/json", "X-Signature": "00"})
    assert r.json()["code"] == "INVALID_SIGNATURE"
    assert await count_rows(engine, "game_transactions", table.wl.id) == 0
    assert await table.balances() == {"real": Decimal("100.00"), "bonus": Decimal("0.00")}
    # the same bytes, signed, are a bet
    r = await client.post("/v1/aggregator/sandbox/bet", content=raw, headers=signed(raw))
    assert money(r)["cash"] == Decimal("95.00")


async def test_calls_the_wallet_cannot_read_are_refused_and_not_recorded(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    r = await table.call("bet", transaction_id="b1", round_id="r1", game_id="sandbox-slot",
                         currency="USD")  # no amount
    assert r.status_code == 400 and r.json()["code"] == "VALIDATION_ERROR", r.text
    assert r.json()["details"] == {"field": "amount"}
    r = await table.bet("5.001", tx="b2")
    assert r.status_code == 400 and "decimal" in r.json()["error"], r.text
    assert r.json()["details"] == {"field": "amount"}
    r = await table.bet("-5", tx="b3")
    assert r.status_code == 400, r.text
    r = await table.call("bet", transaction_id="b4", round_id="r1", game_id="sandbox-slot",
                         amount=Decimal(5), currency="EUR")
    assert r.status_code == 400 and r.json()["code"] == "WRONG_CURRENCY", r.text
    r = await table.call("bet", transaction_id="has space", round_id="r1",
                         game_id="sandbox-slot", amount=Decimal(5), currency="USD")
    assert r.status_code == 400, r.text
    r = await table.call("balance", token="wgs_test_" + "0" * 48)
    assert r.status_code == 401 and r.json()["code"] == "INVALID_TOKEN", r.text
    assert await count_rows(engine, "game_transactions", table.wl.id) == 0


async def test_a_rollback_of_an_unknown_bet_is_answered_and_the_bet_then_refused(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    assert money(await table.rollback("ghost", tx="rb1"))["cash"] == Decimal("100.00")
    r = await table.bet("5.00", tx="ghost", round_id="r1")
    assert r.status_code == 409 and r.json()["code"] == "TRANSACTION_ROLLED_BACK", r.text
    assert await table.balances() == {"real": Decimal("100.00"), "bonus": Decimal("0.00")}
    assert await entries(engine, "game.bet") == []
    # a rollback of a refused bet returns nothing; of another player's bet, refused
    other = await seat(client, wl=table.wl, username="otto")
    money(await other.bet("5.00", tx="otto-bet", round_id="otto-r"))
    r = await table.rollback("otto-bet")
    assert r.status_code == 404 and r.json()["code"] == "NO_TRANSACTION", r.text
    assert (await other.balances())["real"] == Decimal("95.00")


async def test_a_rollback_returns_its_bets_split_and_takes_its_wagering_back(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client, cash="10.00")
    await with_bonus(table)
    money(await table.bet("15.00", tx="b1", round_id="r1"))  # 10 cash, 5 bonus
    money(await table.win("0", round_id="r1", tx="w1"))  # settles: 15.00 of progress
    [bonus] = await bonuses_of(table.wl, table.username)
    assert bonus["wagering_completed"] == Decimal("15.00")
    answer = money(await table.rollback("b1", tx="rb1"))
    assert (answer["cash"], answer["bonus"]) == (Decimal("10.00"), Decimal("20.00"))
    [rollback] = await entries(engine, "game.rollback")
    player = table.player_id
    assert rollback["postings"] == {f"{player} real USD": 1000, "house real USD": -1000,
                                    f"{player} bonus USD": 500,
                                    "bonus_liability bonus USD": -500}
    [bonus] = await bonuses_of(table.wl, table.username)
    assert (bonus["wagering_completed"], bonus["balance"]) == (Decimal("0.00"), Decimal("20.00"))
    # a second rollback of the same bet returns nothing more
    money(await table.rollback("b1", tx="rb2"))
    assert len(await entries(engine, "game.rollback")) == 1
    assert await ledger_problems(engine) == []


async def test_an_open_bets_rollback_returns_it_before_it_ever_reaches_the_spine(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    money(await table.bet("5.00", tx="b1", round_id="r1"))
    money(await table.rollback("b1"))
    assert await count_rows(engine, "wager_events", table.wl.id) == 0
    # the round's win pays cash and settles nothing
    assert money(await table.win("2.00", round_id="r1"))["cash"] == Decimal("102.00")
    assert await count_rows(engine, "wager_events", table.wl.id) == 0


async def test_wins_and_rollbacks_are_accepted_after_the_session_expired_bets_are_not(
    client: httpx.AsyncClient, engine: Any, clock: ManualClock,
) -> None:
    table = await seat(client)
    money(await table.bet("5.00", tx="b1", round_id="r1"))
    money(await table.bet("5.00", tx="b2", round_id="r2"))
    clock.advance(timedelta(hours=24, seconds=1))
    r = await table.bet("5.00", tx="b3", round_id="r3")
    assert r.status_code == 401 and r.json()["code"] == "TOKEN_EXPIRED", r.text
    r = await table.call("balance")
    assert r.status_code == 401 and r.json()["code"] == "TOKEN_EXPIRED", r.text
    assert money(await table.win("12.00", round_id="r1"))["cash"] == Decimal("102.00")
    assert money(await table.rollback("b2"))["cash"] == Decimal("107.00")
    # the expired bet was recorded as refused: a retry gets the same answer
    r = await table.bet("5.00", tx="b3", round_id="r3")
    assert r.json()["code"] == "TOKEN_EXPIRED"


async def test_a_bet_beyond_the_balance_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client, cash="3.00")
    await with_bonus(table, amount="2.00")
    r = await table.bet("5.01", tx="b1")
    assert r.status_code == 402 and r.json()["code"] == "INSUFFICIENT_FUNDS", r.text
    assert (body(r)["cash"], body(r)["bonus"]) == (Decimal("3.00"), Decimal("2.00"))
    assert await entries(engine, "game.bet") == []
    assert await table.balances() == {"real": Decimal("3.00"), "bonus": Decimal("2.00")}
    assert money(await table.bet("5.00", tx="b2"))["balance"] == Decimal("0.00")


async def test_a_bet_on_another_game_or_another_players_round_is_refused(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    r = await table.call("bet", transaction_id="b1", round_id="r1", game_id="sandbox-roulette",
                         amount=Decimal(1), currency="USD")
    assert r.status_code == 400 and r.json()["code"] == "INVALID_GAME", r.text
    other = await seat(client, wl=table.wl, username="otto")
    money(await other.bet("1.00", tx="o1", round_id="shared"))
    r = await table.bet("1.00", tx="b2", round_id="shared")
    assert r.status_code == 409 and r.json()["code"] == "ROUND_MISMATCH", r.text
    r = await table.win("1.00", tx="w2", round_id="shared")
    assert r.status_code == 409 and r.json()["code"] == "ROUND_MISMATCH", r.text
    assert (await other.balances())["real"] == Decimal("99.00")
    assert await entries(engine, "game.win") == []


async def test_settled_bets_reach_the_spine_once_with_their_funding_and_win_share(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client, cash="4.00")
    await with_bonus(table, amount="20.00")
    money(await table.bet("6.00", tx="b1", round_id="r1"))  # 4 cash, 2 bonus
    money(await table.bet("3.00", tx="b2", round_id="r1"))  # 3 bonus
    money(await table.win("9.00", round_id="r1", tx="w1"))
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT source_wager_id, funding, amount, win_amount, game_category FROM "
            "wager_events ORDER BY source_wager_id"))).all()
    # the win: bonus share floor(900 x 500 / 900) = 500, cash 400; shared by stake
    assert [tuple(r) for r in rows] == [
        ("game:sandbox:b1", "real", 400, 400, "slots"),
        ("game:sandbox:b1:bonus", "bonus", 200, 200, "slots"),
        ("game:sandbox:b2:bonus", "bonus", 300, 300, "slots")]
    # a later win of a settled round pays, in the round's split, and settles nothing
    answer = money(await table.win("9.00", round_id="r1", tx="w2"))
    assert answer["cash"] == Decimal("8.00")
    assert await count_rows(engine, "wager_events", table.wl.id) == 3


async def test_a_bet_that_closes_its_round_settles_it_as_a_loss(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client)
    money(await table.bet("2.00", tx="b1", round_id="r1", round_closed=True))
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT source_wager_id, amount, win_amount FROM wager_events"))).one()
    assert tuple(row) == ("game:sandbox:b1", 200, 0)


async def test_the_balance_is_cash_plus_bonus(client: httpx.AsyncClient) -> None:
    table = await seat(client, cash="7.00")
    await with_bonus(table, amount="3.50")
    answer = money(await table.call("balance", game_id="sandbox-slot"))
    assert (answer["balance"], answer["cash"], answer["bonus"], answer["currency"]) == (
        Decimal("10.50"), Decimal("7.00"), Decimal("3.50"), "USD")


async def test_another_aggregators_call_cannot_use_a_sandbox_token(
    client: httpx.AsyncClient,
) -> None:
    table = await seat(client)
    raw = dumps({"token": table.token, "request_uuid": "u1", "game_code": "x"}).encode()
    r = await client.post("/v1/aggregator/hub88/user/balance", content=raw,
                          headers=signed(raw, SECRET))
    # Hub88 is off here: no secret, so no signature can verify
    assert r.status_code == 401 and r.json()["status"] == "RS_ERROR_INVALID_SIGNATURE", r.text


async def test_game_calls_operator_wagers_and_adjustments_on_one_player_never_deadlock(
    client: httpx.AsyncClient, engine: Any,
) -> None:
    table = await seat(client, cash="500.00")
    await with_bonus(table, amount="50.00", multiple=200)
    deadlocks = db.RETRIES["40P01"]

    async def one(i: int) -> httpx.Response:
        kind = i % 4
        if kind == 0:
            return await table.bet("1.00", tx=f"b{i}", round_id=f"r{i}")
        if kind == 1:
            return await table.win("2.00", tx=f"w{i}", round_id=f"r{i - 1}")
        if kind == 2:
            return await adjust(table.wl, table.username, "1.00", reason="deposit")
        return await table.wl.post("/v1/events/wager", {
            "user_id": table.username, "source_wager_id": f"op-{i}", "amount": "1.00",
            "currency": "USD", "funding": "bonus", "game_category": "slots"})

    for start in range(0, 64, 16):
        answers = await asyncio.gather(*(one(i) for i in range(start, start + 16)))
        assert {r.status_code for r in answers} <= {200, 201}, [
            r.text for r in answers if r.status_code not in (200, 201)][:3]
    assert db.RETRIES["40P01"] == deadlocks, "a writer took its locks out of the global order"
    assert await ledger_problems(engine) == []

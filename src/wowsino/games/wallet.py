"""The seamless wallet: what an aggregator's balance, bet, win and rollback calls do.

One call, one transaction: the transaction id is claimed first (a replay or a concurrent
duplicate finds it and answers the stored answer; the same id with other content is
``DUPLICATE``), then the business change, its one balanced ledger entry, the spine, the
audit row of a refusal and the stored answer, committed together.

- A bet spends cash first, then bonus money (``split.bet_split``), in ONE entry
  ``game.bet``: player real → house for the cash, player bonus → ``bonus_liability`` for
  the bonus part (the bonus engine's postings, ``bonuses/stakes.py``). Its metadata
  records the split. Refused, with nothing moved: a session expired or for another game,
  the responsible-gambling gate (``games/gate.py``), a balance short of the stake.
- A win credits in the split of its round's bets (``split.win_split``) in one entry
  ``game.win`` (house → player real, ``bonus_liability`` → player bonus) and settles the
  round's open bets through the spine (``games/settlement.py``). Accepted after the
  session expired.
- A rollback returns exactly its bet's split in one entry ``game.rollback`` and takes
  the bet's wagering progress back (the spine's rollback) if the bet had settled; a
  rollback of a bet never seen is recorded and answered, and keeps that id voided so
  the bet is refused if it comes after all. Accepted after the session expired.

Locks, in the global order: the call's transaction row (or a rolled-back bet's), the
round, the player row, the player's bonuses (before any money moves, as the spine takes
them), the balances; the audit rows, events and activity stats are deferred to the end
of the call, as every idempotent write defers them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.bonuses import stakes
from wowsino.events.wagers import MAX_EVENT_MINOR
from wowsino.games import catalogue, gate, repository, sessions, settlement, split
from wowsino.games.adapters.base import Adapter, Answer, Call, Code, Operation
from wowsino.games.sessions import GameSession
from wowsino.kernel import ledger, wire
from wowsino.kernel.canonical import sha256
from wowsino.kernel.clock import Clock
from wowsino.kernel.config import Settings
from wowsino.kernel.db import database_unavailable, read_only, unit_of_work
from wowsino.kernel.errors import (
    DomainError,
    IdempotencyInProgress,
    InsufficientFunds,
    ValidationFailed,
)
from wowsino.kernel.money import ASSETS, Rail, to_minor
from wowsino.kernel.realm import Realm

log = structlog.get_logger("wowsino.games")

VOIDED = sha256(b"a bet voided by a rollback that came first")


@dataclass(frozen=True)
class Context:
    """What every step of one call needs."""

    adapter: Adapter
    settings: Settings
    session: GameSession
    call: Call
    amount: int
    at: datetime

    @property
    def realm(self) -> Realm:
        return self.session.realm

    @property
    def transaction_id(self) -> str:
        assert self.call.transaction_id is not None
        return self.call.transaction_id

    @property
    def slot_games(self) -> list[str]:
        return [g.game_id for g in self.adapter.games(self.settings) if g.category == gate.SLOTS]

    @property
    def category(self) -> str:
        return catalogue.category(self.adapter, self.settings, self.session.game_id)


def _amount(call: Call, currency: str) -> int:
    """The call's amount in minor units of the session's currency (0 when it has none);
    raises ``ValidationFailed``."""
    if call.amount is None or call.operation == Operation.ROLLBACK:
        return 0
    minor = to_minor(call.amount, ASSETS[currency], allow_zero=True)
    if minor > MAX_EVENT_MINOR:
        raise ValidationFailed("amount: too large", field="amount")
    return minor


def fingerprint(call: Call, session: GameSession, amount: int) -> bytes:
    """What makes two calls under one transaction id the same call."""
    return sha256(repr((call.operation.value, str(session.player_id), call.round_id,
                        call.game_id, amount, session.currency,
                        call.reference_transaction_id)).encode())


async def balance_of(conn: AsyncConnection, session: GameSession) -> tuple[int, int]:
    """The player's playable balance: ``(cash, bonus)`` in minor units."""
    return (await repository.cash_balance(conn, session.realm, session.player_id,
                                          session.currency),
            await stakes.spendable(conn, session.realm, session.player_id, session.currency))


async def _answer(conn: AsyncConnection, ctx: Context, code: Code, message: str) -> Answer:
    cash, bonus = await balance_of(conn, ctx.session)
    return Answer(code, message, cash, bonus, ctx.session.currency, str(ctx.session.player_id),
                  ctx.call.transaction_id)


async def _store(conn: AsyncConnection, ctx: Context, answer: Answer, status: str,
                 **done: Any) -> Answer:
    await repository.finish(conn, ctx.realm, adapter=ctx.adapter.name,
                            transaction_id=ctx.transaction_id, status=status,
                            outcome=answer.stored(), **done)
    return answer


async def _refuse(conn: AsyncConnection, ctx: Context, code: Code, message: str) -> Answer:
    return await _store(conn, ctx, await _answer(conn, ctx, code, message), "refused")


def _cash(ctx: Context, amount: int, *, to_player: bool) -> list[ledger.Posting]:
    if amount <= 0:
        return []
    sign = 1 if to_player else -1
    currency = ctx.session.currency
    return [ledger.Posting(ledger.Account.player(ctx.session.player_id, Rail.REAL, currency),
                           sign * amount),
            ledger.Posting(ledger.Account.system(ledger.HOUSE, Rail.REAL, currency),
                           -sign * amount)]


async def _post(conn: AsyncConnection, ctx: Context, kind: str, postings: list[ledger.Posting],
                **metadata: Any) -> int | None:
    if not postings:
        return None
    entry = await ledger.post_entry(
        conn, realm=ctx.realm, kind=kind, postings=postings, at=ctx.at,
        ref_type="game_transaction", ref_id=f"{ctx.adapter.name}:{ctx.transaction_id}",
        metadata={"aggregator": ctx.adapter.name, "transaction_id": ctx.transaction_id,
                  "round_id": ctx.call.round_id, "game_id": ctx.session.game_id,
                  "currency": ctx.session.currency, **metadata})
    return entry.id


async def _round(conn: AsyncConnection, ctx: Context, round_id: str) -> dict[str, Any] | None:
    """The round, locked; None when it is another player's."""
    found = await repository.lock_round(conn, ctx.realm, adapter=ctx.adapter.name,
                                        round_id=round_id, player_id=ctx.session.player_id,
                                        game_id=ctx.call.game_id, currency=ctx.session.currency,
                                        at=ctx.at)
    if found["player_id"] != ctx.session.player_id or found["currency"] != ctx.session.currency:
        return None
    return found


# --- bet ---------------------------------------------------------------------------------


async def _bet(conn: AsyncConnection, ctx: Context) -> Answer:
    session, call = ctx.session, ctx.call
    ended = session.ended(ctx.at)
    if ended is not None:
        return await _refuse(conn, ctx, Code.TOKEN_EXPIRED, ended)
    if call.game_id != session.game_id:
        return await _refuse(conn, ctx, Code.INVALID_GAME,
                             f"the game session is for {session.game_id}, not {call.game_id}")
    assert call.round_id is not None
    if await _round(conn, ctx, call.round_id) is None:
        return await _refuse(conn, ctx, Code.ROUND_MISMATCH,
                             "this round id belongs to another player's round")
    player = await repository.lock_player(conn, ctx.realm, session.player_id)
    await stakes.hold(conn, ctx.realm, session.player_id)
    cash_balance, bonus_balance = await balance_of(conn, session)
    cash, bonus = split.bet_split(ctx.amount, cash_balance)
    decision = await gate.decide_bet(
        conn, session, player, round_id=call.round_id, category=ctx.category,
        slots=ctx.slot_games, amount=ctx.amount, cash=cash, aggregator=ctx.adapter.name,
        transaction_id=ctx.transaction_id, at=ctx.at)
    if not decision.allowed:
        return await _refuse(conn, ctx, gate.wallet_code(decision), gate.message(decision))
    if bonus > bonus_balance:
        return await _refuse(conn, ctx, Code.INSUFFICIENT_FUNDS,
                             "the stake is more than the playable balance")
    try:  # the bonus engine locks the bonuses and takes the stake in grant order
        money = await stakes.stake(conn, ctx.realm, player_id=session.player_id,
                                   currency=session.currency, amount=bonus)
    except InsufficientFunds:  # a bonus ended since the balance was read
        return await _refuse(conn, ctx, Code.INSUFFICIENT_FUNDS,
                             "the stake is more than the playable balance")
    entry = await _post(conn, ctx, "game.bet", _cash(ctx, cash, to_player=False) + money.postings,
                        cash=cash, bonus=bonus)
    await repository.add_to_round(conn, ctx.realm, adapter=ctx.adapter.name,
                                  round_id=call.round_id, at=ctx.at, cash_staked=cash,
                                  bonus_staked=bonus)
    done: dict[str, Any] = {"cash": cash, "bonus": bonus, "bonus_moves": money.moved,
                            "entry_id": entry}
    if call.round_closed:  # the aggregator closes the round with its bet: a loss
        await repository.finish(conn, ctx.realm, adapter=ctx.adapter.name,
                                transaction_id=ctx.transaction_id, status="accepted",
                                outcome={}, **done)
        await _settle(conn, ctx, call.round_id, cash_win=0, bonus_win=0)
    return await _store(conn, ctx, await _answer(conn, ctx, Code.OK, "ok"), "accepted", **done)


async def _settle(conn: AsyncConnection, ctx: Context, round_id: str, *, cash_win: int,
                  bonus_win: int, bets: list[dict[str, Any]] | None = None) -> None:
    if bets is None:
        bets = [b for b in await repository.round_bets(conn, ctx.realm, ctx.adapter.name,
                                                       round_id) if b["settled_at"] is None]
    await settlement.settle(conn, ctx.session, adapter=ctx.adapter.name, bets=bets,
                            cash_win=cash_win, bonus_win=bonus_win, category=ctx.category,
                            at=ctx.at)


# --- win ---------------------------------------------------------------------------------


async def _win(conn: AsyncConnection, ctx: Context) -> Answer:
    session, call = ctx.session, ctx.call
    assert call.round_id is not None
    if await _round(conn, ctx, call.round_id) is None:
        return await _refuse(conn, ctx, Code.ROUND_MISMATCH,
                             "this round id belongs to another player's round")
    await repository.lock_player(conn, ctx.realm, session.player_id)
    await stakes.hold(conn, ctx.realm, session.player_id)
    bets = await repository.round_bets(conn, ctx.realm, ctx.adapter.name, call.round_id)
    settling = [b for b in bets if b["settled_at"] is None]
    basis = settling or bets
    cash_win, bonus_win = split.win_split(ctx.amount, sum(b["cash"] for b in basis),
                                          sum(b["bonus"] for b in basis))
    staked = [bonus_id for b in basis for bonus_id, moved in b["bonus_moves"].items()
              if moved < 0]
    money = await stakes.win(conn, ctx.realm, player_id=session.player_id,
                             currency=session.currency, amount=bonus_win, staked=staked)
    entry = await _post(conn, ctx, "game.win", _cash(ctx, cash_win, to_player=True)
                        + money.postings, cash=cash_win, bonus=money.total, void=money.void)
    await repository.add_to_round(conn, ctx.realm, adapter=ctx.adapter.name,
                                  round_id=call.round_id, at=ctx.at, cash_won=cash_win,
                                  bonus_won=money.total, void_won=money.void)
    await _settle(conn, ctx, call.round_id, cash_win=cash_win, bonus_win=bonus_win,
                  bets=settling)
    return await _store(conn, ctx, await _answer(conn, ctx, Code.OK, "ok"), "accepted",
                        cash=cash_win, bonus=money.total, void=money.void, entry_id=entry)


# --- rollback ----------------------------------------------------------------------------


async def _rollback(conn: AsyncConnection, ctx: Context) -> Answer:
    session = ctx.session
    reference = ctx.call.reference_transaction_id
    assert reference is not None
    name = ctx.adapter.name
    target = await repository.transaction(conn, ctx.realm, name, reference)
    if target is None:
        voided = Answer(Code.TRANSACTION_ROLLED_BACK, "a rollback of this bet came first")
        if await repository.void_unknown(
                conn, ctx.realm, adapter=name, transaction_id=reference,
                player_id=session.player_id, session_id=session.id, currency=session.currency,
                fingerprint=VOIDED, outcome=voided.stored(), at=ctx.at):
            return await _store(conn, ctx, await _answer(
                conn, ctx, Code.OK, "no such bet: its id is voided"), "accepted")
        target = await repository.transaction(conn, ctx.realm, name, reference)
        assert target is not None  # the bet that took the id committed first
    if target["kind"] != "bet" or target["player_id"] != session.player_id:
        return await _refuse(conn, ctx, Code.TRANSACTION_NOT_FOUND,
                             f"no bet {reference!r} of this player to roll back")
    if target["status"] == "accepted" and target["round_id"] is not None:
        # the round first, then the bet: the order a win takes them in
        await repository.lock_round(conn, ctx.realm, adapter=name, round_id=target["round_id"],
                                    player_id=session.player_id, game_id=target["game_id"],
                                    currency=session.currency, at=ctx.at)
        target = await repository.transaction(conn, ctx.realm, name, reference, for_update=True)
        assert target is not None
    if target["status"] != "accepted":  # refused, voided or rolled back: nothing to return
        return await _store(conn, ctx, await _answer(conn, ctx, Code.OK, "nothing to return"),
                            "accepted")
    await repository.lock_player(conn, ctx.realm, session.player_id)
    await stakes.hold(conn, ctx.realm, session.player_id)
    money = await stakes.refund(conn, ctx.realm, player_id=session.player_id,
                                currency=session.currency, moved=target["bonus_moves"])
    cash = int(target["cash"])
    entry = await _post(conn, ctx, "game.rollback", _cash(ctx, cash, to_player=True)
                        + money.postings, reference_transaction_id=reference, cash=cash,
                        bonus=money.total, void=money.void)
    await repository.add_to_round(conn, ctx.realm, adapter=name, round_id=target["round_id"],
                                  at=ctx.at, cash_staked=-cash,
                                  bonus_staked=-int(target["bonus"]))
    await repository.mark_rolled_back(conn, ctx.realm, name, reference, ctx.at)
    if target["settled_at"] is not None:
        await settlement.unsettle(conn, session, adapter=name, bet=target, at=ctx.at)
    return await _store(conn, ctx, await _answer(conn, ctx, Code.OK, "rolled back"), "accepted",
                        cash=cash, bonus=money.total, void=money.void, entry_id=entry)


STEPS: dict[Operation, Callable[[AsyncConnection, Context], Awaitable[Answer]]] = {
    Operation.BET: _bet, Operation.WIN: _win, Operation.ROLLBACK: _rollback,
}


async def _replay(conn: AsyncConnection, ctx: Context, mine: bytes) -> Answer:
    """The answer to a transaction id already used."""
    row = await repository.transaction(conn, ctx.realm, ctx.adapter.name, ctx.transaction_id)
    assert row is not None
    if row["status"] == "voided" and ctx.call.operation == Operation.BET:
        return await _answer(conn, ctx, Code.TRANSACTION_ROLLED_BACK,
                             "a rollback of this bet came first: the bet is void")
    if bytes(row["fingerprint"]) != mine or row["outcome"] is None:
        return await _answer(conn, ctx, Code.DUPLICATE,
                             "this transaction id was already used with other content")
    return Answer.from_stored(row["outcome"])


# --- the call ----------------------------------------------------------------------------


async def handle(engine: AsyncEngine, clock: Clock, settings: Settings, adapter: Adapter,
                 call: Call, session: GameSession | None = None) -> Answer:
    """Answer one authenticated, parsed call (``session``: the game session of its token,
    when the caller already found it). Never raises for a refusal: every outcome is an
    ``Answer`` (``UNAVAILABLE`` when the database is down)."""
    try:
        return await _handle(engine, clock, settings, adapter, call, session)
    except IdempotencyInProgress as exc:
        return Answer(Code.UNAVAILABLE, exc.message)
    except InsufficientFunds as exc:  # a balance moved by another writer meanwhile
        return Answer(Code.INSUFFICIENT_FUNDS, exc.message)
    except ValidationFailed as exc:  # a credit past an asset's bound
        return Answer(Code.WRONG_TYPES, exc.message, field=exc.details.get("field"))
    except DomainError as exc:
        log.warning("game call refused", aggregator=adapter.name, code=exc.code)
        return Answer(Code.UNKNOWN, exc.message)
    except Exception as exc:
        if database_unavailable(exc):
            return Answer(Code.UNAVAILABLE, "the wallet is unavailable; retry")
        log.error("game call failed", aggregator=adapter.name, exc_info=exc)
        return Answer(Code.UNKNOWN, "internal error; safe to retry")


async def _balance(engine: AsyncEngine, clock: Clock, session: GameSession) -> Answer:
    ended = session.ended(clock.now())
    if ended is not None:
        return Answer(Code.TOKEN_EXPIRED, ended)
    async with read_only(engine) as conn:
        cash, bonus = await balance_of(conn, session)
    return Answer(Code.OK, "ok", cash, bonus, session.currency, str(session.player_id))


async def _handle(engine: AsyncEngine, clock: Clock, settings: Settings, adapter: Adapter,
                  call: Call, found: GameSession | None) -> Answer:
    session = found
    if session is None:
        async with read_only(engine) as conn:
            session = await sessions.find(conn, call.token)
    if session is None or session.adapter != adapter.name:
        return Answer(Code.INVALID_TOKEN, "unknown game session token")
    if call.operation == Operation.BALANCE:
        return await _balance(engine, clock, session)
    if call.currency is not None and call.currency.upper() != session.currency:
        return Answer(Code.WRONG_CURRENCY, f"the game session plays {session.currency}",
                      user=str(session.player_id), field="currency")
    try:
        amount = _amount(call, session.currency)
    except ValidationFailed as exc:
        return Answer(Code.WRONG_TYPES, exc.message, user=str(session.player_id),
                      field=exc.details.get("field"))
    mine = fingerprint(call, session, amount)

    async def work(conn: AsyncConnection) -> Answer:
        ctx = Context(adapter, settings, session, call, amount, clock.now())
        claimed = await repository.claim(
            conn, session.realm, adapter=adapter.name, transaction_id=ctx.transaction_id,
            kind=call.operation.value, player_id=session.player_id, session_id=session.id,
            round_id=call.round_id, game_id=call.game_id, currency=session.currency,
            amount=amount, reference=call.reference_transaction_id, fingerprint=mine,
            at=ctx.at)
        if not claimed:
            return await _replay(conn, ctx, mine)
        # the audit rows, events and activity stats go last, with the answer stored, as
        # every idempotent write sends them (kernel.wire): the same lock order
        async with wire.deferring(conn):
            answer = await STEPS[call.operation](conn, ctx)
            await wire.flush(conn)
        return answer

    return await unit_of_work(engine, work)



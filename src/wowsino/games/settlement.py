"""Settled bets feed the wager spine, as ``POST /v1/events/wager`` does.

A bet settles with the first win of its round that follows it (a win of 0 included: the
sandbox sends one for every losing round), or at once when the aggregator closes the
round with the bet itself (``round_closed``). Each settled bet becomes up to two spine
wagers, one per funding, under ids derived from the aggregator and the bet's
transaction id::

    game:<aggregator>:<transaction_id>          funding real, the cash part
    game:<aggregator>:<transaction_id>:bonus    funding bonus, the bonus part

each with its share of the win (``split.shares``). The bonus money already moved with the
bets and wins (``bonuses/stakes.py``), so the wagers go ``bonus_money_moved``: bonus
wagering counts their progress only. A rollback of a settled bet rolls its wagers back
through the spine (progress, XP, scores; jackpot contributions stay, as for every
rolled-back wager). A win arriving after all of its round's bets settled pays, but
reaches the spine with no stake of its own: it is not a wager.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.events import service as spine
from wowsino.events.schemas import WagerIn
from wowsino.games import repository, split
from wowsino.games.sessions import GameSession
from wowsino.kernel.money import ASSETS, from_minor


class SpineRefused(RuntimeError):
    """The spine refused a settled bet: a bug or a clash of ids, never the player's doing."""


def wager_ids(adapter: str, bet: dict[str, Any]) -> list[str]:
    """The spine ids of a bet's parts that exist."""
    base = f"game:{adapter}:{bet['transaction_id']}"
    return [wager_id for wager_id, part in ((base, bet["cash"]), (f"{base}:bonus", bet["bonus"]))
            if part > 0]


async def settle(conn: AsyncConnection, session: GameSession, *, adapter: str,
                 bets: list[dict[str, Any]], cash_win: int, bonus_win: int, category: str,
                 at: datetime) -> None:
    """Settle ``bets`` (a round's open bets) with the shares of a win, through the spine."""
    if not bets:
        return
    currency = ASSETS[session.currency]
    cash_shares = split.shares(cash_win, [b["cash"] for b in bets])
    bonus_shares = split.shares(bonus_win, [b["bonus"] for b in bets])
    events = []
    for bet, cash_share, bonus_share in zip(bets, cash_shares, bonus_shares, strict=True):
        base = f"game:{adapter}:{bet['transaction_id']}"
        for wager_id, stake, win, funding in ((base, bet["cash"], cash_share, "real"),
                                              (f"{base}:bonus", bet["bonus"], bonus_share,
                                               "bonus")):
            if stake > 0:
                events.append(WagerIn(
                    user_id=str(session.player_id), source_wager_id=wager_id,
                    amount=from_minor(stake, currency), currency=currency.code,
                    win_amount=from_minor(win, currency), game_id=bet["game_id"],
                    game_category=category, funding=funding))  # type: ignore[arg-type]
    if events:
        results = await spine.record_wagers(
            conn, realm=session.realm, brand_id=session.brand_id,
            service_mode=session.service_mode, events=events, at=at, bonus_money_moved=True)
        refused = [r for r in results if "error" in r]
        if refused:
            raise SpineRefused(f"the spine refused a settled bet: {refused[0]}")
    await repository.mark_settled(conn, session.realm, adapter,
                                  [b["transaction_id"] for b in bets], at)


async def unsettle(conn: AsyncConnection, session: GameSession, *, adapter: str,
                   bet: dict[str, Any], at: datetime) -> None:
    """Roll a settled bet's wagers back through the spine."""
    for wager_id in wager_ids(adapter, bet):
        await spine.rollback_wager(conn, realm=session.realm, service_mode=session.service_mode,
                                   source_wager_id=wager_id, at=at)

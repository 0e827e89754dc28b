"""Bonus money in the seamless wallet: a game's bets, wins and rollbacks move it as the
game plays, by the bonus engine's own rules (stakes off the balances in grant order,
wins to the first bonus that staked: ``wagering.take_stake``, ``wagering.winning_bonus``)
and with its own postings (``flows.play_postings``), so each bonus's balance and the
ledger's bonus rail always agree and a conversion converts what is really left.

Each function locks the player's active bonuses in grant order (the order every writer
of bonuses takes), changes their balances and returns the postings of the move. It posts
nothing: the wallet's one entry carries the cash and the bonus money together. Wagering
progress is not here: it comes with the settled wagers through the spine, which the
wallet marks ``bonus_money_moved``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import flows, repository, wagering
from wowsino.kernel import ledger
from wowsino.kernel.errors import InsufficientFunds
from wowsino.kernel.realm import Realm


@dataclass(frozen=True)
class BonusMoney:
    """One move of a player's bonus money: each bonus's balance change, the ledger
    postings of their total, and ``void``: money no active bonus could take."""

    moved: dict[UUID, int] = field(default_factory=dict)
    postings: list[ledger.Posting] = field(default_factory=list)
    void: int = 0

    @property
    def total(self) -> int:
        return sum(self.moved.values())


_SPENDABLE = text(
    "SELECT coalesce(sum(balance), 0) FROM bonuses WHERE tenant_id = :tenant_id "
    "AND mode = :mode AND player_id = :player AND currency = :currency AND status = 'active'"
)


async def spendable(conn: AsyncConnection, realm: Realm, player_id: UUID, currency: str) -> int:
    """The bonus money a bet may spend: the balances of the player's active bonuses in
    ``currency`` (bonus money not held by an active bonus is not playable)."""
    value = await conn.scalar(_SPENDABLE, {**realm.params, "player": player_id,
                                           "currency": currency})
    return int(value or 0)


async def hold(conn: AsyncConnection, realm: Realm, player_id: UUID) -> None:
    """Lock the player's active bonuses (grant order) before any of the player's money
    moves, as the spine's bonus wagering does: a wallet call that posts first and then
    meets the bonuses in the spine would lock in the other order and could deadlock with
    an operator's wager."""
    await repository.active_for_players(conn, realm, [player_id])


async def _active(conn: AsyncConnection, realm: Realm, player_id: UUID,
                  currency: str) -> list[dict[str, Any]]:
    return [b for b in await repository.active_for_players(conn, realm, [player_id])
            if b["currency"] == currency]


async def _apply(conn: AsyncConnection, realm: Realm, player_id: UUID, currency: str,
                 moved: dict[UUID, int], void: int = 0) -> BonusMoney:
    moved = {bonus_id: amount for bonus_id, amount in moved.items() if amount}
    await repository.add_progress(conn, realm, {k: (0, v) for k, v in moved.items()})
    total = sum(moved.values())
    return BonusMoney(moved, flows.play_postings({(player_id, currency): total}), void)


async def stake(conn: AsyncConnection, realm: Realm, *, player_id: UUID, currency: str,
                amount: int) -> BonusMoney:
    """Take a bet's bonus part off the player's active bonuses in grant order. Raises
    ``InsufficientFunds`` (nothing changed) when they hold less than ``amount``."""
    if amount <= 0:
        return BonusMoney()
    moved = wagering.take_stake(amount, await _active(conn, realm, player_id, currency))
    if -sum(moved.values()) < amount:
        raise InsufficientFunds(f"insufficient bonus {currency} balance")
    return await _apply(conn, realm, player_id, currency, moved)


async def win(conn: AsyncConnection, realm: Realm, *, player_id: UUID, currency: str,
              amount: int, staked: Collection[UUID]) -> BonusMoney:
    """Credit a win's bonus share to the first active bonus that ``staked`` in its round,
    else to the first active bonus; with no active bonus left (the round's bonuses
    converted, were forfeited or expired meanwhile) the share is void: bonus money ends
    with its bonus."""
    if amount <= 0:
        return BonusMoney()
    winner = wagering.winning_bonus(await _active(conn, realm, player_id, currency), staked)
    if winner is None:
        return BonusMoney(void=amount)
    return await _apply(conn, realm, player_id, currency, {winner["id"]: amount})


async def refund(conn: AsyncConnection, realm: Realm, *, player_id: UUID, currency: str,
                 moved: dict[UUID, int]) -> BonusMoney:
    """Give a rolled-back bet's bonus part (``moved``: what its stake took from each bonus)
    back to each of those bonuses still active. A bonus that ended since keeps its end
    (its conversion, forfeit or expiry settled that money): its part is void."""
    active = {b["id"] for b in await _active(conn, realm, player_id, currency)}
    back = {bonus_id: -taken for bonus_id, taken in moved.items()
            if taken < 0 and bonus_id in active}
    void = sum(-taken for bonus_id, taken in moved.items() if taken < 0 and bonus_id not in active)
    return await _apply(conn, realm, player_id, currency, back, void)

"""The money of a bonus: every movement is one balanced ledger entry.

==========  =====================================================================
grant       bonus_liability → player bonus
convert     player bonus → bonus_liability (the whole balance), and
            plug-in: operator_payouts is credited the converted real (the
            operator pays it in its own wallet, told by ``bonus.converted``);
            white-label: house → player real
forfeit,    player bonus → bonus_liability
expire
play        bonus-funded wagers: each player's net (stakes taken, wins added) between
            player bonus and bonus_liability, one entry per batch; the seamless
            wallet posts the same pairs (``play_postings``) inside its bet, win and
            rollback entries, beside the cash it moves
==========  =====================================================================

A conversion capped at ``max_conversion`` moves the whole balance out of the
player's bonus rail; the excess stays with ``bonus_liability``. All in one entry.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import ledger
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Realm

PLUG_IN = "plug_in"


def _bonus(player_id: UUID, currency: str) -> ledger.Account:
    return ledger.Account.player(player_id, Rail.BONUS, currency)


def _liability(currency: str) -> ledger.Account:
    return ledger.Account.system(ledger.BONUS_LIABILITY, Rail.BONUS, currency)


async def grant(
    conn: AsyncConnection, *, realm: Realm, bonus_id: UUID, player_id: UUID, currency: str,
    amount: int, at: datetime, kind: str = "bonus.grant",
) -> int | None:
    """Credit ``amount`` of bonus money; the entry id (None for zero)."""
    if amount <= 0:
        return None
    entry = await ledger.post_entry(
        conn, realm=realm, kind=kind, at=at, ref_type="bonus", ref_id=str(bonus_id),
        postings=[ledger.Posting(_bonus(player_id, currency), amount),
                  ledger.Posting(_liability(currency), -amount)])
    return entry.id


async def convert(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, bonus_id: UUID,
    player_id: UUID, currency: str, balance: int, real: int, at: datetime,
) -> int | None:
    """Turn ``balance`` of bonus money into ``real`` (≤ balance) real money, one entry."""
    if balance <= 0:
        return None
    postings = [ledger.Posting(_bonus(player_id, currency), -balance)]
    if service_mode == PLUG_IN:
        if balance - real:
            postings.append(ledger.Posting(_liability(currency), balance - real))
        if real:
            postings.append(ledger.Posting(
                ledger.Account.system(ledger.OPERATOR_PAYOUTS, Rail.REAL, currency), real))
    else:
        postings.append(ledger.Posting(_liability(currency), balance))
        if real:
            postings += [
                ledger.Posting(ledger.Account.system(ledger.HOUSE, Rail.REAL, currency), -real),
                ledger.Posting(ledger.Account.player(player_id, Rail.REAL, currency), real)]
    entry = await ledger.post_entry(
        conn, realm=realm, kind="bonus.convert", at=at, ref_type="bonus", ref_id=str(bonus_id),
        metadata={"real_credited": real}, postings=postings)
    return entry.id


async def remove(
    conn: AsyncConnection, *, realm: Realm, bonus_id: UUID, player_id: UUID, currency: str,
    balance: int, kind: str, at: datetime,
) -> int | None:
    """Take what is left of a forfeited or expired bonus back."""
    if balance <= 0:
        return None
    entry = await ledger.post_entry(
        conn, realm=realm, kind=kind, at=at, ref_type="bonus", ref_id=str(bonus_id),
        postings=[ledger.Posting(_bonus(player_id, currency), -balance),
                  ledger.Posting(_liability(currency), balance)])
    return entry.id


def play_postings(moved: dict[tuple[UUID, str], int]) -> list[ledger.Posting]:
    """The postings of bonus-funded play: each (player, currency)'s net change of bonus
    money (negative: stakes lost) against ``bonus_liability``; none if nil. A caller may
    post them in an entry of its own, beside other postings (the seamless wallet's bets)."""
    postings = [ledger.Posting(_bonus(player, currency), amount)
                for (player, currency), amount in sorted(moved.items(), key=str) if amount]
    totals: dict[str, int] = {}
    for (_, currency), amount in moved.items():
        totals[currency] = totals.get(currency, 0) + amount
    postings += [ledger.Posting(_liability(currency), -amount)
                 for currency, amount in sorted(totals.items()) if amount]
    return postings


async def play(
    conn: AsyncConnection, *, realm: Realm, moved: dict[tuple[UUID, str], int], at: datetime,
    kind: str = "bonus.play", ref_id: str,
) -> int | None:
    """Mirror bonus-funded play: ``moved`` is each (player, currency)'s net change of bonus
    money (negative: stakes lost), against ``bonus_liability``; one entry, None if nil."""
    postings = play_postings(moved)
    if not postings:
        return None
    entry = await ledger.post_entry(conn, realm=realm, kind=kind, at=at, ref_type="wager",
                                    ref_id=ref_id, postings=postings)
    return entry.id

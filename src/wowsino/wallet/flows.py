"""The wallet's money: every movement is one balanced ledger entry on the real rail.

=====================  ==================================================
deposit.completed      psp_clearing → player real
withdrawal.requested   player real → withdrawals_in_flight (refused, 402
                       ``INSUFFICIENT_FUNDS``, beyond the real balance)
withdrawal.completed   withdrawals_in_flight → psp_clearing (paid out)
withdrawal.returned    withdrawals_in_flight → player real (rejected, or the
                       payout failed)
=====================  ==================================================

``psp_clearing`` is what the PSPs owe the operator (negative: money they hold for it);
``withdrawals_in_flight`` holds what players asked for until it is paid or returned. Both
are system accounts without a cached balance.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import ledger
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Realm


def _player(player_id: UUID, currency: str) -> ledger.Account:
    return ledger.Account.player(player_id, Rail.REAL, currency)


def _system(name: str, currency: str) -> ledger.Account:
    return ledger.Account.system(name, Rail.REAL, currency)


async def _move(conn: AsyncConnection, *, realm: Realm, kind: str, target: str, ref_id: UUID,
                source: ledger.Account, to: ledger.Account, amount: int, at: datetime,
                metadata: dict[str, str] | None = None) -> ledger.PostedEntry:
    return await ledger.post_entry(
        conn, realm=realm, kind=kind, at=at, ref_type=target, ref_id=str(ref_id),
        metadata=metadata, postings=[ledger.Posting(to, amount), ledger.Posting(source, -amount)])


async def credit_deposit(conn: AsyncConnection, *, realm: Realm, deposit_id: UUID,
                         player_id: UUID, currency: str, amount: int, psp_reference: str,
                         at: datetime) -> int:
    entry = await _move(conn, realm=realm, kind="deposit.completed", target="deposit",
                        ref_id=deposit_id, source=_system(ledger.PSP_CLEARING, currency),
                        to=_player(player_id, currency), amount=amount, at=at,
                        metadata={"psp_reference": psp_reference})
    return entry.id


async def reserve_withdrawal(conn: AsyncConnection, *, realm: Realm, withdrawal_id: UUID,
                             player_id: UUID, currency: str, amount: int,
                             at: datetime) -> ledger.PostedEntry:
    """Raises ``InsufficientFunds`` beyond the player's real balance."""
    return await _move(conn, realm=realm, kind="withdrawal.requested", target="withdrawal",
                       ref_id=withdrawal_id, source=_player(player_id, currency),
                       to=_system(ledger.WITHDRAWALS_IN_FLIGHT, currency), amount=amount, at=at)


async def pay_withdrawal(conn: AsyncConnection, *, realm: Realm, withdrawal_id: UUID,
                         currency: str, amount: int, psp_reference: str, at: datetime) -> int:
    entry = await _move(conn, realm=realm, kind="withdrawal.completed", target="withdrawal",
                        ref_id=withdrawal_id,
                        source=_system(ledger.WITHDRAWALS_IN_FLIGHT, currency),
                        to=_system(ledger.PSP_CLEARING, currency), amount=amount, at=at,
                        metadata={"psp_reference": psp_reference})
    return entry.id


async def return_withdrawal(conn: AsyncConnection, *, realm: Realm, withdrawal_id: UUID,
                            player_id: UUID, currency: str, amount: int, reason: str,
                            at: datetime) -> ledger.PostedEntry:
    return await _move(conn, realm=realm, kind="withdrawal.returned", target="withdrawal",
                       ref_id=withdrawal_id,
                       source=_system(ledger.WITHDRAWALS_IN_FLIGHT, currency),
                       to=_player(player_id, currency), amount=amount, at=at,
                       metadata={"reason": reason})

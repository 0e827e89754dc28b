"""The money of a jackpot: every movement is one balanced ledger entry.

The pool is the system account ``jackpot:<id>`` on the real rail in the pool's
currency. It is untracked (no cached balance row, summed on read), so concurrent
contributions append postings and never wait on each other.

=================  ==============================  ===============================
movement           plug_in                          white_label
=================  ==============================  ===============================
seed (each round)  operator_settlement → pool       house → pool
contribution       operator_settlement → pool       house → pool
drop               pool → operator_payouts          pool → winner's real balance
=================  ==============================  ===============================

In plug-in mode the operator holds the players' money: it funds the seed and the
contributions (``operator_settlement``) and pays the winner in its own wallet,
told by the ``jackpot.dropped`` webhook (``operator_payouts``). In white-label the
house already took the wager, so it funds the pool and the winner is paid here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import rewards
from wowsino.kernel import ledger
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Realm

# who funds seeds and contributions, and where a win goes: shared by every engine that
# pays real money
funding_account = rewards.real_funding
payout_account = rewards.real_payout


def pool_account(jackpot_id: UUID, currency: str) -> ledger.Account:
    return ledger.Account.system(f"jackpot:{jackpot_id}", Rail.REAL, currency)


async def fund_seed(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, jackpot: dict[str, Any],
    amount: int, round: int, at: datetime,
) -> ledger.PostedEntry:
    """Put a round's seed into the pool."""
    currency = jackpot["currency"]
    return await ledger.post_entry(
        conn, realm=realm, kind="jackpot.seed", at=at, ref_type="jackpot",
        ref_id=str(jackpot["id"]), metadata={"round": round},
        postings=[ledger.Posting(pool_account(jackpot["id"], currency), amount),
                  ledger.Posting(funding_account(service_mode, currency), -amount)],
    )


async def take_contribution(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, jackpot: dict[str, Any],
    contribution_id: UUID, amount: int, at: datetime,
) -> ledger.PostedEntry | None:
    """Move a contribution into the pool; nothing for zero (an excess that was not taken)."""
    if amount == 0:
        return None
    currency = jackpot["currency"]
    return await ledger.post_entry(
        conn, realm=realm, kind="jackpot.contribution", at=at,
        ref_type="jackpot_contribution", ref_id=str(contribution_id),
        metadata={"jackpot_id": str(jackpot["id"])},
        postings=[ledger.Posting(pool_account(jackpot["id"], currency), amount),
                  ledger.Posting(funding_account(service_mode, currency), -amount)],
    )


async def pay_winner(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, jackpot: dict[str, Any],
    player_id: UUID, amount: int, drop_id: UUID, at: datetime,
) -> ledger.PostedEntry:
    """Empty the pool to the winner (or the operator's payout account in plug-in)."""
    currency = jackpot["currency"]
    return await ledger.post_entry(
        conn, realm=realm, kind="jackpot.drop", at=at, ref_type="jackpot_drop",
        ref_id=str(drop_id),
        metadata={"jackpot_id": str(jackpot["id"]), "winner_id": str(player_id)},
        postings=[ledger.Posting(pool_account(jackpot["id"], currency), -amount),
                  ledger.Posting(payout_account(service_mode, player_id, currency), amount)],
    )

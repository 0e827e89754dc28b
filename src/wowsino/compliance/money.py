"""The wallet's questions to the compliance gate (``compliance/gate.py``): may this
player deposit this amount, may they withdraw? Every refusal is a 403 with its rule and
the brand's profile, recorded in the audit log (``compliance.refused``) in the caller's
transaction, whose stored answer it then is.

Deposits (``DEPOSIT_LIMIT``) count the player's pending and completed deposits against
their responsible-gambling limits over rolling windows, then the jurisdiction's
``deposit_cap_monthly`` over the calendar month (UTC); the refusal names the limit, what
is used and left, and ``resets_at``: the first time a deposit of this amount fits (null
when the amount alone is over the limit). Withdrawals need an approved KYC at the
profile's ``withdrawal_kyc_level`` (``KYC_REQUIRED``); a self-excluded or timed-out
player may still withdraw. The caller supplies the deposits it knows of: the gate reads
no engine's tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.compliance.service import Decision
from wowsino.kernel.realm import Actor, Realm

HISTORY = gate.DEPOSIT_HISTORY


async def decide_deposit(
    conn: AsyncConnection, *, realm: Realm, player: dict[str, Any], currency: str, amount: int,
    history: list[tuple[datetime, int]], actor: Actor, at: datetime, target_id: str,
) -> Decision:
    """May ``player`` deposit ``amount`` (minor units of ``currency``)? ``history``: their
    pending and completed deposits in that currency over the last ``HISTORY``,
    ``(created_at, amount)`` oldest first."""
    facts = gate.Facts(gate.Action.DEPOSIT, player, await gate.rules_for(conn, realm, player),
                       at, amount=amount, currency=currency, deposits=history)
    return await gate.decide(conn, facts, realm=realm, actor=actor, target_id=target_id)


async def decide_withdrawal(
    conn: AsyncConnection, *, realm: Realm, player: dict[str, Any], actor: Actor,
    at: datetime, target_id: str,
) -> Decision:
    """May ``player`` withdraw: a status that allows it, and an approved KYC at the
    profile's level?"""
    facts = gate.Facts(gate.Action.WITHDRAWAL, player,
                       await gate.rules_for(conn, realm, player), at)
    return await gate.decide(conn, facts, realm=realm, actor=actor, target_id=target_id)

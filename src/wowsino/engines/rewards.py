"""The one way an engine pays a reward or charges a cost: through the compliance
gate and the ledger. No engine writes balances itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.kernel import ledger
from wowsino.kernel.errors import PlayerBlocked
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Realm

RAILS = {"WINZ": (Rail.WINZ, ledger.WINZ_ISSUANCE), "XP": (Rail.XP, ledger.XP_ISSUANCE)}
PLUG_IN = "plug_in"


def real_funding(service_mode: str, currency: str) -> ledger.Account:
    """Who funds real money an engine pays (a jackpot's seed, a real cashback): the
    operator (plug-in, ``operator_settlement``) or the house (white-label)."""
    name = ledger.OPERATOR_SETTLEMENT if service_mode == PLUG_IN else ledger.HOUSE
    return ledger.Account.system(name, Rail.REAL, currency)


def real_payout(service_mode: str, player_id: UUID, currency: str) -> ledger.Account:
    """Where real money won goes: the operator's payout obligation (plug-in: it pays in
    its own wallet, told by a webhook) or the player's real balance (white-label)."""
    if service_mode == PLUG_IN:
        return ledger.Account.system(ledger.OPERATOR_PAYOUTS, Rail.REAL, currency)
    return ledger.Account.player(player_id, Rail.REAL, currency)


def check_eligible(player: dict[str, Any],
                   action: gate.Action = gate.Action.REWARD_GRANT) -> None:
    """The compliance gate's status check for a reward, a draw or an entry (403
    ``PLAYER_BLOCKED``): only statuses the gate allows for ``action`` take part."""
    if not gate.allows_status(player["status"], action):
        raise PlayerBlocked(
            f"player {player['username']!r} is {player['status']}: no {action.value}",
            status=player["status"])


def is_eligible(player: dict[str, Any], action: gate.Action = gate.Action.REWARD_GRANT) -> bool:
    """Whether the compliance gate lets the player win (a draw choosing among players)."""
    try:
        check_eligible(player, action)
    except PlayerBlocked:
        return False
    return True


async def grant(
    conn: AsyncConnection, *, realm: Realm, player: dict[str, Any], asset: str, amount: int,
    kind: str, ref_type: str, ref_id: str, at: datetime, metadata: dict[str, Any] | None = None,
) -> ledger.PostedEntry | None:
    """Credit ``amount`` minor units of WINZ or XP from its mint; nothing for zero. XP
    keeps the player's VIP standing in step."""
    if amount == 0:
        return None
    rail, mint = RAILS[asset]
    entry = await ledger.post_entry(
        conn, realm=realm, kind=kind, at=at, ref_type=ref_type, ref_id=ref_id,
        metadata=metadata or {},
        postings=[ledger.Posting(ledger.Account.player(player["id"], rail, asset), amount),
                  ledger.Posting(ledger.Account.system(mint, rail, asset), -amount)],
    )
    if rail is Rail.XP:
        from wowsino.vip import xp  # VIP's levels give rewards through this module

        await xp.track(conn, realm, player["id"], amount, at)
    return entry


async def charge_winz(
    conn: AsyncConnection, *, realm: Realm, player: dict[str, Any], amount: int, kind: str,
    ref_type: str, ref_id: str, at: datetime, metadata: dict[str, Any] | None = None,
) -> ledger.PostedEntry | None:
    """Debit a WINZ cost back to the mint; 402 ``INSUFFICIENT_WINZ`` when short."""
    if amount == 0:
        return None
    return await ledger.post_entry(
        conn, realm=realm, kind=kind, at=at, ref_type=ref_type, ref_id=ref_id,
        metadata=metadata or {},
        postings=[ledger.Posting(ledger.Account.player(player["id"], Rail.WINZ, "WINZ"), -amount),
                  ledger.Posting(ledger.Account.system(ledger.WINZ_ISSUANCE, Rail.WINZ, "WINZ"),
                                 amount)],
    )

"""The one way an engine pays a reward or charges a cost: through the compliance
gate and the ledger. No engine writes balances itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import ledger
from wowsino.kernel.errors import PlayerBlocked
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Realm
from wowsino.players.service import require_eligible

RAILS = {"WINZ": (Rail.WINZ, ledger.WINZ_ISSUANCE), "XP": (Rail.XP, ledger.XP_ISSUANCE)}


def check_eligible(player: dict[str, Any]) -> None:
    """The compliance gate for rewards and draws (403 ``PLAYER_BLOCKED``)."""
    require_eligible(player)


def is_eligible(player: dict[str, Any]) -> bool:
    """Whether the compliance gate lets the player win (a draw choosing among players)."""
    try:
        check_eligible(player)
    except PlayerBlocked:
        return False
    return True


async def grant(
    conn: AsyncConnection, *, realm: Realm, player: dict[str, Any], asset: str, amount: int,
    kind: str, ref_type: str, ref_id: str, at: datetime, metadata: dict[str, Any] | None = None,
) -> ledger.PostedEntry | None:
    """Credit ``amount`` minor units of WINZ or XP from its mint; nothing for zero."""
    if amount == 0:
        return None
    rail, mint = RAILS[asset]
    return await ledger.post_entry(
        conn, realm=realm, kind=kind, at=at, ref_type=ref_type, ref_id=ref_id,
        metadata=metadata or {},
        postings=[ledger.Posting(ledger.Account.player(player["id"], rail, asset), amount),
                  ledger.Posting(ledger.Account.system(mint, rail, asset), -amount)],
    )


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

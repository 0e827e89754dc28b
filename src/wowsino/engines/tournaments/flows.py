"""The money of a tournament's prizes: each paid rank is one balanced ledger entry, or a
bonus granted through the bonus engine.

=====================  =================================  ==============================
prize                  plug_in                            white_label
=====================  =================================  ==============================
WINZ, XP               the mint → player (``rewards.grant``, either mode)
a currency             operator_settlement →              house → player's real balance
                       operator_payouts (the operator     (the player's own currency
                       pays it in its own wallet, told    only)
                       by ``tournament.closed``)
a bonus template       granted by the bonus engine (``awards.give``), its gate included
=====================  =================================  ==============================
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.engines import awards, rewards
from wowsino.kernel import ledger, wire
from wowsino.kernel.errors import DomainError
from wowsino.kernel.money import ASSETS, Rail
from wowsino.kernel.realm import SYSTEM, Realm
from wowsino.players import service as players

PLUG_IN = "plug_in"
KIND = "tournament.prize"


def _skipped(reason: str) -> tuple[str, str | None, dict[str, Any]]:
    return "skipped", reason, {}


async def pay(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, tournament_id: str, rank: int,
    player: dict[str, Any], prize: dict[str, Any], minor: int, at: datetime,
) -> tuple[str, str | None, dict[str, Any]]:
    """Pay ``prize`` (``minor`` units of its asset) to ``player`` for ``rank``: ``(status,
    reason, detail)`` with status ``paid`` or ``skipped`` (a player the compliance gate
    blocks, a currency the player's wallet does not hold, a bonus the bonus engine
    refuses). Nothing is paid twice: the caller holds the tournament's lock."""
    if not rewards.is_eligible(player, gate.Action.TOURNAMENT_ENTRY):
        return _skipped("player_blocked")
    ref_id = f"{tournament_id}:{rank}"
    metadata = {"tournament_id": tournament_id, "rank": rank}
    if "bonus_template" in prize:
        try:  # a grant the bonus engine refuses is this rank's outcome, not the close's
            async with wire.savepoint(conn):
                given = await awards.give(
                    conn, realm=realm, service_mode=service_mode, player=player,
                    award=awards.Award(bonus_template=prize["bonus_template"]), kind=KIND,
                    ref_type="tournament_prize", ref_id=ref_id, actor=SYSTEM, at=at)
        except DomainError as error:
            return _skipped(error.code)
        bonus = given["bonus"]
        if bonus is None or "error" in bonus:
            return _skipped((bonus or {}).get("code", "BONUS_REFUSED"))
        return "paid", None, {"bonus_id": bonus["id"]}
    await players.hold(conn, realm, player["id"])  # before the balance: the global lock order
    code = prize["asset"]
    if code in rewards.RAILS:
        entry = await rewards.grant(conn, realm=realm, player=player, asset=code, amount=minor,
                                    kind=KIND, ref_type="tournament_prize", ref_id=ref_id,
                                    at=at, metadata=metadata)
        return "paid", None, {"entry_id": None if entry is None else entry.id}
    if service_mode == PLUG_IN:
        postings = [
            ledger.Posting(ledger.Account.system(ledger.OPERATOR_PAYOUTS, Rail.REAL, code), minor),
            ledger.Posting(ledger.Account.system(ledger.OPERATOR_SETTLEMENT, Rail.REAL, code),
                           -minor)]
    else:
        if player["currency"] != ASSETS[code].code:
            return _skipped("currency_mismatch")
        postings = [
            ledger.Posting(ledger.Account.player(player["id"], Rail.REAL, code), minor),
            ledger.Posting(ledger.Account.system(ledger.HOUSE, Rail.REAL, code), -minor)]
    posted = await ledger.post_entry(conn, realm=realm, kind=KIND, at=at,
                                     ref_type="tournament_prize", ref_id=ref_id,
                                     metadata=metadata, postings=postings)
    return "paid", None, {"entry_id": posted.id,
                          "paid_by": "operator" if service_mode == PLUG_IN else "wallet"}

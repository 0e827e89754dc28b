"""Awards: what an engine gives a player as a reward (a VIP level-up, a completed
journey, a campaign): WINZ, a bonus template, a free lootbox open, or several of them.

Every part goes through the service that owns it (the WINZ mint through the ledger,
the bonus engine with its compliance gate and grant limits, the lootbox's provably
fair draw), so there is no second path for money. Call inside the caller's
transaction; a refusal raises and rolls everything back, except a bonus the
jurisdiction refuses, which is reported (the rest of the award is still given).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import rewards
from wowsino.kernel.realm import Actor, Realm


@dataclass(frozen=True, slots=True)
class Award:
    winz: int = 0  # whole WINZ (WINZ has no minor unit)
    bonus_template: str | None = None  # a template id or promo code
    lootbox_id: str | None = None

    @property
    def empty(self) -> bool:
        return not self.winz and self.bonus_template is None and self.lootbox_id is None


async def give(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, player: dict[str, Any],
    award: Award, kind: str, ref_type: str, ref_id: str, actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Give ``award`` to ``player`` (a row of ``players``) for ``ref_type``/``ref_id``.

    ``kind`` names the ledger entry of the WINZ part (``vip_level_up``,
    ``journey_reward``...); the bonus part is granted once per ``ref_type:ref_id``.
    Returns what was given: ``{winz, bonus, lootbox_open}`` (None for an absent part;
    a bonus refused by the jurisdiction appears as its refusal).
    """
    from wowsino.bonuses import service as bonuses  # the bonus engine uses the engines
    from wowsino.engines.lootbox import service as lootbox

    given: dict[str, Any] = {"winz": 0, "bonus": None, "lootbox_open": None}
    if award.winz:
        await rewards.grant(conn, realm=realm, player=player, asset="WINZ", amount=award.winz,
                            kind=kind, ref_type=ref_type, ref_id=ref_id, at=at)
        given["winz"] = award.winz
    if award.bonus_template is not None:
        template = await bonuses.load_template(conn, realm, award.bonus_template)
        status, body = await bonuses.grant(
            conn, realm=realm, service_mode=service_mode, player=player, template=template,
            deposit_amount=None, amount=None, reason=f"{ref_type} {ref_id}", opted_in_at=None,
            source=ref_type, source_ref=f"{ref_type}:{ref_id}", actor=actor, at=at)
        given["bonus"] = body.get("bonus") if status < 400 else body
    if award.lootbox_id is not None:
        given["lootbox_open"] = await lootbox.open_lootbox(
            conn, realm=realm, brand_id=player["brand_id"], ref=award.lootbox_id,
            user_ref=str(player["id"]), client_seed=None, at=at, free=True)
    return given

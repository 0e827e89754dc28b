"""Lootboxes: a prize table and a cost, opened for a player.

Configuration and the draw itself are shared with every prize-table engine
(``engines.draws``); this module names the box's tables and shapes its opens
and its ``lootbox.opened`` event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import draws, prizes
from wowsino.kernel import outbox
from wowsino.kernel.realm import Realm

LOOTBOX = draws.PrizeGame(
    noun="lootbox", table="lootboxes", results="lootbox_opens", foreign_key="lootbox_id",
    not_found_code="NO_LOOTBOX", reward_kind="lootbox.open", cost_kind="lootbox.cost",
    result_ref="lootbox_open", columns=("name", "prize_table", "cost_winz"),
)


def open_view(drawn: draws.Drawn) -> dict[str, Any]:
    """An open as the API shows it: the reward and everything needed to recompute it."""
    return {
        "open_id": str(drawn.id), "lootbox_id": str(drawn.entity_id), "user": drawn.user,
        "reward": prizes.public_reward(drawn.segment), "segment_index": drawn.index,
        "cost_winz": drawn.cost, **drawn.proof(), "opened_at": drawn.at,
    }


async def open_lootbox(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, user_ref: str,
    client_seed: str | None, at: datetime, free: bool = False,
) -> dict[str, Any]:
    """Open a box for a player: cost (none when ``free``, an open given as a reward),
    fair draw, reward, record, ``lootbox.opened``.

    Raises 404 ``NO_LOOTBOX``/``NO_PLAYER``, 409 ``NOT_ACTIVE``, 403
    ``PLAYER_BLOCKED``, 402 ``INSUFFICIENT_WINZ``; nothing changes when it does.
    """
    drawn = await draws.draw(conn, game=LOOTBOX, realm=realm, brand_id=brand_id, ref=ref,
                             user_ref=user_ref, client_seed=client_seed, at=at, free=free)
    await outbox.emit(conn, realm=realm, type="lootbox.opened", at=at, data={
        "lootbox_id": str(drawn.entity_id), "lootbox_name": drawn.entity_name,
        "user": drawn.user, "open_id": str(drawn.id),
        "reward": prizes.public_reward(drawn.segment),
        "server_seed_hash": drawn.server_seed_hash, "opened_at": at,
    })
    return open_view(drawn)

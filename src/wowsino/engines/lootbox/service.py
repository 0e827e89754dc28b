"""Lootboxes: configure a box's prize table and cost, and open it for a player.

The draw itself is the shared prize-table flow (``engines.draws``); this module
names the box's tables and shapes its answers and its ``lootbox.opened`` event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import draws, prizes
from wowsino.kernel import outbox
from wowsino.kernel.realm import Actor, Realm

LOOTBOX = draws.PrizeGame(
    noun="lootbox", table="lootboxes", results="lootbox_opens", foreign_key="lootbox_id",
    not_found_code="NO_LOOTBOX", reward_kind="lootbox.open", cost_kind="lootbox.cost",
    result_ref="lootbox_open", columns=("name", "prize_table", "cost_winz"),
)


def open_view(drawn: draws.Drawn) -> dict[str, Any]:
    """An open as the API shows it: the reward and everything needed to recompute it."""
    shown = {
        "open_id": str(drawn.id), "lootbox_id": str(drawn.entity_id), "user": drawn.user,
        "reward": prizes.public_reward(drawn.segment), "segment_index": drawn.index,
        "cost_winz": drawn.cost, **drawn.proof(), "opened_at": drawn.at,
    }
    if drawn.prize_table is not None:
        shown["prize_table"] = draws.public_table(drawn.prize_table)
    return shown


async def create_lootbox(
    conn: AsyncConnection, *, realm: Realm, fields: dict[str, Any], actor: Actor, at: datetime,
) -> dict[str, Any]:
    """A new active box; 400 naming the field for a bad table or cost."""
    entity = await draws.create(conn, game=LOOTBOX, realm=realm, fields=fields, actor=actor,
                                at=at)
    return {"lootbox": draws.config_view(LOOTBOX, entity)}


async def update_lootbox(
    conn: AsyncConnection, *, realm: Realm, ref: str, fields: dict[str, Any], actor: Actor,
    at: datetime,
) -> dict[str, Any]:
    """Change name, table or cost (a new table has a new hash); 404 ``NO_LOOTBOX``."""
    entity = await draws.update(conn, game=LOOTBOX, realm=realm, ref=ref, fields=fields,
                                actor=actor, at=at)
    return {"lootbox": draws.config_view(LOOTBOX, entity)}


async def set_lootbox_status(
    conn: AsyncConnection, *, realm: Realm, ref: str, to: str, actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Pause or resume a box; 404 ``NO_LOOTBOX``."""
    entity = await draws.set_status(conn, game=LOOTBOX, realm=realm, ref=ref, to=to,
                                    actor=actor, at=at)
    return {"lootbox": draws.config_view(LOOTBOX, entity)}


async def get_lootbox(conn: AsyncConnection, *, realm: Realm, ref: str) -> dict[str, Any]:
    """One box's configuration; 404 ``NO_LOOTBOX``."""
    return {"lootbox": draws.config_view(LOOTBOX, await draws.load(conn, LOOTBOX, realm, ref))}


async def list_lootboxes(
    conn: AsyncConnection, *, realm: Realm, status: str | None, limit: int, cursor: str | None,
) -> dict[str, Any]:
    """The realm's boxes, newest first."""
    return await draws.listing(conn, game=LOOTBOX, realm=realm, status=status, limit=limit,
                               cursor=cursor)


async def open_lootbox(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, user_ref: str,
    client_seed: str | None, at: datetime,
) -> dict[str, Any]:
    """Open a box for a player: cost, fair draw, reward, record, ``lootbox.opened``.

    Raises 404 ``NO_LOOTBOX``/``NO_PLAYER``, 409 ``NOT_ACTIVE``, 403
    ``PLAYER_BLOCKED``, 402 ``INSUFFICIENT_WINZ``; nothing changes when it does.
    """
    drawn = await draws.draw(conn, game=LOOTBOX, realm=realm, brand_id=brand_id, ref=ref,
                             user_ref=user_ref, client_seed=client_seed, at=at)
    await outbox.emit(conn, realm=realm, type="lootbox.opened", at=at, data={
        "lootbox_id": str(drawn.entity_id), "lootbox_name": drawn.entity_name,
        "user": drawn.user, "open_id": str(drawn.id),
        "reward": prizes.public_reward(drawn.segment),
        "server_seed_hash": drawn.server_seed_hash, "opened_at": at,
    })
    return open_view(drawn)


async def list_opens(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, user_ref: str | None,
    limit: int, cursor: str | None,
) -> dict[str, Any]:
    """Past opens of a box (optionally one player's), each with its table and seeds."""
    found = await draws.results(conn, game=LOOTBOX, realm=realm, brand_id=brand_id, ref=ref,
                                user_ref=user_ref, limit=limit, cursor=cursor)
    return {**found, "data": [open_view(d) for d in found["data"]]}

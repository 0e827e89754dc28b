"""Mini-games (wheel, scratch card, pick), played for a player.

Every kind is the same provably fair weighted draw over the game's prize table
(configuration and the draw are shared in ``engines.draws``); the kind tells the
front end how to present it. A game may cost WINZ per play and limit plays per
player per UTC day.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import draws, prizes
from wowsino.kernel import outbox
from wowsino.kernel.realm import Realm

MINI_GAME = draws.PrizeGame(
    noun="mini_game", table="mini_games", results="mini_game_plays", foreign_key="mini_game_id",
    not_found_code="NO_MINI_GAME", reward_kind="mini_game.play", cost_kind="mini_game.cost",
    result_ref="mini_game_play",
    columns=("name", "kind", "prize_table", "cost_winz", "plays_per_day"),
)


def outcome(drawn: draws.Drawn) -> dict[str, Any]:
    """``{segment_label, segment_index, reward: {asset, amount}}``."""
    won = prizes.public_reward(drawn.segment)
    return {"segment_label": won["segment_label"], "segment_index": drawn.index,
            "reward": {"asset": won["asset"], "amount": won["amount"]}}


def play_view(drawn: draws.Drawn) -> dict[str, Any]:
    """A play as the API shows it: the outcome and everything needed to recompute it."""
    return {
        "play_id": str(drawn.id), "mini_game_id": str(drawn.entity_id), "user": drawn.user,
        "outcome": outcome(drawn), "cost_winz": drawn.cost, **drawn.proof(),
        "played_at": drawn.at,
    }


async def play_mini_game(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, user_ref: str,
    client_seed: str | None, at: datetime,
) -> dict[str, Any]:
    """Play once for a player: limit, cost, fair draw, reward, record, ``mini_game.played``.

    Raises 404 ``NO_MINI_GAME``/``NO_PLAYER``, 409 ``NOT_ACTIVE`` or
    ``PLAY_LIMIT_REACHED``, 403 ``PLAYER_BLOCKED``, 402 ``INSUFFICIENT_WINZ``;
    nothing changes when it does.
    """
    drawn = await draws.draw(conn, game=MINI_GAME, realm=realm, brand_id=brand_id, ref=ref,
                             user_ref=user_ref, client_seed=client_seed, at=at)
    await outbox.emit(conn, realm=realm, type="mini_game.played", at=at, data={
        "mini_game_id": str(drawn.entity_id), "mini_game_name": drawn.entity_name,
        "user": drawn.user, "play_id": str(drawn.id), "outcome": outcome(drawn),
        "server_seed_hash": drawn.server_seed_hash, "played_at": at,
    })
    return {**play_view(drawn), "plays_left_today": drawn.plays_left_today}

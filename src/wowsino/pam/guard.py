"""Whether a player may play now: the one check every play a player makes passes first.

A play (claiming a bonus, opening a lootbox, playing a mini-game, entering a raffle,
joining a tournament) is refused with 403 before anything happens when the player:

- is self-excluded (``SELF_EXCLUDED``; the session dependency already refuses them,
  checked again here so that no caller depends on it);
- is on a time-out: the ``timeout_until`` of their responsible-gambling state
  (``players.rg``, a pending shorter time-out not yet applied) is in the future
  (``TIMED_OUT``, with ``timeout_until``);
- has any other status than ``active`` (``PLAYER_BLOCKED``).

The player's row is read without a lock, in the play's own transaction: a time-out
committed before the play starts refuses it. (Locking the row here would take the
player before the engine's own row, against the platform's lock order.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import wire
from wowsino.kernel.errors import NotFound, PlayerBlocked
from wowsino.kernel.realm import Realm
from wowsino.kernel.wire import Lookup
from wowsino.players import rg

_STATE = ("SELECT id, username, status, rg FROM players WHERE tenant_id = :tenant_id "
          "AND mode = :mode AND id = :player_id")


def lookup(realm: Realm, player_id: UUID) -> Lookup:
    """The read ``require_can_play`` starts with, to be sent ahead of a write."""
    return Lookup(_STATE, {**realm.params, "player_id": player_id})


def timeout_until(player: dict[str, Any], at: datetime) -> datetime | None:
    """The end of the player's time-out in force at ``at``, or None."""
    limits = rg.effective(player.get("rg") or {}, at)["limits"]
    value = limits.get("timeout_until")
    if value is None:
        return None
    until = datetime.fromisoformat(value)
    return until if until > at else None


def refusal(player: dict[str, Any], at: datetime) -> PlayerBlocked | None:
    """The 403 a player (a ``players`` row with ``status`` and ``rg``) gets for a play at
    ``at``, or None when they may play."""
    status = player["status"]
    if status == "self_excluded":
        return PlayerBlocked("the player is self-excluded: no play until it ends",
                             code="SELF_EXCLUDED")
    until = timeout_until(player, at)
    if until is not None:
        return PlayerBlocked("the player is on a time-out: no play until it ends",
                             code="TIMED_OUT", timeout_until=until)
    if status != "active":
        return PlayerBlocked(f"the player's account is {status}: no play", status=status)
    return None


async def require_can_play(conn: AsyncConnection, realm: Realm, player_id: UUID,
                           at: datetime) -> dict[str, Any]:
    """The player's row (``id``, ``username``, ``status``, ``rg``), or 403
    ``SELF_EXCLUDED``, ``TIMED_OUT`` or ``PLAYER_BLOCKED`` (404 ``NO_PLAYER`` for a
    player not in ``realm``)."""
    player = await wire.first(conn, lookup(realm, player_id))
    if player is None:
        raise NotFound(f"no player {player_id}", code="NO_PLAYER")
    refused = refusal(player, at)
    if refused is not None:
        raise refused
    return player

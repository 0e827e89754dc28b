"""May this player play (or deposit) now? One question every ``/v1/player`` money or
play route asks before its effect.

A player may log in and read while timed out; play and deposits wait for the time-out's
end. Refusals are 403 with a precise code:

- ``SELF_EXCLUDED``: the status is ``self_excluded`` (``details.until``: the end of a
  self-exclusion the player asked for, null when permanent or set by the operator);
- ``TIMED_OUT``: a time-out runs (``details.until``);
- ``PLAYER_BLOCKED``: any other status that does not allow the action
  (``details.status``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import wire
from wowsino.kernel.errors import NotFound, PlayerBlocked
from wowsino.kernel.realm import Realm
from wowsino.kernel.wire import Lookup
from wowsino.players import rg

Action = Literal["play", "deposit"]

# Statuses that allow each action: a withdrawal hold keeps the player's money in but
# not the player out.
ALLOWED: dict[str, frozenset[str]] = {
    "play": frozenset({"active", "withdrawal_hold"}),
    "deposit": frozenset({"active", "withdrawal_hold"}),
}

# read without a lock, in the action's own transaction: a time-out committed before the
# action starts refuses it (locking the player here would take it before the engine's
# own rows, against the platform's lock order)
_PLAYER = ("SELECT id, username, status, rg, self_excluded_until FROM players "
           "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id")


def lookup(realm: Realm, player_id: UUID) -> Lookup:
    """The read ``require_can`` starts with, to be sent ahead of a write."""
    return Lookup(_PLAYER, {**realm.params, "id": player_id})


def timeout_until(state: dict[str, Any] | None, at: datetime) -> datetime | None:
    """The end of the time-out running at ``at`` in an RG state, or None."""
    value = rg.effective(state or {}, at)["limits"].get("timeout_until")
    if value is None:
        return None
    until = datetime.fromisoformat(value)
    return until if until > at else None


def refusal(row: Any, action: Action, at: datetime) -> PlayerBlocked | None:
    """Why the player in ``row`` (``status``, ``rg``, ``self_excluded_until``) may not
    take ``action`` at ``at``, or None."""
    status = row["status"]
    if status == "self_excluded":
        return PlayerBlocked("the player is self-excluded", code="SELF_EXCLUDED",
                             until=row["self_excluded_until"])
    if status not in ALLOWED[action]:
        return PlayerBlocked(f"the player's account is {status}: no {action}",
                             status=status)
    until = timeout_until(row["rg"], at)
    if until is not None:
        return PlayerBlocked(f"the player took a time-out: no {action} until it ends",
                             code="TIMED_OUT", until=until)
    return None


async def require_can(conn: AsyncConnection, realm: Realm, player_id: UUID, at: datetime,
                      action: Action) -> None:
    """403 (``SELF_EXCLUDED``, ``TIMED_OUT``, ``PLAYER_BLOCKED``) unless the player may
    take ``action`` at ``at``; 404 ``NO_PLAYER`` for an unknown player."""
    row = await wire.first(conn, lookup(realm, player_id))
    if row is None:
        raise NotFound("no such player", code="NO_PLAYER")
    refused = refusal(row, action, at)
    if refused is not None:
        raise refused


async def require_can_play(conn: AsyncConnection, realm: Realm, player_id: UUID,
                           at: datetime) -> None:
    """``require_can(..., "play")``: before a bet, a mini-game play, a lootbox open, a
    raffle entry or a bonus claim made by the player."""
    await require_can(conn, realm, player_id, at, "play")


async def require_can_deposit(conn: AsyncConnection, realm: Realm, player_id: UUID,
                              at: datetime) -> None:
    """``require_can(..., "deposit")``: before a deposit the player starts."""
    await require_can(conn, realm, player_id, at, "deposit")

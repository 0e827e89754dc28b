"""May this player play (or deposit) now? The question every ``/v1/player`` money or play
route asks the compliance gate (``compliance/gate.py``) before its effect.

A player may log in and read while timed out; play and deposits wait for the time-out's
end. Refusals are 403 with the gate's precise code, among them:

- ``SELF_EXCLUDED``: the status is ``self_excluded`` (``details.until``: the end of a
  self-exclusion the player asked for, null when permanent or set by the operator);
- ``TIMED_OUT``: a time-out runs (``details.until``);
- ``PLAYER_BLOCKED``: any other status that does not allow the action
  (``details.status``);
- ``JURISDICTION_BLOCKED``: the brand's profile refuses the player (age, country);
- ``KYC_REQUIRED``: the action needs a KYC level the player has not reached.

Each refusal's audit row (``compliance.refused``) is written once the route's
transaction has rolled back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.kernel import wire
from wowsino.kernel.errors import NotFound
from wowsino.kernel.realm import Actor, Realm
from wowsino.kernel.wire import Lookup

# read without a lock, in the action's own transaction: a time-out committed before the
# action starts refuses it (locking the player here would take it before the engine's
# own rows, against the platform's lock order). The brand's jurisdiction profile comes
# with it, so the gate reads nothing more.
_PLAYER = (
    "SELECT p.id, p.brand_id, p.username, p.status, p.rg, p.self_excluded_until, "
    "p.date_of_birth, p.country_code, p.kyc_status, p.kyc_level, p.currency, "
    "jp.profile AS jp_profile, jp.overrides AS jp_overrides, jp.version AS jp_version "
    "FROM players p LEFT JOIN jurisdiction_profiles jp ON jp.tenant_id = p.tenant_id "
    "AND jp.mode = p.mode AND jp.brand_id = p.brand_id "
    "WHERE p.tenant_id = :tenant_id AND p.mode = :mode AND p.id = :id"
)


def lookup(realm: Realm, player_id: UUID) -> Lookup:
    """The read ``require_can`` starts with, to be sent ahead of a write."""
    return Lookup(_PLAYER, {**realm.params, "id": player_id})


def timeout_until(state: dict[str, Any] | None, at: datetime) -> datetime | None:
    """The end of the time-out running at ``at`` in an RG state, or None."""
    return gate.timeout_until(state, at)


async def require_can(conn: AsyncConnection, realm: Realm, player_id: UUID, at: datetime,
                      action: gate.Action) -> None:
    """403 (the gate's ``Refused``) unless the player may take ``action`` at ``at``; 404
    ``NO_PLAYER`` for an unknown player."""
    player = await wire.first(conn, lookup(realm, player_id))
    if player is None:
        raise NotFound("no such player", code="NO_PLAYER")
    facts = gate.Facts(action, player, await gate.rules_for(conn, realm, player),
                       at, currency=player["currency"])
    gate.require(facts, realm=realm, actor=Actor("player", str(player_id)))


async def require_can_play(conn: AsyncConnection, realm: Realm, player_id: UUID,
                           at: datetime, action: gate.Action = gate.Action.DRAW) -> None:
    """``require_can`` for a play: a mini-game play, a lootbox open or a raffle entry (a
    draw, by default), a bonus claim, a tournament entry, a game launch."""
    await require_can(conn, realm, player_id, at, action)


async def require_can_deposit(conn: AsyncConnection, realm: Realm, player_id: UUID,
                              at: datetime) -> None:
    """``require_can(..., gate.Action.DEPOSIT)``: before a deposit the player starts."""
    await require_can(conn, realm, player_id, at, gate.Action.DEPOSIT)

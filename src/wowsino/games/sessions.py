"""Game sessions: a launched game bound to one player, brand, currency and game.

The token (``wgs_live_|wgs_test_`` + 48 hex) goes to the aggregator, which names it in
every wallet call; it is stored only as SHA-256. A session lasts ``LIFETIME`` from its
launch: after that its bets and balance calls are refused (``TOKEN_EXPIRED``) while its
wins and rollbacks are still accepted, since a round may end after its session. A brand
that turns the aggregator off ends its sessions the same way.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.games.adapters import ADAPTERS
from wowsino.games.adapters.base import Game
from wowsino.kernel import audit
from wowsino.kernel.config import Settings
from wowsino.kernel.ids import new_id
from wowsino.kernel.realm import Actor, Mode, Realm
from wowsino.pam import guard

LIFETIME = timedelta(hours=24)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class GameSession:
    """A session as a wallet call finds it (expired ones too)."""

    realm: Realm
    id: UUID
    brand_id: UUID
    player_id: UUID
    adapter: str
    game_id: str
    currency: str
    expires_at: datetime
    service_mode: str
    tenant_status: str = "active"
    # the brand's use of the session's aggregator (games/aggregator_config.py)
    aggregator_enabled: bool = True
    brand_secret: str | None = field(default=None, repr=False)
    created_at: datetime | None = None

    def expired(self, at: datetime) -> bool:
        return at >= self.expires_at

    def ended(self, at: datetime) -> str | None:
        """Why the session takes no more bets at ``at`` (None: it does)."""
        if at >= self.expires_at:
            return "the game session has expired"
        if not self.aggregator_enabled:
            return "the brand has turned this aggregator off"
        return None


_SELECT = (
    "SELECT s.tenant_id, s.mode, s.id, s.brand_id, s.player_id, s.adapter, s.game_id, "
    "s.currency, s.expires_at, s.created_at, t.service_mode, t.status AS tenant_status, "
    "coalesce(c.enabled, true) AS aggregator_enabled, c.secret AS brand_secret "
    "FROM game_sessions s JOIN tenants t ON t.id = s.tenant_id "
    "LEFT JOIN aggregator_configs c ON c.tenant_id = s.tenant_id AND c.mode = s.mode "
    "AND c.brand_id = s.brand_id AND c.adapter = s.adapter "
)
_FIND = text(_SELECT + "WHERE s.token_hash = :hash")
_BY_ID = text(_SELECT + "WHERE s.tenant_id = :tenant_id AND s.mode = :mode AND s.id = :id")


async def find(conn: AsyncConnection, token: str) -> GameSession | None:
    """The session of ``token``, expired or not, with its brand's use of its aggregator;
    None for a token nobody issued."""
    row = (await conn.execute(_FIND, {"hash": hash_token(token)})).mappings().first()
    return None if row is None else _session(row)


async def by_id(conn: AsyncConnection, realm: Realm, session_id: UUID) -> GameSession:
    """A session by its id (it exists: a transaction names it)."""
    row = (await conn.execute(_BY_ID, {**realm.params, "id": session_id})).mappings().one()
    return _session(row)


def _session(row: Any) -> GameSession:
    return GameSession(Realm(row["tenant_id"], Mode(row["mode"])), row["id"], row["brand_id"],
                       row["player_id"], row["adapter"], row["game_id"], row["currency"],
                       row["expires_at"], row["service_mode"], row["tenant_status"],
                       row["aggregator_enabled"], row["brand_secret"], row["created_at"])


_INSERT = text(
    "INSERT INTO game_sessions (token_hash, tenant_id, mode, id, brand_id, player_id, adapter, "
    "game_id, currency, created_at, expires_at) VALUES (:hash, :tenant_id, :mode, :id, "
    ":brand, :player, :adapter, :game, :currency, :at, :expires)"
)
_PLAYER = text(
    "SELECT currency FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
    "AND brand_id = :brand AND id = :id"
)


async def launch(conn: AsyncConnection, *, settings: Settings, realm: Realm, brand_id: UUID,
                 player_id: UUID, game: Game, at: datetime,
                 launch_base: str | None = None) -> dict[str, Any]:
    """Open a session of ``game`` for the player, in the player's currency: ``{token,
    launch_url, expires_at, session_id, game}`` (``launch_base``: the brand's own address
    of the aggregator's games, None: the platform's). A player who may not play now is
    refused by the compliance gate with 403 (``SELF_EXCLUDED``, ``TIMED_OUT``,
    ``PLAYER_BLOCKED``, ``JURISDICTION_BLOCKED``, ``KYC_REQUIRED``) before anything is
    written."""
    await guard.require_can_play(conn, realm, player_id, at, gate.Action.LAUNCH)
    player = (await conn.execute(_PLAYER, {**realm.params, "brand": brand_id,
                                           "id": player_id})).mappings().one()
    token = f"wgs_{realm.mode.value}_{secrets.token_hex(24)}"
    session_id, expires = new_id(), at + LIFETIME
    await conn.execute(_INSERT, {**realm.params, "hash": hash_token(token), "id": session_id,
                                 "brand": brand_id, "player": player_id, "adapter": game.aggregator,
                                 "game": game.game_id, "currency": player["currency"], "at": at,
                                 "expires": expires})
    await audit.record(conn, realm=realm, actor=Actor("player", str(player_id)),
                       action="game.launched", target_type="player", target_id=str(player_id),
                       at=at, after={"session_id": str(session_id), "game_id": game.game_id,
                                     "aggregator": game.aggregator,
                                     "currency": player["currency"]})
    adapter = ADAPTERS[game.aggregator]
    return {"token": token, "launch_url": adapter.launch_url(settings, game, token,
                                                             base=launch_base),
            "expires_at": expires, "session_id": str(session_id),
            "currency": player["currency"], "game": game.view()}

"""Player sessions: ``wps_live_|wps_test_`` + 48 hex tokens, stored only as SHA-256,
with a sliding idle expiry (24 hours) capped by an absolute one (30 days), revocable.

A session token is never an API key and an API key never a session token: each has its
own prefix and its own table, and each resolver refuses the other's.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit
from wowsino.kernel.admin import client_address
from wowsino.kernel.auth import takes
from wowsino.kernel.errors import AuthInvalid, AuthRequired, PlayerBlocked, TenantSuspended
from wowsino.kernel.ids import new_id
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Actor, Mode, Realm

IDLE = timedelta(hours=24)
ABSOLUTE = timedelta(days=30)
TOKEN_PATTERN = re.compile(r"^wps_(live|test)_[0-9a-f]{48}$")
# statuses that end every session and refuse a login
LOCKED_OUT = {"self_excluded": "SELF_EXCLUDED", "closed": "PLAYER_BLOCKED",
              "suspended": "PLAYER_BLOCKED"}


@dataclass(frozen=True, slots=True)
class PlayerSession:
    """The caller of a ``/v1/player`` request: one player of one white-label brand."""

    realm: Realm
    tenant_slug: str
    brand_id: UUID
    brand_slug: str
    session_id: UUID
    player_id: UUID
    username: str
    rate_limit_burst: int | None = None
    rate_limit_per_second: int | None = None

    @property
    def service_mode(self) -> str:
        return "white_label"

    @property
    def actor(self) -> Actor:
        return Actor("player", str(self.player_id))

    @property
    def idempotency_owner(self) -> str | None:
        return f"player:{self.player_id}"


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def refusal_for(status: str) -> PlayerBlocked | None:
    """The 403 a player in ``status`` gets at login and on every session request."""
    code = LOCKED_OUT.get(status)
    if code is None:
        return None
    if code == "SELF_EXCLUDED":
        return PlayerBlocked("the player is self-excluded", code=code)
    return PlayerBlocked(f"the player's account is {status}", code=code)


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    id: UUID
    created_at: datetime
    expires_at: datetime
    absolute_expires_at: datetime

    def body(self) -> dict[str, Any]:
        return {"session_token": self.token, "session_id": str(self.id),
                "expires_at": self.expires_at, "absolute_expires_at": self.absolute_expires_at}


async def create(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, player_id: UUID,
                 at: datetime, address: str | None, user_agent: str | None) -> NewSession:
    token = f"wps_{realm.mode.value}_{secrets.token_hex(24)}"
    session = NewSession(token, new_id(), at, at + IDLE, at + ABSOLUTE)
    await conn.execute(text(
        "INSERT INTO player_sessions (token_hash, tenant_id, mode, id, brand_id, player_id, "
        "created_at, last_seen_at, idle_expires_at, absolute_expires_at, client_address, "
        "user_agent) VALUES (:hash, :tenant_id, :mode, :id, :brand, :player, :at, :at, :idle, "
        ":absolute, :address, :agent)"),
        {**realm.params, "hash": hash_token(token), "id": session.id, "brand": brand_id,
         "player": player_id, "at": at, "idle": session.expires_at,
         "absolute": session.absolute_expires_at, "address": address,
         "agent": (user_agent or "")[:256] or None})
    await audit.record(conn, realm=realm, actor=Actor("player", str(player_id)),
                       action="player.session_created", target_type="player",
                       target_id=str(player_id), at=at,
                       after={"session_id": str(session.id), "client_address": address})
    return session


async def revoke_all(conn: AsyncConnection, *, realm: Realm, player_id: UUID, at: datetime,
                     reason: str, except_session: UUID | None = None) -> int:
    """End every live session of the player (self-exclusion, a closed account, a new
    password); the count ended."""
    result = await conn.execute(text(
        "UPDATE player_sessions SET revoked_at = :at, revoked_reason = :reason "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND player_id = :player "
        "AND revoked_at IS NULL AND absolute_expires_at > :at AND idle_expires_at > :at "
        "AND id IS DISTINCT FROM :keep"),
        {**realm.params, "player": player_id, "at": at, "reason": reason,
         "keep": except_session})
    return int(getattr(result, "rowcount", 0) or 0)


async def revoke(conn: AsyncConnection, *, realm: Realm, player_id: UUID, session_id: UUID,
                 at: datetime, reason: str) -> dict[str, Any] | None:
    """End one of the player's sessions (already ended: unchanged); None if not theirs."""
    row = (await conn.execute(text(
        "UPDATE player_sessions SET revoked_at = coalesce(revoked_at, :at), "
        "revoked_reason = coalesce(revoked_reason, :reason) WHERE tenant_id = :tenant_id "
        "AND mode = :mode AND player_id = :player AND id = :id "
        "RETURNING id, revoked_at, revoked_reason"),
        {**realm.params, "player": player_id, "id": session_id, "at": at,
         "reason": reason})).mappings().first()
    return None if row is None else dict(row)


_TOUCH = text(
    "UPDATE player_sessions s SET last_seen_at = :now, "
    "idle_expires_at = least(CAST(:now AS timestamptz) + CAST(:idle AS interval), "
    "s.absolute_expires_at) "
    "FROM players p, tenants t, brands b "
    "WHERE s.token_hash = :hash AND s.revoked_at IS NULL AND s.idle_expires_at > :now "
    "AND s.absolute_expires_at > :now AND p.tenant_id = s.tenant_id AND p.mode = s.mode "
    "AND p.id = s.player_id AND t.id = s.tenant_id AND b.tenant_id = s.tenant_id "
    "AND b.id = s.brand_id "
    "RETURNING s.id, s.tenant_id, s.mode, s.brand_id, s.player_id, s.idle_expires_at, "
    "p.username, p.status AS player_status, t.slug AS tenant_slug, t.status AS tenant_status, "
    "t.rate_limit_burst, t.rate_limit_per_second, b.slug AS brand_slug"
)


_ENDED = text(
    "SELECT p.status FROM player_sessions s JOIN players p ON p.tenant_id = s.tenant_id "
    "AND p.mode = s.mode AND p.id = s.player_id WHERE s.token_hash = :hash"
)


@takes("playerSession")
async def current_player(request: Request) -> PlayerSession:
    """Resolve ``Authorization: Bearer wps_…`` to its live session, sliding its idle
    expiry: 401 for a missing, unknown, expired or revoked session (an API key too),
    403 for a suspended tenant or a player who may not log in any more (a session such a
    status ended answers the same 403)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header or scheme.lower() != "bearer" or not token:
        raise AuthRequired("a player session is required: Authorization: Bearer wps_…")
    if not TOKEN_PATTERN.match(token):
        raise AuthInvalid("not a player session token: /v1/player/* takes the token "
                          "POST /v1/auth/login answers (wps_…), never an API key")
    platform = request.app.state.platform
    now = platform.clock.now()
    async with platform.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        row = (await conn.execute(_TOUCH, {"hash": hash_token(token), "now": now,
                                           "idle": IDLE})).mappings().first()
    if row is None:
        async with platform.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            status = (await conn.execute(_ENDED, {"hash": hash_token(token)})).scalar()
        # a session ended by a status that refuses the player says why
        refused = None if status is None else refusal_for(status)
        if refused is not None:
            raise refused
        raise AuthInvalid("the player session is unknown, expired or revoked: log in again")
    if row["tenant_status"] == "suspended":
        raise TenantSuspended("this tenant is suspended")
    refused = refusal_for(row["player_status"])
    if refused is not None:
        raise refused
    session = PlayerSession(
        realm=Realm(row["tenant_id"], Mode(row["mode"])), tenant_slug=row["tenant_slug"],
        brand_id=row["brand_id"], brand_slug=row["brand_slug"], session_id=row["id"],
        player_id=row["player_id"], username=row["username"],
        rate_limit_burst=row["rate_limit_burst"],
        rate_limit_per_second=row["rate_limit_per_second"])
    request.state.principal = session  # the request log names its tenant and mode
    await platform.rate_limiter.take(request, session)
    platform.usage.count(session.realm)
    return session


def client_of(request: Request) -> tuple[str, str | None]:
    """The client address (the lock-out key) and user agent of a request."""
    return client_address(request), request.headers.get("user-agent")


CurrentPlayer = Annotated[PlayerSession, Depends(current_player)]


async def list_sessions(conn: AsyncConnection, *, session: PlayerSession,
                        after: tuple[Any, ...] | None, limit: int, at: datetime
                        ) -> list[dict[str, Any]]:
    """The player's sessions, newest first, each saying whether it is the caller's and
    whether it is still live."""
    params: dict[str, Any] = {**session.realm.params, "player": session.player_id,
                              "limit": limit + 1, "at": at, "me": session.session_id}
    clauses = "" if after is None else " AND " + NEWEST.before(after, params)
    rows = await conn.execute(text(
        "SELECT id, created_at, last_seen_at, idle_expires_at AS expires_at, "
        "absolute_expires_at, revoked_at, revoked_reason, client_address, user_agent, "
        "id = :me AS current, (revoked_at IS NULL AND idle_expires_at > :at "
        "AND absolute_expires_at > :at) AS active FROM player_sessions "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND player_id = :player" + clauses
        + f" ORDER BY {NEWEST.order()} LIMIT :limit"), params)
    return [dict(r._mapping) for r in rows]

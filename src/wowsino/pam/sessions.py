"""Player sessions: ``wps_`` tokens, stored only as SHA-256, with a sliding idle expiry
and an absolute one. A session token is never an API key and an API key never a session
token: each has its own prefix and its own table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from wowsino.kernel.realm import Actor, Realm


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

    @property
    def service_mode(self) -> str:
        return "white_label"

    @property
    def actor(self) -> Actor:
        return Actor("player", str(self.player_id))

    @property
    def idempotency_owner(self) -> str | None:
        return f"player:{self.player_id}"


async def current_player(request: Request) -> PlayerSession:
    """Resolve ``Authorization: Bearer wps_…`` to its live session (401 otherwise)."""
    raise NotImplementedError


CurrentPlayer = Annotated[PlayerSession, Depends(current_player)]

"""``/v1/auth/*`` (a brand's secret or publishable key) and the player's own sessions
under ``/v1/player/sessions`` (a player session token)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.auth import Principal, white_label
from wowsino.kernel.db import read_only
from wowsino.kernel.errors import NotFound
from wowsino.kernel.http import NEVER_REPLAYED
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.pagination import NEWEST, Limit, check_limit
from wowsino.kernel.writes import platform_of, write
from wowsino.pam import lockout, passwords, service, sessions
from wowsino.pam.schemas import KeyOnly, LoginIn, RegisterIn
from wowsino.pam.sessions import CurrentPlayer

router = APIRouter(prefix="/auth", tags=["player auth"], route_class=DecimalRoute)
player_router = APIRouter(prefix="/player", tags=["player"], route_class=DecimalRoute)

# a brand's secret key with players:write, or its publishable key
SiteKey = Annotated[Principal, white_label("players:write", public=True)]


@router.post("/register", status_code=201,
             summary="Register a player with a password (secret or publishable key)")
async def register(body: RegisterIn, request: Request, principal: SiteKey) -> MoneyJSONResponse:
    fields = body.model_dump(exclude_unset=True)
    password = fields.pop("password")
    # the password stays out of the idempotency fingerprint: nothing derived from it is
    # stored beside the key
    payload = dict(fields)
    fields.pop("idempotency_key", None)
    passwords.check_policy(password, username=body.username, email=body.email)
    password_hash = await passwords.hash_password(password)
    return await write(
        request, principal, payload=payload, status=201,
        call=lambda conn, at: service.register(
            conn, realm=principal.realm, brand_id=principal.brand_id, fields=fields,
            password_hash=password_hash, actor=principal.actor, at=at))


@router.post("/login", status_code=201, openapi_extra=NEVER_REPLAYED,
             summary="Log a player in: a session token (wps_…)",
             responses={423: {"description": "ACCOUNT_LOCKED (see Retry-After)"}})
async def login(body: LoginIn, request: Request, principal: SiteKey) -> MoneyJSONResponse:
    address, agent = sessions.client_of(request)
    try:
        answer = await service.login(platform_of(request), realm=principal.realm,
                                     brand_id=principal.brand_id, username=body.username,
                                     password=body.password, address=address,
                                     user_agent=agent)
    except lockout.AccountLocked as exc:
        request.state.rate_limit_headers = {
            **(getattr(request.state, "rate_limit_headers", None) or {}),
            "Retry-After": str(exc.retry_after)}
        raise
    return MoneyJSONResponse(answer, status_code=201)


@router.post("/logout", summary="End the calling player session")
async def logout(request: Request, session: CurrentPlayer,
                 body: KeyOnly | None = None) -> MoneyJSONResponse:
    return await write(request, session, payload=(body or KeyOnly()).model_dump(), status=200,
                       call=lambda conn, at: service.logout(conn, session=session, at=at))


@player_router.get("/sessions", summary="The player's sessions, newest first")
async def list_sessions(request: Request, session: CurrentPlayer, limit: Limit = None,
                        cursor: str | None = None) -> MoneyJSONResponse:
    size = check_limit(limit)
    after = NEWEST.decode(cursor)
    p = platform_of(request)
    async with read_only(p.engine) as conn:
        rows = await sessions.list_sessions(conn, session=session, after=after, limit=size,
                                            at=p.clock.now())
    return MoneyJSONResponse(NEWEST.page(rows, size))


@player_router.post("/sessions/{session_id}/revoke", summary="End one of the player's sessions")
async def revoke_session(session_id: UUID, request: Request, session: CurrentPlayer,
                         body: KeyOnly | None = None) -> MoneyJSONResponse:
    async def call(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
        found = await sessions.revoke(conn, realm=session.realm, player_id=session.player_id,
                                      session_id=session_id, at=at,
                                      reason="revoked by the player")
        if found is None:
            raise NotFound("no such session of this player", code="NO_SESSION")
        return {"session": found}

    return await write(request, session, payload=(body or KeyOnly()).model_dump(), status=200,
                       call=call)

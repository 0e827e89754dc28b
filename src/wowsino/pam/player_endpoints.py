"""``/v1/player/*``: the player's own account, with a player session token (``wps_…``).

Every route acts for the session's player only: there is no player reference to
give, so none to guess.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.db import read_only
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.writes import platform_of, write
from wowsino.pam import account, exclusion, lockout, passwords, sessions
from wowsino.pam.schemas import PasswordIn, ProfileIn, SelfExcludeIn, TimeoutIn
from wowsino.pam.sessions import CurrentPlayer, PlayerSession
from wowsino.players.schemas import RgIn

router = APIRouter(prefix="/player", tags=["player"], route_class=DecimalRoute)

Responses = dict[int | str, dict[str, Any]]
LOCKED: Responses = {
    423: {"description": "ACCOUNT_LOCKED: too many wrong passwords (see Retry-After)"}}
TAKEN: Responses = {409: {"description": "EMAIL_TAKEN: another player of the brand has "
                                         "this address"}}
TIMEOUT_RUNS: Responses = {409: {"description": "TIMEOUT_ACTIVE: a running time-out cannot be "
                                                "shortened or removed"}}
EXCLUSION_RUNS: Responses = {409: {"description": "SELF_EXCLUSION_ACTIVE: a self-exclusion as "
                                                  "long or longer runs already"}}
MISMATCH: Responses = {
    403: {"description": "PASSWORD_MISMATCH: the current password is wrong (counts as a "
                         "failed login); PLAYER_BLOCKED, SELF_EXCLUDED"}}


async def _prove(request: Request, session: PlayerSession, password: str, *,
                 or_else: str | None = None) -> None:
    """The current password, or 403 / 423 (with ``Retry-After``)."""
    address, _ = sessions.client_of(request)
    try:
        await account.prove_password(platform_of(request), session, password,
                                     address=address, or_else=or_else)
    except lockout.AccountLocked as exc:
        request.state.rate_limit_headers = {
            **(getattr(request.state, "rate_limit_headers", None) or {}),
            "Retry-After": str(exc.retry_after)}
        raise


@router.get("/profile", summary="The player's own profile and RG limits")
async def get_profile(request: Request, session: CurrentPlayer) -> MoneyJSONResponse:
    p = platform_of(request)
    async with read_only(p.engine) as conn:
        row = await account.own(conn, session)
    return MoneyJSONResponse({"profile": account.profile(row, p.clock.now())})


@router.patch("/profile", summary="Change the profile: the email address (needs the current password)",
              responses={**MISMATCH, **LOCKED, **TAKEN})
async def patch_profile(body: ProfileIn, request: Request,
                        session: CurrentPlayer) -> MoneyJSONResponse:
    await _prove(request, session, body.current_password)
    # the password stays out of the idempotency fingerprint
    payload = body.model_dump(include={"email", "idempotency_key"}, exclude_unset=True)
    return await write(request, session, payload=payload, status=200,
                       call=lambda conn, at: account.update_profile(
                           conn, session=session, email=body.email, at=at))


@router.post("/password", summary="Change the password; every other session ends",
             responses={**MISMATCH, **LOCKED})
async def change_password(body: PasswordIn, request: Request,
                          session: CurrentPlayer) -> MoneyJSONResponse:
    p = platform_of(request)
    async with read_only(p.engine) as conn:
        row = await account.own(conn, session)
    passwords.check_policy(body.new_password, username=row["username"], email=row["email"],
                           field="new_password")
    # the new password proves the player too once it is the current one (a retry)
    await _prove(request, session, body.current_password, or_else=body.new_password)
    password_hash = await passwords.hash_password(body.new_password)
    payload = body.model_dump(include={"idempotency_key"}, exclude_unset=True)
    return await write(request, session, payload=payload, status=200,
                       call=lambda conn, at: account.change_password(
                           conn, session=session, password_hash=password_hash, at=at))


@router.get("/balances", summary="The player's balances: {rail: {asset: amount}}")
async def get_balances(request: Request, session: CurrentPlayer) -> MoneyJSONResponse:
    async with read_only(platform_of(request).engine) as conn:
        return MoneyJSONResponse(await account.balances(conn, session))


@router.get("/limits", summary="The player's RG limits, with pending loosenings")
async def get_limits(request: Request, session: CurrentPlayer) -> MoneyJSONResponse:
    p = platform_of(request)
    async with read_only(p.engine) as conn:
        row = await account.own(conn, session)
    return MoneyJSONResponse({"limits": account.limits(row, p.clock.now())})


@router.post("/limits", summary="Set own RG limits (tighten now, loosen after 24 h)",
             responses=TIMEOUT_RUNS)
async def set_limits(body: RgIn, request: Request, session: CurrentPlayer) -> MoneyJSONResponse:
    requested = body.model_dump(exclude_unset=True)
    payload = dict(requested)
    requested.pop("idempotency_key", None)
    return await write(request, session, payload=payload, status=200,
                       call=lambda conn, at: account.set_limits(
                           conn, session=session, requested=requested, at=at))


@router.post("/timeout", summary="Take a time-out: no play or deposits until it ends",
             responses=TIMEOUT_RUNS)
async def take_timeout(body: TimeoutIn, request: Request,
                       session: CurrentPlayer) -> MoneyJSONResponse:
    return await write(request, session, payload=body.model_dump(exclude_unset=True),
                       status=200, call=lambda conn, at: account.take_timeout(
                           conn, session=session, period=body.period, at=at))


@router.post("/self-exclude", summary="Self-exclude: at once, irreversible until it ends; every session ends",
             responses=EXCLUSION_RUNS)
async def self_exclude(body: SelfExcludeIn, request: Request,
                       session: CurrentPlayer) -> MoneyJSONResponse:
    async def call(conn: AsyncConnection, at: datetime) -> dict[str, Any]:
        return await exclusion.self_exclude(
            conn, realm=session.realm, brand_id=session.brand_id, player_id=session.player_id,
            period=body.period, actor=session.actor, at=at)

    return await write(request, session, payload=body.model_dump(exclude_unset=True),
                       status=200, call=call)

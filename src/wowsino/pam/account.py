"""The player's own account: profile, email address, password, balances, RG limits and
time-outs. Every function acts for the player of a ``PlayerSession`` only.

Changing the email address or the password needs the current password. A wrong one
answers 403 ``PASSWORD_MISMATCH`` and counts as a failed login of the account (and of
the client address): five within 15 minutes lock the account out of both login and
these changes (423 ``ACCOUNT_LOCKED``), so a session left open on a shared computer is
no way to guess the password.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit, ledger
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import Conflict, DomainError
from wowsino.kernel.money import ASSETS
from wowsino.kernel.platform import Platform
from wowsino.pam import guard, lockout, passwords, sessions
from wowsino.pam.sessions import PlayerSession
from wowsino.players import rg
from wowsino.players import service as players

TIMEOUTS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


class PasswordMismatch(DomainError):
    status, code = 403, "PASSWORD_MISMATCH"


async def own(conn: AsyncConnection, session: PlayerSession, *,
              for_update: bool = False) -> dict[str, Any]:
    """The session's player row (optionally locked)."""
    return await players.get(conn, session.realm, session.brand_id, str(session.player_id),
                             for_update=for_update)


PROFILE_FIELDS = ("user_id", "username", "email", "country_code", "date_of_birth", "currency",
                  "status", "kyc_status", "kyc_level", "created_at", "rg")


def profile(row: dict[str, Any], at: datetime) -> dict[str, Any]:
    """What the player sees of their account (``PROFILE_FIELDS``): never the operator's
    flags, tags or notes."""
    return {
        "user_id": str(row["id"]),
        "username": row["username"],
        "email": row["email"],
        "country_code": row["country_code"],
        "date_of_birth": row["date_of_birth"],
        "currency": row["currency"],
        "status": row["status"],
        "kyc_status": row["kyc_status"],
        "kyc_level": row["kyc_level"],
        "created_at": row["created_at"],
        "rg": rg.present(row["rg"] or {}, ASSETS[row["currency"]], at),
    }


def limits(row: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Every RG limit (null when unset) and the pending loosenings."""
    return rg.present(row["rg"] or {}, ASSETS[row["currency"]], at)


async def balances(conn: AsyncConnection, session: PlayerSession) -> dict[str, Any]:
    row = await own(conn, session)
    held = await ledger.player_balances(conn, session.realm, row["id"])
    return {"balances": players.show_balances(held, row["currency"])}


# --- the current password -----------------------------------------------------------

_CREDENTIALS = text(
    "SELECT p.username, c.password_hash FROM players p JOIN player_credentials c "
    "ON c.tenant_id = p.tenant_id AND c.mode = p.mode AND c.player_id = p.id "
    "WHERE p.tenant_id = :tenant_id AND p.mode = :mode AND p.id = :id"
)


async def prove_password(platform: Platform, session: PlayerSession, password: str, *,
                         address: str, or_else: str | None = None) -> None:
    """Check the player's current password before a change: 423 while the account or the
    address is locked out; 403 ``PASSWORD_MISMATCH`` (a failed login) when it is wrong.

    ``or_else``: another password that proves the player too (a password change retried
    after it succeeded: the new password is the current one by then)."""
    at = platform.clock.now()
    realm, brand_id = session.realm, session.brand_id
    async with read_only(platform.engine) as conn:
        row = (await conn.execute(_CREDENTIALS, {**realm.params, "id": session.player_id})
               ).mappings().first()
        username = session.username if row is None else row["username"]
        await lockout.check(conn, realm=realm, brand_id=brand_id, username=username,
                            address=address, at=at)
    stored = None if row is None else row["password_hash"]
    if await passwords.verify_password(stored, password):
        return
    if or_else is not None and await passwords.verify_password(stored, or_else):
        return
    await unit_of_work(platform.engine, lambda c: lockout.failed(
        c, realm=realm, brand_id=brand_id, username=username, address=address, at=at))
    raise PasswordMismatch("the current password is wrong", field="current_password")


async def update_profile(conn: AsyncConnection, *, session: PlayerSession,
                         email: str | None, at: datetime) -> dict[str, Any]:
    """The profile with the fields given changed (the password was proven): a new email
    address, 409 ``EMAIL_TAKEN`` when another player of the brand has it; audited."""
    from wowsino.pam import service

    row = await own(conn, session, for_update=True)
    if email is not None and row["email"] != email:
        await service.lock_email(conn, session.realm, session.brand_id, email)
        taken = await conn.scalar(text(
            "SELECT 1 FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
            "AND brand_id = :brand AND email = :email AND id <> :id LIMIT 1"),
            {**session.realm.params, "brand": session.brand_id, "email": email,
             "id": row["id"]})
        if taken is not None:
            raise Conflict("an account with this email address exists", code="EMAIL_TAKEN",
                           field="email")
        await conn.execute(text(
            "UPDATE players SET email = :email, updated_at = :at WHERE tenant_id = :tenant_id "
            "AND mode = :mode AND id = :id"),
            {**session.realm.params, "email": email, "at": at, "id": row["id"]})
        await audit.record(conn, realm=session.realm, actor=session.actor,
                           action="player.email_changed", target_type="player",
                           target_id=str(row["id"]), before={"email": row["email"]},
                           after={"email": email}, at=at)
        row["email"], row["updated_at"] = email, at
    return {"profile": profile(row, at)}


async def change_password(conn: AsyncConnection, *, session: PlayerSession,
                          password_hash: str, at: datetime) -> dict[str, Any]:
    """Store the new password (already checked and hashed) and end every other session
    of the player; the account's failed logins are forgotten; audited."""
    await conn.execute(text(
        "UPDATE player_credentials SET password_hash = :hash, changed_at = :at "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND player_id = :player"),
        {**session.realm.params, "hash": password_hash, "at": at,
         "player": session.player_id})
    ended = await sessions.revoke_all(conn, realm=session.realm, player_id=session.player_id,
                                      at=at, reason="password changed",
                                      except_session=session.session_id)
    await lockout.succeeded(conn, realm=session.realm, brand_id=session.brand_id,
                            username=session.username)
    await audit.record(conn, realm=session.realm, actor=session.actor,
                       action="player.password_changed", target_type="player",
                       target_id=str(session.player_id), at=at,
                       after={"other_sessions_ended": ended})
    return {"password_changed": True, "other_sessions_ended": ended}


# --- limits and time-outs -------------------------------------------------------------

def _refuse_shorter_timeout(row: dict[str, Any], wanted: datetime | None, at: datetime) -> None:
    """409 ``TIMEOUT_ACTIVE`` for a time-out that would end before the running one."""
    running = guard.timeout_until(row["rg"], at)
    if running is not None and (wanted is None or wanted < running):
        raise Conflict("a time-out runs until it ends: it can be extended, never shortened",
                       code="TIMEOUT_ACTIVE", field="timeout_until", until=running)


def _changes(changes: list[rg.Change]) -> list[dict[str, Any]]:
    return [{"limit": c.limit, "immediate": c.immediate, "applies_at": c.applies_at}
            for c in changes]


async def set_limits(conn: AsyncConnection, *, session: PlayerSession,
                     requested: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The player's own RG limits, as ``POST /v1/players/<key>/rg`` sets them: stricter
    at once, looser after the 24 h cooling-off. A running time-out cannot be shortened
    or removed here either."""
    row = await own(conn, session, for_update=True)
    if "timeout_until" in requested:
        _refuse_shorter_timeout(row, requested["timeout_until"], at)
    changes = await players.apply_rg(conn, realm=session.realm,
                                     service_mode=session.service_mode, player=row,
                                     requested=requested, actor=session.actor, at=at)
    return {"limits": limits(row, at), "changes": _changes(changes)}


async def take_timeout(conn: AsyncConnection, *, session: PlayerSession, period: str,
                       at: datetime) -> dict[str, Any]:
    """A time-out from now for ``period``: at once; a longer one extends a running one,
    a shorter one is refused (409 ``TIMEOUT_ACTIVE``)."""
    row = await own(conn, session, for_update=True)
    until = at + TIMEOUTS[period]
    _refuse_shorter_timeout(row, until, at)
    changes = await players.apply_rg(conn, realm=session.realm,
                                     service_mode=session.service_mode, player=row,
                                     requested={"timeout_until": until}, actor=session.actor,
                                     at=at)
    return {"timeout": {"period": period, "until": until}, "limits": limits(row, at),
            "changes": _changes(changes)}


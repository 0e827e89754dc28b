"""Registration and login of white-label players."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import service as compliance
from wowsino.kernel import audit
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import Conflict, DomainError, PlayerBlocked
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Actor, Realm
from wowsino.pam import account, lockout, passwords, sessions
from wowsino.players import service as players


class InvalidCredentials(DomainError):
    status, code = 401, "INVALID_CREDENTIALS"


async def _check_jurisdiction(conn: AsyncConnection, realm: Realm, brand_id: UUID,
                              fields: dict[str, Any], at: datetime) -> None:
    found = await compliance.brand_rules(conn, realm, brand_id)
    rules = found.rules
    if fields["country_code"] in rules["blocked_countries"]:
        raise PlayerBlocked(
            f"players from {fields['country_code']} may not register on this brand "
            f"({found.profile} profile)", code="COUNTRY_BLOCKED",
            rule="blocked_countries", profile=found.profile)
    if compliance.age(fields["date_of_birth"], at.date()) < rules["min_age"]:
        raise PlayerBlocked(f"players must be at least {rules['min_age']} "
                            f"({found.profile} profile)", code="PLAYER_UNDERAGE",
                            rule="min_age", profile=found.profile)


async def lock_email(conn: AsyncConnection, realm: Realm, brand_id: UUID, email: str) -> None:
    """Serialise, until the transaction ends, whoever takes ``email`` within the brand
    (a registration, a player changing address): a check that it is free then holds."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                       {"k": f"register:{realm.tenant_id}:{realm.mode.value}:{brand_id}:"
                             f"{email}"})


async def register(conn: AsyncConnection, *, realm: Realm, brand_id: UUID,
                   fields: dict[str, Any], password_hash: str, actor: Actor,
                   at: datetime) -> dict[str, Any]:
    """Create a player with a password: 409 for a taken username or email (within the
    brand), 403 for an age or a country the brand's profile refuses. Answers the player's
    profile (``GET /v1/player/profile``), never the operator's dossier."""
    await _check_jurisdiction(conn, realm, brand_id, fields, at)
    # one registration per email at a time: the check below then holds
    await lock_email(conn, realm, brand_id, fields["email"])
    taken = (await conn.execute(text(
        "SELECT lower(username) = lower(:username) AS username_taken FROM players "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND brand_id = :brand "
        "AND (lower(username) = lower(:username) OR email = :email) "
        "ORDER BY 1 DESC LIMIT 1"),
        {**realm.params, "brand": brand_id, "username": fields["username"],
         "email": fields["email"]})).first()
    if taken is not None:
        if taken.username_taken:
            raise Conflict("this username is taken", code="USERNAME_TAKEN", field="username")
        raise Conflict("an account with this email address exists", code="EMAIL_TAKEN",
                       field="email")
    status, body = await players.upsert(conn, realm=realm, brand_id=brand_id, fields=fields,
                                        actor=actor, at=at)
    if status != 201:  # a concurrent registration of the same username won
        raise Conflict("this username is taken", code="USERNAME_TAKEN", field="username")
    await conn.execute(text(
        "INSERT INTO player_credentials (tenant_id, mode, player_id, password_hash, changed_at) "
        "VALUES (:tenant_id, :mode, :player, :hash, :at)"),
        {**realm.params, "player": body["player"]["user_id"], "hash": password_hash, "at": at})
    # the player's own view: a player site never sees the operator's flags
    return {"player": {k: body["player"][k] for k in account.PROFILE_FIELDS}}


_ACCOUNT = text(
    "SELECT p.id, p.username, p.status, c.password_hash FROM players p "
    "JOIN player_credentials c ON c.tenant_id = p.tenant_id AND c.mode = p.mode "
    "AND c.player_id = p.id WHERE p.tenant_id = :tenant_id AND p.mode = :mode "
    "AND p.brand_id = :brand AND lower(p.username) = lower(:username) "
    "ORDER BY p.username = :username DESC LIMIT 1"
)


async def login(platform: Platform, *, realm: Realm, brand_id: UUID, username: str,
                password: str, address: str, user_agent: str | None) -> dict[str, Any]:
    """A new session for the right password. Locked (423) after five failures in 15
    minutes per account or address; a wrong password and an unknown username get the same
    401 in the same time; a self-excluded or closed player gets 403 once the password is
    right. Not replayable by idempotency key: each login is a new session, and no token
    is ever stored."""
    at = platform.clock.now()
    async with read_only(platform.engine) as conn:
        await lockout.check(conn, realm=realm, brand_id=brand_id, username=username,
                            address=address, at=at)
        account = (await conn.execute(_ACCOUNT, {**realm.params, "brand": brand_id,
                                                 "username": username})).mappings().first()
    stored = None if account is None else account["password_hash"]
    if not await passwords.verify_password(stored, password):
        await unit_of_work(platform.engine, lambda c: lockout.failed(
            c, realm=realm, brand_id=brand_id, username=username, address=address, at=at))
        raise InvalidCredentials("the username or the password is wrong")
    assert account is not None
    refused = sessions.refusal_for(account["status"])
    if refused is not None:
        raise refused
    rehash = (await passwords.hash_password(password)
              if passwords.needs_rehash(account["password_hash"]) else None)

    async def start(conn: AsyncConnection) -> tuple[sessions.NewSession, int]:
        await lockout.succeeded(conn, realm=realm, brand_id=brand_id, username=username)
        if rehash is not None:
            await conn.execute(text(
                "UPDATE player_credentials SET password_hash = :hash WHERE tenant_id = "
                ":tenant_id AND mode = :mode AND player_id = :player"),
                {**realm.params, "hash": rehash, "player": account["id"]})
        new = await sessions.create(conn, realm=realm, brand_id=brand_id,
                                    player_id=account["id"], at=at, address=address,
                                    user_agent=user_agent)
        # a profile without parallel sessions (DE): the newest login is the only one
        rules = await compliance.brand_rules(conn, realm, brand_id)
        ended = 0
        if not rules.rules["parallel_sessions"]:
            ended = await sessions.revoke_all(conn, realm=realm, player_id=account["id"],
                                              at=at, reason="parallel_sessions",
                                              except_session=new.id)
        return new, ended

    session, ended = await unit_of_work(platform.engine, start)
    return {**session.body(), "player": {"user_id": str(account["id"]),
                                         "username": account["username"]},
            "ended_sessions": ended}


async def logout(conn: AsyncConnection, *, session: sessions.PlayerSession,
                 at: datetime) -> dict[str, Any]:
    await sessions.revoke(conn, realm=session.realm, player_id=session.player_id,
                          session_id=session.session_id, at=at, reason="logout")
    await audit.record(conn, realm=session.realm, actor=session.actor,
                       action="player.logged_out", target_type="player",
                       target_id=str(session.player_id), at=at,
                       after={"session_id": str(session.session_id)})
    return {"logged_out": True, "session_id": str(session.session_id)}

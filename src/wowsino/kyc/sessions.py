"""Verification sessions: started by an operator (``POST /v1/players/<key>/kyc/start``) or
the player (``POST /v1/player/kyc/start``), then asked of the brand's vendor.

The session is committed ``pending`` first, then the vendor is asked outside any
transaction, then its page is recorded in a second short transaction (the wallet's
deposits work the same way, ``wallet.gateway``). A vendor that does not answer leaves a
pending session without a page: 503, and the same request again (same idempotency key)
asks the vendor again with the same reference. A vendor that refuses fails the session.

Who may start: any player of the brand, whatever their status — verifying is not
playing, so a self-excluded player may be verified (the compliance gate governs money and
play). Refused with 409: a player already approved at the requested level or above
(``KYC_ALREADY_APPROVED``), a player whose last decision is a final rejection
(``KYC_REJECTED_FINAL``; an operator's manual decision lifts it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import Conflict, ServiceUnavailable, ValidationFailed
from wowsino.kernel.idempotency import WriteResult
from wowsino.kernel.ids import new_id
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Actor, Realm
from wowsino.kernel.vendors import Account, VendorRefused, VendorUnavailable
from wowsino.kernel.vendors import account_for as vendor_account
from wowsino.kyc import adapters, config, references, repository, views
from wowsino.kyc.adapters.base import KycAdapter, SessionRequest
from wowsino.players import service as players

log = structlog.get_logger("wowsino.kyc")
TTL = timedelta(hours=1)  # how long a verification page stays open
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
Body = dict[str, Any]


def callback_url(base: str, adapter: KycAdapter) -> str:
    return f"{base.rstrip('/')}/v1/kyc/{adapter.name}/callback"


async def start(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, level: int | None,
    callback_base: str, actor: Actor, settings: Any, at: datetime,
) -> Body:
    """A ``pending`` session with the brand's vendor for the player ``ref`` (the vendor is
    asked after the commit).

    Raises 400 (a level above what the brand's vendor verifies), 404 ``NO_PLAYER``, 409
    ``KYC_ALREADY_APPROVED``, ``KYC_REJECTED_FINAL`` or ``KYC_NOT_CONFIGURED``."""
    # the player's row, locked: a start and a decision about one player take turns
    player = await players.get(conn, realm, brand_id, ref, for_update=True)
    brand = await config.for_brand(conn, realm, player["brand_id"])
    config.require_usable(brand, realm, settings)
    wanted = level or brand.level
    if wanted > brand.level:
        raise ValidationFailed(f"level: this brand's KYC vendor verifies up to level "
                               f"{brand.level}", field="level", vendor_level=brand.level)
    if player["kyc_status"] == "approved" and player["kyc_level"] >= wanted:
        raise Conflict(f"the player is already approved at KYC level {player['kyc_level']}",
                       code="KYC_ALREADY_APPROVED", kyc_level=player["kyc_level"])
    in_force = await repository.in_force(conn, realm, player["id"])
    if in_force is not None and in_force["rejection"] == "final":
        raise Conflict("the player's verification was rejected for good; an operator's "
                       "decision (PATCH /v1/players/<key>/kyc) is needed to verify again",
                       code="KYC_REJECTED_FINAL")
    session_id = new_id()
    await repository.insert_session(conn, realm, {
        "id": session_id, "brand_id": player["brand_id"], "player_id": player["id"],
        "adapter": brand.adapter.name, "level": wanted, "callback_base": callback_base,
        "started_by": actor.label, "expires_at": at + TTL, "created_at": at,
        "updated_at": at})
    found = await repository.session(conn, realm, session_id)
    assert found is not None
    return {"kyc_session": views.session(found, realm, at)}


async def account_for(conn: AsyncConnection, platform: Platform, realm: Realm,
                   row: dict[str, Any]) -> tuple[KycAdapter, Account]:
    """The adapter a session was made with, and the brand's account for it (the brand's
    credentials while it still uses that adapter, else the adapter's defaults)."""
    brand = await config.for_brand(conn, realm, row["brand_id"])
    return vendor_account(adapters.adapter(row["adapter"]), brand.adapter, brand.credentials,
                          platform.settings)


async def ask_vendor(platform: Platform, realm: Realm, session_id: UUID) -> None:
    """Ask the vendor for the page of a pending session that has none yet, and record it.
    Raises 503 ``SERVICE_UNAVAILABLE`` when the vendor does not answer (the session stays
    pending: send the request again)."""
    async with read_only(platform.engine) as conn:
        row = await repository.session(conn, realm, session_id)
        if row is None or row["status"] != "pending" or row["verification_url"] is not None:
            return
        adapter, account = await account_for(conn, platform, realm, row)
    now = platform.clock.now()
    request = SessionRequest(
        reference=references.encode(realm, row["id"]), level=row["level"],
        callback_url=callback_url(row["callback_base"], adapter),
        ttl_seconds=max(60, int((row["expires_at"] - now).total_seconds())), now=now)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as http:
            created = await adapter.create_session(http, account, request)
    except VendorRefused as refused:
        reason = refused.reason[:255]
        await unit_of_work(platform.engine, lambda conn: _fail(
            conn, realm, row["id"], reason, platform.clock.now()))
        return
    except VendorUnavailable as exc:
        log.warning("KYC vendor did not start a verification", adapter=adapter.name,
                    error=str(exc))
        raise ServiceUnavailable("the KYC vendor did not answer; the verification is "
                                 "pending: send the request again with the same idempotency "
                                 "key") from None
    at = platform.clock.now()
    await unit_of_work(platform.engine, lambda conn: repository.record_vendor_session(
        conn, realm, row["id"], verification_url=created.verification_url[:2048],
        vendor_session_id=(created.vendor_session_id or "")[:255] or None, at=at))


async def _fail(conn: AsyncConnection, realm: Realm, session_id: UUID, reason: str,
                at: datetime) -> None:
    row = await repository.session(conn, realm, session_id, for_update=True)
    if row is not None and row["status"] == "pending" and row["verification_url"] is None:
        await repository.update_session(conn, realm, session_id, {
            "status": "failed", "reason": reason, "updated_at": at})


async def after_start(platform: Platform, realm: Realm, result: WriteResult) -> Body:
    """Ask the vendor (once: a replay only finishes an interrupted start) and answer the
    write's body with the session as it is now."""
    session_id = UUID(result.body["kyc_session"]["id"])
    await ask_vendor(platform, realm, session_id)
    async with read_only(platform.engine) as conn:
        row = await repository.session(conn, realm, session_id)
    assert row is not None
    return {**result.body, "kyc_session": views.session(row, realm, platform.clock.now())}


async def overview(conn: AsyncConnection, realm: Realm, brand_id: UUID, ref: str,
                   now: datetime, *, limit: int = 50) -> Body:
    """A player's KYC: the status and level in force, whether they may start a
    verification, their newest sessions and decisions (stale ones included)."""
    player = await players.get(conn, realm, brand_id, ref)
    in_force = await repository.in_force(conn, realm, player["id"])
    sessions = await repository.sessions_of(conn, realm, player["id"], limit)
    decisions = await repository.decisions_of(conn, realm, player["id"], limit)
    return {"kyc": {
        "user": players.player_ref(player), "status": player["kyc_status"],
        "level": player["kyc_level"],
        "rejection": None if in_force is None else in_force["rejection"],
        "decided_at": None if in_force is None else in_force["decided_at"],
        "sessions": [views.session(row, realm, now) for row in sessions],
        "decisions": [views.decision(row) for row in decisions]}}

"""Console sessions kept on the server, so a session can end before its cookie expires.

A row per signed-in session, keyed by the SHA-256 of the session id in its cookie. A
platform admin's session carries the fingerprint of the admin token it was opened with
(a changed token ends it); an operator's names the operator (disabling them, or a
password change, ends it). A session ends when its holder signs out or revokes it,
after 30 minutes without a request, and 12 hours after it began. Queries only: the
caller's unit of work commits.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_FINGERPRINT_LABEL = b"wowsino console token fingerprint v1"
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
SECOND_FACTOR_WINDOW = timedelta(minutes=5)  # to enter the code after the password


def token_fingerprint(admin_token: str) -> bytes:
    """Identifies the admin token a session was made with, without storing the token."""
    return hmac.new(admin_token.encode(), _FINGERPRINT_LABEL, hashlib.sha256).digest()


def id_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


async def open_session(
    conn: AsyncConnection, *, session_id: str, at: datetime, client_address: str,
    user_agent: str = "", fingerprint: bytes | None = None, tenant_id: UUID | None = None,
    operator_id: UUID | None = None, stage: str = "active",
) -> None:
    """Record a new session: the platform admin's (``fingerprint``) or an operator's."""
    if fingerprint is not None:
        await end_other_tokens(conn, fingerprint, at)
    expires_at = at + (SECOND_FACTOR_WINDOW if stage == "mfa" else LIFETIME)
    await conn.execute(
        text("INSERT INTO console_sessions (id_hash, token_fingerprint, tenant_id, operator_id, "
             "stage, client_address, user_agent, created_at, last_seen_at, expires_at) VALUES "
             "(:h, :fp, :t, :o, :stage, :addr, :ua, :at, :at, :exp)"),
        {"h": id_hash(session_id), "fp": fingerprint, "t": tenant_id, "o": operator_id,
         "stage": stage, "addr": client_address, "ua": user_agent[:300] or None, "at": at,
         "exp": expires_at})


_FIND = """
SELECT s.public_id, s.stage, s.created_at, s.last_seen_at, s.expires_at, s.token_fingerprint,
       s.tenant_id, s.operator_id, o.email, o.display_name, o.role, o.brand_ids, o.status,
       o.totp_secret IS NOT NULL AS two_factor, t.slug AS tenant_slug,
       t.name AS tenant_name, coalesce(p.require_2fa, false) AS require_2fa
FROM console_sessions s
LEFT JOIN operators o ON o.tenant_id = s.tenant_id AND o.id = s.operator_id
LEFT JOIN tenants t ON t.id = s.tenant_id
LEFT JOIN operator_policies p ON p.tenant_id = s.tenant_id
WHERE s.id_hash = :h AND s.ended_at IS NULL
FOR UPDATE OF s
"""


async def touch(conn: AsyncConnection, *, session_id: str, fingerprint: bytes | None,
                now: datetime) -> dict[str, Any] | None:
    """The open session ``session_id`` names, its holder, and the time of this request as
    its last activity; None (ending it if it went idle) when it is no longer good."""
    row = (await conn.execute(text(_FIND), {"h": id_hash(session_id)})).first()
    if row is None or row.expires_at <= now:
        return None
    if row.last_seen_at <= now - IDLE:
        await end_session(conn, session_id, now, "idle")
        return None
    if row.operator_id is None:
        if fingerprint is None or row.token_fingerprint != fingerprint:
            return None
    elif row.status != "active":
        return None
    await conn.execute(text("UPDATE console_sessions SET last_seen_at = :now WHERE id_hash = :h"),
                       {"now": now, "h": id_hash(session_id)})
    return dict(row._mapping)


async def end_session(conn: AsyncConnection, session_id: str, at: datetime,
                      reason: str = "signed_out") -> None:
    await conn.execute(
        text("UPDATE console_sessions SET ended_at = :at, end_reason = :reason "
             "WHERE id_hash = :h AND ended_at IS NULL"),
        {"h": id_hash(session_id), "at": at, "reason": reason})


async def revoke(conn: AsyncConnection, *, tenant_id: UUID, operator_id: UUID,
                 public_id: UUID, at: datetime) -> bool:
    """End one of the operator's own sessions; whether it was open."""
    result = await conn.execute(
        text("UPDATE console_sessions SET ended_at = :at, end_reason = 'revoked' "
             "WHERE public_id = :p AND tenant_id = :t AND operator_id = :o "
             "AND ended_at IS NULL"),
        {"p": public_id, "t": tenant_id, "o": operator_id, "at": at})
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def end_operator_sessions(conn: AsyncConnection, *, tenant_id: UUID, operator_id: UUID,
                                at: datetime, reason: str,
                                keep_session_id: str | None = None) -> int:
    """End every open session of the operator (but ``keep_session_id``)."""
    result = await conn.execute(
        text("UPDATE console_sessions SET ended_at = :at, end_reason = :reason "
             "WHERE tenant_id = :t AND operator_id = :o AND ended_at IS NULL "
             "AND id_hash <> :keep"),
        {"t": tenant_id, "o": operator_id, "at": at, "reason": reason,
         "keep": id_hash(keep_session_id) if keep_session_id else b""})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def list_open(conn: AsyncConnection, *, tenant_id: UUID, operator_id: UUID,
                    now: datetime) -> list[dict[str, Any]]:
    """The operator's sessions still good now, newest first."""
    rows = await conn.execute(
        text("SELECT public_id, client_address, user_agent, created_at, last_seen_at, "
             "expires_at FROM console_sessions WHERE tenant_id = :t AND operator_id = :o "
             "AND ended_at IS NULL AND stage = 'active' AND expires_at > :now "
             "AND last_seen_at > :idle ORDER BY created_at DESC, public_id LIMIT 100"),
        {"t": tenant_id, "o": operator_id, "now": now, "idle": now - IDLE})
    return [dict(r._mapping) for r in rows]


async def end_other_tokens(conn: AsyncConnection, fingerprint: bytes, at: datetime) -> int:
    """End every open platform admin session made with an admin token other than the
    current one."""
    result = await conn.execute(
        text("UPDATE console_sessions SET ended_at = :at, end_reason = 'token_changed' "
             "WHERE ended_at IS NULL AND operator_id IS NULL AND token_fingerprint <> :fp"),
        {"fp": fingerprint, "at": at})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

"""Console sessions kept on the server, so a session can end before its cookie expires.

A row per signed-in session, keyed by the SHA-256 of the session id in its cookie, with
the fingerprint of the admin token it was opened with. Signing out ends the row; a
changed admin token ends every row made with another token. Queries only: the caller's
unit of work commits.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_FINGERPRINT_LABEL = b"wowsino console token fingerprint v1"


def token_fingerprint(admin_token: str) -> bytes:
    """Identifies the admin token a session was made with, without storing the token."""
    return hmac.new(admin_token.encode(), _FINGERPRINT_LABEL, hashlib.sha256).digest()


def id_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


async def open_session(conn: AsyncConnection, *, session_id: str, fingerprint: bytes,
                       client_address: str, at: datetime, expires_at: datetime) -> None:
    """Record a new session (and end those made with another admin token)."""
    await end_other_tokens(conn, fingerprint, at)
    await conn.execute(
        text("INSERT INTO console_sessions (id_hash, token_fingerprint, client_address, "
             "created_at, expires_at) VALUES (:h, :fp, :addr, :at, :exp)"),
        {"h": id_hash(session_id), "fp": fingerprint, "addr": client_address, "at": at,
         "exp": expires_at})


async def is_open(conn: AsyncConnection, *, session_id: str, fingerprint: bytes,
                  now: datetime) -> bool:
    """Whether the session is recorded, not ended, not expired, and of the current token."""
    found = await conn.scalar(
        text("SELECT true FROM console_sessions WHERE id_hash = :h AND ended_at IS NULL "
             "AND expires_at > :now AND token_fingerprint = :fp"),
        {"h": id_hash(session_id), "now": now, "fp": fingerprint})
    return bool(found)


async def end_session(conn: AsyncConnection, session_id: str, at: datetime) -> None:
    await conn.execute(
        text("UPDATE console_sessions SET ended_at = :at, end_reason = 'signed_out' "
             "WHERE id_hash = :h AND ended_at IS NULL"),
        {"h": id_hash(session_id), "at": at})


async def end_other_tokens(conn: AsyncConnection, fingerprint: bytes, at: datetime) -> int:
    """End every open session made with an admin token other than the current one."""
    result = await conn.execute(
        text("UPDATE console_sessions SET ended_at = :at, end_reason = 'token_changed' "
             "WHERE ended_at IS NULL AND token_fingerprint <> :fp"),
        {"fp": fingerprint, "at": at})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

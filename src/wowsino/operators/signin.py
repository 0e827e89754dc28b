"""Signing in as an operator: email and password with a lockout after repeated
failures, then the second factor (a code from the authenticator app, or a recovery
code) when two-factor sign-in is on.

Outcomes are returned, never raised, so the failure count they update is committed by
the caller's unit of work. Unknown email, wrong password, invited and disabled accounts
all answer the same empty outcome, after the same work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.realm import Actor
from wowsino.operators import repository, twofactor
from wowsino.operators.service import (
    actor_of,
    audit_operator,
    get,
    normalise_email,
    tenant_realm,
)
from wowsino.pam.passwords import MAX_LENGTH, verify_password

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MAX_ACCOUNTS_PER_EMAIL = 10  # tenants one email may sign in to without naming the tenant


@dataclass(frozen=True)
class SignIn:
    """The outcome of an email and password: the operator, or why not."""

    operator: dict[str, Any] | None = None
    locked_seconds: int = 0  # > 0: every matching account is locked for this long
    ambiguous: bool = False  # the password fits accounts with several tenants


def _locked_seconds(operator: dict[str, Any], now: datetime) -> int:
    until = operator["locked_until"]
    return 0 if until is None or until <= now else max(1, int((until - now).total_seconds()))


async def count_failure(conn: AsyncConnection, operator: dict[str, Any], at: datetime) -> int:
    """One more failed sign-in; the fifth in a row locks the account for 15 minutes.
    Returns the seconds of lockout it started (0: none)."""
    failures = operator["failed_sign_ins"] + 1
    if failures >= MAX_FAILURES:
        await repository.update(conn, operator["tenant_id"], operator["id"], at,
                                failed_sign_ins=0, locked_until=at + LOCKOUT)
        await audit_operator(conn, operator["tenant_id"], actor_of(operator), "operator.locked",
                     operator["id"], at, after={"locked_until": at + LOCKOUT})
        return int(LOCKOUT.total_seconds())
    await repository.update(conn, operator["tenant_id"], operator["id"], at,
                            failed_sign_ins=failures)
    return 0


async def authenticate(conn: AsyncConnection, *, email: str, password: str,
                       tenant_slug: str | None, at: datetime) -> SignIn:
    """Check an email and password (in the named tenant, or the one account the email
    has). Unknown email, wrong password, invited and disabled accounts all answer the
    same empty outcome, after the same work."""
    try:
        _, key = normalise_email(email)
    except ValidationFailed:
        key = ""
    candidates = [] if not key or len(password) > MAX_LENGTH else await repository.by_email(
        conn, key, tenant_slug or None, limit=MAX_ACCOUNTS_PER_EMAIL)
    usable = [o for o in candidates if o["status"] == "active"]
    open_ = [o for o in usable if not _locked_seconds(o, at)]
    if usable and not open_:
        return SignIn(locked_seconds=min(_locked_seconds(o, at) for o in usable))
    matches = [o for o in open_ if await verify_password(o["password_hash"], password)]
    if not open_:
        await verify_password(None, password)  # as long as a real check
    if len(matches) > 1:
        return SignIn(ambiguous=True)
    if not matches:
        locked = [await count_failure(conn, o, at) for o in open_]
        return SignIn(locked_seconds=max(locked, default=0))
    operator = matches[0]
    if operator["failed_sign_ins"]:
        await repository.update(conn, operator["tenant_id"], operator["id"], at,
                                failed_sign_ins=0)
    return SignIn(operator={**operator, "failed_sign_ins": 0})


async def second_factor(conn: AsyncConnection, *, tenant_id: UUID, operator_id: UUID,
                        code: str, at: datetime) -> SignIn:
    """Check a code from the authenticator app, or a recovery code (used up by this).
    A wrong code counts as a failed sign-in."""
    operator = await get(conn, tenant_id, operator_id, lock=True)
    if operator["status"] != "active" or not operator["totp_secret"]:
        return SignIn()
    locked = _locked_seconds(operator, at)
    if locked:
        return SignIn(locked_seconds=locked)
    code = code.strip()[:32]
    step = twofactor.matching_step(operator["totp_secret"], code, at, operator["totp_last_step"])
    if step is not None:
        await repository.update(conn, tenant_id, operator_id, at, totp_last_step=step,
                                failed_sign_ins=0)
        return SignIn(operator=operator)
    if twofactor.looks_like_recovery_code(code) and await repository.use_recovery_code(
            conn, tenant_id, operator_id, twofactor.recovery_hash(code), at):
        await repository.update(conn, tenant_id, operator_id, at, failed_sign_ins=0)
        await audit_operator(conn, tenant_id, actor_of(operator), "operator.recovery_code_used",
                     operator_id, at,
                     after={"recovery_codes_left": operator["recovery_codes_left"] - 1})
        return SignIn(operator=operator)
    return SignIn(locked_seconds=await count_failure(conn, operator, at))


async def signed_in(conn: AsyncConnection, operator: dict[str, Any], at: datetime,
                    client_address: str) -> None:
    await repository.update(conn, operator["tenant_id"], operator["id"], at, last_sign_in_at=at)
    await audit_operator(conn, operator["tenant_id"], actor_of(operator), "operator.signed_in",
                 operator["id"], at, after={"client_address": client_address})


async def record_session_end(conn: AsyncConnection, *, tenant_id: UUID, operator_id: UUID,
                             action: str, session_id: UUID, at: datetime) -> None:
    """Audit an operator ending one of their console sessions (``signed_out``,
    ``revoked``)."""
    await audit.record(conn, realm=tenant_realm(tenant_id), actor=Actor("operator", str(operator_id)),
                       action=f"operator.session_{action}", target_type="console_session",
                       target_id=str(session_id), at=at)

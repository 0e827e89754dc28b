"""Login throttling: five failed logins in 15 minutes lock the account and, separately,
the client address for 15 minutes (423 ``ACCOUNT_LOCKED`` with ``Retry-After``).

The account is the username as typed, lower-cased, so an unknown username is locked
exactly like a known one: the answer never says whether an account exists. Failures are
written in their own transaction (the login itself fails) and expire on their own.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.db import unit_of_work
from wowsino.kernel.errors import DomainError
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Realm

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)


class AccountLocked(DomainError):
    status, code = 423, "ACCOUNT_LOCKED"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def subjects(username: str, address: str) -> tuple[str, str]:
    return f"account:{username.casefold()}", f"address:{address}"


# Locked until 15 minutes after the failure that made five within 15 minutes (while
# locked no failure is recorded, so that failure is the latest).
_LOCKED_UNTIL = text(
    "SELECT max(f.recent[1] + CAST(:lock AS interval)) FROM (SELECT array_agg(at ORDER BY "
    "at DESC) AS recent FROM login_failures WHERE tenant_id = :tenant_id AND mode = :mode "
    "AND brand_id = :brand AND subject = ANY(:subjects) AND at > :since GROUP BY subject) f "
    "WHERE cardinality(f.recent) >= :max "
    "AND f.recent[1] - f.recent[CAST(:max AS integer)] <= CAST(:window AS interval)"
)


async def check(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, username: str,
                address: str, at: datetime) -> None:
    """423 while the account or the address has five failures in the last 15 minutes."""
    until = (await conn.execute(_LOCKED_UNTIL, {
        **realm.params, "brand": brand_id, "subjects": list(subjects(username, address)),
        "since": at - WINDOW - LOCK, "max": MAX_FAILURES, "lock": LOCK,
        "window": WINDOW})).scalar()
    if until is not None and until > at:
        raise AccountLocked(
            "too many failed logins: try again later",
            retry_after=max(1, math.ceil((until - at).total_seconds())))


async def failed(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, username: str,
                 address: str, at: datetime) -> None:
    await conn.execute(text(
        "INSERT INTO login_failures (tenant_id, mode, brand_id, subject, at) "
        "SELECT :tenant_id, :mode, :brand, s, :at FROM unnest(CAST(:subjects AS text[])) s"),
        {**realm.params, "brand": brand_id, "subjects": list(subjects(username, address)),
         "at": at})


async def succeeded(conn: AsyncConnection, *, realm: Realm, brand_id: UUID,
                    username: str) -> None:
    """A successful login clears the account's failures (not the address's)."""
    await conn.execute(text(
        "DELETE FROM login_failures WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND brand_id = :brand AND subject = :subject"),
        {**realm.params, "brand": brand_id, "subject": subjects(username, "")[0]})


async def sweep(conn: AsyncConnection, *, before: datetime) -> int:
    """Forget failures older than the window (the worker)."""
    result = await conn.execute(text("DELETE FROM login_failures WHERE at < :before"),
                                {"before": before - WINDOW - LOCK})
    return int(getattr(result, "rowcount", 0) or 0)


async def sweep_due(platform: Platform) -> int:
    """The worker's job: forget the failures no lock-out can count any more."""
    now = platform.clock.now()
    return await unit_of_work(platform.engine, lambda conn: sweep(conn, before=now))

"""The wallet's steps after a write commits: asking the PSP, then answering with the
deposit or withdrawal as it stands (``gateway`` explains the order)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.db import read_only
from wowsino.kernel.idempotency import WriteResult
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Realm
from wowsino.wallet import gateway, repository, views

Body = dict[str, Any]


async def _current(conn: AsyncConnection, realm: Realm, target: str, row_id: UUID) -> Body:
    row = await repository.row(conn, realm, target, row_id)
    assert row is not None
    return views.deposit(row, realm) if target == "deposit" else views.withdrawal(row, realm)


async def after_deposit(platform: Platform, realm: Realm, result: WriteResult) -> Body:
    """Start the payment at the PSP (once: a replay only finishes an interrupted start)
    and answer the write's body with the deposit as it is now."""
    deposit_id = UUID(result.body["deposit"]["id"])
    await gateway.start_deposit(platform, realm, deposit_id)
    async with read_only(platform.engine) as conn:
        return {**result.body, "deposit": await _current(conn, realm, "deposit", deposit_id)}


async def after_withdrawal(platform: Platform, realm: Realm, result: WriteResult) -> Body:
    """Send the payout of an approved withdrawal the PSP has not taken yet, and answer
    the write's body with the withdrawal as it is now."""
    withdrawal_id = UUID(result.body["withdrawal"]["id"])
    await gateway.send_payout(platform, realm, withdrawal_id)
    async with read_only(platform.engine) as conn:
        return {**result.body,
                "withdrawal": await _current(conn, realm, "withdrawal", withdrawal_id)}

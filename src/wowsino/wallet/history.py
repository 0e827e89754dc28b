"""A player's money movements, read from the ledger postings of their real and bonus
accounts: every deposit, withdrawal, bonus and game movement with the balance after it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.realm import Realm
from wowsino.wallet import repository, views

RAILS = ("real", "bonus")


async def transactions(conn: AsyncConnection, realm: Realm, player_id: UUID, *,
                       rail: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first, ``{data, next_cursor}``; ``rail``: one of ``RAILS`` or both."""
    after = repository.TRANSACTIONS.decode(cursor)
    rows = await repository.transactions(conn, realm, player_id,
                                         rails=[rail] if rail else list(RAILS), after=after,
                                         limit=limit)
    page = repository.TRANSACTIONS.page(rows, limit)
    page["data"] = [views.transaction(row) for row in page["data"]]
    return page

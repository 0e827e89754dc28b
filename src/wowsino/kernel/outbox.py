"""The transactional outbox: domain events written in the business transaction.

A committed write always has its events; a rolled-back one never does. Delivery
(webhooks, exports) reads from here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.canonical import canonical
from wowsino.kernel.ids import new_id
from wowsino.kernel.realm import Realm


async def emit(
    conn: AsyncConnection, *, realm: Realm, type: str, data: dict[str, Any], at: datetime
) -> UUID:
    """Append event ``type`` with ``data`` to the outbox; returns the event id."""
    event_id = new_id()
    await conn.execute(
        text("INSERT INTO outbox_events (tenant_id, mode, id, type, data, created_at) "
             "VALUES (:tenant_id, :mode, :id, :type, CAST(:data AS jsonb), :at)"),
        {**realm.params, "id": event_id, "type": type, "data": canonical(data).decode(), "at": at},
    )
    return event_id

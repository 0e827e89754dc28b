"""The transactional outbox: domain events written in the business transaction.

``emit`` appends the event (``emit_all`` several of one type) and, in the same
statement, one webhook delivery per matching active subscription of the realm (exact
type, ``prefix.*`` or ``*``).
A committed write always has its events and deliveries; a rolled-back one never
does. A statement trigger notifies idle workers at commit. Only types registered in
``wowsino.kernel.events`` (the catalogue ``docs/events.md`` is generated from) are emitted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import events, wire
from wowsino.kernel.canonical import canonical
from wowsino.kernel.ids import new_id
from wowsino.kernel.realm import Realm

# The events and their deliveries: two inserts sent as one statement (kernel.wire), the
# events numbered (``seq``) in the order given.
_EVENTS = (
    "INSERT INTO outbox_events (tenant_id, mode, id, type, data, created_at) "
    "SELECT :tenant_id, :mode, e.id, :type, CAST(e.data AS jsonb), :at "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:data AS text[])) WITH ORDINALITY AS e (id, data, n) "
    "ORDER BY e.n"
)
_DELIVERIES = (
    "INSERT INTO webhook_deliveries (tenant_id, mode, id, subscription_id, event_id, event_type, "
    "data, event_created_at, status, next_attempt_at, created_at) "
    "SELECT :tenant_id, :mode, gen_random_uuid(), s.id, e.id, :type, "
    "CAST(e.data AS jsonb), :at, 'pending', :at, :at "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:data AS text[])) WITH ORDINALITY AS e (id, data, n) "
    "JOIN webhook_subscriptions s ON s.tenant_id = :tenant_id AND s.mode = :mode "
    "AND s.status = 'active' AND s.events && CAST(:patterns AS text[]) ORDER BY e.n, s.id"
)


def patterns_matching(event_type: str) -> list[str]:
    """Every subscription pattern that matches ``event_type``: itself, its prefixes + ``.*``, ``*``."""
    parts = event_type.split(".")
    return [event_type, "*", *(".".join(parts[:i]) + ".*" for i in range(1, len(parts)))]


async def emit(
    conn: AsyncConnection, *, realm: Realm, type: str, data: dict[str, Any], at: datetime
) -> UUID:
    """Append event ``type`` with ``data`` and its webhook deliveries; returns the event id.

    Raises ``events.UnregisteredEvent`` for a type the catalogue does not list as emitted.
    """
    [event_id] = await emit_all(conn, realm=realm, type=type, data=[data], at=at)
    return event_id


async def emit_all(
    conn: AsyncConnection, *, realm: Realm, type: str, data: list[dict[str, Any]], at: datetime
) -> list[UUID]:
    """``emit`` for several events of one type, in one statement: their ids, in order."""
    events.require(type)
    if not data:
        return []
    ids = [new_id() for _ in data]
    params = {**realm.params, "ids": ids, "type": type, "at": at,
              "data": [canonical(item).decode() for item in data],
              "patterns": patterns_matching(type)}
    # nothing in a request reads its events back: sent with the write's last statement
    await wire.defer(conn, (_EVENTS, params), (_DELIVERIES, params))
    return ids

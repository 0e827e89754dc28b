"""Checks that stored events match the catalogue in ``wowsino.kernel.events``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import asyncpg

from wowsino.kernel import events
from wowsino.kernel.db import plain_url


def _is(kind: str, value: Any) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "object":
        return isinstance(value, dict)
    return kind == "array" and isinstance(value, list)


def problems(event_type: str, data: Any) -> list[str]:
    """What is wrong with an event of ``event_type`` carrying ``data`` (empty when nothing)."""
    registered = events.CATALOGUE.get(event_type)
    if registered is None:
        return [f"{event_type}: not in the catalogue"]
    if registered.reserved:
        return [f"{event_type}: emitted but registered as reserved"]
    if not isinstance(data, dict):
        return [f"{event_type}: data is not an object: {data!r}"]
    found: list[str] = []
    if set(data) != registered.field_names:
        found.append(f"{event_type}: data keys {sorted(data)} != registered "
                     f"{sorted(registered.field_names)}")
    for field in registered.fields:
        if field.name in data and not any(_is(k, data[field.name])
                                          for k in field.type.split("|")):
            found.append(f"{event_type}.{field.name}: {data[field.name]!r} is not "
                         f"{field.type}")
    return found


async def stored_events(db_url: str) -> list[tuple[str, Any]]:
    """Every ``(type, data)`` in the outbox and in the delivery log (pings live only there)."""
    conn = await asyncpg.connect(plain_url(db_url))
    try:
        rows = await conn.fetch("SELECT type, data FROM outbox_events UNION ALL "
                                "SELECT event_type, data FROM webhook_deliveries")
    finally:
        await conn.close()
    return [(r["type"], json.loads(r["data"], parse_float=Decimal)) for r in rows]


def check_all(stored: Iterable[tuple[str, Any]]) -> list[str]:
    """Every problem of every stored event."""
    return [p for event_type, data in stored for p in problems(event_type, data)]

"""What every engine's configuration shares: statuses, pause/resume, the 409."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit, wire
from wowsino.kernel.errors import NotActive, NotFound
from wowsino.kernel.ids import parse_uuid
from wowsino.kernel.realm import Actor, Realm

PAUSABLE = {"active": "paused", "paused": "active"}


async def load(
    conn: AsyncConnection, *, table: str, realm: Realm, ref: str, not_found_code: str,
    noun: str, for_update: bool = False, columns: str = "*",
) -> dict[str, Any]:
    """A configured entity of ``realm`` by id, or 404 with the engine's code."""
    lookup = load_lookup(table=table, realm=realm, ref=ref, for_update=for_update,
                         columns=columns)
    row = None if lookup is None else await wire.first(conn, lookup)
    if row is None:
        raise NotFound(f"no {noun} {ref!r}", code=not_found_code)
    return row


def load_lookup(*, table: str, realm: Realm, ref: str, for_update: bool = False,
                columns: str = "*") -> wire.Lookup | None:
    """``load``'s query, to be sent ahead of a write; None when ``ref`` is no id.
    ``columns``: the select list, over the table by its own name."""
    entity_id = parse_uuid(ref)
    if entity_id is None:
        return None
    return wire.Lookup(f"SELECT {columns} FROM {table} WHERE tenant_id = :tenant_id AND mode = :mode "
                       "AND id = :id" + (" FOR UPDATE" if for_update else ""),
                       {**realm.params, "id": entity_id})


def require_active(entity: dict[str, Any], noun: str) -> None:
    if entity["status"] != "active":
        raise NotActive(f"this {noun} is {entity['status']}", status=entity["status"])


async def set_status(
    conn: AsyncConnection, *, table: str, realm: Realm, entity: dict[str, Any], to: str,
    noun: str, actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Pause or resume: only ``active`` ↔ ``paused``; anything else is 409 ``NOT_ACTIVE``."""
    if PAUSABLE.get(entity["status"]) != to and entity["status"] != to:
        raise NotActive(f"a {entity['status']} {noun} cannot become {to}",
                        status=entity["status"])
    await conn.execute(
        text(f"UPDATE {table} SET status = :to, updated_at = :at WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :id"),
        {**realm.params, "id": entity["id"], "to": to, "at": at},
    )
    await audit.record(conn, realm=realm, actor=actor, action=f"{noun}.{to}",
                       target_type=noun, target_id=str(entity["id"]),
                       before={"status": entity["status"]}, after={"status": to}, at=at)
    return {**entity, "status": to, "updated_at": at}


def entity_id(entity: dict[str, Any]) -> UUID:
    return UUID(str(entity["id"]))

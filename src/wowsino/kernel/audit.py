"""The audit log: every state change, by whom, before and after; append-only and
hash-chained per realm (``wowsino audit verify``).

A row that concerns a player (its target, or the ``winner`` of a draw) is tagged with
the player's brand, so a brand's keys read only their own brand's players' rows (and
the tenant-wide ones). The tag is derived from the row, outside its hashed content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from simplejson import RawJSON
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import wire
from wowsino.kernel.canonical import canonical, fingerprint
from wowsino.kernel.realm import Actor, Realm, request_id_var


def _content(
    realm: Realm, actor: Actor, action: str, target_type: str, target_id: str,
    before: Any, after: Any, request_id: str | None, at: datetime,
) -> dict[str, Any]:
    return {
        "tenant_id": str(realm.tenant_id), "mode": realm.mode.value,
        "actor_type": actor.type, "actor_id": actor.id, "action": action,
        "target_type": target_type, "target_id": target_id,
        "before": before, "after": after, "request_id": request_id,
        "created_at": at,
    }


_MANY = ("actor_type", "actor_id", "action", "target_type", "target_id", "before", "after",
         "request_id", "at", "hash", "subject")
_RECORD = (  # the rows, inserted in the order given; a row about a player takes its brand
    "INSERT INTO audit_log (tenant_id, mode, actor_type, actor_id, action, target_type, "
    "target_id, before, after, request_id, created_at, content_hash, brand_id) "
    "SELECT :tenant_id, :mode, r.actor_type, r.actor_id, r.action, r.target_type, r.target_id, "
    "CAST(r.before AS jsonb), CAST(r.after AS jsonb), r.request_id, r.at, r.hash, "
    "(SELECT brand_id FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
    "AND id = r.subject) "
    "FROM unnest(CAST(:actor_types AS text[]), CAST(:actor_ids AS text[]), "
    "CAST(:actions AS text[]), CAST(:target_types AS text[]), CAST(:target_ids AS text[]), "
    "CAST(:befores AS text[]), CAST(:afters AS text[]), CAST(:request_ids AS text[]), "
    "CAST(:ats AS timestamptz[]), CAST(:hashs AS bytea[]), CAST(:subjects AS uuid[])) "
    "WITH ORDINALITY AS r (actor_type, actor_id, action, target_type, target_id, before, after, "
    "request_id, at, hash, subject, ord) ORDER BY r.ord"
)


def _subject_player(target_type: str, target_id: str, after: Any) -> UUID | None:
    """The player a row concerns: its target, or the winner named in ``after``."""
    ref: Any = target_id if target_type == "player" else None
    if ref is None and isinstance(after, dict) and isinstance(after.get("winner"), dict):
        ref = after["winner"].get("user_id")
    try:
        return UUID(str(ref)) if ref is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Row:
    """One audit row to append: who did what to which target, before and after."""

    actor: Actor
    action: str
    target_type: str
    target_id: str
    at: datetime
    before: Any = None
    after: Any = None
    request_id: str | None = None


async def record(
    conn: AsyncConnection,
    *,
    realm: Realm,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    at: datetime,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one audit row in the caller's transaction (the request's id with it)."""
    await record_rows(conn, realm, [Row(actor, action, target_type, target_id, at, before, after,
                                        request_id_var.get())])


def _params(realm: Realm, row: Row) -> dict[str, Any]:
    before_json = None if row.before is None else canonical(row.before).decode()
    after_json = None if row.after is None else canonical(row.after).decode()
    # the content hashed with ``before`` and ``after`` as the canonical JSON just made
    # (the same bytes as encoding them again inside it: canonical JSON sorts every level)
    content = _content(realm, row.actor, row.action, row.target_type, row.target_id,
                       None if before_json is None else RawJSON(before_json),
                       None if after_json is None else RawJSON(after_json), row.request_id,
                       row.at)
    return {
        "actor_type": row.actor.type, "actor_id": row.actor.id,
        "action": row.action, "target_type": row.target_type, "target_id": row.target_id,
        "before": before_json, "after": after_json, "request_id": row.request_id, "at": row.at,
        "hash": fingerprint(content),
        "subject": _subject_player(row.target_type, row.target_id, row.after),
    }


async def record_rows(conn: AsyncConnection, realm: Realm, rows: Sequence[Row]) -> None:
    """Append ``rows``, in order, in the caller's transaction: one statement however many.
    Nothing in a request reads its audit rows back: they go with the write's last
    statement (``wire.defer``)."""
    if not rows:
        return
    each = [_params(realm, row) for row in rows]
    await wire.defer(conn, (_RECORD, {
        **realm.params, **{f"{name}s": [p[name] for p in each] for name in _MANY}}))


async def verify_contents(conn: AsyncConnection, realm: Realm) -> list[str]:
    """Recompute the content hash of every audit row of ``realm``; list mismatches."""
    from wowsino.kernel.realm import Mode

    problems: list[str] = []
    result = await conn.stream(
        text("SELECT id, actor_type, actor_id, action, target_type, target_id, before, after, "
             "request_id, created_at, content_hash FROM audit_log "
             "WHERE tenant_id = :tenant_id AND mode = :mode ORDER BY id"),
        realm.params,
    )
    async for row in result:
        actor = Actor(row.actor_type, row.actor_id)
        content = _content(
            Realm(realm.tenant_id, Mode(realm.mode)), actor, row.action, row.target_type,
            row.target_id, row.before, row.after, row.request_id, row.created_at,
        )
        if fingerprint(content) != bytes(row.content_hash):
            problems.append(f"audit: row {row.id} was altered")
    return problems


async def search(
    conn: AsyncConnection, realm: Realm, *, actor: str | None = None, action: str | None = None,
    target: str | None = None, since: datetime | None = None, before_id: int | None = None,
    limit: int, brand_id: UUID | None = None, brand_ids: Sequence[UUID] | None = None,
    alerts: tuple[list[str], list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Audit rows of ``realm``, newest first, up to ``limit``; the filters match an actor or
    target as ``type:id`` or bare id, an exact action, and rows at or after ``since``.
    With ``brand_id`` (or ``brand_ids``), rows about another brand's players are left out.
    ``alerts``: ``(actions, codes)``, rows of any of the actions or refusals with any of
    the codes."""
    clauses = ["tenant_id = :tenant_id", "mode = :mode"]
    params: dict[str, Any] = {**realm.params, "limit": limit}
    if brand_id is not None:
        clauses.append("(brand_id IS NULL OR brand_id = :brand_id)")
        params["brand_id"] = brand_id
    if brand_ids is not None:
        clauses.append("(brand_id IS NULL OR brand_id = ANY(:brand_ids))")
        params["brand_ids"] = list(brand_ids)
    if actor:
        clauses.append("(actor_type || ':' || actor_id = :actor OR actor_id = :actor)")
        params["actor"] = actor
    if action:
        clauses.append("action = :action")
        params["action"] = action
    if target:
        clauses.append("(target_type || ':' || target_id = :target OR target_id = :target)")
        params["target"] = target
    if since:
        clauses.append("created_at >= :since")
        params["since"] = since
    if alerts is not None:
        clauses.append("(action = ANY(:alert_actions) OR (action = 'compliance.refused' "
                       "AND after->>'code' = ANY(:alert_codes)))")
        params["alert_actions"], params["alert_codes"] = alerts
    if before_id is not None:
        clauses.append("id < :before_id")
        params["before_id"] = before_id
    rows = await conn.execute(
        text("SELECT id, actor_type, actor_id, action, target_type, target_id, before, after, "
             f"request_id, created_at, chain_seq FROM audit_log WHERE {' AND '.join(clauses)} "
             "ORDER BY id DESC LIMIT :limit"),
        params,
    )
    return [
        {"id": r.id, "actor": {"type": r.actor_type, "id": r.actor_id}, "action": r.action,
         "target": {"type": r.target_type, "id": r.target_id}, "before": r.before,
         "after": r.after, "request_id": r.request_id, "created_at": r.created_at,
         "sealed": r.chain_seq is not None}
        for r in rows
    ]

"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit, events
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.ids import new_id, parse_uuid
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Actor, Mode, Realm
from wowsino.webhooks import guard, signing

EVENT_TYPES = frozenset(events.CATALOGUE)  # subscribable: emitted and reserved types
NAMESPACES = events.NAMESPACES
PUBLIC = ("id", "url", "events", "description", "status", "failing_since", "created_at",
          "updated_at")


def check_events(events: list[str]) -> list[str]:
    """Exact catalogue types, ``namespace.*`` prefixes, or ``*`` (400 naming ``events``)."""
    if not events:
        raise ValidationFailed("events: at least one event type or pattern", field="events")
    for pattern in events:
        known = (pattern == "*" or pattern in EVENT_TYPES
                 or (pattern.endswith(".*") and pattern[:-2] in NAMESPACES))
        if not known:
            raise ValidationFailed(f"events: {pattern!r} is not a known event type or pattern",
                                   field="events")
    return sorted(set(events))


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in PUBLIC}


async def create(
    conn: AsyncConnection, *, realm: Realm, url: str, events: list[str], secret: str | None,
    description: str | None, production: bool, actor: Actor, at: datetime,
) -> dict[str, Any]:
    """A new active subscription; the signing secret is returned this once."""
    guard.check_subscription_url(url, production=production, live=realm.mode is Mode.LIVE)
    if secret is not None:
        try:
            signing.secret_key(secret)
        except ValueError as exc:
            raise ValidationFailed(f"signing_secret: {exc}", field="signing_secret") from None
    secret = secret or signing.new_secret()
    row = (
        await conn.execute(
            text("INSERT INTO webhook_subscriptions (tenant_id, mode, id, url, events, secret, "
                 "description, status, created_at, updated_at) VALUES (:tenant_id, :mode, :id, "
                 ":url, :events, :secret, :description, 'active', :at, :at) RETURNING *"),
            {**realm.params, "id": new_id(), "url": url, "events": check_events(events),
             "secret": secret, "description": description, "at": at},
        )
    ).one()
    view = _view(dict(row._mapping))
    await audit.record(conn, realm=realm, actor=actor, action="webhook.created",
                       target_type="webhook", target_id=str(view["id"]), after=view, at=at)
    return {**view, "signing_secret": secret}


async def get(conn: AsyncConnection, realm: Realm, ref: str, *,
              for_update: bool = False) -> dict[str, Any]:
    sid = parse_uuid(ref)
    row = None
    if sid is not None:
        row = (
            await conn.execute(
                text("SELECT * FROM webhook_subscriptions WHERE tenant_id = :tenant_id AND "
                     "mode = :mode AND id = :id AND status <> 'deleted'"
                     + (" FOR UPDATE" if for_update else "")),
                {**realm.params, "id": sid},
            )
        ).first()
    if row is None:
        raise NotFound(f"no webhook {ref!r}")
    return dict(row._mapping)


async def list_all(conn: AsyncConnection, realm: Realm) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text("SELECT * FROM webhook_subscriptions WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND status <> 'deleted' ORDER BY created_at"),
        realm.params,
    )
    return [_view(dict(r._mapping)) for r in rows]


async def update(
    conn: AsyncConnection, *, realm: Realm, ref: str, changes: dict[str, Any], production: bool,
    actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Change url, events, description or status (``active``/``paused``)."""
    current = await get(conn, realm, ref, for_update=True)
    if "url" in changes:
        guard.check_subscription_url(changes["url"], production=production,
                                     live=realm.mode is Mode.LIVE)
    if "events" in changes:
        changes["events"] = check_events(changes["events"])
    merged = {**current, **changes}
    if changes.get("status") == "active":
        merged["failing_since"] = None  # re-enabling a failed subscription starts afresh
    await conn.execute(
        text("UPDATE webhook_subscriptions SET url = :url, events = :events, "
             "description = :description, status = :status, failing_since = :failing_since, "
             "updated_at = :at WHERE tenant_id = :tenant_id AND id = :id"),
        {**realm.params, "id": current["id"], "url": merged["url"], "events": merged["events"],
         "description": merged["description"], "status": merged["status"],
         "failing_since": merged["failing_since"], "at": at},
    )
    merged["updated_at"] = at
    await audit.record(conn, realm=realm, actor=actor, action="webhook.updated",
                       target_type="webhook", target_id=str(current["id"]),
                       before=_view(current), after=_view(merged), at=at)
    return _view(merged)


async def delete(conn: AsyncConnection, *, realm: Realm, ref: str, actor: Actor,
                 at: datetime) -> dict[str, Any]:
    """Stop delivering to a subscription; its delivery log is kept."""
    current = await get(conn, realm, ref, for_update=True)
    await conn.execute(
        text("UPDATE webhook_subscriptions SET status = 'deleted', updated_at = :at "
             "WHERE tenant_id = :tenant_id AND id = :id"),
        {**realm.params, "id": current["id"], "at": at},
    )
    await conn.execute(
        text("UPDATE webhook_deliveries SET status = 'failed', last_error = 'subscription deleted' "
             "WHERE tenant_id = :tenant_id AND subscription_id = :id "
             "AND status IN ('pending', 'delivering')"),
        {**realm.params, "id": current["id"]},
    )
    await audit.record(conn, realm=realm, actor=actor, action="webhook.deleted",
                       target_type="webhook", target_id=str(current["id"]),
                       before=_view(current), at=at)
    return {"id": str(current["id"]), "deleted": True}


def delivery_view(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id), "webhook_id": str(row.subscription_id), "event_id": str(row.event_id),
        "type": row.event_type, "status": row.status, "attempts": row.attempts,
        "last_status_code": row.last_status_code, "last_error": row.last_error,
        "last_attempt_at": row.last_attempt_at, "next_attempt_at": row.next_attempt_at
        if row.status in ("pending", "delivering") else None,
        "delivered_at": row.delivered_at, "created_at": row.created_at,
    }


async def deliveries(conn: AsyncConnection, realm: Realm, ref: str, *, status: str | None,
                     limit: int, cursor: str | None) -> dict[str, Any]:
    subscription = await get(conn, realm, ref)
    after = NEWEST.decode(cursor)
    params: dict[str, Any] = {**realm.params, "sid": subscription["id"], "limit": limit + 1}
    clauses = ""
    if status:
        clauses += " AND status = :status"
        params["status"] = status
    if after:
        clauses += f" AND {NEWEST.before(after, params)}"
    rows = await conn.execute(
        text("SELECT * FROM webhook_deliveries WHERE tenant_id = :tenant_id AND mode = :mode "
             f"AND subscription_id = :sid{clauses} ORDER BY {NEWEST.order()} "
             "LIMIT :limit"),
        params,
    )
    items = [delivery_view(r) for r in rows]
    return NEWEST.page(items, limit)


async def redeliver(conn: AsyncConnection, *, realm: Realm, delivery_ref: str, actor: Actor,
                    at: datetime) -> dict[str, Any]:
    """Queue a delivery again, now (same id: receivers that already have it dedupe)."""
    did = parse_uuid(delivery_ref)
    row = None
    if did is not None:
        row = (
            await conn.execute(
                text("UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = :at, "
                     "lease_until = NULL FROM webhook_subscriptions s WHERE d.tenant_id = "
                     ":tenant_id AND d.mode = :mode AND d.id = :id AND s.tenant_id = d.tenant_id "
                     "AND s.id = d.subscription_id AND s.status <> 'deleted' RETURNING d.*"),
                {**realm.params, "id": did, "at": at},
            )
        ).first()
    if row is None:
        raise NotFound(f"no webhook delivery {delivery_ref!r}")
    await audit.record(conn, realm=realm, actor=actor, action="webhook_delivery.redelivered",
                       target_type="webhook_delivery", target_id=str(row.id), at=at)
    return delivery_view(row)


async def ping(conn: AsyncConnection, *, realm: Realm, ref: str, at: datetime) -> dict[str, Any]:
    """Queue a ``webhook.ping`` delivery to this subscription only."""
    subscription = await get(conn, realm, ref)
    delivery_id: UUID = new_id()
    row = (
        await conn.execute(
            text("INSERT INTO webhook_deliveries (tenant_id, mode, id, subscription_id, event_id, "
                 "event_type, data, event_created_at, status, next_attempt_at, created_at) VALUES "
                 "(:tenant_id, :mode, :id, :sid, :eid, 'webhook.ping', CAST(:data AS jsonb), :at, "
                 "'pending', :at, :at) RETURNING *"),
            {**realm.params, "id": delivery_id, "sid": subscription["id"], "eid": new_id(),
             "data": '{"ping": true}', "at": at},
        )
    ).one()
    return delivery_view(row)

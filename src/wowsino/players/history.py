"""A player's past: the timeline (audit, notes, ledger) and the ledger view."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.pagination import BIGINT, INSTANT, Keyset, one_of
from wowsino.kernel.realm import Realm

TIMELINE = Keyset(("at", "source", "id"), (INSTANT, one_of("audit", "ledger", "note"), BIGINT))
LEDGER = Keyset(("entry_id", "account_id"), (BIGINT, BIGINT))


async def timeline(
    conn: AsyncConnection, realm: Realm, player_id: UUID, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Status changes, notes, ledger entries and every other audited change, newest first."""
    after = TIMELINE.decode(cursor)
    params: dict[str, Any] = {**realm.params, "pid": player_id, "key": str(player_id),
                              "limit": limit + 1}
    where_after = f"WHERE {TIMELINE.before(after, params)}" if after else ""
    rows = await conn.execute(
        text(f"""
        SELECT * FROM (
            SELECT created_at AS at, 'audit' AS source, id, action AS type,
                   jsonb_build_object('actor', actor_type || ':' || actor_id, 'before', before,
                                      'after', after, 'request_id', request_id) AS detail
              FROM audit_log WHERE tenant_id = :tenant_id AND mode = :mode
               AND target_type = 'player' AND target_id = :key
            UNION ALL
            SELECT created_at, 'note', id, 'note.' || kind,
                   jsonb_build_object('actor', actor, 'body', body)
              FROM player_notes WHERE tenant_id = :tenant_id AND mode = :mode AND player_id = :pid
            UNION ALL
            SELECT e.created_at, 'ledger', e.id, 'ledger.' || e.kind,
                   jsonb_build_object('entry_id', e.id, 'metadata', e.metadata, 'postings',
                       (SELECT jsonb_agg(jsonb_build_object('rail', a.rail, 'asset', a.asset,
                               'amount_minor', p.amount)) FROM ledger_postings p
                          JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
                         WHERE p.tenant_id = e.tenant_id AND p.entry_id = e.id
                           AND a.owner_type = 'player' AND a.owner_key = :key))
              FROM ledger_entries e WHERE e.tenant_id = :tenant_id AND e.mode = :mode
               AND e.id IN (SELECT p.entry_id FROM ledger_postings p JOIN ledger_accounts a
                  ON a.tenant_id = p.tenant_id AND a.id = p.account_id
                 WHERE a.tenant_id = :tenant_id AND a.mode = :mode AND a.owner_type = 'player'
                   AND a.owner_key = :key)
        ) t {where_after} ORDER BY {TIMELINE.order()} LIMIT :limit"""),
        params,
    )
    items = [
        {"at": r.at, "source": r.source, "id": r.id, "type": r.type,
         "detail": _with_amounts(r.detail) if r.source == "ledger" else r.detail}
        for r in rows
    ]
    return TIMELINE.page(items, limit)


def _with_amounts(detail: dict[str, Any]) -> dict[str, Any]:
    """Ledger postings in the API's units (the query reads minor units)."""
    postings = [
        {"rail": p["rail"], "asset": p["asset"],
         "amount": from_minor(int(p.pop("amount_minor")), ASSETS[p["asset"]])}
        for p in detail.get("postings") or []
    ]
    return {**detail, "postings": postings}


async def ledger_view(
    conn: AsyncConnection, realm: Realm, player_id: UUID, *, limit: int, cursor: str | None,
    rail: str | None = None, asset_code: str | None = None,
) -> dict[str, Any]:
    """The player's postings with running balances, newest first."""
    after = LEDGER.decode(cursor)
    clauses = ["a.tenant_id = :tenant_id", "a.mode = :mode", "a.owner_type = 'player'",
               "a.owner_key = :key"]
    params: dict[str, Any] = {**realm.params, "key": str(player_id), "limit": limit + 1}
    if rail:
        clauses.append("a.rail = :rail")
        params["rail"] = rail
    if asset_code:
        clauses.append("a.asset = :asset")
        params["asset"] = asset_code.upper()
    if after:
        clauses.append(LEDGER.before(after, params, alias="p"))
    rows = await conn.execute(
        text("SELECT p.entry_id, p.account_id, e.kind, e.ref_type, e.ref_id, e.metadata, "
             "e.created_at, a.rail, a.asset, p.amount, p.balance_after FROM ledger_postings p "
             "JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id "
             "JOIN ledger_entries e ON e.tenant_id = p.tenant_id AND e.id = p.entry_id "
             f"WHERE {' AND '.join(clauses)} AND p.tenant_id = :tenant_id "
             f"ORDER BY {LEDGER.order('p')} LIMIT :limit"),
        params,
    )
    items = []
    for r in rows:
        unit = ASSETS[r.asset]
        items.append({
            "entry_id": r.entry_id, "account_id": r.account_id, "kind": r.kind,
            "ref_type": r.ref_type, "ref_id": r.ref_id, "metadata": r.metadata,
            "rail": r.rail, "asset": r.asset, "amount": from_minor(int(r.amount), unit),
            "balance_after": from_minor(int(r.balance_after), unit),
            "created_at": r.created_at,
        })
    return LEDGER.page(items, limit)

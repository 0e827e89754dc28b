"""Player queries: every one takes the realm and the brand.

Usernames are case-insensitive within a brand: ``Alice`` finds ``alice``, and an
upsert of ``ALICE`` updates her; the form first sent is kept for display. Where a
database still holds usernames that differ only in case (from before this rule;
see ``player_username_collisions``), the exact spelling wins, then the oldest.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import wire
from wowsino.kernel.ids import parse_uuid
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Realm
from wowsino.kernel.wire import Lookup

COLUMNS = (
    "id, brand_id, username, email, external_ref, country_code, date_of_birth, currency, tags, "
    "status, kyc_status, kyc_level, risk_band, is_pep, is_sanctioned, rg, created_at, updated_at, "
    "self_exclusion_period, self_excluded_at, self_excluded_until"
)


async def find(
    conn: AsyncConnection, realm: Realm, brand_id: UUID, ref: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    """A player by UUID or username (any case) within the brand; optionally row-locked."""
    return await wire.first(conn, find_lookup(realm, brand_id, ref, for_update=for_update))


def find_lookup(realm: Realm, brand_id: UUID, ref: str, *, for_update: bool = False) -> Lookup:
    """``find``'s query, to be sent ahead of a write (``kernel.wire``)."""
    pid = parse_uuid(ref)
    return Lookup(_find_statement(by_id=pid is not None, for_update=for_update),
                  {**realm.params, "brand": brand_id, "ref": pid or ref})


@functools.cache
def _find_statement(*, by_id: bool, for_update: bool) -> str:
    return (f"SELECT {COLUMNS} FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
            "AND brand_id = :brand AND " + ("id = :ref" if by_id else _BY_USERNAME)
            + (" FOR UPDATE" if for_update else ""))


def parsed_refs(refs: Iterable[str]) -> dict[str, UUID | None]:
    """Each distinct player reference: its UUID, or None for a username."""
    return {ref: parse_uuid(ref) for ref in sorted(set(refs))}


def matched(refs: Mapping[str, UUID | None], rows: Iterable[dict[str, Any]]
            ) -> dict[str, dict[str, Any]]:
    """Each reference of ``refs`` that was found, with its player: ``rows`` carry ``ref``
    (the username asked for, NULL for a row found by UUID), the best match of a name
    first. ``ref`` is taken out of each row."""
    by_name: dict[str, dict[str, Any]] = {}
    by_id: dict[UUID, dict[str, Any]] = {}
    for row in rows:
        ref = row.pop("ref")
        if ref is None:
            by_id[row["id"]] = row
        else:
            by_name.setdefault(ref, row)
    out = {}
    for ref, uid in refs.items():
        found = by_id.get(uid) if uid is not None else by_name.get(ref)
        if found is not None:
            out[ref] = found
    return out


async def find_many(conn: AsyncConnection, realm: Realm, brand_id: UUID, refs: Iterable[str]
                    ) -> dict[str, dict[str, Any]]:
    """``find`` for several references at once (one statement): each one found, by the
    reference as given."""
    ids = parsed_refs(refs)
    rows = await wire.send(conn, _FIND_MANY, {
        **realm.params, "brand": brand_id, "names": [r for r, u in ids.items() if u is None],
        "ids": [u for u in ids.values() if u is not None]})
    return matched(ids, wire.mapped(rows))


# the username in any case; the exact spelling first where old collisions remain
_BY_USERNAME = ("lower(username) = lower(CAST(:ref AS text)) "
                "ORDER BY username = CAST(:ref AS text) DESC, created_at, id LIMIT 1")


async def upsert(
    conn: AsyncConnection, realm: Realm, brand_id: UUID, player_id: UUID, fields: dict[str, Any],
    at: datetime,
) -> tuple[dict[str, Any], bool]:
    """Insert or update on ``(realm, brand, username in any case)``; returns the row and
    whether it was new.

    On update only the given fields change; the username keeps the form first sent and
    the currency is set once, at creation.
    """
    updatable = tuple(k for k in ("email", "external_ref", "country_code", "date_of_birth", "tags")
                      if k in fields)
    params = {**realm.params, "id": player_id, "brand": brand_id, "at": at,
              "username": fields["username"], "email": fields["email"],
              "external_ref": fields.get("external_ref"),
              "country_code": fields.get("country_code"),
              "date_of_birth": fields.get("date_of_birth"),
              "currency": fields["currency"], "tags": fields.get("tags") or []}
    for _ in range(3):
        row = (await conn.execute(_upsert_statement(updatable), params)).first()
        if row is not None:
            data = dict(row._mapping)
            return data, bool(data.pop("created"))
        # a concurrent upsert of the same name (in another case) committed first: its row
        # is visible to the next statement
    raise RuntimeError(f"upsert of player {fields['username']!r} kept conflicting")


@functools.cache
def _upsert_statement(updatable: tuple[str, ...]) -> TextClause:
    assignments = "".join(f"{k} = :{k}, " for k in updatable)
    returned = ", ".join(f"p.{c.strip()}" for c in COLUMNS.split(","))
    return text(
        "WITH existing AS (SELECT id FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND brand_id = :brand AND lower(username) = lower(CAST(:username AS text)) "
        "ORDER BY username = CAST(:username AS text) DESC, created_at, id LIMIT 1), "
        f"updated AS (UPDATE players p SET {assignments}updated_at = :at FROM existing e "
        f"WHERE p.tenant_id = :tenant_id AND p.id = e.id RETURNING {returned}, false AS created), "
        "inserted AS (INSERT INTO players (tenant_id, mode, id, brand_id, username, email, "
        "external_ref, country_code, date_of_birth, currency, tags, created_at, updated_at) "
        "SELECT CAST(:tenant_id AS uuid), CAST(:mode AS text), CAST(:id AS uuid), "
        "CAST(:brand AS uuid), CAST(:username AS text), CAST(:email AS text), "
        "CAST(:external_ref AS text), CAST(:country_code AS text), "
        "CAST(:date_of_birth AS date), CAST(:currency AS text), CAST(:tags AS text[]), "
        "CAST(:at AS timestamptz), CAST(:at AS timestamptz) "
        "WHERE NOT EXISTS (SELECT 1 FROM existing) ON CONFLICT DO NOTHING "
        f"RETURNING {COLUMNS}, true AS created) "
        "SELECT * FROM updated UNION ALL SELECT * FROM inserted")


_HOLD = text("SELECT 1 FROM players WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id "
             "FOR KEY SHARE")


async def hold(conn: AsyncConnection, realm: Realm, player_id: UUID) -> None:
    await conn.execute(_HOLD, {**realm.params, "id": player_id})


async def set_status(
    conn: AsyncConnection, realm: Realm, player_id: UUID, status: str, at: datetime
) -> None:
    await conn.execute(
        text("UPDATE players SET status = :status, updated_at = :at WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :id"),
        {**realm.params, "id": player_id, "status": status, "at": at},
    )


async def set_kyc(
    conn: AsyncConnection, realm: Realm, player_id: UUID, status: str, level: int, at: datetime
) -> None:
    await conn.execute(
        text("UPDATE players SET kyc_status = :status, kyc_level = :level, updated_at = :at "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, "id": player_id, "status": status, "level": level, "at": at},
    )


async def set_rg(
    conn: AsyncConnection, realm: Realm, player_id: UUID, state: dict[str, Any], at: datetime
) -> None:
    await conn.execute(
        text("UPDATE players SET rg = CAST(:rg AS jsonb), updated_at = :at "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, "id": player_id, "rg": dumps(state), "at": at},
    )


async def add_note(
    conn: AsyncConnection, realm: Realm, player_id: UUID, kind: str, body: str, actor: str,
    at: datetime,
) -> None:
    await conn.execute(
        text("INSERT INTO player_notes (tenant_id, mode, player_id, kind, body, actor, "
             "created_at) VALUES (:tenant_id, :mode, :pid, :kind, :body, :actor, :at)"),
        {**realm.params, "pid": player_id, "kind": kind, "body": body, "actor": actor, "at": at},
    )


_FIND_MANY = (  # find_lookup's two statements, for many references
    f"SELECT NULL::text AS ref, {COLUMNS} FROM players WHERE tenant_id = :tenant_id "
    "AND mode = :mode AND brand_id = :brand AND id = ANY (CAST(:ids AS uuid[])) "
    "UNION ALL "
    f"SELECT n.ref, p.* FROM unnest(CAST(:names AS text[])) AS n (ref) CROSS JOIN LATERAL "
    f"(SELECT {COLUMNS} FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
    "AND brand_id = :brand AND lower(username) = lower(n.ref) "
    "ORDER BY username = n.ref DESC, created_at, id LIMIT 1) AS p"
)


async def set_referrer(conn: AsyncConnection, realm: Realm, player_id: UUID,
                       referrer_id: UUID) -> None:
    """Set ``referred_by`` unless already set (a referral is recorded once)."""
    await conn.execute(
        text("UPDATE players SET referred_by = :referrer WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND id = :id AND referred_by IS NULL"),
        {**realm.params, "id": player_id, "referrer": referrer_id})


async def mark_active(conn: AsyncConnection, realm: Realm, player_id: UUID, at: datetime) -> None:
    """Count the player as active this month (monthly active players)."""
    await mark_active_many(conn, realm, [player_id], at)


_MARK_ACTIVE_MANY = (
    "INSERT INTO player_activity (tenant_id, mode, month, player_id) "
    "SELECT :tenant_id, :mode, "
    "date_trunc('month', CAST(:at AS timestamptz) AT TIME ZONE 'UTC')::date, p.id "
    "FROM unnest(CAST(:pids AS uuid[])) AS p (id) ON CONFLICT DO NOTHING"
)


async def mark_active_many(conn: AsyncConnection, realm: Realm, player_ids: Sequence[UUID],
                           at: datetime) -> None:
    """``mark_active`` for several players, in one statement."""
    await wire.defer(conn, (_MARK_ACTIVE_MANY, {**realm.params, "pids": sorted(set(player_ids)),
                                                "at": at}))


async def search(
    conn: AsyncConnection, realm: Realm, brand_id: UUID, *, query: str | None,
    status: str | None, tag: str | None, after: tuple[Any, ...] | None, limit: int,
) -> list[dict[str, Any]]:
    clauses = ["tenant_id = :tenant_id", "mode = :mode", "brand_id = :brand"]
    params: dict[str, Any] = {**realm.params, "brand": brand_id, "limit": limit + 1}
    if query:
        clauses.append("(username ILIKE :q OR email ILIKE :q OR external_ref ILIKE :q)")
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["q"] = f"%{escaped}%"
    if status:
        clauses.append("status = :status")
        params["status"] = status
    if tag:
        clauses.append("tags @> ARRAY[CAST(:tag AS text)]")
        params["tag"] = tag
    if after:
        clauses.append(NEWEST.before(after, params))
    rows = await conn.execute(
        text(f"SELECT {COLUMNS} FROM players WHERE {' AND '.join(clauses)} "
             f"ORDER BY {NEWEST.order()} LIMIT :limit"),
        params,
    )
    return [dict(r._mapping) for r in rows]


async def due_rg_changes(conn: AsyncConnection, now: datetime, limit: int) -> list[Any]:
    """Players (any realm) with a pending RG change due; locked, skipping locked rows."""
    rows = await conn.execute(
        text("SELECT tenant_id, mode, id, rg, currency, username FROM players WHERE rg ? 'pending' "
             "AND EXISTS (SELECT 1 FROM jsonb_each(rg -> 'pending') p WHERE "
             "CAST(p.value ->> 'applies_at' AS timestamptz) <= :now) "
             "LIMIT :limit FOR UPDATE SKIP LOCKED"),
        {"now": now, "limit": limit},
    )
    return list(rows)

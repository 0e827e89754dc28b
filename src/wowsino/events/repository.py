"""Spine queries: every one takes the realm; batches are arrays, one statement each."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.events.wagers import Deposit, Wager
from wowsino.kernel import wire
from wowsino.kernel.db import retry_on_conflict
from wowsino.kernel.jsonio import loads
from wowsino.kernel.realm import Realm

# A username matches in any case, the exact spelling first where old collisions remain (as
# players.repository.find does); ``ref`` is the name asked for, NULL for a UUID look-up.
# Ordered where it is aggregated (``_with_reads``).
_FOUND = (
    "SELECT n.ref, p.id, p.username, p.brand_id, p.status, p.currency, "
    "p.username = n.ref AS exact, p.created_at FROM unnest(CAST(:names AS text[])) AS n (ref) "
    "JOIN players p ON p.tenant_id = :tenant_id AND p.mode = :mode AND p.brand_id = :brand "
    "AND lower(p.username) = lower(n.ref) "
    "UNION ALL SELECT NULL, id, username, brand_id, status, currency, true, created_at "
    "FROM players WHERE tenant_id = :tenant_id AND mode = :mode AND brand_id = :brand "
    "AND id = ANY (CAST(:ids AS uuid[]))"
)


async def players_by_ref(
    conn: AsyncConnection, realm: Realm, brand_id: UUID, names: list[str], ids: list[UUID],
    *, currencies: Sequence[str] = (), reads: tuple[str, ...] = (),
    wager_ids: Sequence[str] = (),
) -> tuple[list[dict[str, Any]], list[Any]]:
    """The brand's players named by username (any case) or UUID: rows with ``ref``, the
    name asked for (NULL for a UUID), the best match of each name first; and the value of
    each of ``reads`` (consumers' reads over ``currencies``, ``STORED_WAGERS`` over
    ``wager_ids``: JSON text), in one query."""
    rows = await wire.send(conn, _with_reads(reads), {
        **realm.params, "brand": brand_id, "names": names, "ids": ids,
        "currencies": list(currencies), "wager_ids": list(wager_ids)})
    players = [{"ref": ref, "id": UUID(pid), "username": username, "brand_id": UUID(brand),
                "status": status, "currency": currency}
               for ref, pid, username, brand, status, currency in loads(rows[0][0])]
    return players, [None if value is None else loads(value) for value in rows[0][1:]]


@functools.lru_cache(maxsize=16)
def _with_reads(reads: tuple[str, ...]) -> str:
    columns = ["(SELECT coalesce(json_agg(json_build_array(f.ref, f.id, f.username, f.brand_id, "
               "f.status, f.currency) ORDER BY f.ref, f.exact DESC, f.created_at, f.id), "
               "'[]')::text FROM found f)", *reads]
    return f"WITH found AS ({_FOUND}) SELECT {', '.join(columns)}"


WAGER_KEY = "wager_events_pkey"
# The spine checks each wager id when it reads its players and writes the new wagers with
# the transaction's last statement: a concurrent first use of an id in between is a lost
# race, and the retry replays it.
retry_on_conflict(WAGER_KEY)

# Each id asked for that is already recorded, with what a replay answers from.
STORED_WAGERS = (
    "(SELECT coalesce(json_agg(json_build_array(w.source_wager_id, w.player_id, "
    "encode(w.fingerprint, 'hex'), w.effects) ORDER BY w.source_wager_id), '[]')::text "
    "FROM wager_events w WHERE w.tenant_id = :tenant_id AND w.mode = :mode "
    "AND w.source_wager_id = ANY (CAST(:wager_ids AS text[])))"
)


def stored_from(value: Any) -> dict[str, dict[str, Any]]:
    """``STORED_WAGERS``'s value by ``source_wager_id``: ``{source_wager_id, player_id,
    fingerprint, effects}``."""
    return {wager_id: {"source_wager_id": wager_id, "player_id": UUID(player),
                       "fingerprint": bytes.fromhex(digest), "effects": effects}
            for wager_id, player, digest, effects in value}


_INSERT_WAGERS = (
    "INSERT INTO wager_events (tenant_id, mode, source_wager_id, player_id, brand_id, currency, "
    "amount, win_amount, game_id, game_category, funding, settled_at, fingerprint, effects, "
    "created_at) SELECT :tenant_id, :mode, w.id, w.player, w.brand, w.currency, w.amount, "
    f"w.win, w.game, w.category, w.funding, {wire.instant('settled', 'w.settled_ix')}, "
    "w.fingerprint, CAST(w.effects AS json), "
    ":at FROM unnest(CAST(:ids AS text[]), CAST(:players AS uuid[]), CAST(:brands AS uuid[]), "
    "CAST(:currencies AS text[]), CAST(:amounts AS bigint[]), CAST(:wins AS bigint[]), "
    "CAST(:games AS text[]), CAST(:categories AS text[]), CAST(:fundings AS text[]), "
    "CAST(:settled_ix AS integer[]), CAST(:fingerprints AS bytea[]), "
    "CAST(:effects AS text[])) AS w (id, player, brand, currency, amount, win, game, category, "
    "funding, settled_ix, fingerprint, effects)"
)


async def insert_wagers(
    conn: AsyncConnection, realm: Realm, wagers: list[tuple[Wager, bytes, str]], at: Any
) -> None:
    """Record new wagers, each with its fingerprint and its answer's effects (canonical
    JSON, for replays); sent with the write's last statement, in id order. An id a
    concurrent transaction recorded first violates ``WAGER_KEY`` (retried)."""
    if not wagers:
        return
    wagers = sorted(wagers, key=lambda w: w[0].source_wager_id)
    ws = [w for w, _, _ in wagers]
    await wire.defer(conn, (_INSERT_WAGERS, {
        **realm.params, "at": at, "ids": [w.source_wager_id for w in ws],
        "players": [w.player_id for w in ws], "brands": [w.brand_id for w in ws],
        "currencies": [w.currency for w in ws], "amounts": [w.amount for w in ws],
        "wins": [w.win_amount for w in ws], "games": [w.game_id for w in ws],
        "categories": [w.game_category for w in ws], "fundings": [w.funding for w in ws],
        **wire.instants("settled", [w.settled_at for w in ws]),
        "fingerprints": [f for _, f, _ in wagers],
        "effects": [e for _, _, e in wagers]}))


async def stored_wagers(
    conn: AsyncConnection, realm: Realm, ids: list[str], *, for_update: bool = False
) -> dict[str, dict[str, Any]]:
    """Recorded wagers by ``source_wager_id`` with their stored effects."""
    if not ids:
        return {}
    await wire.settle(conn)  # wagers this transaction recorded are written first
    rows = await conn.execute(
        text("SELECT source_wager_id, player_id, brand_id, currency, amount, win_amount, "
             "game_id, game_category, funding, settled_at, fingerprint, effects::text AS effects, "
             "rolled_back_at FROM wager_events WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND source_wager_id = ANY (CAST(:ids AS text[])) ORDER BY source_wager_id"
             + (" FOR UPDATE" if for_update else "")),
        {**realm.params, "ids": ids})
    out = {}
    for r in rows:
        row = dict(r._mapping)
        row["effects"] = loads(row["effects"])
        out[row["source_wager_id"]] = row
    return out


async def mark_rolled_back(
    conn: AsyncConnection, realm: Realm, source_wager_id: str, at: Any
) -> None:
    await wire.settle(conn)
    await conn.execute(
        text("UPDATE wager_events SET rolled_back_at = :at WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND source_wager_id = :id"),
        {**realm.params, "id": source_wager_id, "at": at})


async def insert_deposit(
    conn: AsyncConnection, realm: Realm, deposit: Deposit, fingerprint: bytes, at: Any
) -> bool:
    inserted = await conn.scalar(
        text("INSERT INTO deposit_events (tenant_id, mode, source_deposit_id, player_id, "
             "brand_id, currency, amount, promo_code, first_deposit, fingerprint, created_at) "
             "VALUES (:tenant_id, :mode, :id, :player_id, :brand_id, :currency, :amount, "
             ":promo, :first, :fingerprint, :at) ON CONFLICT DO NOTHING RETURNING 1"),
        {**realm.params, "id": deposit.source_deposit_id, "player_id": deposit.player_id,
         "brand_id": deposit.brand_id, "currency": deposit.currency, "amount": deposit.amount,
         "promo": deposit.promo_code, "first": deposit.first_deposit,
         "fingerprint": fingerprint, "at": at})
    return inserted is not None


async def stored_deposit(
    conn: AsyncConnection, realm: Realm, source_deposit_id: str
) -> dict[str, Any] | None:
    row = (await conn.execute(
        text("SELECT source_deposit_id, fingerprint, effects::text AS effects, first_deposit "
             "FROM deposit_events WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND source_deposit_id = :id"),
        {**realm.params, "id": source_deposit_id})).first()
    if row is None:
        return None
    out = dict(row._mapping)
    out["effects"] = loads(out["effects"])
    return out


async def store_deposit_effects(
    conn: AsyncConnection, realm: Realm, source_deposit_id: str, effects: str
) -> None:
    await conn.execute(
        text("UPDATE deposit_events SET effects = CAST(:effects AS jsonb) "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND source_deposit_id = :id"),
        {**realm.params, "id": source_deposit_id, "effects": effects})


async def first_deposit_lock(conn: AsyncConnection, realm: Realm, player_id: UUID) -> bool:
    """Lock the player's row (deposits of one player are serialised) and say whether
    no deposit has been recorded for them yet."""
    await conn.execute(
        text("SELECT 1 FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND id = :id FOR UPDATE"), {**realm.params, "id": player_id})
    found = await conn.scalar(
        text("SELECT EXISTS (SELECT 1 FROM deposit_events WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND player_id = :id)"), {**realm.params, "id": player_id})
    return not found

"""Configuration shared by the engines that draw from a prize table: create,
change, pause/resume and list entities whose rows hold ``name``, ``prize_table``
(canonical, see ``engines.prizes``), ``prize_table_hash``, ``cost_winz`` and
``status``, plus any engine columns named in ``PrizeGame.columns``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import lifecycle, prizes
from wowsino.kernel import audit
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.ids import new_id
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.money import ASSETS, from_minor, to_minor
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Actor, Realm

WINZ = ASSETS["WINZ"]
NULLABLE = ("cost_winz", "plays_per_day")  # null means free / unlimited


@dataclass(frozen=True)
class PrizeGame:
    """What differs between the engines that draw from a prize table."""

    noun: str  # audit target type and error wording: lootbox, mini_game
    table: str  # configuration table
    results: str  # one row per draw
    foreign_key: str  # the results' column naming the entity
    not_found_code: str
    reward_kind: str  # ledger entry kind of the reward credit
    cost_kind: str  # ledger entry kind of the WINZ cost
    result_ref: str  # ledger ref_type naming a result row
    columns: tuple[str, ...]  # configurable columns, in display order


def normalise(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values from request fields: the prize table canonical, the cost in minor units.

    Raises ValidationFailed (400 naming the field) for a bad table or cost.
    """
    values = {k: v for k, v in fields.items() if k != "idempotency_key"}
    for name, value in values.items():
        if value is None and name not in NULLABLE:
            raise ValidationFailed(f"{name}: must not be null", field=name)
    if "prize_table" in values:
        values["prize_table"] = prizes.parse_table(values["prize_table"])
    if "cost_winz" in values:
        cost = values["cost_winz"]
        zero = cost is None or (not isinstance(cost, bool) and cost == 0)
        values["cost_winz"] = 0 if zero else to_minor(cost, WINZ, field="cost_winz")
    return values


def public_table(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stored table as published, keys in the order the API documents them."""
    return [{"segment_label": s["segment_label"], "weight": s["weight"], "asset": s["asset"],
             "amount": s["amount"]} for s in prizes.public_table(table)]


def config_view(game: PrizeGame, entity: dict[str, Any]) -> dict[str, Any]:
    """The public configuration of an entity (never a seed), with what one draw pays on
    average (``prizes.odds``: expected value per asset, RTP against the WINZ cost)."""
    shown: dict[str, Any] = {"id": str(entity["id"]), "status": entity["status"]}
    for column in game.columns:
        value = entity[column]
        if column == "prize_table":
            value = public_table(value)
        elif column == "cost_winz":
            value = from_minor(int(value), WINZ)
        shown[column] = value
    found = prizes.odds(entity["prize_table"], from_minor(int(entity["cost_winz"]), WINZ))
    return {**shown, "prize_table_hash": entity["prize_table_hash"],
            "odds": {"expected_value": found["expected"], "rtp_pct": found["rtp"]},
            "created_at": entity["created_at"], "updated_at": entity["updated_at"]}


def answer(game: PrizeGame, entity: dict[str, Any]) -> dict[str, Any]:
    """What the configuration endpoints answer: the configuration under the game's noun."""
    return {game.noun: config_view(game, entity)}


async def _store_table(conn: AsyncConnection, realm: Realm, table: list[dict[str, Any]],
                       at: datetime) -> str:
    """Keep ``table`` under its hash (once) so results can name the exact table drawn from."""
    digest = prizes.table_hash(table)
    await conn.execute(
        text("INSERT INTO prize_table_versions (tenant_id, mode, hash, prize_table, created_at) "
             "VALUES (:tenant_id, :mode, :hash, CAST(:tbl AS jsonb), :at) ON CONFLICT DO NOTHING"),
        {**realm.params, "hash": digest, "tbl": dumps(table), "at": at},
    )
    return digest


def _assignments(columns: list[str]) -> list[tuple[str, str]]:
    """``(column, SQL value)`` pairs for trusted column names (never request keys)."""
    return [(c, f"CAST(:{c} AS jsonb)" if c == "prize_table" else f":{c}") for c in columns]


def _params(values: dict[str, Any]) -> dict[str, Any]:
    return {k: dumps(v) if k == "prize_table" else v for k, v in values.items()}


async def create(
    conn: AsyncConnection, *, game: PrizeGame, realm: Realm, fields: dict[str, Any],
    actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Create an active entity from request fields; audited. 400 on a bad table or cost."""
    values = {"cost_winz": 0, **normalise(fields)}
    values["prize_table_hash"] = await _store_table(conn, realm, values["prize_table"], at)
    pairs = _assignments([c for c in (*game.columns, "prize_table_hash") if c in values])
    row = (
        await conn.execute(
            text(f"INSERT INTO {game.table} (tenant_id, mode, id, status, created_at, updated_at, "
                 f"{', '.join(c for c, _ in pairs)}) VALUES (:tenant_id, :mode, :id, 'active', "
                 f":at, :at, {', '.join(v for _, v in pairs)}) RETURNING *"),
            {**realm.params, **_params(values), "id": new_id(), "at": at},
        )
    ).one()
    entity = dict(row._mapping)
    await audit.record(conn, realm=realm, actor=actor, action=f"{game.noun}.created",
                       target_type=game.noun, target_id=str(entity["id"]),
                       after=_audited(game, entity), at=at)
    return entity


async def update(
    conn: AsyncConnection, *, game: PrizeGame, realm: Realm, ref: str, fields: dict[str, Any],
    actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Change the given fields (a new table gets a new hash); audited when anything changed.

    Raises NotFound (the game's code) and ValidationFailed.
    """
    entity = await load(conn, game, realm, ref, for_update=True)
    values = normalise(fields)
    if "prize_table" in values:
        values["prize_table_hash"] = await _store_table(conn, realm, values["prize_table"], at)
    changed = {k: v for k, v in values.items() if entity[k] != v}
    if not changed:
        return entity
    sets = ", ".join(f"{c} = {v}" for c, v in _assignments(list(changed)))
    row = (
        await conn.execute(
            text(f"UPDATE {game.table} SET {sets}, updated_at = :at WHERE tenant_id = :tenant_id "
                 "AND mode = :mode AND id = :id RETURNING *"),
            {**realm.params, **_params(changed), "id": entity["id"], "at": at},
        )
    ).one()
    after = dict(row._mapping)
    await audit.record(conn, realm=realm, actor=actor, action=f"{game.noun}.updated",
                       target_type=game.noun, target_id=str(entity["id"]),
                       before=_audited(game, entity), after=_audited(game, after), at=at)
    return after


def _audited(game: PrizeGame, entity: dict[str, Any]) -> dict[str, Any]:
    return {**{c: entity[c] for c in game.columns}, "prize_table_hash": entity["prize_table_hash"]}


async def load(conn: AsyncConnection, game: PrizeGame, realm: Realm, ref: str, *,
               for_update: bool = False) -> dict[str, Any]:
    """The entity by id, or 404 with the game's code."""
    return await lifecycle.load(conn, table=game.table, realm=realm, ref=ref,
                                not_found_code=game.not_found_code, noun=game.noun,
                                for_update=for_update)


async def set_status(
    conn: AsyncConnection, *, game: PrizeGame, realm: Realm, ref: str, to: str, actor: Actor,
    at: datetime,
) -> dict[str, Any]:
    """Pause or resume; 404 for an unknown entity, 409 ``NOT_ACTIVE`` for a bad transition."""
    entity = await load(conn, game, realm, ref, for_update=True)
    return await lifecycle.set_status(conn, table=game.table, realm=realm, entity=entity, to=to,
                                      noun=game.noun, actor=actor, at=at)


async def listing(
    conn: AsyncConnection, *, game: PrizeGame, realm: Realm, status: str | None, limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """A page of the realm's entities, newest first, as public configuration."""
    after = NEWEST.decode(cursor)
    clauses = ["tenant_id = :tenant_id", "mode = :mode"]
    params: dict[str, Any] = {**realm.params, "limit": limit + 1}
    if status:
        clauses.append("status = :status")
        params["status"] = status
    if after:
        clauses.append(NEWEST.before(after, params))
    rows = await conn.execute(
        text(f"SELECT * FROM {game.table} WHERE {' AND '.join(clauses)} "
             f"ORDER BY {NEWEST.order()} LIMIT :limit"),
        params,
    )
    result = NEWEST.page([dict(r._mapping) for r in rows], limit)
    result["data"] = [config_view(game, e) for e in result["data"]]
    return result


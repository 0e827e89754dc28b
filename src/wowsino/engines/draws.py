"""Engines that draw from a prize table (lootboxes, mini-games): their shared
configuration and the one draw flow.

A draw is: the entity exists and is active → the player exists and passes the
compliance gate → the daily play limit (when configured) → the WINZ cost (when
configured) → the player's committed seed picks a segment (``kernel.fairness``
through the seed chain) → the reward is granted from its mint → the result is
recorded with every published input so anyone can recompute it later.
Everything happens in the caller's transaction: any refusal rolls all of it
back, so no seed is consumed and no money moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import lifecycle, prizes, rewards
from wowsino.fairness import service as fairness
from wowsino.kernel import audit
from wowsino.kernel.errors import Conflict, ValidationFailed
from wowsino.kernel.ids import new_id
from wowsino.kernel.jsonio import dumps
from wowsino.kernel.money import ASSETS, from_minor, to_minor
from wowsino.kernel.pagination import decode_cursor, page
from wowsino.kernel.realm import Actor, Realm
from wowsino.players import service as players

WINZ = ASSETS["WINZ"]
MoneyIn = Decimal | int
NULLABLE = ("cost_winz", "plays_per_day")  # null means free / unlimited


class PlayLimitReached(Conflict):
    """The player has used every play of the day (409 ``PLAY_LIMIT_REACHED``)."""

    status, code = 409, "PLAY_LIMIT_REACHED"


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


@dataclass(frozen=True)
class Drawn:
    """One draw's result and every input needed to recompute it."""

    id: UUID
    entity_id: UUID
    entity_name: str
    user: dict[str, Any]
    index: int
    segment: dict[str, Any]  # canonical: amount as a decimal string
    server_seed: str
    server_seed_hash: str
    client_seed: str
    next_server_seed_hash: str
    prize_table_hash: str
    cost_winz: int
    at: datetime
    plays_left_today: int | None = None
    prize_table: list[dict[str, Any]] | None = None

    def proof(self) -> dict[str, Any]:
        """The published inputs: seeds, client seed and the table's hash."""
        return {"server_seed": self.server_seed, "server_seed_hash": self.server_seed_hash,
                "client_seed": self.client_seed,
                "next_server_seed_hash": self.next_server_seed_hash,
                "prize_table_hash": self.prize_table_hash}

    @property
    def cost(self) -> Decimal:
        return from_minor(self.cost_winz, WINZ)


# --- Request bodies shared by the drawing engines -------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PrizeGameIn(Body):
    name: str = Field(min_length=1, max_length=128)
    prize_table: list[dict[str, Any]] = Field(
        description="[{segment_label, weight, asset: WINZ|XP, amount}]; weights are integers")
    cost_winz: MoneyIn | None = Field(default=None, description="WINZ debited per draw")
    idempotency_key: str | None = None


class PrizeGamePatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    prize_table: list[dict[str, Any]] | None = None
    cost_winz: MoneyIn | None = None
    idempotency_key: str | None = None


class DrawIn(Body):
    user_id: str = Field(min_length=1, max_length=128, description="username or UUID")
    client_seed: str | None = Field(default=None, min_length=1,
                                    max_length=fairness.MAX_CLIENT_SEED)
    idempotency_key: str | None = None


class StatusChangeIn(Body):
    idempotency_key: str | None = None


# --- Configuration ---------------------------------------------------------------------------


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


def config_view(game: PrizeGame, entity: dict[str, Any]) -> dict[str, Any]:
    """The public configuration of an entity (never a seed)."""
    shown: dict[str, Any] = {"id": str(entity["id"]), "status": entity["status"]}
    for column in game.columns:
        value = entity[column]
        if column == "prize_table":
            value = prizes.public_table(value)
        elif column == "cost_winz":
            value = from_minor(int(value), WINZ)
        shown[column] = value
    return {**shown, "prize_table_hash": entity["prize_table_hash"],
            "created_at": entity["created_at"], "updated_at": entity["updated_at"]}


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
    after = decode_cursor(cursor, 2)
    clauses = ["tenant_id = :tenant_id", "mode = :mode"]
    params: dict[str, Any] = {**realm.params, "limit": limit + 1}
    if status:
        clauses.append("status = :status")
        params["status"] = status
    if after:
        clauses.append("(created_at, id) < (CAST(:after_at AS timestamptz), "
                       "CAST(:after_id AS uuid))")
        params.update(after_at=_when(after[0]), after_id=after[1])
    rows = await conn.execute(
        text(f"SELECT * FROM {game.table} WHERE {' AND '.join(clauses)} "
             "ORDER BY created_at DESC, id DESC LIMIT :limit"),
        params,
    )
    result = page([dict(r._mapping) for r in rows], limit,
                  lambda e: [e["created_at"], str(e["id"])])
    result["data"] = [config_view(game, e) for e in result["data"]]
    return result


def _when(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise ValidationFailed("cursor: not a cursor this API issued", field="cursor")
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


# --- The draw --------------------------------------------------------------------------------


async def draw(
    conn: AsyncConnection, *, game: PrizeGame, realm: Realm, brand_id: UUID, ref: str,
    user_ref: str, client_seed: str | None, at: datetime,
) -> Drawn:
    """Draw once for the player from the entity's prize table and pay the prize.

    Raises NotFound (the game's code, or ``NO_PLAYER``), NotActive (409),
    PlayerBlocked (403), PlayLimitReached (409), InsufficientFunds (402
    ``INSUFFICIENT_WINZ``) and ValidationFailed (a bad client seed); on any of
    them the caller's transaction rolls back and nothing has changed.
    """
    entity = await load(conn, game, realm, ref)
    lifecycle.require_active(entity, game.noun)
    # The player's row lock orders this player's draws, so the daily count is exact.
    player = await players.get(conn, realm, brand_id, user_ref, for_update=True)
    rewards.check_eligible(player)
    left = await _plays_left_today(conn, game, realm, entity, player["id"], at)
    result_id = new_id()
    ledger_ref = {"ref_type": game.result_ref, "ref_id": str(result_id)}
    cost_entry = await rewards.charge_winz(
        conn, realm=realm, player=player, amount=int(entity["cost_winz"]), kind=game.cost_kind,
        at=at, metadata={game.foreign_key: str(entity["id"])}, **ledger_ref)
    table = entity["prize_table"]
    seeded = await fairness.draw_weighted(conn, realm=realm, player_id=player["id"],
                                          weights=prizes.weights(table),
                                          client_seed=client_seed, at=at)
    segment = table[seeded.index]
    reward_entry = await rewards.grant(
        conn, realm=realm, player=player, asset=segment["asset"],
        amount=prizes.minor_amount(segment), kind=game.reward_kind, at=at,
        metadata={game.foreign_key: str(entity["id"]), "segment_label": segment["segment_label"]},
        **ledger_ref)
    drawn = Drawn(
        id=result_id, entity_id=entity["id"], entity_name=entity["name"],
        user=players.player_ref(player), index=seeded.index, segment=segment,
        server_seed=seeded.server_seed, server_seed_hash=seeded.server_seed_hash,
        client_seed=seeded.client_seed, next_server_seed_hash=seeded.next_server_seed_hash,
        prize_table_hash=entity["prize_table_hash"], cost_winz=int(entity["cost_winz"]), at=at,
        plays_left_today=None if left is None else left - 1,
    )
    await _record(conn, game, realm, drawn, player["id"],
                  reward_entry.id if reward_entry else None,
                  cost_entry.id if cost_entry else None)
    return drawn


def utc_day(at: datetime) -> tuple[datetime, datetime]:
    """The UTC day containing ``at``: ``[start, end)``."""
    start = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


async def _plays_left_today(
    conn: AsyncConnection, game: PrizeGame, realm: Realm, entity: dict[str, Any],
    player_id: UUID, at: datetime,
) -> int | None:
    """Plays the player has left today (UTC, by the clock); None without a limit.

    Raises PlayLimitReached when none is left.
    """
    limit = entity.get("plays_per_day")
    if limit is None:
        return None
    start, end = utc_day(at)
    used = int(await conn.scalar(
        text(f"SELECT count(*) FROM {game.results} WHERE tenant_id = :tenant_id AND mode = :mode "
             f"AND {game.foreign_key} = :eid AND player_id = :pid AND created_at >= :start "
             "AND created_at < :end"),
        {**realm.params, "eid": entity["id"], "pid": player_id, "start": start, "end": end},
    ) or 0)
    if used >= limit:
        raise PlayLimitReached(
            f"this player has used all {limit} plays of this {game.noun} today",
            plays_per_day=limit, resets_at=end)
    return int(limit) - used


async def _record(
    conn: AsyncConnection, game: PrizeGame, realm: Realm, drawn: Drawn, player_id: UUID,
    reward_entry_id: int | None, cost_entry_id: int | None,
) -> None:
    await conn.execute(
        text(f"INSERT INTO {game.results} (tenant_id, mode, id, {game.foreign_key}, player_id, "
             "segment_index, segment_label, asset, amount, cost_winz, server_seed, "
             "server_seed_hash, client_seed, next_server_seed_hash, prize_table_hash, "
             "reward_entry_id, cost_entry_id, created_at) VALUES (:tenant_id, :mode, :id, :eid, "
             ":pid, :idx, :label, :asset, :amount, :cost, :seed, :seed_hash, :client, :next, "
             ":table_hash, :reward_entry, :cost_entry, :at)"),
        {**realm.params, "id": drawn.id, "eid": drawn.entity_id, "pid": player_id,
         "idx": drawn.index, "label": drawn.segment["segment_label"],
         "asset": drawn.segment["asset"], "amount": prizes.minor_amount(drawn.segment),
         "cost": drawn.cost_winz, "seed": drawn.server_seed, "seed_hash": drawn.server_seed_hash,
         "client": drawn.client_seed, "next": drawn.next_server_seed_hash,
         "table_hash": drawn.prize_table_hash, "reward_entry": reward_entry_id,
         "cost_entry": cost_entry_id, "at": drawn.at},
    )


async def results(
    conn: AsyncConnection, *, game: PrizeGame, realm: Realm, brand_id: UUID, ref: str,
    user_ref: str | None, limit: int, cursor: str | None,
) -> dict[str, Any]:
    """A page of the entity's past draws (the brand's players), newest first, each with
    the table it was drawn from. 404 for an unknown entity or player."""
    entity = await load(conn, game, realm, ref)
    after = decode_cursor(cursor, 2)
    clauses = ["r.tenant_id = :tenant_id", "r.mode = :mode", f"r.{game.foreign_key} = :eid",
               "p.brand_id = :brand"]
    params: dict[str, Any] = {**realm.params, "eid": entity["id"], "brand": brand_id,
                              "limit": limit + 1}
    if user_ref is not None:
        player = await players.get(conn, realm, brand_id, user_ref)
        clauses.append("r.player_id = :pid")
        params["pid"] = player["id"]
    if after:
        clauses.append("(r.created_at, r.id) < (CAST(:after_at AS timestamptz), "
                       "CAST(:after_id AS uuid))")
        params.update(after_at=_when(after[0]), after_id=after[1])
    rows = await conn.execute(
        text(f"SELECT r.*, p.username, v.prize_table FROM {game.results} r "
             "JOIN players p ON p.tenant_id = r.tenant_id AND p.id = r.player_id "
             "JOIN prize_table_versions v ON v.tenant_id = r.tenant_id AND v.mode = r.mode "
             f"AND v.hash = r.prize_table_hash WHERE {' AND '.join(clauses)} "
             "ORDER BY r.created_at DESC, r.id DESC LIMIT :limit"),
        params,
    )
    found = page([_drawn_from(r._mapping, entity) for r in rows], limit,
                  lambda d: [d.at, str(d.id)])
    return found


def _drawn_from(row: Any, entity: dict[str, Any]) -> Drawn:
    table = list(row["prize_table"])
    return Drawn(
        id=row["id"], entity_id=entity["id"], entity_name=entity["name"],
        user={"user_id": str(row["player_id"]), "username": row["username"]},
        index=int(row["segment_index"]), segment=table[int(row["segment_index"])],
        server_seed=row["server_seed"], server_seed_hash=row["server_seed_hash"],
        client_seed=row["client_seed"], next_server_seed_hash=row["next_server_seed_hash"],
        prize_table_hash=row["prize_table_hash"], cost_winz=int(row["cost_winz"]),
        at=row["created_at"], prize_table=table,
    )

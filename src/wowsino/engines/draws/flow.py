"""The one draw flow of the prize-table engines, and the record it leaves.

A draw: the entity exists and is active → the player exists and passes the
compliance gate → the daily play limit (when configured) → the WINZ cost (when
configured) → the player's committed seed picks a segment (``kernel.fairness``
through the player's seed chain) → the prize is granted from its mint → the
result is recorded with every published input so anyone can recompute it later.
Everything runs in the caller's transaction: any refusal rolls all of it back,
so no seed is consumed and no money moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.engines import lifecycle, prizes, rewards
from wowsino.engines.draws.games import WINZ, PrizeGame, load, public_table
from wowsino.fairness import links
from wowsino.fairness import service as fairness
from wowsino.kernel import wire
from wowsino.kernel.errors import Conflict
from wowsino.kernel.ids import new_id
from wowsino.kernel.money import from_minor
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Realm
from wowsino.players import repository as player_repository
from wowsino.players import service as players


class PlayLimitReached(Conflict):
    """The player has used every play of the day (409 ``PLAY_LIMIT_REACHED``)."""

    status, code = 409, "PLAY_LIMIT_REACHED"


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
    table: tuple[dict[str, Any], ...] = ()  # the prize table drawn from, canonical

    def proof(self) -> dict[str, Any]:
        """The published inputs: seeds, client seed and the table's hash, and the link
        to the public verifier page that recomputes the draw from them."""
        return {"server_seed": self.server_seed, "server_seed_hash": self.server_seed_hash,
                "client_seed": self.client_seed,
                "next_server_seed_hash": self.next_server_seed_hash,
                "prize_table_hash": self.prize_table_hash,
                "verify_url": links.weighted_url(
                    server_seed=self.server_seed, server_seed_hash=self.server_seed_hash,
                    client_seed=self.client_seed, table=self.table, index=self.index,
                    prize_table_hash=self.prize_table_hash)}

    @property
    def cost(self) -> Decimal:
        return from_minor(self.cost_winz, WINZ)


async def draw(
    conn: AsyncConnection, *, game: PrizeGame, realm: Realm, brand_id: UUID, ref: str,
    user_ref: str, client_seed: str | None, at: datetime, free: bool = False,
) -> Drawn:
    """Draw once for the player from the entity's prize table and pay the prize
    (``free``: an open given as a reward, without the entity's WINZ cost).

    Raises NotFound (the game's code, or ``NO_PLAYER``), NotActive (409),
    PlayerBlocked (403), PlayLimitReached (409), InsufficientFunds (402
    ``INSUFFICIENT_WINZ``) and ValidationFailed (a bad client seed); on any of
    them the caller's transaction rolls back and nothing has changed.
    """
    entity = await load(conn, game, realm, ref)
    lifecycle.require_active(entity, game.noun)
    # The player's row lock orders this player's draws, so the daily count is exact.
    player = await players.get(conn, realm, brand_id, user_ref, for_update=True)
    rewards.check_eligible(player, gate.Action.DRAW)
    left = await _plays_left_today(conn, game, realm, entity, player["id"], at)
    result_id = new_id()
    ledger_ref = {"ref_type": game.result_ref, "ref_id": str(result_id)}
    cost = 0 if free else int(entity["cost_winz"])
    cost_entry = await rewards.charge_winz(
        conn, realm=realm, player=player, amount=cost, kind=game.cost_kind,
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
        prize_table_hash=entity["prize_table_hash"], cost_winz=cost, at=at,
        plays_left_today=None if left is None else left - 1, table=tuple(table),
    )
    await _record(conn, game, realm, drawn, player["id"],
                  reward_entry.id if reward_entry else None,
                  cost_entry.id if cost_entry else None)
    return drawn


def draw_lookups(game: PrizeGame, realm: Realm, brand_id: UUID, ref: str, user_ref: str
                 ) -> list[wire.Lookup]:
    """The reads ``draw`` starts with (the entity, the player's locked row), to be sent
    with the write's claim."""
    entity = lifecycle.load_lookup(table=game.table, realm=realm, ref=ref)
    return [*([entity] if entity else []),
            player_repository.find_lookup(realm, brand_id, user_ref, for_update=True)]


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
    await wire.settle(conn)  # draws recorded in this transaction count too
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
    # nothing reads the record back but the play limit, which settles first
    await wire.defer(conn, (
        f"INSERT INTO {game.results} (tenant_id, mode, id, {game.foreign_key}, player_id, "
             "segment_index, segment_label, asset, amount, cost_winz, server_seed, "
             "server_seed_hash, client_seed, next_server_seed_hash, prize_table_hash, "
             "reward_entry_id, cost_entry_id, created_at) VALUES (:tenant_id, :mode, :id, :eid, "
             ":pid, :idx, :label, :asset, :amount, :cost, :seed, :seed_hash, :client, :next, "
             ":table_hash, :reward_entry, :cost_entry, :at)",
        {**realm.params, "id": drawn.id, "eid": drawn.entity_id, "pid": player_id,
         "idx": drawn.index, "label": drawn.segment["segment_label"],
         "asset": drawn.segment["asset"], "amount": prizes.minor_amount(drawn.segment),
         "cost": drawn.cost_winz, "seed": drawn.server_seed, "seed_hash": drawn.server_seed_hash,
         "client": drawn.client_seed, "next": drawn.next_server_seed_hash,
         "table_hash": drawn.prize_table_hash, "reward_entry": reward_entry_id,
         "cost_entry": cost_entry_id, "at": drawn.at},
    ))


async def results(
    conn: AsyncConnection, *, game: PrizeGame, view: Callable[[Drawn], dict[str, Any]],
    realm: Realm, brand_id: UUID, ref: str, user_ref: str | None, limit: int, cursor: str | None,
) -> dict[str, Any]:
    """A page of the entity's past draws (the brand's players), newest first, each as
    ``view`` shows it plus the table it was drawn from. 404 for an unknown entity or player."""
    entity = await load(conn, game, realm, ref)
    after = NEWEST.decode(cursor)
    clauses = ["r.tenant_id = :tenant_id", "r.mode = :mode", f"r.{game.foreign_key} = :eid",
               "p.brand_id = :brand"]
    params: dict[str, Any] = {**realm.params, "eid": entity["id"], "brand": brand_id,
                              "limit": limit + 1}
    if user_ref is not None:
        player = await players.get(conn, realm, brand_id, user_ref)
        clauses.append("r.player_id = :pid")
        params["pid"] = player["id"]
    if after:
        clauses.append(NEWEST.before(after, params, alias="r"))
    rows = await conn.execute(
        text(f"SELECT r.*, p.username, v.prize_table FROM {game.results} r "
             "JOIN players p ON p.tenant_id = r.tenant_id AND p.id = r.player_id "
             "JOIN prize_table_versions v ON v.tenant_id = r.tenant_id AND v.mode = r.mode "
             f"AND v.hash = r.prize_table_hash WHERE {' AND '.join(clauses)} "
             f"ORDER BY {NEWEST.order('r')} LIMIT :limit"),
        params,
    )
    found = NEWEST.page([r._mapping for r in rows], limit)
    found["data"] = [_shown(r, entity, view) for r in found["data"]]
    return found


def _shown(row: Any, entity: dict[str, Any], view: Callable[[Drawn], dict[str, Any]]
           ) -> dict[str, Any]:
    table = list(row["prize_table"])
    return {**view(_drawn_from(row, entity, table)), "prize_table": public_table(table)}


def _drawn_from(row: Any, entity: dict[str, Any], table: list[dict[str, Any]]) -> Drawn:
    return Drawn(
        id=row["id"], entity_id=entity["id"], entity_name=entity["name"],
        user={"user_id": str(row["player_id"]), "username": row["username"]},
        index=int(row["segment_index"]), segment=table[int(row["segment_index"])],
        server_seed=row["server_seed"], server_seed_hash=row["server_seed_hash"],
        client_seed=row["client_seed"], next_server_seed_hash=row["next_server_seed_hash"],
        prize_table_hash=row["prize_table_hash"], cost_winz=int(row["cost_winz"]),
        at=row["created_at"], table=tuple(table),
    )

"""Per-player seed chains: each draw uses the committed seed, reveals it, and
commits the next one (``next_server_seed_hash``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import fairness, wire
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.realm import Realm

MAX_CLIENT_SEED = 128


@dataclass(frozen=True)
class Commitment:
    server_seed: str
    server_seed_hash: str
    client_seed: str
    draws: int


@dataclass(frozen=True)
class Draw:
    """One draw's published inputs and result."""

    index: int
    server_seed: str
    server_seed_hash: str
    client_seed: str
    next_server_seed_hash: str

    def proof(self) -> dict[str, Any]:
        return {"server_seed": self.server_seed, "server_seed_hash": self.server_seed_hash,
                "client_seed": self.client_seed,
                "next_server_seed_hash": self.next_server_seed_hash}


def check_client_seed(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CLIENT_SEED:
        raise ValidationFailed(f"client_seed: 1 to {MAX_CLIENT_SEED} characters",
                               field="client_seed")
    return value


_COMMITMENT = (
    "WITH created AS (INSERT INTO fairness_seeds (tenant_id, mode, player_id, server_seed, "
    "server_seed_hash, client_seed, updated_at) VALUES (:tenant_id, :mode, :pid, :seed, :hash, "
    ":client, :at) ON CONFLICT DO NOTHING RETURNING server_seed, server_seed_hash, client_seed, "
    "draws) "
    "SELECT * FROM created UNION ALL SELECT * FROM (SELECT server_seed, server_seed_hash, "
    "client_seed, draws FROM fairness_seeds WHERE tenant_id = :tenant_id AND mode = :mode "
    "AND player_id = :pid{lock}) AS existing"
)
_CURRENT = (
    "SELECT server_seed, server_seed_hash, client_seed, draws FROM fairness_seeds "
    "WHERE tenant_id = :tenant_id AND mode = :mode AND player_id = :pid{lock}"
)


async def commitment(
    conn: AsyncConnection, realm: Realm, player_id: UUID, at: datetime, *, lock: bool = False
) -> Commitment:
    """The player's current commitment, created on first use."""
    await wire.settle(conn)  # a rotation held back in this transaction comes first
    seed = fairness.new_server_seed()
    lock_clause = " FOR UPDATE" if lock else ""
    # One statement: the row it creates, or the existing one (locked, the latest version).
    rows = await wire.send(conn, _COMMITMENT.format(lock=lock_clause), {
        **realm.params, "pid": player_id, "seed": seed, "hash": fairness.hash_seed(seed),
        "client": fairness.new_server_seed()[:16], "at": at})
    if not rows:  # created by a transaction that committed after this statement began
        rows = await wire.send(conn, _CURRENT.format(lock=lock_clause),
                               {**realm.params, "pid": player_id})
    row = rows[0]
    return Commitment(row[0], row[1], row[2], int(row[3]))


async def set_client_seed(
    conn: AsyncConnection, realm: Realm, player_id: UUID, client_seed: str, at: datetime
) -> Commitment:
    await commitment(conn, realm, player_id, at, lock=True)
    await conn.execute(
        text("UPDATE fairness_seeds SET client_seed = :client, updated_at = :at "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND player_id = :pid"),
        {**realm.params, "pid": player_id, "client": check_client_seed(client_seed), "at": at},
    )
    return await commitment(conn, realm, player_id, at)


async def _rotate(conn: AsyncConnection, realm: Realm, player_id: UUID, at: datetime) -> str:
    seed = fairness.new_server_seed()
    next_hash = fairness.hash_seed(seed)
    # sent with the write's last statement; commitment() settles it before any read
    await wire.defer(conn, (
        "UPDATE fairness_seeds SET server_seed = :seed, server_seed_hash = :hash, "
        "draws = draws + 1, updated_at = :at WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND player_id = :pid",
        {**realm.params, "pid": player_id, "seed": seed, "hash": next_hash, "at": at},
    ))
    return next_hash


async def draw_weighted(
    conn: AsyncConnection, *, realm: Realm, player_id: UUID, weights: list[int],
    client_seed: str | None, at: datetime,
) -> Draw:
    """A weighted pick with the player's committed seed; rotates the chain."""
    current = await commitment(conn, realm, player_id, at, lock=True)
    seed_for_client = check_client_seed(client_seed) if client_seed is not None \
        else current.client_seed
    index = fairness.draw_weighted(current.server_seed, seed_for_client, weights)
    next_hash = await _rotate(conn, realm, player_id, at)
    return Draw(index, current.server_seed, current.server_seed_hash, seed_for_client, next_hash)

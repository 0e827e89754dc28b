"""The striped pool: how many players contribute to one pool at once without a hot row.

A pool's round is spread over ``stripes`` rows. Each row counts what the round took
through it (``contributed``) and holds a share of the headroom left before the
round's trigger (``headroom``; NULL when the pool has no trigger). The shares
always add up exactly::

    round_seed + sum(contributed) + sum(headroom) = trigger_at

A contribution strictly smaller than one stripe's share cannot reach the trigger,
so it updates that one stripe (picking one no other transaction holds) and is
done: no lock on the jackpot row, no wait on the rest of the pool. Anything else
(the share is too small, or a drop started a new round) takes the exclusive path:
lock the jackpot row, then every stripe in order — which waits out the
contributions in flight — so the pool is exact, and then decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.realm import Realm

STRIPES = 64  # one per concurrent contributor the pool serves without waiting


def split_headroom(total: int | None, stripes: int) -> list[int | None]:
    """``total`` spread over ``stripes`` shares that add up to it exactly."""
    if total is None:
        return [None] * stripes
    base, extra = divmod(total, stripes)
    return [base + (1 if i < extra else 0) for i in range(stripes)]


async def create(
    conn: AsyncConnection, realm: Realm, jackpot_id: UUID, *, stripes: int, round: int,
    headroom: int | None,
) -> None:
    """The stripe rows of a new pool, with ``headroom`` shared out."""
    await conn.execute(
        text("INSERT INTO jackpot_stripes (tenant_id, mode, jackpot_id, stripe, round, headroom) "
             "SELECT :tenant_id, :mode, :jackpot_id, s.stripe, :round, s.headroom "
             "FROM unnest(CAST(:stripes AS smallint[]), CAST(:headrooms AS bigint[])) "
             "AS s (stripe, headroom)"),
        {**realm.params, "jackpot_id": jackpot_id, "round": round,
         "stripes": list(range(stripes)), "headrooms": split_headroom(headroom, stripes)},
    )


# the claim's call, for a statement that computes the amount ({amount}) itself
CLAIM_CALL = "jackpot_claim(:tenant_id, :mode, :jackpot_id, :round, {amount}, :own, :stripes)"
_CLAIM = text("SELECT " + CLAIM_CALL.format(amount=":amount"))


async def claim(
    conn: AsyncConnection, realm: Realm, jackpot: dict[str, Any], *, amount: int, own: int,
) -> int | None:
    """The fast path (SQL ``jackpot_claim``): add ``amount`` through one stripe whose share
    exceeds it, in the jackpot's current round — a free stripe, else by waiting for
    stripe ``own``. Returns the round's contributions after it (those committed before
    plus this one), or None, holding no stripe, when the exclusive path must decide."""
    contributed = await conn.scalar(_CLAIM, {
        **realm.params, "jackpot_id": jackpot["id"], "round": jackpot["round"],
        "amount": amount, "own": own, "stripes": jackpot["stripes"]})
    return None if contributed is None else int(contributed)


@dataclass(frozen=True)
class LockedPool:
    """The exact state of a round, with every stripe locked by this transaction."""

    round: int
    contributed: int
    stripes: int


async def lock(conn: AsyncConnection, realm: Realm, jackpot: dict[str, Any]) -> LockedPool:
    """Lock every stripe in order (call with the jackpot row already locked): waits for
    the fast-path contributions in flight, after which the sum is exact."""
    rows = (
        await conn.execute(
            text("SELECT round, contributed FROM jackpot_stripes WHERE tenant_id = :tenant_id "
                 "AND mode = :mode AND jackpot_id = :jackpot_id ORDER BY stripe FOR UPDATE"),
            {**realm.params, "jackpot_id": jackpot["id"]},
        )
    ).all()
    if any(r.round != jackpot["round"] for r in rows):
        raise RuntimeError(f"jackpot {jackpot['id']}: stripes out of step with the round")
    return LockedPool(jackpot["round"], sum(int(r.contributed) for r in rows), len(rows))


async def settle(
    conn: AsyncConnection, realm: Realm, jackpot_id: UUID, *, stripes: int, own: int,
    amount: int, headroom: int | None,
) -> None:
    """Under :func:`lock`: add ``amount`` through stripe ``own`` and share ``headroom``
    (what is left before the trigger afterwards) out again."""
    await conn.execute(
        text("UPDATE jackpot_stripes t SET contributed = t.contributed + "
             "CASE WHEN t.stripe = :own THEN CAST(:amount AS bigint) ELSE 0 END, headroom = s.headroom "
             "FROM unnest(CAST(:stripes AS smallint[]), CAST(:headrooms AS bigint[])) "
             "AS s (stripe, headroom) WHERE t.tenant_id = :tenant_id AND t.mode = :mode "
             "AND t.jackpot_id = :jackpot_id AND t.stripe = s.stripe"),
        {**realm.params, "jackpot_id": jackpot_id, "own": own, "amount": amount,
         "stripes": list(range(stripes)), "headrooms": split_headroom(headroom, stripes)},
    )


async def reset(
    conn: AsyncConnection, realm: Realm, jackpot_id: UUID, *, stripes: int, round: int,
    headroom: int | None,
) -> None:
    """Under :func:`lock`: start ``round`` with nothing contributed."""
    await conn.execute(
        text("UPDATE jackpot_stripes t SET round = :round, contributed = 0, "
             "headroom = s.headroom FROM unnest(CAST(:stripes AS smallint[]), "
             "CAST(:headrooms AS bigint[])) AS s (stripe, headroom) "
             "WHERE t.tenant_id = :tenant_id AND t.mode = :mode "
             "AND t.jackpot_id = :jackpot_id AND t.stripe = s.stripe"),
        {**realm.params, "jackpot_id": jackpot_id, "round": round,
         "stripes": list(range(stripes)), "headrooms": split_headroom(headroom, stripes)},
    )


POOL_SQL = (
    "j.round_seed + coalesce((SELECT sum(s.contributed) FROM jackpot_stripes s "
    "WHERE s.tenant_id = j.tenant_id AND s.mode = j.mode AND s.jackpot_id = j.id "
    "AND s.round = j.round), 0)"
)
"""The pool of jackpot ``j`` as one SQL expression (one statement, one snapshot)."""

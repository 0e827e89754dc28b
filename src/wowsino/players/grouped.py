"""Adjustments through group commit: concurrent ``POST /v1/players/<key>/adjustments``
of one brand are written together in one transaction (``kernel.writes.group_commit``),
each answered as if it had been sent alone: its own idempotency key, stored answer,
ledger entry and audit row (with its own request id).

A refusal found before any posting (an unknown player, an asset the rail does not hold,
another currency, an amount beyond its bound) is that request's answer and costs the
others nothing. A refusal by the ledger (a debit beyond the balance) ends the group's
transaction: each request of the group is then sent again alone. A request that finds no
others waiting is written alone at once, its player read with its key's claim.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.idempotency import Outcome
from wowsino.kernel.wire import Lookup
from wowsino.kernel.writes import GroupKey, group_commit
from wowsino.players import repository, service

MAX_GROUP = 64
# groups of a brand written at a time: each group holds its players' balances until it
# commits, so fewer, larger groups wait on each other less (measured: bench/README.md)
IN_FLIGHT = 2


async def _group(group: GroupKey, wanted: list[service.Adjustment], conn: AsyncConnection,
                 at: datetime) -> list[Outcome]:
    realm, brand_id, _, _ = group
    return await service.adjust_many(conn, realm=realm, brand_id=brand_id, wanted=wanted, at=at)


async def _alone(group: GroupKey, wanted: service.Adjustment, conn: AsyncConnection,
                 at: datetime) -> tuple[int, dict[str, Any]]:
    realm, brand_id, _, _ = group
    return await service.adjust_one(conn, realm=realm, brand_id=brand_id, wanted=wanted, at=at)


def _lone(group: GroupKey, wanted: service.Adjustment) -> list[Lookup]:
    realm, brand_id, _, _ = group
    return [repository.find_lookup(realm, brand_id, wanted.ref)]


coalescer = group_commit(_group, _alone, max_group=MAX_GROUP, in_flight=IN_FLIGHT, lone=_lone)

"""What flows through the spine: a settled wager, a deposit, and the consumer contract.

A consumer is a module with ``apply(conn, realm, wagers, ctx)`` and
``reverse(conn, realm, wagers, ctx)`` taking a *list* of wagers (a single event is a
list of one), written set-based, returning its effects per ``source_wager_id``.
Consumers run inside the caller's transaction, never commit, never call each other
and never read another consumer's tables.

A consumer whose work starts with reading its configuration (the active promotions,
the pools of a currency) declares that read as ``reads``: a scalar SQL expression over
``:tenant_id``, ``:mode`` and ``:currencies`` (the batch's currencies) whose value is
JSON text. The spine sends every consumer's read with its own player look-up, in one
round trip, and hands the parsed value to ``apply`` as ``ctx.reads[name]``; an
``apply`` called without it (``ctx.reads`` lacking the name) reads for itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.jsonio import loads
from wowsino.kernel.realm import Realm

MAX_EVENT_MINOR = 10**13  # per event amount: 100 billion USD, 100,000 BTC


class Wager(NamedTuple):
    """A settled wager in minor units of ``currency`` (a named tuple: one is built per
    event, so it is built cheaply).

    ``bonus_money_moved``: the platform's own wallet already moved this wager's bonus money
    (the seamless wallet does it at bet, win and rollback time, through the bonus engine):
    bonus wagering then counts its progress and moves no money. An operator's wagers
    never set it: their bonus money moves with the wager, as the operator's wallet did.
    """

    source_wager_id: str
    player_id: UUID
    brand_id: UUID
    currency: str
    amount: int
    win_amount: int
    game_id: str | None
    game_category: str
    funding: str
    settled_at: datetime
    bonus_money_moved: bool = False


@dataclass(frozen=True, slots=True)
class Deposit:
    source_deposit_id: str
    player_id: UUID
    brand_id: UUID
    currency: str
    amount: int
    promo_code: str | None
    first_deposit: bool


@dataclass(frozen=True, slots=True)
class Context:
    """What every consumer may need besides the wagers: the tenant's service mode and
    the time of the write."""

    service_mode: str
    at: datetime
    reads: dict[str, Any] = field(default_factory=dict)  # each consumer's prefetched read


Effects = dict[str, list[dict[str, Any]]]  # source_wager_id -> what the consumer did
WagerStep = Callable[[AsyncConnection, Realm, list[Wager], Context], Awaitable[Effects]]
DepositStep = Callable[[AsyncConnection, Realm, Deposit, Context], Awaitable[list[dict[str, Any]]]]


def configured(table: str, condition: str = "") -> str:
    """A consumer's ``reads`` saying whether the realm has a row of ``table`` (matching
    ``condition``): JSON ``true``/``false``, so an engine nobody configured skips the
    batch without a statement of its own."""
    where = f" AND {condition}" if condition else ""
    return (f"(SELECT EXISTS (SELECT FROM {table} WHERE tenant_id = :tenant_id "
            f"AND mode = :mode{where})::text)")


async def read(conn: AsyncConnection, realm: Realm, ctx: Context, name: str, sql: str,
               wagers: list[Wager]) -> Any:
    """The value of consumer ``name``'s read ``sql``: prefetched by the spine, or read now
    (an ``apply`` called outside the spine, by a rollback or a test)."""
    found = ctx.reads.get(name)
    if found is not None:
        return found
    return loads(await conn.scalar(text(f"SELECT {sql}"), {
        **realm.params, "currencies": sorted({w.currency for w in wagers})}))


@dataclass(frozen=True)
class WagerConsumer:
    name: str
    apply: WagerStep
    reverse: WagerStep
    reads: str | None = None  # see the module docstring


@dataclass(frozen=True)
class DepositConsumer:
    name: str
    apply: DepositStep

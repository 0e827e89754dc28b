"""What flows through the spine: a settled wager, a deposit, and the consumer contract.

A consumer is a module with ``apply(conn, realm, wagers, ctx)`` and
``reverse(conn, realm, wagers, ctx)`` taking a *list* of wagers (a single event is a
list of one), written set-based, returning its effects per ``source_wager_id``.
Consumers run inside the caller's transaction, never commit, never call each other
and never read another consumer's tables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.realm import Realm

MAX_EVENT_MINOR = 10**13  # per event amount: 100 billion USD, 100,000 BTC


@dataclass(frozen=True, slots=True)
class Wager:
    """A settled wager in minor units of ``currency``."""

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


Effects = dict[str, list[dict[str, Any]]]  # source_wager_id -> what the consumer did
WagerStep = Callable[[AsyncConnection, Realm, list[Wager], Context], Awaitable[Effects]]
DepositStep = Callable[[AsyncConnection, Realm, Deposit, Context], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class WagerConsumer:
    name: str
    apply: WagerStep
    reverse: WagerStep


@dataclass(frozen=True)
class DepositConsumer:
    name: str
    apply: DepositStep

"""Named player triggers (``wager``, ``deposit``, ``first_deposit``, ``vip.level_up``,
``rg.limit_set``, ``reality_check``, or any name an operator sends) and the one place
they are fired.

An engine that causes a trigger (VIP on a level-up, the RG endpoint on a limit set)
calls ``fire``; an engine that reacts to triggers (journeys) registers in
``TRIGGER_CONSUMERS`` (events/registry.py). Neither knows the other. Consumers run in
the caller's transaction and never commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.events.wagers import Context
from wowsino.kernel.realm import Realm


@dataclass(frozen=True, slots=True)
class Trigger:
    """``name`` happened to a player; ``properties`` is free-form (for money triggers
    ``amount`` in the unit of ``currency``, as the API speaks it)."""

    player_id: UUID
    brand_id: UUID
    name: str
    at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


TriggerStep = Callable[[AsyncConnection, Realm, list[Trigger], Context],
                       Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class TriggerConsumer:
    name: str
    apply: TriggerStep


async def fire(
    conn: AsyncConnection, realm: Realm, triggers: list[Trigger], ctx: Context
) -> dict[str, list[dict[str, Any]]]:
    """Every registered trigger consumer over ``triggers``: what each did, by name."""
    from wowsino.events.registry import TRIGGER_CONSUMERS  # the registry imports engines

    done: dict[str, list[dict[str, Any]]] = {}
    if not triggers:
        return done
    for consumer in TRIGGER_CONSUMERS:
        done[consumer.name] = await consumer.apply(conn, realm, triggers, ctx)
    return done

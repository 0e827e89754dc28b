"""Self-exclusion a player asks for: 6 months, 1 year, 5 years or for good.

It takes effect at once and cannot be undone until it ends: the status becomes
``self_excluded`` (no login, no play, no engagement), every session of the player ends,
every pending or active bonus is forfeited through the bonus engine, and the operator
cannot set the status back while it runs (409 ``SELF_EXCLUSION_ACTIVE``; closing the
account stays possible). A longer exclusion may replace a running one, never a shorter.
At the end of a timed exclusion the worker lifts it: the status returns to what it was
before (``active`` as a rule). A permanent one never ends.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import repository as bonus_repository
from wowsino.bonuses import service as bonuses
from wowsino.kernel import audit, outbox
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.errors import Conflict
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import SYSTEM, Actor, Mode, Realm
from wowsino.pam import sessions
from wowsino.players import service as players

# months of each period; None: permanent
PERIODS: dict[str, int | None] = {"6m": 6, "1y": 12, "5y": 60, "permanent": None}
LABELS = {"6m": "6 months", "1y": "1 year", "5y": "5 years", "permanent": "permanent"}


def add_months(at: datetime, months: int) -> datetime:
    """``at`` moved by calendar months, the day clamped to the month's last (31 Aug + 6
    months is 28 or 29 Feb)."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    return at.replace(year=year, month=month,
                      day=min(at.day, calendar.monthrange(year, month)[1]))


def end_of(period: str, at: datetime) -> datetime | None:
    months = PERIODS[period]
    return None if months is None else add_months(at, months)


async def self_exclude(conn: AsyncConnection, *, realm: Realm, brand_id: UUID,
                       player_id: UUID, period: str, actor: Actor,
                       at: datetime) -> dict[str, Any]:
    """Exclude the player from ``at`` for ``period``; 409 ``SELF_EXCLUSION_ACTIVE`` when a
    running self-exclusion already lasts as long or longer. Emits
    ``player.self_excluded`` and ``player.status_changed``."""
    player = await players.get(conn, realm, brand_id, str(player_id), for_update=True)
    until = end_of(period, at)
    prior = player["status"]
    if players.exclusion_running(player, at):
        current = player["self_excluded_until"]
        if current is None or (until is not None and until <= current):
            raise Conflict("a self-exclusion that lasts as long or longer runs already",
                           code="SELF_EXCLUSION_ACTIVE", until=current)
        prior = await conn.scalar(text(
            "SELECT self_exclusion_prior_status FROM players WHERE tenant_id = :tenant_id "
            "AND mode = :mode AND id = :id"), {**realm.params, "id": player["id"]})
    await conn.execute(text(
        "UPDATE players SET self_exclusion_period = :period, self_excluded_at = :at, "
        "self_excluded_until = :until, self_exclusion_prior_status = :prior, updated_at = :at "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
        {**realm.params, "id": player["id"], "period": period, "at": at, "until": until,
         "prior": prior})
    ended = await sessions.revoke_all(conn, realm=realm, player_id=player["id"], at=at,
                                      reason="self-excluded")
    await players.set_status(conn, realm=realm, player=player, status="self_excluded",
                             reason=f"self-exclusion ({LABELS[period]}) asked by the player",
                             actor=actor, at=at)
    forfeited = []
    for bonus in await bonus_repository.open_bonuses(conn, realm, [player["id"]]):
        await bonuses.forfeit(conn, realm=realm, brand_id=brand_id, ref=str(bonus["id"]),
                              reason="self_excluded", actor=actor, at=at)
        forfeited.append(str(bonus["id"]))
    exclusion = {"period": period, "since": at, "until": until}
    await audit.record(conn, realm=realm, actor=actor, action="player.self_excluded",
                       target_type="player", target_id=str(player["id"]), at=at,
                       after={**exclusion, "sessions_ended": ended,
                              "bonuses_forfeited": forfeited})
    await outbox.emit(conn, realm=realm, type="player.self_excluded", at=at, data={
        "user": players.player_ref(player), "period": period, "until": until})
    return {"self_exclusion": exclusion, "sessions_ended": ended,
            "bonuses_forfeited": forfeited}


_DUE = text(
    "SELECT tenant_id, mode, id, brand_id, self_exclusion_period, self_excluded_until, "
    "self_exclusion_prior_status FROM players WHERE self_excluded_until <= :now "
    "ORDER BY self_excluded_until LIMIT :limit FOR UPDATE SKIP LOCKED"
)


async def end_due(conn: AsyncConnection, *, now: datetime, limit: int = 200) -> int:
    """Lift every timed self-exclusion that has ended (any realm; claimed with SKIP
    LOCKED): the status returns to the one before it, audited; emits
    ``player.self_exclusion_ended`` (and ``player.status_changed``)."""
    due = (await conn.execute(_DUE, {"now": now, "limit": limit})).mappings().all()
    for row in due:
        realm = Realm(row["tenant_id"], Mode(row["mode"]))
        player = await players.get(conn, realm, row["brand_id"], str(row["id"]),
                                   for_update=True)
        await conn.execute(text(
            "UPDATE players SET self_exclusion_period = NULL, self_excluded_at = NULL, "
            "self_excluded_until = NULL, self_exclusion_prior_status = NULL, "
            "updated_at = :now WHERE tenant_id = :tenant_id AND mode = :mode AND id = :id"),
            {**realm.params, "id": row["id"], "now": now})
        if player["status"] == "self_excluded":  # else the operator closed the account
            await players.set_status(conn, realm=realm, player=player,
                                     status=row["self_exclusion_prior_status"],
                                     reason="the self-exclusion ended", actor=SYSTEM, at=now)
        ended = {"period": row["self_exclusion_period"], "until": row["self_excluded_until"]}
        await audit.record(conn, realm=realm, actor=SYSTEM,
                           action="player.self_exclusion_ended", target_type="player",
                           target_id=str(row["id"]), at=now,
                           after={**ended, "status": player["status"]})
        await outbox.emit(conn, realm=realm, type="player.self_exclusion_ended", at=now,
                          data={"user": players.player_ref(player), **ended})
    return len(due)


async def run_due(platform: Platform) -> int:
    """The worker's job: lift the self-exclusions that have ended."""
    now = platform.clock.now()
    return await unit_of_work(platform.engine, lambda conn: end_due(conn, now=now))

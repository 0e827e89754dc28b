"""Closing a tournament (by hand, or by the worker at ``ends_at``): pay the prize table
once, announce it, and start the next instance of a recurring series.

Exactly once: a close locks the tournament row FOR UPDATE, which waits for every
scoring statement in flight (they hold it FOR KEY SHARE) and for any other close; the
first close pays and marks the row ``closed`` (final, by trigger), so every later one
answers 409 ``NOT_ACTIVE`` (the worker skips it). ``tournament_payouts`` is keyed by rank
as well, so a second payout of a rank cannot be written.

Who wins: the leaderboard in its order (score, then who reached it first), players with
a score above 0 only. A rank whose player the compliance gate blocks (not ``active``) is
recorded as ``skipped`` and its prize is not paid to anyone else.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import lifecycle
from wowsino.engines.tournaments import config, flows, leaderboard, recurrence, repository, views
from wowsino.kernel import audit, outbox
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.errors import NotActive
from wowsino.kernel.ids import new_id
from wowsino.kernel.money import ASSETS, to_minor
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import SYSTEM, Actor, Mode, Realm
from wowsino.players import service as players

log = structlog.get_logger("wowsino.tournaments")
NOUN = repository.NOUN
# what a new instance of a series copies from the one that ended
COPIED = ("name", "scoring", "currency", "min_bet", "game_categories", "opt_in",
          "max_participants", "prize_table", "recurrence", "series_id")


def require_started(tournament: dict[str, Any], at: datetime) -> None:
    if at < tournament["starts_at"]:
        raise NotActive("this tournament has not started yet", status=tournament["status"],
                        starts_at=tournament["starts_at"])


async def close(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, ref: str, trigger: str,
    actor: Actor, at: datetime, viewer_brand: UUID | None = None,
) -> dict[str, Any]:
    """Pay the prize table, close, emit ``tournament.closed``; 409 ``NOT_ACTIVE`` for a
    paused, closed or not yet started tournament, 404 ``NO_TOURNAMENT``."""
    tournament = await repository.load(conn, realm, ref, for_update=True)
    lifecycle.require_active(tournament, NOUN)
    require_started(tournament, at)
    rows, paid = await _pay_prizes(conn, realm, service_mode, tournament, at)
    await repository.insert_payouts(conn, realm, tournament["id"], rows, at)
    next_id = await _next_instance(conn, realm, tournament, at)
    closed = {"status": "closed", "closed_at": at, "close_trigger": trigger,
              "total_paid": paid, "next_instance_id": next_id, "updated_at": at}
    await repository.update_tournament(conn, realm, tournament["id"], closed)
    tournament = {**tournament, **closed}
    total = views.total_paid(paid) or {}
    await outbox.emit(conn, realm=realm, type="tournament.closed", at=at, data={
        "tournament_id": str(tournament["id"]), "tournament_name": tournament["name"],
        "payouts": [views.payout(r, tournament) for r in rows], "total_paid": total,
        "trigger": trigger, "next_instance_id": None if next_id is None else str(next_id),
        "closed_at": at})
    await audit.record(conn, realm=realm, actor=actor, action="tournament.closed",
                       target_type=NOUN, target_id=str(tournament["id"]),
                       before={"status": "active"},
                       after={"status": "closed", "trigger": trigger, "total_paid": total,
                              "payouts": len(rows)}, at=at)
    return {"tournament": views.tournament(tournament, at),
            "payouts": [views.payout(r, tournament, viewer_brand) for r in rows]}


async def _pay_prizes(
    conn: AsyncConnection, realm: Realm, service_mode: str, tournament: dict[str, Any],
    at: datetime,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every prized rank paid or skipped (payout rows), and the total paid per asset."""
    table = config.stored(tournament["prize_table"])
    standings = [r for r in await leaderboard.top(conn, realm, tournament["id"],
                                                   config.last_rank(table)) if r["score"] > 0]
    prized = [(r, prize) for r in standings
              if (prize := config.prize_for(table, r["rank"])) is not None]
    found = await repository.players_by_id(conn, realm, [r["player_id"] for r, _ in prized])
    rows: list[dict[str, Any]] = []
    paid: dict[str, int] = defaultdict(int)
    for standing, prize in prized:
        player = found[standing["player_id"]]
        if "bonus_template" in prize:  # the bonus engine needs the whole player
            player = await players.get(conn, realm, player["brand_id"], str(player["id"]))
        minor = 0 if "asset" not in prize else to_minor(Decimal(prize["amount"]),
                                                        ASSETS[prize["asset"]])
        status, reason, detail = await flows.pay(
            conn, realm=realm, service_mode=service_mode, tournament_id=str(tournament["id"]),
            rank=standing["rank"], player=player, prize=prize, minor=minor, at=at)
        if status == "paid" and minor:
            paid[prize["asset"]] += minor
        rows.append({**standing, "prize": prize, "status": status, "reason": reason,
                     "detail": detail})
    return rows, dict(paid)


async def _next_instance(conn: AsyncConnection, realm: Realm, tournament: dict[str, Any],
                         at: datetime) -> UUID | None:
    """The next instance of a recurring series, created once; None for a one-off."""
    raw = config.stored(tournament["recurrence"])
    if raw is None:
        return None
    every = recurrence.Recurrence(raw["every"], raw["timezone"])
    try:
        starts_at, ends_at = recurrence.next_window(tournament["starts_at"],
                                                    tournament["ends_at"], every, after=at)
    except OverflowError:  # the series has reached the end of the calendar
        return None
    values = {**{c: config.stored(tournament[c]) if c in repository.JSON_COLUMNS
                 else tournament[c] for c in COPIED},
              "id": new_id(), "starts_at": starts_at, "ends_at": ends_at,
              "instance": tournament["instance"] + 1, "created_at": at, "updated_at": at}
    if not await repository.insert_tournament(conn, realm, values, once=True):
        return None
    await audit.record(conn, realm=realm, actor=SYSTEM, action="tournament.created",
                       target_type=NOUN, target_id=str(values["id"]),
                       after={"name": values["name"], "starts_at": starts_at,
                              "ends_at": ends_at, "recurrence_of": str(tournament["id"])},
                       at=at)
    new: UUID = values["id"]
    return new


async def close_due(platform: Platform, *, batch: int = 100) -> int:
    """Close every active tournament whose ``ends_at`` has come, each in its own unit of
    work (a paused one waits until it is resumed). Safe with several workers: a close
    another worker or a request made first answers ``NOT_ACTIVE`` and is skipped.
    Returns how many this pass closed."""
    now = platform.clock.now()
    async with platform.engine.connect() as conn:
        due = await repository.due(conn, now, batch)
    closed = 0
    for row in due:
        realm = Realm(row["tenant_id"], Mode(row["mode"]))

        async def scheduled(conn: AsyncConnection, r: dict[str, Any] = row,
                            realm: Realm = realm) -> dict[str, Any]:
            return await close(conn, realm=realm, service_mode=r["service_mode"],
                               ref=str(r["id"]), trigger="scheduled", actor=SYSTEM, at=now)

        try:
            await unit_of_work(platform.engine, scheduled)
        except NotActive:
            continue
        except Exception:
            log.exception("scheduled tournament close failed", tournament_id=str(row["id"]))
            continue
        closed += 1
    return closed

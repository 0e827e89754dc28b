"""Tournament scores: a consumer of the wager spine, and the path ``POST /score`` shares.

A batch costs one statement (``sql.SCORE``) while every player it scores is already
entered, and that statement is also the whole cost for a tenant with no running
tournament. Players not entered yet are asked about once per batch: the RG holds
(``compliance.engagement``) for those players only, then one statement (``sql.ENTER``)
that enters the rest within each tournament's ``max_participants`` and scores their
wagers. A held player is not entered (``skipped: rg``, recorded on their timeline);
an opt-in tournament scores only players who joined.

A rollback (``reverse``) takes each wager's contributions back out of every tournament
not yet closed and recomputes the affected scores from what is left (so a
``max_multiplier`` falls back to the best remaining wager).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import engagement
from wowsino.engines.tournaments import sql
from wowsino.engines.tournaments.config import shown_score
from wowsino.events.wagers import Context, Effects, Wager, configured
from wowsino.kernel import wire
from wowsino.kernel.realm import Realm

ENGINE = "tournaments"
_ENTER = text(sql.ENTER)
_LOCK, _REVERSE = text(sql.LOCK_FOR_REVERSAL), text(sql.REVERSE)


class Play(NamedTuple):
    """Something that may score: a settled wager, or a ``POST /score`` (which has no game
    category and may have no amounts). Amounts in minor units; points in score units."""

    source_wager_id: str
    player_id: UUID
    brand_id: UUID
    currency: str | None
    amount: int | None
    win_amount: int | None
    points: int | None
    category: str | None
    at: datetime


def from_wager(w: Wager) -> Play:
    return Play(w.source_wager_id, w.player_id, w.brand_id, w.currency, w.amount,
                w.win_amount, None, w.game_category, w.settled_at)


@dataclass(frozen=True, slots=True)
class _Tournament:
    id: UUID
    name: str
    scoring: str
    currency: str | None

    def effect(self, **fields: Any) -> dict[str, Any]:
        return {"tournament_id": str(self.id), "name": self.name, **fields}

    def scored(self, value: Any, total: Any) -> dict[str, Any]:
        return self.effect(added=shown_score(value, self.scoring, self.currency),
                           score=shown_score(total, self.scoring, self.currency))


def _tournament(row: Any) -> _Tournament:
    return _Tournament(row.tournament_id, row.name, row.scoring, row.currency)


class _Match(NamedTuple):
    """A row of ``sql.SCORE``: a contribution scored, or a match of a player not entered."""

    kind: str
    source_wager_id: str
    tournament_id: UUID
    player_id: UUID
    brand_id: UUID | None
    value: int
    total: int | None
    amount: int | None
    win_amount: int | None
    points: int | None
    ord: int | None
    seq: int
    name: str
    scoring: str
    currency: str | None
    opt_in: bool


async def record(
    conn: AsyncConnection, realm: Realm, plays: list[Play], *, at: datetime, source: str,
    only: UUID | None = None,
) -> Effects:
    """Score ``plays`` in every running tournament they qualify for (``only``: that one,
    points tournaments included), entering new players; what happened, per play."""
    if not plays:
        return {}
    settled = wire.instants("settled", [p.at for p in plays])
    # on the driver: a batch's rows are read as plain tuples
    rows = await wire.send(conn, sql.SCORE, {
        **realm.params, "at": at, "source": source, "only": only,
        "first_at": min(settled["settled"]), "last_at": max(settled["settled"]),
        "ids": [p.source_wager_id for p in plays], "players": [p.player_id for p in plays],
        "brands": [p.brand_id for p in plays], "currencies": [p.currency for p in plays],
        "amounts": [p.amount for p in plays], "wins": [p.win_amount for p in plays],
        "points": [p.points for p in plays], "categories": [p.category for p in plays],
        **settled})
    effects: Effects = defaultdict(list)
    tournaments: dict[UUID, _Tournament] = {}
    pending = []
    for found in rows:
        row = _Match(*found)
        tournament = tournaments.get(row.tournament_id)
        if tournament is None:  # one per tournament, not one per row
            tournament = tournaments[row.tournament_id] = _tournament(row)
        if row.kind == "scored":
            effects[row.source_wager_id].append(tournament.scored(row.value, row.total))
        elif not row.opt_in:
            pending.append(row)
        elif only is not None:  # the API says why; the spine does not repeat it per wager
            effects[row.source_wager_id].append(tournament.effect(skipped="not_joined"))
    if pending:
        await _enter_and_score(conn, realm, pending, tournaments, effects, at=at, source=source)
    return _in_order(effects)


def _in_order(effects: Effects) -> Effects:
    """Each wager's effects by tournament id: the same answer whatever order rows came in."""
    return {wager_id: sorted(items, key=lambda e: e["tournament_id"])
            for wager_id, items in effects.items()}


async def _enter_and_score(
    conn: AsyncConnection, realm: Realm, pending: list[Any],
    tournaments: dict[UUID, _Tournament], effects: Effects, *, at: datetime, source: str,
) -> None:
    held = await engagement.holds(conn, realm, sorted({r.player_id for r in pending}, key=str),
                                  at)
    skipped: dict[UUID, dict[UUID, str]] = defaultdict(dict)
    admitted = []
    for row in pending:
        reason = held.get(row.player_id)
        if reason is None:
            admitted.append(row)
            continue
        skipped[row.tournament_id][row.player_id] = reason
        effects[row.source_wager_id].append(
            tournaments[row.tournament_id].effect(skipped="rg", reason=reason))
    for tournament_id, skips in sorted(skipped.items(), key=lambda item: str(item[0])):
        await engagement.record_skips(conn, realm, skips, engine=ENGINE,
                                      ref=str(tournament_id), at=at)
    if not admitted:
        return
    admitted.sort(key=lambda r: (r.ord, str(r.tournament_id)))  # who enters first
    done = await enter(conn, realm, [(r.tournament_id, r.player_id, r.brand_id)
                                     for r in admitted], at=at, source=source,
                       contributions=admitted)
    for row in admitted:
        outcome, total = done.outcomes.get((row.tournament_id, row.player_id),
                                           ("not_active", None))
        tournament = tournaments[row.tournament_id]
        if outcome not in ("entered", "already"):
            effects[row.source_wager_id].append(tournament.effect(skipped=outcome))
        elif (row.tournament_id, row.source_wager_id) in done.scored:
            effects[row.source_wager_id].append(tournament.scored(
                done.scored[(row.tournament_id, row.source_wager_id)], total))


@dataclass
class Entered:
    """What ``enter`` did: per ``(tournament, player)`` the outcome (``entered``,
    ``already``, ``full``, ``not_active``) and the score after it; per ``(tournament,
    source_wager_id)`` the value each contribution recorded added."""

    outcomes: dict[tuple[UUID, UUID], tuple[str, Any]]
    scored: dict[tuple[UUID, str], Any]


async def enter(
    conn: AsyncConnection, realm: Realm, candidates: list[tuple[UUID, UUID, UUID]], *,
    at: datetime, source: str = "api", contributions: Sequence[Any] = (),
) -> Entered:
    """Enter ``(tournament, player, brand)`` candidates (in order, within each tournament's
    ``max_participants``) and score their ``contributions`` (rows of ``sql.SCORE``)."""
    seen: dict[tuple[UUID, UUID], UUID] = {}
    for tournament_id, player_id, brand_id in candidates:
        seen.setdefault((tournament_id, player_id), brand_id)
    rows = await conn.execute(_ENTER, {
        **realm.params, "at": at, "source": source,
        "c_tournaments": [k[0] for k in seen], "c_players": [k[1] for k in seen],
        "c_brands": list(seen.values()),
        "ids": [c.source_wager_id for c in contributions],
        "seqs": [c.seq for c in contributions],
        "w_tournaments": [c.tournament_id for c in contributions],
        "w_players": [c.player_id for c in contributions],
        "values": [c.value for c in contributions], "amounts": [c.amount for c in contributions],
        "wins": [c.win_amount for c in contributions],
        "points": [c.points for c in contributions]})
    done = Entered({}, {})
    for row in rows:
        if row.kind == "entry":
            done.outcomes[(row.tournament_id, row.player_id)] = (row.outcome, row.total)
        else:
            done.scored[(row.tournament_id, row.source_wager_id)] = row.value
    return done


# Whether the realm has an active tournament (JSON true/false), sent with the spine's
# player look-up: a realm without one pays no statement at all.
READS = configured("tournaments", "status = 'active'")


async def apply(conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context) -> Effects:
    """Score each wager in every running tournament it qualifies for."""
    if ctx.reads.get("tournaments") is False:
        return {}
    return await record(conn, realm, [from_wager(w) for w in wagers], at=ctx.at, source="wager")


async def reverse(
    conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context
) -> Effects:
    """Take voided wagers' scores back out (a closed tournament keeps them: it has paid)."""
    ids = [w.source_wager_id for w in wagers]
    locked = (await conn.execute(_LOCK, {**realm.params, "ids": ids})).all()
    if not locked:
        return {}
    rows = await conn.execute(_REVERSE, {
        **realm.params, "ids": ids, "at": ctx.at,
        "tournaments": sorted({r.tournament_id for r in locked}, key=str)})
    effects: Effects = defaultdict(list)
    for row in rows:
        tournament = _tournament(row)
        if row.reversed:
            effects[row.source_wager_id].append(tournament.effect(
                reversed=True,
                removed=shown_score(row.value, tournament.scoring, tournament.currency),
                score=shown_score(row.total, tournament.scoring, tournament.currency)))
        else:
            effects[row.source_wager_id].append(tournament.effect(
                reversed=False, reason="the tournament is closed"))
    return _in_order(effects)

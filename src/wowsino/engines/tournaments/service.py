"""Tournament rules: configuration, joining, scoring by API, the leaderboard and close.

Writes by and for players (``score``, ``join``, ``close``) need an ``active`` tournament
that has started: paused, closed or upcoming answers 409 ``NOT_ACTIVE``; ``score`` and
``join`` also need it not to have ended. Scores from wager events arrive through the
spine (``scores``); ``POST /score`` goes through the same statements.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import engagement, gate
from wowsino.engines import lifecycle, rewards
from wowsino.engines.tournaments import closing, config, leaderboard, repository, scores, views
from wowsino.events.service import source_id_reused
from wowsino.events.wagers import MAX_EVENT_MINOR
from wowsino.kernel import audit, wire
from wowsino.kernel.errors import Conflict, NotActive, ValidationFailed
from wowsino.kernel.ids import new_id
from wowsino.kernel.money import Asset, to_minor
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.realm import Actor, Realm
from wowsino.players import repository as player_repository
from wowsino.players import service as players

NOUN = repository.NOUN
EDITABLE = ("name", "scoring", "starts_at", "ends_at", "currency", "min_bet",
            "game_categories", "opt_in", "max_participants", "prize_table", "recurrence")
close = closing.close
POINTS = Asset("POINTS", config.FRACTION_DIGITS, "points")  # POST /score points, in score units


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    return {k: config.stored(row[k]) if k in repository.JSON_COLUMNS else row[k]
            for k in EDITABLE}


async def create(conn: AsyncConnection, *, realm: Realm, fields: dict[str, Any], actor: Actor,
                 at: datetime) -> dict[str, Any]:
    """A new tournament (the first instance of its series); audited. 400 for bad input,
    404 ``NO_TEMPLATE`` for a prize's unknown bonus template."""
    values = await config.creation(conn, realm, fields, at)
    tournament_id = new_id()
    values.update(id=tournament_id, series_id=tournament_id, instance=1, created_at=at,
                  updated_at=at)
    await repository.insert_tournament(conn, realm, values)
    row = await repository.load(conn, realm, str(tournament_id))
    await audit.record(conn, realm=realm, actor=actor, action="tournament.created",
                       target_type=NOUN, target_id=str(tournament_id), after=_audited(row),
                       at=at)
    return {"tournament": views.tournament(row, at)}


async def get_one(conn: AsyncConnection, realm: Realm, ref: str, at: datetime) -> dict[str, Any]:
    return {"tournament": views.tournament(await repository.load(conn, realm, ref), at)}


async def listing(conn: AsyncConnection, realm: Realm, *, status: str | None, limit: int,
                  cursor: str | None, at: datetime) -> dict[str, Any]:
    """A page of the realm's tournaments, newest first (400 for a foreign cursor)."""
    rows = await repository.listing(conn, realm, status=status, after=NEWEST.decode(cursor),
                                    limit=limit)
    page = NEWEST.page(rows, limit)
    page["data"] = [views.tournament(r, at) for r in page["data"]]
    return page


async def update(conn: AsyncConnection, *, realm: Realm, ref: str, requested: dict[str, Any],
                 actor: Actor, at: datetime) -> dict[str, Any]:
    """PATCH (see ``config.changes`` for what may change when); audited."""
    tournament = await repository.load(conn, realm, ref, for_update=True)
    values = await config.changes(conn, realm, tournament, requested, at)
    if values:
        await repository.update_tournament(conn, realm, tournament["id"],
                                           {**values, "updated_at": at})
        after = await repository.load(conn, realm, ref)
        await audit.record(conn, realm=realm, actor=actor, action="tournament.updated",
                           target_type=NOUN, target_id=str(tournament["id"]),
                           before=_audited(tournament), after=_audited(after), at=at)
        tournament = after
    return {"tournament": views.tournament(tournament, at)}


async def set_status(conn: AsyncConnection, *, realm: Realm, ref: str, to: str, actor: Actor,
                     at: datetime) -> dict[str, Any]:
    """Pause or resume (only ``active`` ↔ ``paused``; a closed one answers 409)."""
    tournament = await repository.load(conn, realm, ref, for_update=True)
    tournament = await lifecycle.set_status(conn, table=repository.TABLE, realm=realm,
                                            entity=tournament, to=to, noun=NOUN, actor=actor,
                                            at=at)
    return {"tournament": views.tournament(tournament, at)}


def require_running(tournament: dict[str, Any], at: datetime) -> None:
    """409 ``NOT_ACTIVE`` unless active, started and not yet ended."""
    lifecycle.require_active(tournament, NOUN)
    closing.require_started(tournament, at)
    if at >= tournament["ends_at"]:
        raise NotActive("this tournament has ended", status=tournament["status"],
                        ends_at=tournament["ends_at"])


def write_lookups(realm: Realm, brand_id: UUID, ref: str, user_ref: str) -> list[wire.Lookup]:
    """The reads ``score`` and ``join`` start with, sent with the write's claim."""
    found = repository.load_lookup(realm, ref)
    return [*([found] if found else []), player_repository.find_lookup(realm, brand_id, user_ref)]


def _full(tournament: dict[str, Any]) -> Conflict:
    return Conflict(f"this tournament is full ({tournament['max_participants']} players)",
                    code="TOURNAMENT_FULL", max_participants=tournament["max_participants"])


async def join(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, user_ref: str,
               at: datetime) -> tuple[int, dict[str, Any]]:
    """Enter a player (what an opt-in tournament needs before it scores them).

    201 ``joined: true``; 200 ``already_joined: true`` for a player already in; 201
    ``joined: false, skipped: rg`` for a player held by responsible gambling (recorded on
    their timeline). 403 ``PLAYER_BLOCKED``, 409 ``NOT_ACTIVE`` or ``TOURNAMENT_FULL``.
    """
    tournament = await repository.load(conn, realm, ref)
    require_running(tournament, at)
    player = await players.get(conn, realm, brand_id, user_ref)
    rewards.check_eligible(player, gate.Action.TOURNAMENT_ENTRY)
    answer = {"tournament_id": str(tournament["id"]), "user": players.player_ref(player)}
    if await repository.entry(conn, realm, tournament["id"], player["id"]) is not None:
        return 200, {**answer, "joined": True, "already_joined": True}
    held = await engagement.holds(conn, realm, [player["id"]], at)
    if held:
        await engagement.record_skips(conn, realm, held, engine=scores.ENGINE,
                                      ref=str(tournament["id"]), at=at)
        return 201, {**answer, "joined": False, "skipped": "rg", "reason": held[player["id"]]}
    done = await scores.enter(conn, realm, [(tournament["id"], player["id"], player["brand_id"])],
                              at=at)
    outcome, _ = done.outcomes[(tournament["id"], player["id"])]
    if outcome == "full":
        raise _full(tournament)
    if outcome == "not_active":
        raise NotActive("this tournament is no longer active", status="unknown")
    return (201 if outcome == "entered" else 200), {
        **answer, "joined": True, "already_joined": outcome == "already"}


def _content(tournament: dict[str, Any], fields: dict[str, Any]) -> dict[str, int | None]:
    """The play's amounts in minor units and points in score units, checked against what
    the tournament's scoring needs (400 naming the field)."""
    unit = config.amounts_asset(tournament)
    scoring = tournament["scoring"]
    amount = None if fields.get("amount") is None else to_minor(fields["amount"], unit,
                                                                 field="amount")
    win = None if fields.get("win_amount") is None else to_minor(
        fields["win_amount"], unit, field="win_amount", allow_zero=True)
    for value, field in ((amount, "amount"), (win, "win_amount")):
        if value is not None and value > MAX_EVENT_MINOR:
            raise ValidationFailed(f"{field}: larger than any wager event may be", field=field)
    needs = {"sum_wagered": ("amount",), "sum_won": ("win_amount",),
             "max_multiplier": ("amount", "win_amount"),
             "sum_multipliers": ("amount", "win_amount"), "points": ("points",),
             "bet_count": ()}[scoring]
    if tournament["min_bet"] is not None:
        needs = (*needs, "amount")
    for field in needs:
        if fields.get(field) is None:
            raise ValidationFailed(f"{field}: required for a {scoring} tournament"
                                   + (" with a min_bet" if field == "amount" else ""),
                                   field=field)
    points = None
    if fields.get("points") is not None:
        if scoring != "points":
            raise ValidationFailed("points: only for a points tournament", field="points")
        points = to_minor(fields["points"], POINTS, field="points")
        if points > config.MAX_POINTS * 10**config.FRACTION_DIGITS:
            raise ValidationFailed(f"points: at most {config.MAX_POINTS}", field="points")
    return {"amount": amount, "win_amount": win, "points": points}




async def score(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                fields: dict[str, Any], at: datetime) -> tuple[int, dict[str, Any]]:
    """Score one play for a player, deduped on ``source_wager_id`` in this tournament:
    the same id again answers 200 with what it added (``deduped: true``), with other
    content 409 ``SOURCE_ID_REUSED``. 201 ``scored: false`` with ``skipped: rg`` for a
    player held by responsible gambling, ``skipped: min_bet`` for a stake below it.
    409 ``NOT_ACTIVE``, ``NOT_JOINED`` (opt-in) or ``TOURNAMENT_FULL``; 404 ``NO_PLAYER``.
    """
    tournament = await repository.load(conn, realm, ref)
    require_running(tournament, at)
    player = await players.get(conn, realm, brand_id, fields["user_id"])
    content = _content(tournament, fields)
    wager_id = fields["source_wager_id"]
    answer = {"tournament_id": str(tournament["id"]), "source_wager_id": wager_id,
              "user": players.player_ref(player)}
    known = await repository.score_by_wager(conn, realm, tournament["id"], wager_id)
    if known is not None:
        return _replay(known, tournament, player, content, answer)
    min_bet = tournament["min_bet"]
    if min_bet is not None and (content["amount"] or 0) < int(min_bet):
        return 201, {**answer, "scored": False, "skipped": "min_bet"}
    play = scores.Play(wager_id, player["id"], player["brand_id"], tournament["currency"],
                       content["amount"], content["win_amount"], content["points"], None, at)
    effects = (await scores.record(conn, realm, [play], at=at, source="api",
                                   only=tournament["id"])).get(wager_id, [])
    if not effects:  # a concurrent first use of the id won, or the tournament just changed
        known = await repository.score_by_wager(conn, realm, tournament["id"], wager_id)
        if known is not None:
            return _replay(known, tournament, player, content, answer)
        raise NotActive("this tournament is no longer active", status="unknown")
    [effect] = effects
    skipped = effect.get("skipped")
    if skipped == "not_joined":
        raise Conflict("this is an opt-in tournament: join it first (POST "
                       f"/v1/tournaments/{tournament['id']}/join)", code="NOT_JOINED")
    if skipped == "full":
        raise _full(tournament)
    if skipped == "not_active":
        raise NotActive("this tournament is no longer active", status="unknown")
    if skipped is not None:
        return 201, {**answer, "scored": False, "skipped": skipped, "reason": effect["reason"]}
    return 201, {**answer, "scored": True, "added": effect["added"], "score": effect["score"],
                 "rolled_back": False}


def _replay(known: dict[str, Any], tournament: dict[str, Any], player: dict[str, Any],
            content: dict[str, int | None], answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    same = (known["player_id"] == player["id"] and all(
        (None if known[k] is None else int(known[k])) == v for k, v in content.items()))
    if not same:
        raise source_id_reused("source_wager_id", answer["source_wager_id"])
    shown = {k: config.shown_score(known[c] or 0, tournament["scoring"], tournament["currency"])
             for k, c in (("added", "value"), ("score", "total"))}
    return 200, {**answer, "scored": True, **shown,
                 "rolled_back": known["rolled_back_at"] is not None, "deduped": True}


async def standings(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, limit: int,
    cursor: str | None, around: str | None,
) -> dict[str, Any]:
    """A page of the leaderboard ``{rank, user, score}``, from the top, after ``cursor``,
    or the ``limit`` rows around a player (``around``: ``rank`` null when not entered)."""
    tournament = await repository.load(conn, realm, ref)
    tid = tournament["id"]
    if around is not None and cursor:
        raise ValidationFailed("around: not together with cursor", field="around")
    extra: dict[str, Any] = {}
    if around is not None:
        player = await players.get(conn, realm, brand_id, around)
        position = await leaderboard.rank(conn, realm, tid, player["id"])
        extra["around"] = {"user": players.player_ref(player),
                           "rank": None if position is None else position.rank,
                           "score": None if position is None else config.shown_score(
                               position.score, tournament["scoring"], tournament["currency"])}
        rows = [] if position is None else await _around(conn, realm, tid, position, limit)
    elif cursor:  # an empty cursor is no cursor, as on every list
        rows = await leaderboard.after(conn, realm, tid, leaderboard.read_cursor(cursor),
                                       limit + 1)
    else:
        rows = await leaderboard.top(conn, realm, tid, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"tournament_id": str(tid), "status": tournament["status"],
            "participants": int(tournament["participants"]), **extra,
            "data": [views.standing(r, tournament, brand_id) for r in rows],
            "next_cursor": leaderboard.cursor_of(rows[-1]) if more and rows else None}


async def _around(conn: AsyncConnection, realm: Realm, tournament_id: UUID,
                  position: leaderboard.Position, limit: int) -> list[dict[str, Any]]:
    """``limit`` rows (plus one to tell whether more follow) centred on ``position``."""
    above = await leaderboard.before(conn, realm, tournament_id, position, (limit - 1) // 2)
    own_and_below = await leaderboard.after(
        conn, realm, tournament_id,
        leaderboard.Position(position.score, position.reached - 1, position.rank - 1),
        limit - len(above) + 1)
    return above + own_and_below

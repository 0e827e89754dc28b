"""Leaderboard reads: every one walks the ``tournament_leaderboard`` index (tournament,
score DESC, reached) in its order. Nothing is sorted in Python or over the whole table:

- a page is one index range from the top (or from a cursor: the rest of the cursor's
  score, then the scores below it, two ranges in index order);
- a player's rank is 1 + the entries ahead of them: those with a higher score plus those
  with the same score reached earlier, two index-only counts over index ranges (their
  cost grows with the rank: a player near the bottom of 100,000 counts 100,000 index
  entries, a few milliseconds; ``bench/tournaments.py`` measures it);
- ``around`` a player is the few rows just above them (the index read backwards) and
  the rows from them on.

Ranks are dense positions (1, 2, 3, … with no shared rank): ties are broken by who
reached the score first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.pagination import BIGINT, INTEGER, decode_cursor, encode_cursor
from wowsino.kernel.realm import Realm

_ROW = ("SELECT e.player_id, e.brand_id, e.score, e.reached, (SELECT p.username FROM players p "
        "WHERE p.tenant_id = e.tenant_id AND p.id = e.player_id) AS username "
        "FROM tournament_entries e WHERE e.tenant_id = :tenant_id AND e.mode = :mode "
        "AND e.tournament_id = :tournament_id")
_DOWN = "ORDER BY e.score DESC, e.reached LIMIT :limit"
_UP = "ORDER BY e.score, e.reached DESC LIMIT :limit"

_TOP = text(f"{_ROW} {_DOWN}")
# below a position: the rest of its score, then every lower score
_AFTER = text(f"SELECT * FROM (({_ROW} AND e.score = :score AND e.reached > :reached {_DOWN}) "
              f"UNION ALL ({_ROW} AND e.score < :score {_DOWN})) e {_DOWN}")
# above a position, nearest first: the earlier reachers of its score, then higher scores
_BEFORE = text(f"SELECT * FROM (({_ROW} AND e.score = :score AND e.reached < :reached {_UP}) "
               f"UNION ALL ({_ROW} AND e.score > :score {_UP})) e {_UP}")
# An index-only count: by tournament alone (``e``, the player's entry, was found in the
# realm, and a tournament id is unique), so nothing outside the index is read.
_COUNT = "SELECT count(*) FROM tournament_entries x WHERE x.tournament_id = e.tournament_id"
_RANK = text(f"SELECT e.score, e.reached, 1 + ({_COUNT} AND x.score > e.score) "
             f"+ ({_COUNT} AND x.score = e.score AND x.reached < e.reached) AS rank "
             "FROM tournament_entries e WHERE e.tenant_id = :tenant_id AND e.mode = :mode "
             "AND e.tournament_id = :tournament_id AND e.player_id = :player_id")


@dataclass(frozen=True, slots=True)
class Position:
    score: int
    reached: int
    rank: int


def _rows(result: Any, first_rank: int, step: int = 1) -> list[dict[str, Any]]:
    return [{**dict(r._mapping), "rank": first_rank + i * step} for i, r in enumerate(result)]


async def top(conn: AsyncConnection, realm: Realm, tournament_id: UUID,
              limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows: ``{player_id, brand_id, username, score, reached, rank}``."""
    result = await conn.execute(_TOP, {**realm.params, "tournament_id": tournament_id,
                                       "limit": limit})
    return _rows(result, 1)


async def after(conn: AsyncConnection, realm: Realm, tournament_id: UUID, position: Position,
                limit: int) -> list[dict[str, Any]]:
    """The ``limit`` rows ranked just below ``position``."""
    result = await conn.execute(_AFTER, {
        **realm.params, "tournament_id": tournament_id, "score": position.score,
        "reached": position.reached, "limit": limit})
    return _rows(result, position.rank + 1)


async def before(conn: AsyncConnection, realm: Realm, tournament_id: UUID, position: Position,
                 limit: int) -> list[dict[str, Any]]:
    """The ``limit`` rows ranked just above ``position``, in rank order."""
    if limit <= 0 or position.rank == 1:
        return []
    result = await conn.execute(_BEFORE, {
        **realm.params, "tournament_id": tournament_id, "score": position.score,
        "reached": position.reached, "limit": limit})
    nearest_first = _rows(result, position.rank - 1, -1)
    return nearest_first[::-1]


async def rank(conn: AsyncConnection, realm: Realm, tournament_id: UUID,
               player_id: UUID) -> Position | None:
    """The player's position, or None when they have not entered."""
    row = (await conn.execute(_RANK, {**realm.params, "tournament_id": tournament_id,
                                      "player_id": player_id})).first()
    return None if row is None else Position(int(row.score), int(row.reached), int(row.rank))


def cursor_of(row: dict[str, Any]) -> str:
    return encode_cursor([str(row["score"]), int(row["reached"]), int(row["rank"])])


def read_cursor(cursor: str) -> Position:
    """The position a cursor names; 400 naming ``cursor`` for one this API did not issue."""
    raw = decode_cursor(cursor, 3)
    assert raw is not None
    try:
        score = raw[0]
        if not isinstance(score, str) or not score.isdigit() or len(score) > 19:
            raise ValueError("a score is a string of digits")
        position = Position(BIGINT.read(int(score)), BIGINT.read(raw[1]), INTEGER.read(raw[2]))
        if position.rank < 1:
            raise ValueError("a rank starts at 1")
        return position
    except (ValueError, TypeError):
        raise ValidationFailed("cursor: not a cursor this API issued", field="cursor") from None

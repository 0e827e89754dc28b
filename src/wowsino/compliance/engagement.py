"""Engagement that respects responsible gambling: who must not be drawn back in.

A player is *held* from engagement (entered into a tournament or a journey, given a
level-up reward) while they are trying to stop:

- ``self_excluded``: the player's status is ``self_excluded``;
- ``timeout``: a ``timeout_until`` in the future;
- ``cooling_off``: a limit loosening waiting out its 24 h cooling-off;
- ``limit_hit``: within the last 24 hours the player reached a daily limit: real
  money wagered on a UTC day at least ``wager_daily_limit``, real net loss on a UTC
  day at least ``loss_daily_limit``, or deposits in the last 24 h at least
  ``deposit_daily_limit``.

Engines ask ``holds`` for the players they are about to engage, skip the held ones
(reporting ``skipped: rg``) and record each skip with ``record_skips``: an audit row on
the player's timeline naming the engine and the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import audit, wire
from wowsino.kernel.realm import SYSTEM, Realm
from wowsino.players import rg

WINDOW = timedelta(hours=24)

_STATE = text(
    "SELECT p.id, p.status, p.rg, "
    "  (SELECT coalesce(max(d.wagered), 0) FROM ("
    "      SELECT sum(s.wagered) AS wagered FROM player_stats_daily s "
    "       WHERE s.tenant_id = p.tenant_id AND s.mode = p.mode AND s.player_id = p.id "
    "         AND s.rail = 'real' AND s.currency = p.currency AND s.day >= :since_day "
    "       GROUP BY s.day) d) AS day_wagered, "
    "  (SELECT coalesce(max(d.loss), 0) FROM ("
    "      SELECT sum(s.wagered - s.won) AS loss FROM player_stats_daily s "
    "       WHERE s.tenant_id = p.tenant_id AND s.mode = p.mode AND s.player_id = p.id "
    "         AND s.rail = 'real' AND s.currency = p.currency AND s.day >= :since_day "
    "       GROUP BY s.day) d) AS day_loss, "
    "  (SELECT coalesce(sum(e.amount), 0) FROM deposit_events e "
    "    WHERE e.tenant_id = p.tenant_id AND e.mode = p.mode AND e.player_id = p.id "
    "      AND e.currency = p.currency AND e.created_at > :since) AS deposited "
    "FROM players p WHERE p.tenant_id = :tenant_id AND p.mode = :mode "
    "AND p.id = ANY(CAST(:ids AS uuid[]))"
)

# (limit, the column of _STATE it is compared with)
_DAILY = (("wager_daily_limit", "day_wagered"), ("loss_daily_limit", "day_loss"),
          ("deposit_daily_limit", "deposited"))


def hold_reason(row: dict[str, Any], at: datetime) -> str | None:
    """Why the player in ``row`` (a row of ``_STATE``) is held, or None."""
    if row["status"] == "self_excluded":
        return "self_excluded"
    state = rg.effective(row["rg"] or {}, at)
    limits = state["limits"]
    timeout = limits.get("timeout_until")
    if timeout is not None and datetime.fromisoformat(timeout) > at:
        return "timeout"
    if state.get("pending"):
        return "cooling_off"
    for limit, column in _DAILY:
        value = limits.get(limit)
        if value is not None and int(row[column] or 0) >= int(value):
            return "limit_hit"
    return None


async def holds(
    conn: AsyncConnection, realm: Realm, player_ids: list[UUID], at: datetime
) -> dict[UUID, str]:
    """The players of ``player_ids`` held from engagement at ``at``, with the reason."""
    if not player_ids:
        return {}
    await wire.settle(conn)  # the spine's activity stats are deferred writes
    since = at - WINDOW
    rows = await conn.execute(_STATE, {**realm.params, "ids": list(set(player_ids)),
                                       "since": since, "since_day": since.astimezone(UTC).date()})
    out: dict[UUID, str] = {}
    for row in rows.mappings():
        reason = hold_reason(dict(row), at)
        if reason is not None:
            out[row["id"]] = reason
    return out


async def record_skips(
    conn: AsyncConnection, realm: Realm, skips: dict[UUID, str], *, engine: str,
    ref: str | None, at: datetime,
) -> None:
    """One audit row per skipped player (``engagement.skipped``), on their timeline."""
    for player_id, reason in sorted(skips.items(), key=lambda item: str(item[0])):
        await audit.record(conn, realm=realm, actor=SYSTEM, action="engagement.skipped",
                           target_type="player", target_id=str(player_id), at=at,
                           after={"engine": engine, "ref": ref, "skipped": "rg",
                                  "reason": reason})

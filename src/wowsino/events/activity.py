"""Per-player activity stats, a consumer of the spine: counters per currency and a
per-day aggregate of wagered / won / net by rail and game category. The CRM reads
only these. Each batch is two upserts, whatever its size, deferred to the write's last
statement (``kernel.wire``): a reader of these tables in the same transaction settles
first (the readers below do)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.events.wagers import Context, Deposit, Effects, Wager
from wowsino.kernel import wire
from wowsino.kernel.realm import Realm

_WAGERS = (
    "unnest(CAST(:players AS uuid[]), CAST(:currencies AS text[]), CAST(:amounts AS bigint[]), "
    "CAST(:wins AS bigint[]), CAST(:at_ix AS integer[]), CAST(:rails AS text[]), "
    "CAST(:categories AS text[])) AS w (player_id, currency, amount, win, at_ix, rail, category)"
)
_AT = wire.instant("at", "w.at_ix")  # each wager's settled_at

_TOTALS = (
    "INSERT INTO player_stats AS a (tenant_id, mode, player_id, currency, wager_count, "
    "total_wagered, total_won, last_wager_at) "
    f"SELECT :tenant_id, :mode, w.player_id, w.currency, :sign * count(*), "
    f":sign * sum(w.amount), :sign * sum(w.win), max({_AT}) FROM {_WAGERS} "
    "GROUP BY w.player_id, w.currency ORDER BY w.player_id, w.currency "
    "ON CONFLICT (tenant_id, mode, player_id, currency) DO UPDATE SET "
    "wager_count = a.wager_count + excluded.wager_count, "
    "total_wagered = a.total_wagered + excluded.total_wagered, "
    "total_won = a.total_won + excluded.total_won, "
    "last_wager_at = CASE WHEN :sign > 0 THEN greatest(a.last_wager_at, excluded.last_wager_at) "
    "ELSE a.last_wager_at END"
)

_DAILY = (
    "INSERT INTO player_stats_daily AS d (tenant_id, mode, player_id, day, currency, rail, "
    "game_category, bets, wagered, won) "
    f"SELECT :tenant_id, :mode, w.player_id, ({_AT} AT TIME ZONE 'UTC')::date, w.currency, w.rail, "
    f"w.category, :sign * count(*), :sign * sum(w.amount), :sign * sum(w.win) FROM {_WAGERS} "
    "GROUP BY 3, 4, 5, 6, 7 ORDER BY 3, 4, 5, 6, 7 "
    "ON CONFLICT (tenant_id, mode, player_id, day, currency, rail, game_category) DO UPDATE SET "
    "bets = d.bets + excluded.bets, wagered = d.wagered + excluded.wagered, "
    "won = d.won + excluded.won"
)


def _arrays(wagers: list[Wager]) -> dict[str, Any]:
    return {
        "players": [w.player_id for w in wagers], "currencies": [w.currency for w in wagers],
        "amounts": [w.amount for w in wagers], "wins": [w.win_amount for w in wagers],
        **wire.instants("at", [w.settled_at for w in wagers]),
        "rails": [w.funding for w in wagers],
        "categories": [w.game_category for w in wagers],
    }


async def _count(conn: AsyncConnection, realm: Realm, wagers: list[Wager], sign: int) -> None:
    if not wagers:
        return
    params = {**realm.params, **_arrays(wagers), "sign": sign}
    await wire.defer(conn, (_TOTALS, params), (_DAILY, params))


async def apply(conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context) -> Effects:
    """Count the wagers into the totals and the daily aggregate."""
    await _count(conn, realm, wagers, 1)
    return {}


async def reverse(
    conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context
) -> Effects:
    """Take voided wagers back out of the counters (``last_wager_at`` stays)."""
    await _count(conn, realm, wagers, -1)
    return {}


_DEPOSIT = text(
    "INSERT INTO player_stats AS a (tenant_id, mode, player_id, currency, deposit_count, "
    "total_deposited, first_deposit_at, last_deposit_at) VALUES (:tenant_id, :mode, :player_id, "
    ":currency, 1, :amount, :at, :at) ON CONFLICT (tenant_id, mode, player_id, currency) "
    "DO UPDATE SET deposit_count = a.deposit_count + 1, "
    "total_deposited = a.total_deposited + excluded.total_deposited, "
    "first_deposit_at = coalesce(a.first_deposit_at, excluded.first_deposit_at), "
    "last_deposit_at = greatest(a.last_deposit_at, excluded.last_deposit_at)"
)


async def apply_deposit(
    conn: AsyncConnection, realm: Realm, deposit: Deposit, ctx: Context
) -> list[dict[str, Any]]:
    await conn.execute(_DEPOSIT, {**realm.params, "player_id": deposit.player_id,
                                  "currency": deposit.currency, "amount": deposit.amount,
                                  "at": ctx.at})
    return []


async def has_deposited(conn: AsyncConnection, realm: Realm, player_id: UUID) -> bool:
    """Whether the player has any recorded deposit (in any currency)."""
    await wire.settle(conn)
    found = await conn.scalar(
        text("SELECT EXISTS (SELECT 1 FROM deposit_events WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND player_id = :player_id)"),
        {**realm.params, "player_id": player_id})
    return bool(found)


async def net_real_loss(
    conn: AsyncConnection, realm: Realm, player_id: UUID, currency: str, *, since: datetime,
    until: datetime,
) -> int:
    """Real-money wagered minus won over whole UTC days from ``since`` to ``until``."""
    await wire.settle(conn)
    value = await conn.scalar(
        text("SELECT coalesce(sum(wagered - won), 0) FROM player_stats_daily "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND player_id = :player_id "
             "AND currency = :currency AND rail = 'real' "
             "AND day BETWEEN (CAST(:since AS timestamptz) AT TIME ZONE 'UTC')::date "
             "AND (CAST(:until AS timestamptz) AT TIME ZONE 'UTC')::date"),
        {**realm.params, "player_id": player_id, "currency": currency, "since": since,
         "until": until})
    return int(value or 0)


async def real_turnover_by_category(
    conn: AsyncConnection, realm: Realm, player_id: UUID, currency: str, *, since: datetime,
    until: datetime,
) -> dict[str, int]:
    """Real-money stakes per game category over whole UTC days from ``since`` to ``until``."""
    await wire.settle(conn)
    rows = await conn.execute(
        text("SELECT game_category, sum(wagered) FROM player_stats_daily "
             "WHERE tenant_id = :tenant_id AND mode = :mode AND player_id = :player_id "
             "AND currency = :currency AND rail = 'real' "
             "AND day BETWEEN (CAST(:since AS timestamptz) AT TIME ZONE 'UTC')::date "
             "AND (CAST(:until AS timestamptz) AT TIME ZONE 'UTC')::date GROUP BY 1"),
        {**realm.params, "player_id": player_id, "currency": currency, "since": since,
         "until": until})
    return {r[0]: int(r[1]) for r in rows}

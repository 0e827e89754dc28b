"""The numbers of a realm's dashboard: players, active players, WINZ issued, bonus cost,
deposits and withdrawals (white-label), GGR and the jackpot pools, per UTC day over a
period.

Every figure is read from where the engines keep it — players from ``players``, active
players and GGR from the spine's ``player_stats_daily``, WINZ from the ledger's
postings to players' WINZ accounts, bonus cost from the real money bonuses converted
into, the wallet's completed deposits and withdrawals, the pools from the jackpot
engine's own listing — one statement each, grouped by day. Amounts stay in minor units
here; the page formats them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines.jackpots import repository as jackpots
from wowsino.kernel.money import ASSETS, Asset, from_minor
from wowsino.kernel.realm import Realm

PERIODS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PERIOD = "30d"
POOLS_SHOWN = 20
_DAY = "(({column}) AT TIME ZONE 'UTC')::date"


@dataclass(frozen=True, slots=True)
class Series:
    """One metric per day: ``values[i]`` belongs to ``days[i]`` of the dashboard."""

    key: str
    title: str
    kind: str  # "count", "money" or "winz"
    values: list[int]

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass(slots=True)
class Dashboard:
    period: str
    days: list[date]
    currency: Asset
    currencies: list[str]
    players_total: int = 0
    active_players: int = 0
    series: list[Series] = field(default_factory=list)
    pools: list[dict[str, Any]] = field(default_factory=list)

    def amount(self, series: Series, value: int) -> Any:
        """``value`` of ``series`` in its display unit (a decimal for money)."""
        if series.kind == "money":
            return from_minor(value, self.currency)
        if series.kind == "winz":
            return from_minor(value, ASSETS["WINZ"])
        return value


def period_days(period: str | None) -> tuple[str, int]:
    """The chosen period and its length in days (an unknown one is the default)."""
    chosen = period if period in PERIODS else DEFAULT_PERIOD
    return chosen, PERIODS[chosen]


async def _by_day(conn: AsyncConnection, sql: str, params: dict[str, Any]) -> dict[date, int]:
    rows = await conn.execute(text(sql), params)
    return {row[0]: int(row[1] or 0) for row in rows}


async def _currencies(conn: AsyncConnection, realm: Realm, first_day: date) -> list[str]:
    """The money currencies of the realm: those its players hold (white-label) or wagered
    in over the period (plug-in)."""
    rows = await conn.execute(text(
        "SELECT asset FROM ledger_accounts WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND owner_type = 'player' AND rail = 'real' UNION SELECT currency "
        "FROM player_stats_daily WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND day >= :first_day ORDER BY 1"), {**realm.params, "first_day": first_day})
    return [row[0] for row in rows if row[0] in ASSETS]


async def build(conn: AsyncConnection, realm: Realm, *, service_mode: str,
                period: str | None, currency: str | None, today: date) -> Dashboard:
    """The dashboard of ``realm`` over the ``period`` ending ``today`` (UTC) in
    ``currency`` (the first the realm holds when not given or unknown)."""
    chosen, length = period_days(period)
    days = [today - timedelta(days=length - 1 - i) for i in range(length)]
    held = await _currencies(conn, realm, days[0]) or ["USD"]
    code = currency if currency in held else held[0]
    board = Dashboard(chosen, days, ASSETS[code], held)
    params = {**realm.params, "start": datetime.combine(days[0], time.min, tzinfo=UTC),
              "first_day": days[0], "currency": code}

    board.players_total = int(await conn.scalar(text(
        "SELECT count(*) FROM players WHERE tenant_id = :tenant_id AND mode = :mode"),
        realm.params) or 0)
    board.active_players = int(await conn.scalar(text(
        "SELECT count(DISTINCT player_id) FROM player_stats_daily WHERE tenant_id = :tenant_id "
        "AND mode = :mode AND day >= :first_day AND bets > 0"), params) or 0)

    new_players = await _by_day(conn, (
        f"SELECT {_DAY.format(column='created_at')}, count(*) FROM players "
        f"WHERE tenant_id = :tenant_id AND mode = :mode AND created_at >= :start "
        "GROUP BY 1"), params)
    stats = (await conn.execute(text(
        "SELECT day, count(DISTINCT player_id) FILTER (WHERE bets > 0), "
        "coalesce(sum(wagered - won) FILTER (WHERE rail = 'real' AND currency = :currency), 0) "
        "FROM player_stats_daily WHERE tenant_id = :tenant_id AND mode = :mode "
        "AND day >= :first_day GROUP BY day"), params)).all()
    active = {row[0]: int(row[1]) for row in stats}
    ggr = {row[0]: int(row[2]) for row in stats}
    winz = await _by_day(conn, (
        f"SELECT {_DAY.format(column='e.created_at')}, sum(p.amount) FROM ledger_accounts a "
        "JOIN ledger_postings p ON p.tenant_id = a.tenant_id AND p.account_id = a.id "
        "JOIN ledger_entries e ON e.tenant_id = p.tenant_id AND e.id = p.entry_id "
        "WHERE a.tenant_id = :tenant_id AND a.mode = :mode AND a.owner_type = 'player' "
        f"AND a.rail = 'winz' AND p.amount > 0 AND e.created_at >= :start GROUP BY 1"),
        params)
    bonus_cost = await _by_day(conn, (
        f"SELECT {_DAY.format(column='ended_at')}, sum(real_credited) FROM bonuses "
        "WHERE tenant_id = :tenant_id AND mode = :mode AND status = 'completed' "
        f"AND currency = :currency AND ended_at >= :start GROUP BY 1"), params)

    def series(key: str, title: str, kind: str, found: dict[date, int]) -> Series:
        return Series(key, title, kind, [found.get(day, 0) for day in days])

    board.series = [
        series("new_players", "New players", "count", new_players),
        series("active_players", "Active players", "count", active),
        series("ggr", "GGR (real money staked less won)", "money", ggr),
        series("bonus_cost", "Bonus cost (converted to real money)", "money", bonus_cost),
        series("winz_issued", "WINZ issued", "winz", winz),
    ]
    if service_mode == "white_label":
        for table, title in (("deposits", "Deposits"), ("withdrawals", "Withdrawals")):
            moved = await _by_day(conn, (
                f"SELECT {_DAY.format(column='settled_at')}, sum(amount) FROM {table} "
                "WHERE tenant_id = :tenant_id AND mode = :mode AND status = 'completed' "
                f"AND currency = :currency AND settled_at >= :start GROUP BY 1"), params)
            board.series.append(series(table, title, "money", moved))
    board.pools = await jackpots.listing(conn, realm, status=None, after=None,
                                         limit=POOLS_SHOWN)
    return board

"""A realm's VIP programme as data, and the arithmetic of XP, levels and periods.

Pure functions: no database, no clock. ``xp.py`` (the spine consumer), ``levels.py``,
``cashback.py`` and the views build on them.

- XP of a wager: ``amount × xp_per_unit`` per *whole unit* of the wager's currency,
  rounded down (1.99 USD at 10 XP per unit earns 19 XP), in exact integer arithmetic.
- The daily cap: per player and local calendar day, wagers earn XP in the order they
  are recorded until the day's total reaches ``xp_daily_cap``; the wager that reaches
  it earns only what is left.
- A player's level is the highest level whose ``xp_required`` their XP reaches. XP
  only moves a level up; a ladder edit re-places everyone (up or down).
- Cashback periods are local: a day, a week from Monday, a calendar month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from wowsino.engines.awards import Award
from wowsino.kernel.money import Asset


@dataclass(frozen=True)
class Level:
    level: int
    name: str
    xp_required: int
    cashback_pct: Decimal
    reward: Award | None = None


@dataclass(frozen=True)
class Programme:
    """A realm's VIP configuration (``vip_configs``)."""

    xp_per_unit: Decimal
    xp_daily_cap: int
    timezone: str
    cashback_period: str
    cashback_as: str
    cashback_template_id: UUID | None
    levels: tuple[Level, ...]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Programme:
        template = row.get("cashback_template_id")
        return cls(
            xp_per_unit=Decimal(str(row["xp_per_unit"])), xp_daily_cap=int(row["xp_daily_cap"]),
            timezone=row["timezone"], cashback_period=row.get("cashback_period") or "daily",
            cashback_as=row.get("cashback_as") or "bonus",
            cashback_template_id=None if template is None else UUID(str(template)),
            levels=tuple(stored_level(item) for item in row["levels"]))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base(self) -> Level:
        """The level everyone starts at (``xp_required`` 0)."""
        return self.levels[0]

    def level_for(self, xp: int) -> Level:
        """The highest level ``xp`` reaches."""
        reached = self.levels[0]
        for level in self.levels:
            if level.xp_required > xp:
                break
            reached = level
        return reached

    def find(self, number: int) -> Level | None:
        return next((level for level in self.levels if level.level == number), None)

    def above(self, number: int) -> Level | None:
        """The first level above level ``number``."""
        return next((level for level in self.levels if level.level > number), None)

    def crossed(self, before: int, after: int) -> list[Level]:
        """The levels a move from ``before`` up to ``after`` reaches (``before`` excluded)."""
        return [level for level in self.levels if before < level.level <= after]

    def promoted(self, level: int, xp: int) -> int:
        """The level of a player at ``level`` who now has ``xp``: XP only moves it up."""
        return max(level, self.level_for(xp).level)

    def xp_for(self, amount: int, currency: Asset) -> int:
        """XP earned by a stake of ``amount`` minor units of ``currency``."""
        return xp_for(amount, currency.scale, self.xp_per_unit)

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def period(self, day: date) -> tuple[date, date]:
        """The cashback period holding local ``day``: ``[start, end)``."""
        return period(self.cashback_period, day)


def stored_level(item: dict[str, Any]) -> Level:
    """A level as ``vip_configs.levels`` stores it."""
    reward = item.get("level_up_reward")
    return Level(
        level=int(item["level"]), name=str(item["name"]), xp_required=int(item["xp_required"]),
        cashback_pct=Decimal(str(item["cashback_pct"])),
        reward=None if reward is None else Award(
            winz=int(reward.get("winz") or 0), bonus_template=reward.get("bonus_template"),
            lootbox_id=reward.get("lootbox_id")))


def xp_for(amount: int, scale: int, xp_per_unit: Decimal) -> int:
    """``amount`` minor units (``scale`` decimals) × ``xp_per_unit``, rounded down, exactly."""
    numerator, denominator = xp_per_unit.as_integer_ratio()  # exact, as Fraction reads it
    return int(amount * numerator // (denominator * 10**scale))


def capped(earned: list[int], already: int, cap: int) -> list[int]:
    """What each of ``earned`` (one day's wagers, in order) is credited when the day
    already holds ``already`` XP: never more than ``cap`` in the day."""
    room = max(cap - already, 0)
    credited = []
    for xp in earned:
        take = min(xp, room)
        credited.append(take)
        room -= take
    return credited


def period(kind: str, day: date) -> tuple[date, date]:
    """The ``daily`` / ``weekly`` (Monday to Sunday) / ``monthly`` period of ``day``."""
    if kind == "daily":
        return day, day + timedelta(days=1)
    if kind == "weekly":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def progress(programme: Programme, level: int, xp: int) -> dict[str, Any]:
    """How far a player at ``level`` with ``xp`` is from the next level."""
    here = programme.find(level) or programme.level_for(xp)
    nxt = programme.above(here.level)
    if nxt is None:
        return {"next_level": None, "xp_to_next_level": 0, "progress_pct": Decimal(100)}
    span = nxt.xp_required - here.xp_required
    done = min(max(xp - here.xp_required, 0), span)
    pct = (Decimal(done) * 100 / span).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return {"next_level": {"level": nxt.level, "name": nxt.name,
                           "xp_required": nxt.xp_required},
            "xp_to_next_level": max(nxt.xp_required - xp, 0), "progress_pct": pct}

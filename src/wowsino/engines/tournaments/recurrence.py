"""Recurring tournaments: when the next instance of a daily or weekly series runs.

An instance repeats the wall-clock times of the one before it in the series' IANA time
zone: a daily tournament from 18:00 to 22:00 Europe/Malta runs 18:00–22:00 local time
every day, across daylight-saving changes (so 17:00–21:00 UTC in summer and 18:00–22:00
UTC in winter; a day with a clock change is 23 or 25 hours long). A local time that a
spring-forward change skips is read with the offset before the change (02:30 on that
night becomes 03:30); an ambiguous one (autumn) as its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from wowsino.kernel.errors import ValidationFailed

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
MAX_SKIPPED = 10_000  # periods a late close may skip over (27 years of dailies)


@dataclass(frozen=True, slots=True)
class Recurrence:
    every: str  # daily | weekly
    timezone: str

    def as_json(self) -> dict[str, str]:
        return {"every": self.every, "timezone": self.timezone}


def zone(name: str, *, field: str = "recurrence.timezone") -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Malta``, ``UTC``), or a 400 naming ``field``."""
    if not isinstance(name, str) or name not in _zones():
        raise ValidationFailed(f"{field}: not an IANA time zone name ({name!r})", field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"{field}: not an IANA time zone name ({name!r})",
                               field=field) from None


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def shift(moment: datetime, recurrence: Recurrence, periods: int = 1) -> datetime:
    """``moment`` moved ``periods`` days or weeks on in local wall-clock time (UTC out)."""
    tz = zone(recurrence.timezone)
    local = moment.astimezone(tz).replace(tzinfo=None) + PERIODS[recurrence.every] * periods
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def next_window(
    starts_at: datetime, ends_at: datetime, recurrence: Recurrence, *, after: datetime
) -> tuple[datetime, datetime]:
    """The window of the next instance after one that ran ``starts_at``–``ends_at``: one
    period on, or as many as needed for it to end after ``after`` (a close that came late
    skips the periods already over). ``OverflowError`` past the year 9999."""
    for periods in range(1, MAX_SKIPPED + 1):
        start, end = shift(starts_at, recurrence, periods), shift(ends_at, recurrence, periods)
        if end > after:
            return start, end
    raise ValueError("no next window within the bound")  # pragma: no cover - 27 years late


def check(starts_at: datetime, ends_at: datetime, recurrence: Recurrence) -> None:
    """A series' instances may not overlap: each must end before the next starts; and the
    next must fall inside the calendar."""
    try:
        following = shift(starts_at, recurrence)
        shift(ends_at, recurrence)
    except OverflowError:
        raise ValidationFailed("recurrence: the next instance would fall after the year 9999",
                               field="recurrence") from None
    if following < ends_at:
        raise ValidationFailed(
            f"recurrence: a {recurrence.every} tournament must end before its next instance "
            "starts (ends_at - starts_at at most one period)", field="recurrence")

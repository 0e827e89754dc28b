"""When a campaign runs: ``"once"`` (only when asked), weekly at a local time, or a cron
expression, each in an IANA time zone.

A weekly schedule is the cron expression ``M H * * D``; both are evaluated by cronsim
(Debian cron's rules, DST-correct): a local time that happens twice when the clocks go
back runs once, at its first occurrence; one that does not exist when they go forward
runs as the clocks jump (``02:30`` on the night they jump from 02:00 to 03:00 runs at
03:00 local).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from wowsino.kernel.errors import ValidationFailed

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron numbers them from 0
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*,/#\-]+$")


def _zone(name: Any, field: str) -> ZoneInfo:
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise ValidationFailed(f"{field}: an IANA time zone such as Europe/Malta", field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"{field}: unknown time zone {name!r}", field=field) from None


def normalise(raw: Any) -> str | dict[str, Any]:
    """The stored form of a schedule from the request, or 400 naming ``schedule.…``."""
    if raw == "once":
        return "once"
    if isinstance(raw, dict) and set(raw) == {"weekly"} and isinstance(raw["weekly"], dict):
        weekly = raw["weekly"]
        unknown = set(weekly) - {"day", "time", "tz"}
        if unknown:
            raise ValidationFailed(f"schedule.weekly: unknown field {sorted(unknown)[0]}",
                                   field="schedule.weekly")
        day = weekly.get("day")
        if not isinstance(day, str) or day.lower()[:3] not in DAYS or len(day) < 3:
            raise ValidationFailed("schedule.weekly.day: mon, tue, wed, thu, fri, sat or sun",
                                   field="schedule.weekly.day")
        time = weekly.get("time")
        if not isinstance(time, str) or not _TIME.match(time):
            raise ValidationFailed("schedule.weekly.time: HH:MM, 24-hour local time",
                                   field="schedule.weekly.time")
        tz = weekly.get("tz", "UTC")
        _zone(tz, "schedule.weekly.tz")
        return {"weekly": {"day": day.lower()[:3], "time": time, "tz": tz}}
    if isinstance(raw, dict) and "cron" in raw and set(raw) <= {"cron", "tz"}:
        expr, tz = raw["cron"], raw.get("tz", "UTC")
        _zone(tz, "schedule.tz")
        _check_cron(expr)
        return {"cron": " ".join(expr.split()), "tz": tz}
    raise ValidationFailed('schedule: "once", {"weekly": {day, time, tz}} or {"cron", "tz"}',
                           field="schedule")


def _check_cron(expr: Any) -> None:
    fields = expr.split() if isinstance(expr, str) and len(expr) <= 200 else []
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValidationFailed("schedule.cron: five fields: minute hour day month weekday",
                               field="schedule.cron")
    try:
        next(CronSim(expr, datetime(2026, 1, 1, tzinfo=UTC)))
    except (CronSimError, StopIteration, ValueError) as exc:
        raise ValidationFailed(f"schedule.cron: {exc or 'never runs'}",
                               field="schedule.cron") from None


def cron_of(schedule: str | dict[str, Any]) -> tuple[str, ZoneInfo] | None:
    """The cron expression and zone of a repeating schedule (None for ``once``)."""
    if schedule == "once" or not isinstance(schedule, dict):
        return None
    if "weekly" in schedule:
        weekly = schedule["weekly"]
        hour, minute = (int(x) for x in weekly["time"].split(":"))
        return f"{minute} {hour} * * {DAYS.index(weekly['day'])}", ZoneInfo(weekly["tz"])
    return schedule["cron"], ZoneInfo(schedule["tz"])


def next_after(schedule: str | dict[str, Any], moment: datetime) -> datetime | None:
    """The first scheduled time strictly after ``moment`` (UTC), or None."""
    found = cron_of(schedule)
    if found is None:
        return None
    expr, zone = found
    try:
        return next(CronSim(expr, moment.astimezone(zone))).astimezone(UTC)
    except StopIteration:
        return None


def between(schedule: str | dict[str, Any], start: datetime, end: datetime,
            limit: int) -> list[datetime]:
    """The scheduled times in ``(start, end]`` (UTC), at most ``limit`` + 1 of them."""
    found = cron_of(schedule)
    if found is None:
        return []
    expr, zone = found
    times: list[datetime] = []
    for moment in CronSim(expr, start.astimezone(zone)):
        at = moment.astimezone(UTC)
        if at > end or len(times) > limit:
            break
        times.append(at)
    return times

"""What request bodies share: partial updates (PATCH) where ``null`` is not "no change", and
times that must fit the calendar once in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, field_validator


def _present(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null (leave the field out to keep its value)")
    return value


def refuse_null(*fields: str) -> Any:
    """A validator for a PATCH model: an explicit ``null`` on ``fields`` is a 400 naming the
    field (those fields are optional only so that they may be left out)."""
    return field_validator(*fields, mode="before")(_present)


def utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive time is read as UTC); ``ValueError`` for a time whose UTC
    form falls outside the calendar (``9999-12-31T23:59:59-14:00``)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range: the time in UTC must fall within years 1 to 9999") \
            from None


# A time in a body or query: ISO-8601 with its offset, normalised to UTC (400 when that
# overflows the calendar).
Instant = Annotated[AwareDatetime, AfterValidator(utc)]

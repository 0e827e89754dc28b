"""The one way to paginate: ``?limit=`` (default 50, max 500) and an opaque ``?cursor=``.

Every list is keyset-paginated, newest first, on a tuple of columns. A list declares its
order once as a :class:`Keyset` (the columns and the kind of each value); the keyset
decodes and type-checks a cursor (a forged one is a 400 naming ``cursor``, never a
database error), writes the ``WHERE (…) < (…)`` and ``ORDER BY`` clauses and makes the
next page's cursor.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query

from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.jsonio import dumps, loads

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 1024  # an issued cursor is well under 200 characters

Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="1–500, default 50")]  # ?limit=


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit: between 1 and {MAX_LIMIT}", field="limit")
    return limit


def _foreign() -> ValidationFailed:
    return ValidationFailed("cursor: not a cursor this API issued", field="cursor")


@dataclass(frozen=True)
class Kind:
    """One value of a cursor: its SQL type and how the decoded JSON value is read
    (``read`` raises ``ValueError``/``TypeError``/``OverflowError`` for a foreign value)."""

    sql_type: str
    read: Callable[[Any], Any]


def _instant(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise TypeError("an instant is an ISO-8601 string")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("an instant carries its offset")
    return moment.astimezone(UTC)  # OverflowError at the edges of the calendar


def _uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise TypeError("a UUID is a string")
    return uuid.UUID(value)


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def read(value: Any) -> int:
        if type(value) is not int or not low <= value <= high:
            raise ValueError("an integer in range")
        return value
    return read


def one_of(*values: str) -> Kind:
    """A cursor value that is one of a few fixed strings (e.g. a source name)."""
    def read(value: Any) -> str:
        if value not in values or not isinstance(value, str):
            raise ValueError("not one of the known values")
        return value
    return Kind("text", read)


INSTANT = Kind("timestamptz", _instant)
UUID = Kind("uuid", _uuid)
BIGINT = Kind("bigint", _integer(-(2**63), 2**63 - 1))
INTEGER = Kind("integer", _integer(-(2**31), 2**31 - 1))


@dataclass(frozen=True)
class Keyset:
    """A list's order: the columns it is sorted on (all descending) and their kinds.

    The rows a list pages over carry each column under the same name, so the keyset can
    make the next cursor from the last row shown.
    """

    columns: tuple[str, ...]
    kinds: tuple[Kind, ...]

    def __post_init__(self) -> None:
        assert len(self.columns) == len(self.kinds)

    def decode(self, cursor: str | None) -> tuple[Any, ...] | None:
        """The typed position inside ``cursor`` (``None`` for the first page), or 400."""
        position = decode_cursor(cursor, len(self.kinds))
        if position is None:
            return None
        try:
            return tuple(kind.read(value) for kind, value in zip(self.kinds, position, strict=True))
        except (ValueError, TypeError, OverflowError):
            raise _foreign() from None

    def before(self, after: tuple[Any, ...], params: dict[str, Any], alias: str = "") -> str:
        """``(cols) < (values)`` for rows after ``after`` in this order; adds its parameters
        (``:after_0``, …) to ``params``."""
        prefix = f"{alias}." if alias else ""
        columns = ", ".join(prefix + c for c in self.columns)
        values = ", ".join(f"CAST(:after_{i} AS {kind.sql_type})"
                           for i, kind in enumerate(self.kinds))
        params.update({f"after_{i}": value for i, value in enumerate(after)})
        return f"({columns}) < ({values})"

    def order(self, alias: str = "") -> str:
        """The ``ORDER BY`` list, newest first."""
        prefix = f"{alias}." if alias else ""
        return ", ".join(f"{prefix}{c} DESC" for c in self.columns)

    def page(self, rows: list[Any], limit: int) -> dict[str, Any]:
        """``{data, next_cursor}`` from ``limit + 1`` fetched rows."""
        return page(rows, limit, lambda row: [row[c] for c in self.columns])


NEWEST = Keyset(("created_at", "id"), (INSTANT, UUID))  # lists of rows with a UUID id
BY_ID = Keyset(("id",), (BIGINT,))  # append-only logs with a bigint id


def encode_cursor(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[Any] | None:
    """The raw JSON list inside ``cursor`` (``size`` values), or 400; lists read their
    cursors through :meth:`Keyset.decode`, which also checks every value's kind."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise _foreign()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = loads(raw)
    except Exception:
        raise _foreign() from None
    if not isinstance(position, list) or len(position) != size:
        raise _foreign()
    return position


def page(rows: list[Any], limit: int, position: Callable[[Any], list[Any]]) -> dict[str, Any]:
    """``{data, next_cursor}`` from ``limit + 1`` fetched rows; ``position(row)`` makes cursors."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": rows,
        "next_cursor": encode_cursor(position(rows[-1])) if more and rows else None,
    }


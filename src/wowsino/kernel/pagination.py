"""The one way to paginate: ``?limit=`` (default 50, max 500) and an opaque ``?cursor=``."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import Query

from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.jsonio import dumps, loads

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="1–500, default 50")]  # ?limit=


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit: between 1 and {MAX_LIMIT}", field="limit")
    return limit


def encode_cursor(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[Any] | None:
    """The position inside ``cursor`` (a list of ``size`` values), or 400."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = loads(raw)
    except Exception:
        raise ValidationFailed("cursor: not a cursor this API issued", field="cursor") from None
    if not isinstance(position, list) or len(position) != size:
        raise ValidationFailed("cursor: not a cursor this API issued", field="cursor")
    return position


def page(rows: list[Any], limit: int, position: Any) -> dict[str, Any]:
    """``{data, next_cursor}`` from ``limit + 1`` fetched rows; ``position(row)`` makes cursors."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": rows,
        "next_cursor": encode_cursor(position(rows[-1])) if more and rows else None,
    }

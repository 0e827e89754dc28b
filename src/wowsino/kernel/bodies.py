"""What request bodies share: partial updates (PATCH) where ``null`` is not "no change"."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator


def _present(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null (leave the field out to keep its value)")
    return value


def refuse_null(*fields: str) -> Any:
    """A validator for a PATCH model: an explicit ``null`` on ``fields`` is a 400 naming the
    field (those fields are optional only so that they may be left out)."""
    return field_validator(*fields, mode="before")(_present)

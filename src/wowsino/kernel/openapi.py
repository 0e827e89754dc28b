"""What the OpenAPI document says about nulls: an absent value is absent, not ``null``.

Partial updates take ``field: T | None = None`` so that "absent" means "unchanged";
for the fields whose service refuses an explicit ``null``, the document must not
offer one either, so generated clients and fuzzers send what the server takes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NULL = {"type": "null"}


def without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, null]`` as ``X`` (keeping title, description and a non-null default)."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or NULL not in options:
        return schema
    kept = [o for o in options if o != NULL]
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    if len(kept) != 1:
        return {**rest, "anyOf": kept}
    if "$ref" in kept[0]:
        rest.pop("title", None)
    return {**kept[0], **rest}


def never_null(*fields: str) -> Callable[[dict[str, Any]], None]:
    """A model's ``json_schema_extra``: ``fields`` (where present) never take ``null``."""

    def strip(schema: dict[str, Any]) -> None:
        properties = schema.get("properties", {})
        for name in fields:
            if name in properties:
                properties[name] = without_null(properties[name])

    return strip

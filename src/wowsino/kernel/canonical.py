"""Canonical JSON and hashing, for request fingerprints and hash chains."""

from __future__ import annotations

import hashlib
import math
from decimal import Decimal
from typing import Any

import simplejson

from wowsino.kernel.jsonio import json_default, orjson_first

# PostgreSQL's numeric holds at most this many digits before the decimal point.
_NUMERIC_MAX_INTEGER_DIGITS = 131072


def _as_stored(value: Any) -> Any:
    """``value`` with every number as a jsonb column gives it back (PostgreSQL numeric):
    no negative zero, no positive exponent, floats as their decimal text. A value
    then hashes the same before it is written and after it is read back."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:  # most of a document
        return value
    if isinstance(value, dict):
        return {k: _as_stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_as_stored(v) for v in value]
    if isinstance(value, float):
        return _as_stored(Decimal(repr(value))) if math.isfinite(value) else value
    if isinstance(value, Decimal) and value.is_finite():
        sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        if 0 < exponent <= _NUMERIC_MAX_INTEGER_DIGITS:
            digits, exponent = digits + (0,) * exponent, 0
        return Decimal((sign if any(digits) else 0, digits, exponent))
    return value


# built once (see ``jsonio._ENCODER``): the definition of the canonical form
_CANONICAL = simplejson.JSONEncoder(
    use_decimal=True, default=json_default, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)


def canonical(value: Any) -> bytes:
    """Stable bytes for ``value``: sorted keys, no whitespace, exact decimals."""
    # written by orjson where it can: the same bytes (a property test holds the two together)
    return orjson_first(_as_stored(value), _CANONICAL, sort_keys=True)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def fingerprint(value: Any) -> bytes:
    return sha256(canonical(value))

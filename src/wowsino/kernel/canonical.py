"""Canonical JSON and hashing, for request fingerprints and hash chains."""

from __future__ import annotations

import hashlib
from typing import Any

import simplejson

from wowsino.kernel.jsonio import json_default


def canonical(value: Any) -> bytes:
    """Stable bytes for ``value``: sorted keys, no whitespace, exact decimals."""
    return simplejson.dumps(
        value,
        use_decimal=True,
        default=json_default,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def fingerprint(value: Any) -> bytes:
    return sha256(canonical(value))

"""Identifiers: time-ordered UUIDs (v7) so inserts stay index-friendly."""

from __future__ import annotations

import hmac
import os
import re
import time
import uuid

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


def new_id() -> uuid.UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, then randomness."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def parse_uuid(raw: str) -> uuid.UUID | None:
    """The UUID in ``raw``, or None when it is not one."""
    try:
        return uuid.UUID(raw)
    except (ValueError, AttributeError):
        return None


def visible_ascii(value: str, max_length: int) -> bool:
    """Whether ``value`` is 1 to ``max_length`` visible ASCII characters (``!`` to ``~``):
    what a client-chosen id must be to be echoed safely in a response header."""
    return 0 < len(value) <= max_length and _VISIBLE_ASCII.fullmatch(value) is not None


def same_secret(given: str, expected: str) -> bool:
    """Whether a secret a client sent (a token, a signature, a code) is ``expected``, in
    constant time. Compared as UTF-8 bytes: ``hmac.compare_digest`` raises on a ``str``
    with a character outside ASCII, which a header or a form may carry."""
    return hmac.compare_digest(given.encode(), expected.encode())

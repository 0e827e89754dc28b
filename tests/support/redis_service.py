"""The machine's Redis for the tests that need one (``WOWSINO_TEST_REDIS_URL``, by default
127.0.0.1:6379): they run when it answers and skip, saying why, when it does not."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("WOWSINO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_reachable(url: str = REDIS_URL) -> bool:
    """Whether a Redis answers PING at ``url``."""
    where = urlsplit(url)
    try:
        with socket.create_connection((where.hostname or "127.0.0.1", where.port or 6379),
                                      timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def require_redis() -> str:
    """The test Redis's URL, or skip the test when none answers."""
    if not redis_reachable():
        pytest.skip(f"no Redis answers at {REDIS_URL} (set WOWSINO_TEST_REDIS_URL)")
    return REDIS_URL

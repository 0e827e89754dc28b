"""Resolved API keys kept in process, dropped the moment a key, tenant or brand changes.

A change to ``api_keys``, ``tenants`` or ``brands`` (a revocation, a suspension, new
scopes or rate limits, a renamed brand) notifies channel ``wowsino_keys`` at commit,
from a trigger, whatever process or tool made it. Each API process listens on a
connection of its own and empties its cache on every notification; the process that
made the change also empties its own at once, after its commit. Two bounds hold
even if a notification were lost: an entry lives ``ttl`` seconds at most, and
nothing is cached while the listening connection is down.

A lookup that was running when the cache was emptied does not store its (possibly
older) answer: ``put`` takes the ``generation`` read before the lookup started.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Generic, TypeVar

import asyncpg

from wowsino.kernel.db import plain_url

CHANNEL = "wowsino_keys"
FALLBACK_TTL = 5.0  # seconds an entry may live without any notification
MAX_ENTRIES = 10_000
RECONNECT_AFTER = 1.0  # seconds between attempts to listen again

log = logging.getLogger("wowsino.keys")

V = TypeVar("V")


class KeyCache(Generic[V]):
    """Values by key hash, valid while the listener is connected and for ``ttl`` seconds."""

    def __init__(self, database_url: str, *, ttl: float = FALLBACK_TTL) -> None:
        self._url = plain_url(database_url)
        self.ttl = ttl
        self.generation = 0  # bumped by every invalidation
        self._entries: dict[bytes, tuple[float, V]] = {}
        self._listener: Any = None  # the asyncpg connection that LISTENs, when up
        self._connecting: asyncio.Task[None] | None = None
        self._last_attempt = 0.0
        self._started = False

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    def get(self, key_hash: bytes) -> V | None:
        """The cached value, or None (never cached, expired, or not listening)."""
        if not self.listening:
            self._reconnect_soon()
            return None
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key_hash]
            return None
        return entry[1]

    def put(self, key_hash: bytes, value: V, generation: int) -> None:
        """Keep ``value`` if nothing was invalidated since ``generation`` was read."""
        if generation != self.generation or not self.listening:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_hash] = (time.monotonic() + self.ttl, value)

    def invalidate(self, *_: Any) -> None:
        """Forget every entry (also the listener's callback: any notification)."""
        self.generation += 1
        self._entries.clear()

    async def start(self) -> None:
        """Listen (caching starts once listening); a failure leaves the cache off for now."""
        self._started = True
        await self._listen()

    async def close(self) -> None:
        self._started = False
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
            self._connecting = None
        listener, self._listener = self._listener, None
        self.invalidate()
        if listener is not None and not listener.is_closed():
            try:
                await asyncio.wait_for(listener.close(), timeout=5)
            except Exception:
                listener.terminate()

    async def _listen(self) -> None:
        self._last_attempt = time.monotonic()
        try:
            conn = await asyncpg.connect(
                self._url, timeout=10, server_settings={"application_name": "wowsino-keys"})
        except Exception as exc:
            log.warning("key cache off: cannot listen for key changes (%s)", type(exc).__name__)
            return
        try:
            await conn.add_listener(CHANNEL, self.invalidate)
        except Exception:
            conn.terminate()
            raise
        conn.add_termination_listener(self._lost)
        self._listener = conn
        self.invalidate()  # a lookup begun before LISTEN may have missed a change

    def _lost(self, conn: Any) -> None:
        if conn is self._listener:
            self._listener = None
        self.invalidate()

    def _reconnect_soon(self) -> None:
        if (not self._started or (self._connecting is not None and not self._connecting.done())
                or time.monotonic() - self._last_attempt < RECONNECT_AFTER):
            return
        self._connecting = asyncio.get_running_loop().create_task(self._listen())

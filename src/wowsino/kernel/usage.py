"""API call metering per realm and day: counted in memory, flushed in batches so
metering never adds a write to a request."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from wowsino.kernel.clock import Clock
from wowsino.kernel.realm import Realm


class UsageMeter:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._pending: Counter[tuple[Any, str, date]] = Counter()
        self._lock = threading.Lock()

    def count(self, realm: Realm) -> None:
        with self._lock:
            self._pending[(realm.tenant_id, realm.mode.value, self.clock.now().date())] += 1

    @property
    def pending(self) -> int:
        """Calls counted and not saved yet."""
        with self._lock:
            return sum(self._pending.values())

    async def flush(self, engine: AsyncEngine) -> int:
        """Write the pending counts; returns how many calls were flushed. When the write
        fails (the database is down) the counts stay pending for the next flush, and the
        error propagates."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return 0
        try:
            async with engine.begin() as conn:
                for (tenant_id, mode, day), calls in sorted(pending.items(), key=str):
                    await conn.execute(
                        text("INSERT INTO usage_counters (tenant_id, mode, day, api_calls) "
                             "VALUES (:t, :m, :d, :n) ON CONFLICT (tenant_id, mode, day) DO "
                             "UPDATE SET api_calls = usage_counters.api_calls + "
                             "EXCLUDED.api_calls"),
                        {"t": tenant_id, "m": mode, "d": day, "n": calls},
                    )
        except BaseException:
            with self._lock:
                self._pending.update(pending)
            raise
        return sum(pending.values())

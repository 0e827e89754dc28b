"""Writes deferred to the stored response never outlive a savepoint rolled back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel import wire
from wowsino.kernel.db import unit_of_work


async def test_a_rolled_back_savepoint_takes_its_deferred_writes_back(engine: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE wire_probe (v int NOT NULL)"))
    insert = "INSERT INTO wire_probe (v) VALUES (:v)"

    async def work(conn: AsyncConnection) -> None:
        async with wire.deferring(conn):
            await wire.defer(conn, (insert, {"v": 1}))
            try:
                async with wire.savepoint(conn):
                    await wire.defer(conn, (insert, {"v": 2}))
                    raise RuntimeError("the savepoint's work fails")
            except RuntimeError:
                pass
            async with wire.savepoint(conn):
                await wire.defer(conn, (insert, {"v": 3}))
            await wire.defer(conn, (insert, {"v": 4}))
            await wire.flush(conn)

    await unit_of_work(engine, work)
    async with engine.connect() as conn:
        values = (await conn.execute(text("SELECT v FROM wire_probe ORDER BY v"))).scalars()
        assert list(values) == [1, 3, 4]

from __future__ import annotations
import asyncio, random
from typing import Any
import httpx
from sqlalchemy import text
from tests.conftest import Tenant
from tests.integration.test_jackpots import unthrottle, make_jackpot, contribute, show
from tests.integration.support import create_player
from wowsino.engines.jackpots import service


async def test_probe(client: httpx.AsyncClient, tenant: Tenant, engine: Any, monkeypatch) -> None:
    calls = {"n": 0}
    orig = service._contribute_exclusively
    async def counting(*a, **k):
        calls["n"] += 1
        return await orig(*a, **k)
    monkeypatch.setattr(service, "_contribute_exclusively", counting)
    await unthrottle(client, tenant)
    for must in (1_000_000, 20):
        calls["n"] = 0
        jackpot = await make_jackpot(tenant, seed_usd=10, must_drop_at=must)
        names = [f"p{i:02d}" for i in range(30)]
        if must != 20:
            for name in names:
                await create_player(tenant, name)
        rng = random.Random(11)
        cents = [rng.randint(1, 150) for _ in range(200)]
        rs = await asyncio.gather(*(contribute(tenant, jackpot["id"], names[i % 30], f"w{must}-{i}", c / 100) for i, c in enumerate(cents)))
        async with engine.connect() as conn:
            used = await conn.scalar(text("SELECT count(*) FROM jackpot_stripes WHERE jackpot_id = CAST(:j AS uuid) AND contributed > 0"), {"j": jackpot["id"]})
        print("must", must, "exclusive", calls["n"], "stripes used", used, set(r.status_code for r in rs))

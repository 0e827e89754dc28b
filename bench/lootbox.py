"""Lootbox opens over real HTTP: opens/s with p50/p99 latency at a fixed concurrency.

``wowsino serve --no-worker`` runs as a subprocess on a fresh database. A tenant,
a lootbox with a five-segment WINZ/XP prize table and one player per client are
created through the API; then each client opens the box for its player in a loop
(a fresh idempotency key each time: every open is a real draw with a seed
rotation, a ledger credit, an outbox event and a stored response). The
reference is the same clients on the bare ``GET /healthz``, alternating in
rounds; the line ends with the ratio.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import httpx

from bench.api import Latencies, _drive, api_server, bench_tenant
from bench.server import analyze

CLIENTS = 16
SECONDS = 12.0
ROUNDS = 3
PRIZES = [
    {"segment_label": "5 WINZ", "weight": 50, "asset": "WINZ", "amount": 5},
    {"segment_label": "25 WINZ", "weight": 25, "asset": "WINZ", "amount": 25},
    {"segment_label": "100 XP", "weight": 15, "asset": "XP", "amount": 100},
    {"segment_label": "250 WINZ", "weight": 9, "asset": "WINZ", "amount": 250},
    {"segment_label": "5000 WINZ", "weight": 1, "asset": "WINZ", "amount": 5000},
]


async def _prepare(base: str, token: str, clients: int) -> tuple[dict[str, str], str]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as setup:
        key = await bench_tenant(setup, token, "lootbench")
        box = await setup.post("/v1/lootbox", headers=key,
                               json={"name": "Daily box", "prize_table": PRIZES})
        box.raise_for_status()
        for i in range(clients):
            (await setup.post("/v1/players", headers=key, json={
                "username": f"opener{i}", "email": f"opener{i}@example.com"})).raise_for_status()
    return key, str(box.json()["lootbox"]["id"])


def summary(opens: Latencies, bare: Latencies, clients: int) -> str:
    ratio = opens.per_second / bare.per_second if bare.per_second else 0.0
    return (f"lootbox: {opens.per_second:,.0f} opens/s, p50 {opens.quantile(0.5) * 1000:.1f} ms, "
            f"p99 {opens.quantile(0.99) * 1000:.1f} ms ({clients} clients, {opens.errors} errors); "
            f"healthz {bare.per_second:,.0f} req/s, ratio {ratio:.2f}")


async def run(url: str, *, clients: int = CLIENTS, seconds: float = SECONDS) -> str:
    """Measure, print and return the lootbox line (``url``: a fresh, empty database)."""
    with tempfile.TemporaryDirectory(prefix="wowsino-lootbox-") as tmp, \
            api_server(url, Path(tmp)) as (base, token, _pid):
        key, box_id = await _prepare(base, token, clients)

        async def open_box(client: httpx.AsyncClient, index: int, step: int,
                           rng: random.Random) -> httpx.Response:
            return await client.post(f"/v1/lootbox/{box_id}/open", headers=key,
                                     json={"user_id": f"opener{index}"})

        async def healthz(client: httpx.AsyncClient, index: int, step: int,
                          rng: random.Random) -> httpx.Response:
            return await client.get("/healthz")

        pool = [httpx.AsyncClient(base_url=base, timeout=30) for _ in range(clients)]
        try:
            await _drive(pool, 0.5, open_box, Latencies(), seed=99)  # warm connections and plans
            await _drive(pool, 0.5, healthz, Latencies(), seed=99)
            await analyze(url)
            opens, bare = Latencies(), Latencies()
            for i in range(ROUNDS):
                await _drive(pool, seconds / ROUNDS, open_box, opens, seed=i)
                await _drive(pool, seconds / ROUNDS, healthz, bare, seed=i)
        finally:
            for client in pool:
                await client.aclose()
    line = summary(opens, bare, clients)
    print(line, flush=True)
    return line

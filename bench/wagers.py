"""Wager events/s over real HTTP, one by one and in batches of 500, against pgbench's
single-transfer tps measured on the same server in the same run.

``wowsino serve --no-worker`` runs as a subprocess on a fresh database, which also
holds pgbench's mirror of the ledger tables (``bench.ledger``). Two plug-in tenants
run on it, each with 256 players:

- **the spine** ("spinebench"): each player has an active bonus to wager (so every
  event does bonus-wagering work: a locked bonus row, a contribution row, a progress
  update) and the tenant has a jackpot pool with a ``contribution_pct`` (so every
  event also contributes to a pool). Every consumer is registered; these two, with
  the activity statistics, are the ones with work to do.
- **every consumer** ("wagerbench"): the same, and the tenant also runs a VIP
  programme (XP on every real-money wager), a race scored on stakes and a journey
  that every wager enters and advances, so every consumer of the spine works on
  every event.

Single events come from ``wrk`` (C, one thread, 16 connections, a random player and a
fresh ``source_wager_id`` per request: the load generator stays far below a core);
batches come from 16 Python clients, each sending events for its own 16 players (an
operator shards its event stream by player). pgbench and each tenant's single events
and batches alternate in rounds. The lines::

    wager events (single): <n>/s, p50 <ms>, p99 <ms>, pgbench <tps> tps, ratio <x>
    wager events (batch 500): <n>/s, pgbench <tps> tps, ratio <x>
    wager events, every consumer (single): <n>/s, p50 <ms>, p99 <ms>, pgbench <tps> tps, ratio <x>
    wager events, every consumer (batch 500): <n>/s, pgbench <tps> tps, ratio <x>
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench import ledger
from bench.adjustments import WRK_COMMON, Load, _wrk
from bench.api import ADMIN_HEADER, Latencies, _drive, api_server, bench_tenant
from bench.server import analyze

CLIENTS = 16
PLAYERS_PER_CLIENT = 16
BATCH = 500
SECONDS = 12
ROUNDS = 3


TENANTS = {"": "spinebench", ", every consumer": "wagerbench"}  # line label -> tenant


async def _prepare(base: str, token: str, slug: str, *, every_consumer: bool
                   ) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as setup:
        key = await bench_tenant(setup, token, slug)
        (await setup.post("/v1/jackpots", headers=key, json={
            "name": "Progressive", "currency": "USD", "seed_usd": 1000,
            "contribution_pct": "0.5"})).raise_for_status()
        made = await setup.post("/v1/bonus-templates", headers=key, json={
            "name": "Bench bonus", "type": "no_deposit", "amount": "10.00",
            "wagering_multiple": 200, "game_weights": {"slots": 1, "table": "0.1"}})
        made.raise_for_status()
        template_id = made.json()["template"]["id"]
        if every_consumer:
            await _every_consumer(setup, key)
        for i in range(CLIENTS * PLAYERS_PER_CLIENT):
            (await setup.post("/v1/players", headers=key, json={
                "username": f"bettor{i}", "email": f"bettor{i}@example.com"})).raise_for_status()
            (await setup.post("/v1/bonuses/grant", headers=key, json={
                "player_id": f"bettor{i}", "template": template_id})).raise_for_status()
    return key


async def _every_consumer(setup: httpx.AsyncClient, key: dict[str, str]) -> None:
    """Work for every other consumer of the spine: a VIP programme (XP on every real-money
    wager, levels to reach), a running race scored on stakes and a journey that wagers
    enter and advance."""
    now = datetime.now(UTC)
    (await setup.put("/v1/vip", headers=key, json={
        "xp_per_unit": 1, "xp_daily_cap": 10_000_000, "timezone": "UTC",
        "cashback_period": "weekly", "cashback_as": "real",
        "levels": [{"level": 1, "name": "Bronze", "xp_required": 0, "cashback_pct": 0},
                   {"level": 2, "name": "Silver", "xp_required": 500, "cashback_pct": 1},
                   {"level": 3, "name": "Gold", "xp_required": 5_000,
                    "cashback_pct": 2}]})).raise_for_status()
    (await setup.post("/v1/tournaments", headers=key, json={
        "name": "Bench race", "scoring": "sum_wagered",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
        "prize_table": [{"rank_from": 1, "rank_to": 3,
                         "prize": {"asset": "WINZ", "amount": 1000}}]})).raise_for_status()
    (await setup.post("/v1/journeys", headers=key, json={
        "name": "Bench mission", "entry_trigger": "wager",
        "steps": [{"trigger": "wager", "count": 10_000}],
        "reward_winz": 100})).raise_for_status()


def _event(index: int, rng: random.Random, wager_id: str) -> dict[str, object]:
    player = index * PLAYERS_PER_CLIENT + rng.randrange(PLAYERS_PER_CLIENT)
    return {"user_id": f"bettor{player}", "source_wager_id": wager_id,
            "amount": f"{rng.randint(10, 500) / 100:.2f}", "currency": "USD",
            "win_amount": f"{rng.randint(0, 800) / 100:.2f}",
            "game_category": rng.choice(("slots", "slots", "table"))}


WRK_SCRIPT = r"""
local headers = {["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json"}
local categories = {"slots", "slots", "table"}
local sent = 0

local function money(cents)
  return string.format("%%d.%%02d", math.floor(cents / 100), cents %% 100)
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"user_id": "bettor%%d", "source_wager_id": "s-%%d-%%d", "amount": "%%s", ' ..
    '"currency": "USD", "win_amount": "%%s", "game_category": "%%s"}',
    math.random(0, %(players)d - 1), seed, sent, money(math.random(10, 500)),
    money(math.random(0, 800)), categories[math.random(#categories)])
  return wrk.format("POST", "/v1/events/wager", headers, body)
end
""" + WRK_COMMON


def lines(label: str, single: Load, batches: Latencies, pgbench: ledger.Throughput
          ) -> list[str]:
    tps = pgbench.per_second
    batched = batches.per_second * BATCH
    p50 = sorted(single.p50 or [0])[len(single.p50 or [0]) // 2] / 1000
    p99 = max(single.p99 or [0]) / 1000
    return [
        f"wager events{label} (single): {single.per_second:,.0f}/s, p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms, pgbench {tps:,.0f} tps, "
        f"ratio {single.per_second / tps if tps else 0:.2f}",
        f"wager events{label} (batch {BATCH}): {batched:,.0f}/s, pgbench {tps:,.0f} tps, "
        f"ratio {batched / tps if tps else 0:.2f}",
    ]


@dataclass
class _Tenant:
    """One bench tenant: its key, its wrk script, what was measured of it."""

    label: str
    key: dict[str, str]
    script: Path
    singles: Load = field(default_factory=Load)
    batches: Latencies = field(default_factory=Latencies)


async def run(url: str, *, clients: int = CLIENTS, seconds: int = SECONDS) -> str:
    """Measure, print and return the wager lines (``url``: a fresh, empty database)."""
    with tempfile.TemporaryDirectory(prefix="wowsino-wagers-") as tmp:
        setup = await ledger.prepare(url, Path(tmp), players=1000, clients=clients)
        with api_server(url, Path(tmp)) as (base, token, _pid):
            tenants = []
            for label, slug in TENANTS.items():
                key = await _prepare(base, token, slug, every_consumer=bool(label))
                script = Path(tmp) / f"{slug}.lua"
                script.write_text(WRK_SCRIPT % {
                    "key": key[ADMIN_HEADER].removeprefix("Bearer "),
                    "players": clients * PLAYERS_PER_CLIENT})
                tenants.append(_Tenant(label, key, script))

            def batch_of(tenant: _Tenant) -> Callable[..., Awaitable[httpx.Response]]:
                async def batch(client: httpx.AsyncClient, index: int, step: int,
                                rng: random.Random) -> httpx.Response:
                    events = [_event(index, rng, f"b-{index}-{rng.getrandbits(64):x}")
                              for _ in range(BATCH)]
                    return await client.post("/v1/events/wager:batch", headers=tenant.key,
                                             json={"events": events})
                return batch

            pool = [httpx.AsyncClient(base_url=base, timeout=120) for _ in range(clients)]
            try:
                for tenant in tenants:  # warm up
                    await _wrk(base, tenant.script, 1, Load(), clients=clients)
                    await _drive(pool, 0.5, batch_of(tenant), Latencies(), seed=998)
                await analyze(url)
                pgbench = ledger.Throughput(0, 0.0)
                span = max(1, seconds // ROUNDS)
                for i in range(ROUNDS):
                    pgbench += await ledger._pgbench(setup, clients=clients, seconds=span,
                                                     jobs=2)
                    for tenant in tenants if i % 2 == 0 else tenants[::-1]:
                        await _wrk(base, tenant.script, span, tenant.singles, clients=clients)
                        await _drive(pool, span, batch_of(tenant), tenant.batches,
                                     seed=100 + i)
            finally:
                for client in pool:
                    await client.aclose()
    out = [line for tenant in tenants
           for line in lines(tenant.label, tenant.singles, tenant.batches, pgbench)]
    for line in out:
        print(line, flush=True)
    return "\n".join(out)

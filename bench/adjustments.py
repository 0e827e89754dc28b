"""Adjustments over HTTP against pgbench's single transfer, and round trips per request kind.

Three parts, each with its own ``wowsino serve --no-worker``:

1. Round trips. The API's database connections go through a relay that counts
   every exchange with PostgreSQL (``bench.roundtrips``). For each request kind
   (a new player, an adjustment, a lootbox open), a few requests warm the key
   cache and the prepared statements, then requests are sent one at a time and
   the count is divided by their number.
2. Throughput. ``wrk`` (C, one thread: a few percent of a core at these rates)
   keeps 32 connections busy with ``POST /v1/players/<name>/adjustments`` (a 1.00
   USD credit to a random one of 256 players, a fresh idempotency key each time),
   alternating in rounds with pgbench running the ledger benchmark's transfer
   script (the reference: the same row writes as one ledger transfer, 16 clients)
   on the ledger benchmark's database, on the same server.

3. The same throughput again, on the same database (a tenant of its own), against two
   API processes (``wowsino serve --workers 2``: uvicorn's process manager, the kernel
   spreading the connections over the two), with pgbench rounds of its own alternating.

Prints ``api adjustments: <n> req/s, p50 <ms>, p99 <ms>, <k> round trips, pgbench <tps>
tps, ratio <x>``, ``api adjustments (2 processes): <n> req/s, p50 <ms>, p99 <ms>, pgbench
<tps> tps, ratio <x>`` and ``round trips: …`` for every kind.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import ledger
from bench.api import ADMIN_HEADER, api_server, bench_tenant
from bench.roundtrips import counting_relay
from bench.server import analyze

PLAYERS = 256
CLIENTS = 32
PROCESSES = 2  # the second throughput line: ``wowsino serve --workers 2``
PGBENCH_CLIENTS = 16
SEQUENTIAL = 30  # requests of each kind counted one at a time
PRIZES = [
    {"segment_label": "5 WINZ", "weight": 3, "asset": "WINZ", "amount": 5},
    {"segment_label": "100 XP", "weight": 1, "asset": "XP", "amount": 100},
]

# What every wrk script of the benchmarks shares (a %-template, as the scripts are): a
# seed per thread, and one RESULT line at the end (requests, duration, p50, p99 in
# microseconds, non-2xx answers, broken connections).
WRK_COMMON = r"""
function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""

WRK_SCRIPT = r"""
local players = {%(players)s}
local headers = {["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json"}
local body = '{"rail": "real", "asset": "USD", "amount": "1.00", "reason": "benchmark credit"}'

function request()
  local name = players[math.random(#players)]
  return wrk.format("POST", "/v1/players/" .. name .. "/adjustments", headers, body)
end
""" + WRK_COMMON


@dataclass
class Load:
    """Completed requests over measured time, with latency quantiles (microseconds)."""

    requests: int = 0
    seconds: float = 0.0
    p50: list[int] | None = None
    p99: list[int] | None = None
    errors: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is missing: `make bench` installs Debian's wrk (apt-get install wrk)")
    return found


async def _wrk(base: str, script: Path, seconds: int, into: Load, *, clients: int = CLIENTS
               ) -> None:
    process = await asyncio.create_subprocess_exec(
        wrk_binary(), "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s",
        str(script), base, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=seconds + 60)
    found = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", out.decode(), re.M)
    if process.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{out.decode()}\n{err.decode()}")
    requests, micros, p50, p99, bad, broken = (int(x) for x in found.groups())
    into.requests += requests - bad - broken
    into.seconds += micros / 1e6
    into.errors += bad + broken
    into.p50 = [*(into.p50 or []), p50]
    into.p99 = [*(into.p99 or []), p99]


async def _tenant(client: httpx.AsyncClient, token: str, slug: str) -> dict[str, str]:
    return await bench_tenant(client, token, slug, service_mode="white_label")


async def round_trips(url: str, workdir: Path) -> dict[str, float]:
    """Round trips per request kind, counted on the wire (see the module's docstring)."""
    with counting_relay(url) as counter, \
            api_server(counter.url(url), workdir) as (base, token, _pid):
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            key = await _tenant(client, token, "roundtrips")
            box = await client.post("/v1/lootbox", headers=key,
                                    json={"name": "Box", "prize_table": PRIZES})
            box.raise_for_status()
            box_id = box.json()["lootbox"]["id"]
            step = iter(range(10**6))

            def upsert() -> Awaitable[httpx.Response]:
                name = f"rt{next(step)}"
                return client.post("/v1/players", headers=key, json={
                    "username": name, "email": f"{name}@example.com", "currency": "USD"})

            def adjust() -> Awaitable[httpx.Response]:
                return client.post("/v1/players/rt0/adjustments", headers=key, json={
                    "rail": "real", "asset": "USD", "amount": "1.00", "reason": "count"})

            def open_box() -> Awaitable[httpx.Response]:
                return client.post(f"/v1/lootbox/{box_id}/open", headers=key,
                                   json={"user_id": "rt0"})

            kinds: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
                "player upsert": upsert, "adjustment": adjust, "lootbox open": open_box}
            for send in kinds.values():  # prepared statements, the key cached
                for _ in range(3):
                    (await send()).raise_for_status()
            await asyncio.sleep(0.5)  # the set-up's key-change notifications are in
            counts: dict[str, float] = {}
            for kind, send in kinds.items():
                (await send()).raise_for_status()
                spent = []
                for _ in range(SEQUENTIAL):
                    before = counter.count
                    (await send()).raise_for_status()
                    spent.append(counter.count - before)
                counts[kind] = statistics.median(spent)
            return counts


async def throughput(url: str, workdir: Path, setup: ledger.LedgerSetup, *, seconds: int,
                     rounds: int, processes: int = 1) -> tuple[Load, ledger.Throughput]:
    """``seconds`` of adjustments through wrk and as many of pgbench, alternating in rounds,
    against ``processes`` API processes (each run on ``url`` has its own tenant)."""
    with api_server(url, workdir, processes=processes) as (base, token, _pid):
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            key = await _tenant(client, token, f"adjustments{processes}")
            names = [f"a{i}" for i in range(PLAYERS)]
            for name in names:
                (await client.post("/v1/players", headers=key, json={
                    "username": name, "email": f"{name}@example.com",
                    "currency": "USD"})).raise_for_status()
        script = workdir / "adjust.lua"
        script.write_text(WRK_SCRIPT % {
            "players": ", ".join(json.dumps(n) for n in names),
            "key": key[ADMIN_HEADER].removeprefix("Bearer ")})
        await _wrk(base, script, 2, Load())  # connections, plans and the key cache warm
        await analyze(url)
        await asyncio.sleep(0.5)
        load, reference = Load(), ledger.Throughput(0, 0.0)
        per_round = max(1, seconds // rounds)
        for index in range(rounds):
            if index % 2 == 0:
                await _wrk(base, script, per_round, load)
                reference += await ledger.pgbench(setup, clients=PGBENCH_CLIENTS,
                                                  seconds=per_round)
            else:
                reference += await ledger.pgbench(setup, clients=PGBENCH_CLIENTS,
                                                  seconds=per_round)
                await _wrk(base, script, per_round, load)
    total = load.requests + load.errors
    if load.errors > total * 0.01:
        raise RuntimeError(f"too many failed adjustments: {load.errors} of {total}")
    return load, reference


async def run(url: str, counting_url: str, setup: ledger.LedgerSetup, *, seconds: int,
              rounds: int) -> list[str]:
    """Measure and return the lines (``url``, ``counting_url``: fresh, empty databases)."""
    with tempfile.TemporaryDirectory(prefix="wowsino-adjust-") as tmp:
        counts = await round_trips(counting_url, Path(tmp))
        load, reference = await throughput(url, Path(tmp), setup, seconds=seconds,
                                           rounds=rounds)
        spread, spread_reference = await throughput(url, Path(tmp), setup, seconds=seconds,
                                                    rounds=rounds, processes=PROCESSES)
    return [
        f"api adjustments: {_figures(load, reference, counts['adjustment'])}",
        f"api adjustments ({PROCESSES} processes): {_figures(spread, spread_reference)}",
        "round trips: " + ", ".join(f"{kind} {n:g}" for kind, n in counts.items()),
    ]


def _figures(load: Load, reference: ledger.Throughput, round_trips: float | None = None
             ) -> str:
    ratio = load.per_second / reference.per_second if reference.count else 0.0
    p50 = statistics.median(load.p50 or [0]) / 1000
    p99 = max(load.p99 or [0]) / 1000
    trips = f"{round_trips:g} round trips, " if round_trips is not None else ""
    return (f"{load.per_second:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, {trips}"
            f"pgbench {reference.per_second:,.0f} tps, ratio {ratio:.2f}")

"""What a shared rate-limit store costs a cheap request: ``GET /v1/me`` with the buckets in
the process's memory, in PostgreSQL and in Redis.

One ``wowsino serve --no-worker`` per store (``WOWSINO_RATE_LIMIT_STORE``), all on one
fresh database; one tenant whose limit never binds (so every request takes its token and
none is refused), its key resolved once and cached. ``wrk`` keeps 32 keep-alive
connections busy with ``GET /v1/me`` on one server at a time; the servers alternate in
rounds. Every request of the shared stores is one more exchange with the store, and all
of them update the same bucket (one hot tenant: the worst case for PostgreSQL's row lock).
Redis is left out when none answers at ``WOWSINO_BENCH_REDIS_URL`` (127.0.0.1:6379).

Prints ``rate limits (GET /v1/me): memory <n> req/s, p50 <ms>, p99 <ms>; postgres …,
ratio <x>; redis …, ratio <y>`` (ratios against memory).
"""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.adjustments import WRK_COMMON, Load, _wrk
from bench.api import api_server, bench_tenant

SECONDS = 24  # per store, over all rounds
ROUNDS = 4
CLIENTS = 32
REDIS_URL = os.environ.get("WOWSINO_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

WRK_SCRIPT = r"""
local headers = {["Authorization"] = "Bearer %(key)s"}

function request()
  return wrk.format("GET", "/v1/me", headers)
end
""" + WRK_COMMON


def _redis_answers(url: str) -> bool:
    where = urlsplit(url)
    try:
        with socket.create_connection((where.hostname or "127.0.0.1", where.port or 6379),
                                      timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _summary(load: Load) -> str:
    p50 = statistics.median(load.p50 or [0]) / 1000
    p99 = max(load.p99 or [0]) / 1000
    return f"{load.per_second:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"


async def run(url: str, *, seconds: int = SECONDS) -> str:
    """Measure, print and return the line (``url``: a fresh, empty database)."""
    stores = {"memory": {}, "postgres": {}}
    if _redis_answers(REDIS_URL):
        stores["redis"] = {"WOWSINO_REDIS_URL": REDIS_URL}
    with tempfile.TemporaryDirectory(prefix="wowsino-ratelimit-") as tmp, ExitStack() as stack:
        bases: dict[str, str] = {}
        token = None
        for store, extra in stores.items():
            base, token, _pid = stack.enter_context(api_server(
                url, Path(tmp), token=token, name=f"api-{store}",
                env={"WOWSINO_RATE_LIMIT_STORE": store, **extra}))
            bases[store] = base
        first = next(iter(bases.values()))
        async with httpx.AsyncClient(base_url=first, timeout=30) as client:
            assert token is not None
            key = (await bench_tenant(client, token, "limits"))["Authorization"]
        script = Path(tmp) / "me.lua"
        script.write_text(WRK_SCRIPT % {"key": key.removeprefix("Bearer ")})
        loads = {store: Load() for store in bases}
        for base in bases.values():  # the key cached, connections open, statements prepared
            await _wrk(base, script, 2, Load(), clients=CLIENTS)
        span = max(1, seconds // ROUNDS)
        for i in range(ROUNDS):
            order = list(bases)[i % len(bases):] + list(bases)[:i % len(bases)]
            for store in order:
                await _wrk(bases[store], script, span, loads[store], clients=CLIENTS)
    for store, load in loads.items():
        if load.errors > load.requests / 100:
            raise RuntimeError(f"{store}: {load.errors} failed requests of {load.requests}")
    memory = loads["memory"].per_second
    parts = [f"memory {_summary(loads['memory'])}"]
    for store in ("postgres", "redis"):
        if store in loads:
            ratio = loads[store].per_second / memory if memory else 0.0
            parts.append(f"{store} {_summary(loads[store])}, ratio {ratio:.2f}")
    out = "rate limits (GET /v1/me): " + "; ".join(parts)
    print(out, flush=True)
    return out

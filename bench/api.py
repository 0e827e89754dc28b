"""The API process under write load over real HTTP: throughput, latency, peak RSS.

``wowsino serve --no-worker`` runs as a subprocess on its own database of the
benchmark server. A tenant is created through ``POST /tenants`` and its rate
limit raised, then concurrent clients upsert players and post adjustments
through ``/v1``. The reference is the same clients against the bare
``GET /healthz``; the two alternate in rounds. The server's resident memory
(children included) is sampled throughout.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from bench.server import analyze

ADMIN_HEADER = "Authorization"


async def bench_tenant(setup: httpx.AsyncClient, token: str, slug: str, *,
                       service_mode: str = "plug_in") -> dict[str, str]:
    """A new tenant whose rate limit never binds; the headers of its live key."""
    admin = {ADMIN_HEADER: f"Bearer {token}"}
    created = await setup.post("/tenants", headers=admin, json={
        "slug": slug, "name": slug.title(), "service_mode": service_mode,
        "brand": {"slug": "main", "name": "Main"}})
    created.raise_for_status()
    tenant = created.json()
    (await setup.patch(f"/tenants/{tenant['tenant']['id']}", headers=admin, json={
        "rate_limit_burst": 1_000_000, "rate_limit_per_second": 1_000_000})).raise_for_status()
    return {ADMIN_HEADER: f"Bearer {tenant['keys']['live']}"}

if importlib.util.find_spec("sniffio") is None:
    # httpcore imports sniffio on every request to tell asyncio from trio; when it is
    # not installed, each attempt searches sys.path again (about 1 ms of client CPU per
    # request here). Record the absence once: the import then fails at once.
    sys.modules["sniffio"] = None  # type: ignore[assignment]


@dataclass
class Latencies:
    """Completed requests of one kind: count, wall time, each latency in seconds."""

    seconds: float = 0.0
    samples: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def per_second(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> str:
        return (f"{self.per_second:,.0f} req/s, p50 {self.quantile(0.5) * 1000:.1f} ms, "
                f"p99 {self.quantile(0.99) * 1000:.1f} ms")


@dataclass(frozen=True)
class ApiResult:
    writes: Latencies
    healthz: Latencies
    peak_rss: int  # bytes

    def lines(self) -> list[str]:
        ratio = self.writes.per_second / self.healthz.per_second if self.healthz.samples else 0.0
        return [
            f"api: {self.writes.summary()}, peak RSS {self.peak_rss / 2**20:.0f} MB",
            f"healthz: {self.healthz.summary()}, ratio {ratio:.2f}",
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wowsino_command() -> list[str]:
    script = Path(sys.executable).with_name("wowsino")
    return [str(script)] if script.exists() else [sys.executable, "-m", "wowsino.cli"]


@contextmanager
def api_server(database_url: str, workdir: Path, *, token: str | None = None,
               env: dict[str, str] | None = None, name: str = "api", processes: int = 1
               ) -> Iterator[tuple[str, str, int]]:
    """Run ``wowsino serve --no-worker --workers processes`` (with ``env`` added to its
    environment, its log in ``<name>.log``); yield (base URL, admin token, pid)."""
    port = _free_port()
    token = token or secrets.token_urlsafe(24)
    env = {
        **os.environ, "WOWSINO_DATABASE_URL": database_url, "WOWSINO_ADMIN_TOKEN": token,
        "WOWSINO_DATA_DIR": str(workdir / "api-data"), "HOST": "127.0.0.1", "PORT": str(port),
        **(env or {}),
    }
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*_wowsino_command(), "serve", "--no-worker", "--workers", str(processes),
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited with {process.returncode}:\n"
                                   f"{log_path.read_text(errors='replace')[-4000:]}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not answer /healthz; see {log_path}")
            time.sleep(0.2)
        yield base, token, process.pid
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 20) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds (a process that has ended: nothing)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        total = root.memory_info().rss
        for child in root.children(recursive=True):
            with suppress(psutil.Error):
                total += child.memory_info().rss
        return int(total)
    except psutil.Error:
        return 0


async def _sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], _rss(pid))
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.05)


Request = Callable[[httpx.AsyncClient, int, int, random.Random], Awaitable[httpx.Response]]


async def _drive(
    clients: list[httpx.AsyncClient], seconds: float, request: Request, into: Latencies, seed: int
) -> None:
    """One loop of ``request`` per client for ``seconds``; timings into ``into``."""

    async def loop(index: int, deadline: float) -> None:
        rng = random.Random(seed * 1000 + index)
        step = 0
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                response = await request(clients[index], index, step, rng)
            except httpx.TransportError:  # e.g. a keep-alive connection closed under us
                into.errors += 1
                continue
            if response.is_success:
                into.samples.append(time.perf_counter() - sent)
            else:
                into.errors += 1
            step += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(i, started + seconds) for i in range(len(clients))))
    into.seconds += time.perf_counter() - started


async def run(
    database_url: str, workdir: Path, *, clients: int, seconds: float, rounds: int = 3
) -> ApiResult:
    """``seconds`` of writes and as many of /healthz, alternating in ``rounds``.

    Each client is its own ``httpx.AsyncClient`` with one keep-alive connection, as
    independent callers would be (one client object shared by many concurrent tasks
    spends most of its time in its own connection pool).
    """
    with api_server(database_url, workdir) as (base, token, pid):
        async with httpx.AsyncClient(base_url=base, timeout=30) as setup:
            key = await bench_tenant(setup, token, "bench", service_mode="white_label")
        players: list[list[str]] = [[] for _ in range(clients)]

        async def write(
            client: httpx.AsyncClient, index: int, step: int, rng: random.Random
        ) -> httpx.Response:
            mine = players[index]
            if not mine or step % 4 == 0:  # one upsert for three adjustments
                name = f"p{index}-{len(mine)}"
                response = await client.post("/v1/players", headers=key, json={
                    "username": name, "email": f"{name}@example.com", "currency": "USD"})
                if response.is_success:
                    mine.append(name)
                return response
            return await client.post(
                f"/v1/players/{rng.choice(mine)}/adjustments", headers=key,
                json={"rail": "real", "asset": "USD", "amount": "1.00",
                      "reason": "benchmark credit"})

        async def healthz(
            client: httpx.AsyncClient, index: int, step: int, rng: random.Random
        ) -> httpx.Response:
            return await client.get("/healthz")

        pool = [httpx.AsyncClient(base_url=base, timeout=30) for _ in range(clients)]
        try:
            # connections opened and first-call costs paid before any clock starts
            await _drive(pool, 0.5, write, Latencies(), seed=99)
            await _drive(pool, 0.5, healthz, Latencies(), seed=99)
            await analyze(database_url)
            peak = [_rss(pid)]
            stop = asyncio.Event()
            sampler = asyncio.create_task(_sample_rss(pid, peak, stop))
            writes, bare = Latencies(), Latencies()
            try:
                per_round = seconds / rounds
                for i in range(rounds):
                    await _drive(pool, per_round, write, writes, seed=i)
                    await _drive(pool, per_round, healthz, bare, seed=i)
            finally:
                stop.set()
                await sampler
        finally:
            for client in pool:
                await client.aclose()
    total = len(writes.samples) + writes.errors
    if writes.errors > total * 0.01 or bare.errors:
        raise RuntimeError(f"too many failed requests: {writes.errors} of {total} writes, "
                           f"{bare.errors} /healthz")
    return ApiResult(writes, bare, peak[0])

"""The seamless wallet over real HTTP: bet+win rounds/s through the signed aggregator
protocol, against pgbench's single-transfer tps measured on the same server in the same
run.

``wowsino serve --no-worker`` runs as a subprocess on a fresh database, which also holds
pgbench's mirror of the ledger tables (``bench.ledger``). A white-label tenant's brand
sets its own sandbox aggregator secret (so every call verifies through the per-brand
path); 32 players register, get cash and launch ``sandbox-slot``. 32 clients, one per
player and each on one keep-alive connection, play rounds as an aggregator does: a
signed bet of 1.00, then its signed win (the slot's pay table: nothing 57% of the time),
the next round once the win is answered. A round trip is the bet and the win, measured
together. The clients write their requests on asyncio streams (a few microseconds of
client CPU each; an HTTP library would cost the load generator a core's share on two
cores). pgbench (16 clients, the other phases' reference) and the rounds alternate.
The line::

    seamless wallet: <n> rounds/s, p50 <ms>, p99 <ms>, pgbench <tps> tps, ratio <x>
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import ledger
from bench.api import api_server, bench_tenant
from bench.server import analyze

CLIENTS = 32
PGBENCH_CLIENTS = 16
SECONDS = 12
ROUNDS = 3
FUNDS = 1_000_000
# the sandbox slot's pay table: (weight of 10,000, multiplier of the stake)
PAYTABLE = ((5654, 0), (2500, 1), (1000, 2), (500, 3), (200, 5), (100, 10), (40, 25), (6, 100))


@dataclass
class Rounds:
    seconds: float = 0.0
    samples: list[float] = field(default_factory=list)
    refused: int = 0

    @property
    def per_second(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection writing exactly the request it is given."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, signature: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"X-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def _prepare(base: str, token: str, secret: str) -> list[str]:
    """The brand's own secret; a launched game's token per client."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as setup:
        key = await bench_tenant(setup, token, "gamesbench", service_mode="white_label")
        (await setup.put("/v1/brands/main/aggregators/sandbox", headers=key,
                         json={"secret": secret})).raise_for_status()
        tokens = []
        for i in range(CLIENTS):
            name = f"spinner{i}"
            (await setup.post("/v1/auth/register", headers=key, json={
                "username": name, "email": f"{name}@example.com",
                "password": "correct horse battery", "country_code": "MT",
                "date_of_birth": "1990-01-01"})).raise_for_status()
            login = await setup.post("/v1/auth/login", headers=key, json={
                "username": name, "password": "correct horse battery"})
            login.raise_for_status()
            (await setup.post(f"/v1/players/{name}/adjustments", headers=key, json={
                "rail": "real", "asset": "USD", "amount": FUNDS,
                "reason": "benchmark funds"})).raise_for_status()
            launched = await setup.post("/v1/games/sandbox-slot/launch", json={}, headers={
                "Authorization": f"Bearer {login.json()['session_token']}"})
            launched.raise_for_status()
            tokens.append(launched.json()["token"])
    return tokens


async def _play(base: str, tokens: list[str], secret: str, seconds: float, into: Rounds,
                seed: int) -> None:
    """Every client plays bet+win rounds for ``seconds``."""
    host, port = base.removeprefix("http://").split(":")
    key = secret.encode()

    async def client(index: int, deadline: float) -> None:
        rng = random.Random(seed * 1000 + index)
        connection = Connection(host, int(port))
        try:
            while time.perf_counter() < deadline:
                round_id = f"{seed}-{index}-{secrets.token_hex(6)}"
                multiplier = rng.choices([m for _, m in PAYTABLE],
                                         [w for w, _ in PAYTABLE])[0]
                sent = time.perf_counter()
                for operation, amount in (("bet", 1), ("win", multiplier)):
                    body = json.dumps({
                        "token": tokens[index], "transaction_id": f"{round_id}-{operation}",
                        "round_id": round_id, "game_id": "sandbox-slot",
                        "amount": amount, "currency": "USD"}).encode()
                    status, _ = await connection.post(
                        f"/v1/aggregator/sandbox/{operation}", body,
                        hmac.new(key, body, hashlib.sha256).hexdigest())
                    if status != 200:
                        into.refused += 1
                        break
                else:
                    into.samples.append(time.perf_counter() - sent)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i, started + seconds) for i in range(len(tokens))))
    into.seconds += time.perf_counter() - started


def line(rounds: Rounds, pgbench: ledger.Throughput) -> str:
    tps = pgbench.per_second
    out = (f"seamless wallet: {rounds.per_second:,.0f} rounds/s, "
           f"p50 {rounds.quantile(0.5) * 1000:.1f} ms, p99 {rounds.quantile(0.99) * 1000:.1f} ms, "
           f"pgbench {tps:,.0f} tps, ratio {rounds.per_second / tps if tps else 0:.2f}")
    return out + (f" ({rounds.refused} calls refused)" if rounds.refused else "")


async def run(url: str, *, seconds: int = SECONDS) -> str:
    """Measure, print and return the line (``url``: a fresh, empty database)."""
    secret = secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="wowsino-games-") as tmp:
        setup = await ledger.prepare(url, Path(tmp), players=1000, clients=PGBENCH_CLIENTS)
        with api_server(url, Path(tmp)) as (base, token, _pid):
            tokens = await _prepare(base, token, secret)
            await _play(base, tokens, secret, 1, Rounds(), seed=0)  # warm up
            await analyze(url)
            rounds, pgbench = Rounds(), ledger.Throughput(0, 0.0)
            span = max(1, seconds // ROUNDS)
            for i in range(ROUNDS):
                pgbench += await ledger.pgbench(setup, clients=PGBENCH_CLIENTS, seconds=span)
                await _play(base, tokens, secret, span, rounds, seed=i + 1)
    out = line(rounds, pgbench)
    print(out, flush=True)
    return out

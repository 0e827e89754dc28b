"""Token buckets per realm over ``/v1``: burst, refill, headers, separate worlds; the same
with the buckets in this process, in PostgreSQL and in Redis; and a shared store that
cannot be reached falls back to this process's buckets instead of failing requests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_TOKEN, Tenant
from tests.integration.support import assert_error
from tests.support.live_server import free_port
from tests.support.redis_service import require_redis
from wowsino.kernel.config import Settings
from wowsino.kernel.db import create_engine
from wowsino.kernel.errors import RateLimited
from wowsino.kernel.ratelimit import (
    Buckets,
    MemoryBuckets,
    PostgresBuckets,
    RateLimiter,
    RedisBuckets,
)
from wowsino.kernel.realm import Mode, Realm


@pytest.fixture(params=["memory", "postgres", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(store: str) -> Settings:
    redis_url = require_redis() if store == "redis" else None
    return Settings(admin_token=ADMIN_TOKEN, db_pool_size=10, rate_limit_store=store,
                    redis_url=redis_url)


class FrozenTime:
    """Stands in for the buckets' clock so refills happen only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
async def frozen(app: Any, store: str) -> AsyncIterator[FrozenTime]:
    limiter: RateLimiter = app.state.platform.rate_limiter
    assert limiter.store.name == store
    fake = FrozenTime()
    limiter.clock = fake.monotonic
    yield fake
    await limiter.close()


async def limit(client: httpx.AsyncClient, tenant: Tenant, burst: int, per_second: int) -> None:
    r = await client.patch(f"/tenants/{tenant.id}", headers=ADMIN,
                           json={"rate_limit_burst": burst, "rate_limit_per_second": per_second})
    assert r.status_code == 200, r.text


def headers_of(r: httpx.Response) -> dict[str, str]:
    return {name: r.headers.get(name, "") for name in
            ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After")}


async def test_burst_of_five_then_429_with_retry_after_and_ratelimit_headers(
    client: httpx.AsyncClient, tenant: Tenant, frozen: FrozenTime,
) -> None:
    await limit(client, tenant, 5, 1)
    for remaining in (4, 3, 2, 1, 0):
        r = await tenant.get("/v1/me")
        assert r.status_code == 200, r.text
        assert r.headers["RateLimit-Limit"] == "5"
        assert r.headers["RateLimit-Remaining"] == str(remaining)
        assert "Retry-After" not in r.headers
    refused = await tenant.get("/v1/me")
    assert_error(refused, 429, "RATE_LIMIT")
    assert headers_of(refused) == {"RateLimit-Limit": "5", "RateLimit-Remaining": "0",
                                   "RateLimit-Reset": "5", "Retry-After": "1"}


async def test_bucket_refills_at_the_configured_rate(
    client: httpx.AsyncClient, tenant: Tenant, frozen: FrozenTime,
) -> None:
    await limit(client, tenant, 2, 1)
    assert (await tenant.get("/v1/me")).status_code == 200
    assert (await tenant.get("/v1/me")).status_code == 200
    assert_error(await tenant.get("/v1/me"), 429, "RATE_LIMIT")
    frozen.now += 0.5
    assert_error(await tenant.get("/v1/me"), 429, "RATE_LIMIT")
    frozen.now += 0.5
    assert (await tenant.get("/v1/me")).status_code == 200
    assert_error(await tenant.get("/v1/me"), 429, "RATE_LIMIT")
    frozen.now += 60  # a long pause refills only up to the burst
    assert [(await tenant.get("/v1/me")).status_code for _ in range(3)] == [200, 200, 429]


async def test_live_and_test_buckets_are_separate(
    client: httpx.AsyncClient, tenant: Tenant, frozen: FrozenTime,
) -> None:
    await limit(client, tenant, 3, 1)
    assert [(await tenant.get("/v1/me")).status_code for _ in range(4)] == [200, 200, 200, 429]
    live = [await tenant.get("/v1/me", mode="live") for _ in range(4)]
    assert [r.status_code for r in live] == [200, 200, 200, 429]
    assert live[0].headers["RateLimit-Remaining"] == "2"


async def test_another_tenant_is_unaffected(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, frozen: FrozenTime,
) -> None:
    await limit(client, tenant, 1, 1)
    assert (await tenant.get("/v1/me")).status_code == 200
    assert_error(await tenant.get("/v1/me"), 429, "RATE_LIMIT")
    for _ in range(20):
        r = await other_tenant.get("/v1/me")
        assert r.status_code == 200
    assert r.headers["RateLimit-Limit"] == "200"
    assert r.headers["RateLimit-Remaining"] == "180"


async def test_default_bucket_is_200_and_every_v1_answer_carries_the_headers(
    client: httpx.AsyncClient, tenant: Tenant, frozen: FrozenTime,
) -> None:
    ok = await tenant.get("/v1/me")
    missing = await tenant.get("/v1/players/ghost")
    assert ok.headers["RateLimit-Limit"] == "200"
    assert ok.headers["RateLimit-Remaining"] == "199"
    assert ok.headers["RateLimit-Reset"] == "1"
    assert missing.status_code == 404
    assert missing.headers["RateLimit-Remaining"] == "198"


async def test_a_refused_write_has_no_effect(
    client: httpx.AsyncClient, tenant: Tenant, frozen: FrozenTime,
) -> None:
    await limit(client, tenant, 1, 1)
    assert (await tenant.get("/v1/me")).status_code == 200
    r = await tenant.post("/v1/players", {"username": "alice", "email": "alice@example.com"})
    assert_error(r, 429, "RATE_LIMIT")
    frozen.now += 1
    assert_error(await tenant.get("/v1/players/alice"), 404, "NO_PLAYER")


async def test_raising_the_limit_applies_to_the_next_request(
    client: httpx.AsyncClient, tenant: Tenant, frozen: FrozenTime,
) -> None:
    await limit(client, tenant, 1, 1)
    assert (await tenant.get("/v1/me")).status_code == 200
    assert_error(await tenant.get("/v1/me"), 429, "RATE_LIMIT")
    await limit(client, tenant, 10, 10)
    frozen.now += 0.1
    r = await tenant.get("/v1/me")
    assert r.status_code == 200
    assert r.headers["RateLimit-Limit"] == "10"


async def test_admin_routes_are_not_rate_limited(
    client: httpx.AsyncClient, tenant: Tenant, frozen: FrozenTime,
) -> None:
    await limit(client, tenant, 1, 1)
    for _ in range(5):
        r = await client.get(f"/tenants/{tenant.id}", headers=ADMIN)
        assert r.status_code == 200
    assert (await tenant.get("/v1/me")).status_code == 200


# --- the store itself: two processes' limiters on one shared store, and outages ---------

def caller(burst: int, per_second: int) -> SimpleNamespace:
    return SimpleNamespace(realm=Realm(uuid4(), Mode.TEST), rate_limit_burst=burst,
                           rate_limit_per_second=per_second)


async def answers(limiter: RateLimiter, who: SimpleNamespace) -> tuple[bool, dict[str, str]]:
    """Whether ``limiter`` lets ``who`` through, and the headers it leaves for the answer."""
    request = SimpleNamespace(state=SimpleNamespace())
    try:
        await limiter.take(request, who)
    except RateLimited:
        return False, request.state.rate_limit_headers
    return True, request.state.rate_limit_headers


async def open_shared(kind: str, db_url: str) -> Buckets:
    if kind == "postgres":
        return PostgresBuckets(create_engine(db_url, pool_size=1))
    return RedisBuckets(require_redis())


async def close_shared(buckets: Buckets) -> None:
    await buckets.close()
    if isinstance(buckets, PostgresBuckets):
        await buckets.engine.dispose()


@pytest.mark.parametrize("kind", ["postgres", "redis"])
async def test_two_processes_limiters_take_from_one_bucket(kind: str, db_url: str) -> None:
    first, second = await open_shared(kind, db_url), await open_shared(kind, db_url)
    try:
        limiters = [RateLimiter(burst=200, per_second=50, store=s) for s in (first, second)]
        fake = FrozenTime()
        for limiter in limiters:
            limiter.clock = fake.monotonic
        who = caller(5, 1)
        allowed = [(await answers(limiters[i % 2], who))[0] for i in range(10)]
        assert allowed == [True] * 5 + [False] * 5  # not 5 each
        fake.now += 2  # two tokens back, whichever process asks
        assert [(await answers(limiters[i % 2], who))[0] for i in range(3)] == [
            True, True, False]
        _, headers = await answers(limiters[0], caller(5, 1))  # another tenant: its own
        assert headers["RateLimit-Remaining"] == "4"
    finally:
        await close_shared(first)
        await close_shared(second)


class Counting:
    """A shared store that counts the calls made to it and the tokens asked for."""

    def __init__(self, inner: Buckets) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0
        self.granted = 0

    async def take(self, tenant_id: Any, mode: str, burst: int, rate: int,
                   now: float | None, count: int = 1) -> Any:
        self.calls += 1
        taken = await self.inner.take(tenant_id, mode, burst, rate, now, count)
        self.granted += taken.granted
        return taken

    async def close(self) -> None:
        await self.inner.close()


@pytest.mark.parametrize("kind", ["postgres", "redis"])
async def test_busy_processes_take_tokens_in_leases_and_never_exceed_the_limit(
    kind: str, db_url: str,
) -> None:
    shared = [Counting(await open_shared(kind, db_url)) for _ in range(2)]
    try:
        limiters = [RateLimiter(burst=200, per_second=50, store=s) for s in shared]
        fake = FrozenTime()
        for limiter in limiters:
            limiter.clock = fake.monotonic
        who = caller(400, 1)
        allowed = 0
        remaining = []
        for i in range(1000):  # 1,000 requests a second, spread over two processes
            fake.now += 0.001
            ok, headers = await answers(limiters[i % 2], who)
            allowed += ok
            remaining.append(int(headers["RateLimit-Remaining"]))
        calls = sum(s.calls for s in shared)
        granted = sum(s.granted for s in shared)
        refilled = 1  # one second at 1/s
        # never more than the limit; at most one lease (a twentieth) per process dropped
        assert 400 - 2 * 20 <= allowed <= granted <= 400 + refilled, (allowed, granted)
        assert calls < 1000 / 5, calls  # leases, not a call per request
        assert remaining[0] == 399 and remaining[-1] == 0, (remaining[:3], remaining[-3:])
        # a slow caller takes one token per call, as without leases
        slow, before = caller(400, 1), shared[0].calls
        for _ in range(5):
            fake.now += 1
            assert (await answers(limiters[0], slow))[0]
        assert shared[0].calls - before == 5
    finally:
        for store in shared:
            await close_shared(store.inner)


@pytest.mark.parametrize("kind", ["postgres", "redis"])
async def test_an_unreachable_store_falls_back_to_this_process_buckets_with_one_warning(
    kind: str, capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()  # nothing listens there
    down: Buckets = (
        PostgresBuckets(create_engine(f"postgresql://postgres@127.0.0.1:{port}/x", pool_size=1))
        if kind == "postgres" else RedisBuckets(f"redis://127.0.0.1:{port}/0"))
    limiter = RateLimiter(burst=200, per_second=50, store=down)
    limiter.retry_shared_after = 1.0  # the store is tried again after this pause
    fake = FrozenTime()
    limiter.clock = fake.monotonic
    who = caller(3, 1)
    capsys.readouterr()
    try:
        # requests in flight together when the store fails: one warning between them
        together = await asyncio.gather(*(answers(limiter, who) for _ in range(2)))
        seen = together + [await answers(limiter, who) for _ in range(2)]
        assert [allowed for allowed, _ in seen] == [True, True, True, False]  # held locally
        assert sorted(h["RateLimit-Remaining"] for _, h in seen) == ["0", "0", "1", "2"]
        assert seen[3][1]["Retry-After"] == "1"
        lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
        assert len(lines) == 1, "\n".join(lines)  # one warning, not one per request
        assert "rate limit store unavailable" in lines[0] and f"store={kind}" in lines[0]
        assert "Traceback" not in lines[0]
        deadline = time.monotonic() + 5  # once the pause is over, the store is tried again
        while "rate limit store unavailable" not in capsys.readouterr().out:
            assert time.monotonic() < deadline, "the store was not tried again"
            assert not (await answers(limiter, who))[0]
            await asyncio.sleep(0.05)
    finally:
        await close_shared(down)


async def test_an_api_with_its_redis_down_still_answers_and_limits_per_process(
    db_url: str, capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.conftest import make_tenant
    from wowsino.api import create_app

    settings = Settings(admin_token=ADMIN_TOKEN, db_pool_size=2, rate_limit_store="redis",
                        redis_url=f"redis://127.0.0.1:{free_port()}/0")
    app = create_app(settings, database_url=db_url)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://wowsino.test") as c:
            tenant = await make_tenant(c, "acme")
            await limit(c, tenant, 2, 1)
            first = await tenant.get("/v1/me")
            assert first.status_code == 200, first.text
            assert first.headers["RateLimit-Limit"] == "2"
            assert (await tenant.get("/v1/me")).status_code == 200
            assert_error(await tenant.get("/v1/me"), 429, "RATE_LIMIT")
        assert capsys.readouterr().out.count("rate limit store unavailable") == 1
    finally:
        await app.state.platform.rate_limiter.close()
        await app.state.platform.engine.dispose()


def test_a_redis_store_without_a_redis_url_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wowsino.kernel.config import SettingsError

    monkeypatch.delenv("WOWSINO_REDIS_URL", raising=False)
    monkeypatch.setenv("WOWSINO_RATE_LIMIT_STORE", "redis")
    with pytest.raises(SettingsError, match="WOWSINO_REDIS_URL"):
        Settings.from_env()
    monkeypatch.setenv("WOWSINO_RATE_LIMIT_STORE", "memcached")
    with pytest.raises(SettingsError, match="memory, postgres or redis"):
        Settings.from_env()
    monkeypatch.delenv("WOWSINO_RATE_LIMIT_STORE")
    assert Settings.from_env().rate_limit_store == "memory"
    monkeypatch.setenv("WOWSINO_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert Settings.from_env().rate_limit_store == "redis"  # the default with a Redis
    monkeypatch.setenv("WOWSINO_RATE_LIMIT_STORE", "postgres")
    assert Settings.from_env().rate_limit_store == "postgres"
    assert isinstance(RateLimiter(burst=1, per_second=1).store, MemoryBuckets)


class Relay:
    """A TCP relay on ``port`` to ``upstream``: the store comes up when it starts."""

    def __init__(self, port: int, upstream: tuple[str, int]) -> None:
        self.port, self.upstream = port, upstream
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.mark.parametrize("kind", ["postgres", "redis"])
async def test_limits_are_shared_again_once_the_store_is_back(
    kind: str, db_url: str, capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    if kind == "postgres":
        where = urlsplit(db_url)
        relay = Relay(port, (where.hostname or "127.0.0.1", where.port or 5432))
        down: Buckets = PostgresBuckets(create_engine(
            urlunsplit(where._replace(netloc=f"{where.username}@127.0.0.1:{port}")),
            pool_size=1))
        shared = await open_shared(kind, db_url)
    else:
        where = urlsplit(require_redis())
        relay = Relay(port, (where.hostname or "127.0.0.1", where.port or 6379))
        down = RedisBuckets(f"redis://127.0.0.1:{port}{where.path}")
        shared = await open_shared(kind, db_url)
    limiter = RateLimiter(burst=200, per_second=50, store=down)
    limiter.retry_shared_after = 0.2
    other_process = RateLimiter(burst=200, per_second=50, store=shared)
    fake = FrozenTime()
    limiter.clock = other_process.clock = fake.monotonic
    who = caller(5, 1)
    try:
        assert (await answers(limiter, who))[0]  # from this process's bucket
        assert "rate limit store unavailable" in capsys.readouterr().out
        await relay.start()
        deadline = time.monotonic() + 5
        while "rate limits shared again" not in capsys.readouterr().out:
            assert time.monotonic() < deadline, "the store was not used again"
            await asyncio.sleep(0.05)
            assert (await answers(limiter, who))[0]
        # the bucket is the store's again: the other process sees what this one took
        _, headers = await answers(other_process, who)
        taken_here = int(headers["RateLimit-Remaining"])
        assert taken_here < 4, headers  # the shared bucket had this process's takes
        _, headers = await answers(limiter, who)
        assert int(headers["RateLimit-Remaining"]) == taken_here - 1
    finally:
        await relay.close()
        await close_shared(down)
        await close_shared(shared)

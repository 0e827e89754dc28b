"""Two real API processes (``wowsino serve --no-worker``) on one database: a tenant's rate
limit is one bucket shared by both when the store is PostgreSQL or Redis (with the
buckets in each process's memory it would be one bucket each, twice the limit); and each
process saves its usage counts while it runs, without a worker and without stopping."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.support.live_server import free_port
from tests.support.redis_service import require_redis

pytestmark = pytest.mark.timeout(120)
BURST, PER_SECOND = 10, 1


@dataclass
class Api:
    """``wowsino serve --no-worker`` as a process of its own."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from wowsino.cli import app; app()", "serve",
                 "--host", "127.0.0.1", "--port", str(self.port), "--no-worker"],
                stdout=log, stderr=subprocess.STDOUT, env=self.env,
                cwd=self.log_path.parent, start_new_session=True)

    async def ready(self) -> None:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.poll() is None, self.log()
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.base}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError(f"the API did not start: {self.log()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@contextlib.asynccontextmanager
async def two_apis(db_url: str, root: Path, **env: str) -> AsyncIterator[tuple[Api, Api]]:
    base = {name: value for name, value in os.environ.items()
            if name not in ("WOWSINO_REDIS_URL", "WOWSINO_RATE_LIMIT_STORE")}
    base.update({"WOWSINO_DATABASE_URL": db_url, "WOWSINO_ADMIN_TOKEN": ADMIN_TOKEN,
                 "WOWSINO_DATA_DIR": str(root), "WOWSINO_DB_POOL_SIZE": "4",
                 "WOWSINO_RATE_LIMIT_BURST": str(BURST),
                 "WOWSINO_RATE_LIMIT_PER_SECOND": str(PER_SECOND), **env})
    apis = (Api(base, root / "api-a.log"), Api(base, root / "api-b.log"))
    try:
        for api in apis:
            api.start()
        await asyncio.gather(*(api.ready() for api in apis))
        yield apis
    finally:
        for api in apis:
            api.stop()


async def make_tenant(http: httpx.AsyncClient, api: Api) -> tuple[str, dict[str, str]]:
    r = await http.post(f"{api.base}/tenants", headers=ADMIN, json={
        "slug": "acme", "name": "Acme", "service_mode": "plug_in",
        "brand": {"slug": "main", "name": "Main"}})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["tenant"]["id"], {"Authorization": f"Bearer {body['keys']['test']}"}


async def saved_calls(db_url: str, tenant_id: str, expected: int) -> int:
    """The tenant's test-mode calls in ``usage_counters`` once they reach ``expected``
    (or what is there after 15 s)."""
    conn = await asyncpg.connect(db_url)
    try:
        deadline = time.monotonic() + 15
        while True:
            saved = int(await conn.fetchval(
                "SELECT coalesce(sum(api_calls), 0) FROM usage_counters "
                "WHERE tenant_id = $1 AND mode = 'test'", tenant_id))
            if saved == expected or time.monotonic() > deadline:
                return saved
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


@pytest.mark.parametrize("store", ["postgres", "redis"])
async def test_two_api_processes_share_a_tenants_limit_and_both_save_its_usage(
    db_url: str, tmp_path: Path, store: str,
) -> None:
    env = {"WOWSINO_RATE_LIMIT_STORE": store}
    if store == "redis":
        env["WOWSINO_REDIS_URL"] = require_redis()
    async with two_apis(db_url, tmp_path, **env) as apis, httpx.AsyncClient(timeout=10) as http:
        tenant_id, key = await make_tenant(http, apis[0])
        allowed = [0, 0]  # by process
        started = time.monotonic()
        for i in range(3 * BURST):  # alternately, as a balancer would spread them
            r = await http.get(f"{apis[i % 2].base}/v1/me", headers=key)
            assert r.status_code in (200, 429), r.text
            assert r.headers["RateLimit-Limit"] == str(BURST)
            if r.status_code == 200:
                allowed[i % 2] += 1
            else:
                assert r.json()["code"] == "RATE_LIMIT"
                assert int(r.headers["Retry-After"]) >= 1
        refilled = math.ceil((time.monotonic() - started) * PER_SECOND)
        # the calls let through are counted, and both processes' counts are saved by
        # their periodic flush: neither runs a worker, neither has stopped
        assert all(allowed), allowed
        assert await saved_calls(db_url, tenant_id, sum(allowed)) == sum(allowed)
        assert all(api.running for api in apis)
    # one bucket for both: the burst and what refilled meanwhile, not a burst each (with
    # WOWSINO_RATE_LIMIT_STORE=memory both processes let 2 x BURST through)
    assert BURST <= sum(allowed) <= BURST + refilled, (allowed, refilled)
    assert sum(allowed) < 2 * BURST, (allowed, refilled)

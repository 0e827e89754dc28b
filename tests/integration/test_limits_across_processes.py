"""Two real API processes (``wowsino serve --no-worker``) on one database: a tenant's rate
limit is one bucket shared by both when the store is PostgreSQL or Redis (with the
buckets in each process's memory it would be one bucket each, twice the limit); and each
process saves its usage counts while it runs, without a worker and without stopping."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.support.api_process import ApiProcess
from tests.support.redis_service import require_redis

pytestmark = pytest.mark.timeout(120)
BURST, PER_SECOND = 10, 1


@contextlib.asynccontextmanager
async def two_apis(db_url: str, root: Path, **env: str) -> AsyncIterator[tuple[ApiProcess, ApiProcess]]:
    base = {name: value for name, value in os.environ.items()
            if name not in ("WOWSINO_REDIS_URL", "WOWSINO_RATE_LIMIT_STORE")}
    base.update({"WOWSINO_DATABASE_URL": db_url, "WOWSINO_ADMIN_TOKEN": ADMIN_TOKEN,
                 "WOWSINO_DATA_DIR": str(root), "WOWSINO_DB_POOL_SIZE": "4",
                 "WOWSINO_RATE_LIMIT_BURST": str(BURST),
                 "WOWSINO_RATE_LIMIT_PER_SECOND": str(PER_SECOND), **env})
    apis = (ApiProcess(base, root, "api-a"), ApiProcess(base, root, "api-b"))
    try:
        for api in apis:
            api.start()
        await asyncio.gather(*(api.ready() for api in apis))
        yield apis
    finally:
        for api in apis:
            api.stop()


async def make_tenant(http: httpx.AsyncClient, api: ApiProcess) -> tuple[str, dict[str, str]]:
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

"""The in-process key cache: a change to a key, its tenant or its brand reaches every
API process through LISTEN/NOTIFY; a lost notification is bounded by the fallback TTL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN, Tenant, make_tenant
from tests.integration.support import assert_error, bearer, create_key
from wowsino.api import create_app
from wowsino.kernel.auth import hash_key
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.config import Settings
from wowsino.kernel.db import plain_url

Instance = tuple[Any, httpx.AsyncClient]


@pytest.fixture
async def instances(db_url: str, clock: ManualClock, settings: Settings
                    ) -> AsyncIterator[Callable[[], Any]]:
    """Start API instances on one database, each with its lifespan (so its key cache on)."""
    async with AsyncExitStack() as stack:
        async def start() -> Instance:
            app = create_app(settings, database_url=db_url, clock=clock)
            await stack.enter_async_context(app.router.lifespan_context(app))
            app.state.platform.keys.ttl = 600.0  # only a notification can explain a refusal
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://wowsino.test"))
            assert app.state.platform.keys.listening
            return app, client

        yield start


def cached(app: Any, key: str) -> bool:
    return app.state.platform.keys.get(hash_key(key)) is not None


async def notified(app: Any, generation: int, seconds: float = 5.0) -> None:
    """Wait until ``app``'s cache was emptied after ``generation`` (a notification came)."""
    deadline = time.monotonic() + seconds
    while app.state.platform.keys.generation == generation:
        assert time.monotonic() < deadline, "no notification reached the other instance"
        await asyncio.sleep(0.01)


async def _tenant(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client, "acme")


async def test_a_revoked_key_is_refused_by_the_next_request_though_it_was_cached(
    instances: Callable[[], Any],
) -> None:
    app, client = await instances()
    tenant = await _tenant(client)
    extra = await create_key(client, tenant, ["*"])
    assert (await client.get("/v1/me", headers=bearer(extra["key"]))).status_code == 200
    assert cached(app, extra["key"])
    r = await client.post(f"/tenants/{tenant.id}/api-keys/{extra['id']}/revoke", headers=ADMIN)
    assert r.status_code == 200, r.text
    assert_error(await client.get("/v1/me", headers=bearer(extra["key"])), 401, "AUTH_INVALID")
    assert (await client.get("/v1/me", headers=tenant.headers())).status_code == 200


async def test_a_revocation_in_one_instance_reaches_another_through_notify(
    instances: Callable[[], Any],
) -> None:
    _first, admin = await instances()
    second, other = await instances()
    tenant = await _tenant(admin)
    extra = await create_key(admin, tenant, ["*"])
    assert (await other.get("/v1/me", headers=bearer(extra["key"]))).status_code == 200
    assert cached(second, extra["key"])
    generation = second.state.platform.keys.generation
    r = await admin.post(f"/tenants/{tenant.id}/api-keys/{extra['id']}/revoke", headers=ADMIN)
    assert r.status_code == 200, r.text
    await notified(second, generation)
    assert_error(await other.get("/v1/me", headers=bearer(extra["key"])), 401, "AUTH_INVALID")


async def test_suspending_a_tenant_and_changing_limits_reach_another_instance(
    instances: Callable[[], Any],
) -> None:
    _first, admin = await instances()
    second, other = await instances()
    tenant = await _tenant(admin)
    assert (await other.get("/v1/me", headers=tenant.headers())).status_code == 200
    generation = second.state.platform.keys.generation
    r = await admin.patch(f"/tenants/{tenant.id}", headers=ADMIN, json={"status": "suspended"})
    assert r.status_code == 200, r.text
    await notified(second, generation)
    assert_error(await other.get("/v1/me", headers=tenant.headers()), 403, "TENANT_SUSPENDED")

    generation = second.state.platform.keys.generation
    r = await admin.patch(f"/tenants/{tenant.id}", headers=ADMIN,
                          json={"status": "active", "rate_limit_burst": 1,
                                "rate_limit_per_second": 1})
    assert r.status_code == 200, r.text
    await notified(second, generation)
    assert (await other.get("/v1/me", headers=tenant.headers())).status_code == 200
    assert_error(await other.get("/v1/me", headers=tenant.headers()), 429)


async def test_a_scope_change_made_in_sql_reaches_the_cache(
    instances: Callable[[], Any], db_url: str,
) -> None:
    app, client = await instances()
    tenant = await _tenant(client)
    writer = await create_key(client, tenant, ["*"])
    payload = {"username": "alice", "email": "alice@example.com"}
    assert (await client.post("/v1/players", headers=bearer(writer["key"]),
                              json=payload)).status_code == 201
    generation = app.state.platform.keys.generation
    conn = await asyncpg.connect(plain_url(db_url))
    try:
        await conn.execute("UPDATE api_keys SET scopes = '{players:read}' WHERE id = $1::uuid",
                           writer["id"])
    finally:
        await conn.close()
    await notified(app, generation)
    r = await client.post("/v1/players", headers=bearer(writer["key"]), json=payload)
    assert_error(r, 403, "SCOPE_DENIED")


async def test_a_revocation_from_the_cli_process_reaches_a_running_instance(
    instances: Callable[[], Any], db_url: str, tmp_path: Path,
) -> None:
    app, client = await instances()
    tenant = await _tenant(client)
    extra = await create_key(client, tenant, ["*"])
    assert (await client.get("/v1/me", headers=bearer(extra["key"]))).status_code == 200
    generation = app.state.platform.keys.generation
    script = Path(sys.executable).with_name("wowsino")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "wowsino.cli"]
    env = {**os.environ, "WOWSINO_DATABASE_URL": db_url, "WOWSINO_DATA_DIR": str(tmp_path)}
    done = await asyncio.to_thread(
        subprocess.run, [*command, "keys", "revoke", "--tenant", tenant.slug, extra["id"]],
        env=env, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    await notified(app, generation)
    assert_error(await client.get("/v1/me", headers=bearer(extra["key"])), 401, "AUTH_INVALID")


async def test_without_a_notification_an_entry_lives_no_longer_than_the_ttl(
    instances: Callable[[], Any], db_url: str,
) -> None:
    app, client = await instances()
    app.state.platform.keys.ttl = 0.5
    tenant = await _tenant(client)
    extra = await create_key(client, tenant, ["*"])
    assert (await client.get("/v1/me", headers=bearer(extra["key"]))).status_code == 200
    conn = await asyncpg.connect(plain_url(db_url))
    try:  # a change that fires no trigger: as if its notification were lost
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1::uuid",
                               extra["id"])
    finally:
        await conn.close()
    await asyncio.sleep(0.6)
    assert_error(await client.get("/v1/me", headers=bearer(extra["key"])), 401, "AUTH_INVALID")


async def test_nothing_is_cached_while_the_listener_is_down(
    instances: Callable[[], Any],
) -> None:
    app, client = await instances()
    tenant = await _tenant(client)
    keys = app.state.platform.keys
    keys._listener.terminate()  # the connection drops
    for _ in range(100):
        if not keys.listening:
            break
        await asyncio.sleep(0.01)
    keys._last_attempt = time.monotonic() + 60  # and does not come back during this test
    assert (await client.get("/v1/me", headers=tenant.headers())).status_code == 200
    assert not cached(app, tenant.test_key)

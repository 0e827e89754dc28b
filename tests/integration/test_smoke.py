from __future__ import annotations

import httpx

from tests.conftest import Tenant


async def test_me_describes_the_calling_key(tenant: Tenant) -> None:
    r = await tenant.get("/v1/me")
    assert r.status_code == 200
    assert r.json() == {
        "tenant": {"slug": "acme", "service_mode": "plug_in", "key_mode": "test",
                   "scopes": ["*"]},
        "brand": {"slug": "main"},
    }
    live = await tenant.get("/v1/me", mode="live")
    assert live.json()["tenant"]["key_mode"] == "live"


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"

"""Token buckets per realm over ``/v1``: burst, refill, headers, separate worlds."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN, Tenant
from tests.integration.support import assert_error
from wowsino.kernel import ratelimit


class FrozenTime:
    """Stands in for the rate limiter's monotonic clock so refills happen only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> FrozenTime:
    fake = FrozenTime()
    monkeypatch.setattr(ratelimit, "time", fake)
    return fake


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

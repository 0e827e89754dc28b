"""``GET /v1/usage`` (scope ``usage:read``): API calls and monthly active players of the
key's own mode; only live is billable, and a test key never reads live figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.support import assert_error, create_key


async def test_usage_counts_calls_and_active_players_of_the_keys_own_mode(
    tenant: Tenant, clock: Any
) -> None:
    for name in ("ann", "bob"):
        r = await tenant.post("/v1/players", {"username": name, "email": f"{name}@x.io"},
                              mode="live")
        assert r.status_code == 201
    r = await tenant.post("/v1/players", {"username": "tess", "email": "t@x.io"})
    assert r.status_code == 201
    await tenant.get("/v1/me")

    usage = (await tenant.get("/v1/usage", mode="live")).json()
    assert usage["month"] == clock.now().strftime("%Y-%m")
    assert set(usage) == {"month", "live"}
    assert usage["live"]["monthly_active_players"] == 2
    assert usage["live"]["billable"] is True
    # two live upserts and this usage call
    assert usage["live"]["api_calls"] == 3

    test_usage = (await tenant.get("/v1/usage")).json()
    assert set(test_usage) == {"month", "test"}
    assert test_usage["test"]["monthly_active_players"] == 1
    assert test_usage["test"]["billable"] is False
    # the test upsert, /v1/me and this usage call
    assert test_usage["test"]["api_calls"] == 3

    clock.advance(timedelta(days=40))
    later = (await tenant.get("/v1/usage", mode="live")).json()
    assert later["live"]["monthly_active_players"] == 0
    assert later["live"]["api_calls"] == 1
    earlier = (await tenant.get("/v1/usage", mode="live",
                                params={"month": usage["month"]})).json()
    assert earlier["live"]["monthly_active_players"] == 2


async def test_a_test_key_never_reads_live_billing_figures(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await tenant.post("/v1/players", {"username": "ann", "email": "a@x.io"}, mode="live")
    usage = (await tenant.get("/v1/usage")).json()
    assert "live" not in usage
    assert usage["test"]["monthly_active_players"] == 0


async def test_usage_needs_the_usage_read_scope(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    reader = await create_key(client, tenant, ["players:read", "audit:read"])
    r = await client.get("/v1/usage", headers={"Authorization": f"Bearer {reader['key']}"})
    assert_error(r, 403, "SCOPE_DENIED")
    allowed = await create_key(client, tenant, ["usage:read"])
    r = await client.get("/v1/usage", headers={"Authorization": f"Bearer {allowed['key']}"})
    assert r.status_code == 200 and set(r.json()) == {"month", "test"}


async def test_usage_of_another_tenant_is_not_counted(tenant: Tenant, other_tenant: Tenant) -> None:
    await other_tenant.post("/v1/players", {"username": "zed", "email": "z@x.io"}, mode="live")
    usage = (await tenant.get("/v1/usage", mode="live")).json()
    assert usage["live"]["monthly_active_players"] == 0
    assert usage["live"]["api_calls"] == 1


async def test_a_bad_month_is_400(tenant: Tenant) -> None:
    r = await tenant.get("/v1/usage", params={"month": "2026-13"})
    assert r.status_code == 400 and r.json()["details"]["field"] == "month"

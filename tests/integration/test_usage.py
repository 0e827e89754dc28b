"""``GET /v1/usage``: API calls and monthly active players per mode; only live is billable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Tenant


async def test_usage_counts_calls_and_active_players_per_mode(tenant: Tenant, clock: Any) -> None:
    for name in ("ann", "bob"):
        r = await tenant.post("/v1/players", {"username": name, "email": f"{name}@x.io"},
                              mode="live")
        assert r.status_code == 201
    r = await tenant.post("/v1/players", {"username": "tess", "email": "t@x.io"})
    assert r.status_code == 201
    await tenant.get("/v1/me")

    usage = (await tenant.get("/v1/usage", mode="live")).json()
    assert usage["month"] == clock.now().strftime("%Y-%m")
    assert usage["live"]["monthly_active_players"] == 2
    assert usage["test"]["monthly_active_players"] == 1
    assert usage["live"]["billable"] is True and usage["test"]["billable"] is False
    # two live upserts and this usage call; two test calls before
    assert usage["live"]["api_calls"] == 3
    assert usage["test"]["api_calls"] == 2

    clock.advance(timedelta(days=40))
    later = (await tenant.get("/v1/usage", mode="live")).json()
    assert later["live"]["monthly_active_players"] == 0
    assert later["live"]["api_calls"] == 1
    earlier = (await tenant.get("/v1/usage", mode="live",
                                params={"month": usage["month"]})).json()
    assert earlier["live"]["monthly_active_players"] == 2


async def test_usage_of_another_tenant_is_not_counted(tenant: Tenant, other_tenant: Tenant) -> None:
    await other_tenant.post("/v1/players", {"username": "zed", "email": "z@x.io"}, mode="live")
    usage = (await tenant.get("/v1/usage", mode="live")).json()
    assert usage["live"]["monthly_active_players"] == 0
    assert usage["live"]["api_calls"] == 1


async def test_a_bad_month_is_400(tenant: Tenant) -> None:
    r = await tenant.get("/v1/usage", params={"month": "2026-13"})
    assert r.status_code == 400 and r.json()["details"]["field"] == "month"

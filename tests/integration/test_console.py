"""The console over ASGI: who may see it, what a refusal looks like, and that its
writes go through the domain services with whoever made them as the audited actor."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, Tenant
from tests.integration.console_support import signed_in_operator
from wowsino.api import create_app
from wowsino.kernel.config import Settings

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


async def sign_in(client: httpx.AsyncClient) -> str:
    """Sign ``client`` in; returns the CSRF token of its session."""
    r = await client.post("/admin/sign-in", data={"token": ADMIN_TOKEN})
    assert r.status_code == 303, r.text
    page = await client.get("/admin/tenants")
    assert page.status_code == 200
    match = CSRF.search(page.text)
    assert match is not None
    return match.group(1)


async def test_console_pages_redirect_to_sign_in_without_a_session(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    for path in ("/admin", "/admin/tenants", "/admin/tenants/acme",
                 "/admin/tenants/acme/test/players", "/admin/tenants/acme/live/audit",
                 "/admin/tenants/acme/test/webhooks"):
        r = await client.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/admin/sign-in?next=")
    r = await client.post("/admin/tenants/acme/status", data={"status": "suspended"})
    assert r.status_code == 303
    assert (await tenant.get("/v1/me")).status_code == 200


async def test_sign_in_follows_only_console_paths(client: httpx.AsyncClient) -> None:
    for given, expected in (("/admin/tenants/acme", "/admin/tenants/acme"),
                            ("//evil.example/admin/", "/admin/tenants"),
                            ("https://evil.example/", "/admin/tenants"),
                            ("/admin/\\evil", "/admin/tenants")):
        r = await client.post("/admin/sign-in", data={"token": ADMIN_TOKEN, "next": given})
        assert r.headers["location"] == expected, given


async def test_the_session_expires_after_twelve_hours_of_the_platform_clock(
    client: httpx.AsyncClient, clock: Any
) -> None:
    await sign_in(client)
    for _ in range(35):  # in use every 20 minutes: never idle
        clock.advance(timedelta(minutes=20))
        assert (await client.get("/admin/tenants")).status_code == 200
    clock.advance(timedelta(minutes=19))
    assert (await client.get("/admin/tenants")).status_code == 200  # 11 h 59 min
    clock.advance(timedelta(minutes=1))
    assert (await client.get("/admin/tenants")).status_code == 303


async def test_the_session_ends_after_thirty_minutes_without_a_request(
    client: httpx.AsyncClient, clock: Any
) -> None:
    await sign_in(client)
    clock.advance(timedelta(minutes=29, seconds=59))
    assert (await client.get("/admin/tenants")).status_code == 200
    clock.advance(timedelta(minutes=30))
    r = await client.get("/admin/tenants")
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/sign-in")


async def test_without_an_admin_token_nobody_can_sign_in(db_url: str, clock: Any) -> None:
    app = create_app(Settings(admin_token=None), database_url=db_url, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wowsino.test") as c:
        r = await c.post("/admin/sign-in", data={"token": ""})
        assert r.status_code == 401
        assert "WOWSINO_ADMIN_TOKEN" in r.text
    await app.state.platform.engine.dispose()


async def test_pages_forbid_framing_and_caching_and_stay_out_of_the_openapi(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/admin/sign-in")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    css = await client.get("/admin/static/console.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    paths = (await client.get("/v1/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/admin")]


async def test_a_csrf_token_from_another_session_is_refused(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await sign_in(client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wowsino.test") as other:
        other_csrf = await sign_in(other)
    r = await client.post("/admin/tenants/acme/status",
                          data={"status": "suspended", "csrf": other_csrf})
    assert r.status_code == 403
    assert "security token" in r.text
    assert (await tenant.get("/v1/me")).status_code == 200


async def test_console_writes_are_audited_as_the_platform_admin(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    csrf = await sign_in(client)
    r = await client.post(f"/admin/tenants/{tenant.slug}/status",
                          data={"csrf": csrf, "status": "suspended"})
    assert r.status_code == 303
    await client.post(f"/admin/tenants/{tenant.slug}/status", data={"csrf": csrf,
                                                                    "status": "active"})
    audit = await tenant.get("/v1/audit", params={"action": "tenant.updated"}, mode="live")
    rows = audit.json()["data"]
    assert [row["actor"] for row in rows] == [{"type": "admin", "id": "platform"}] * 2
    assert rows[1]["after"]["status"] == "suspended"


async def test_console_writes_are_audited_as_the_operator_who_made_them(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    csrf = await signed_in_operator(app, client, tenant.id, "admin")
    r = await client.post(f"/admin/tenants/{tenant.slug}/api-keys", data={
        "csrf": csrf, "name": "reports", "mode": "test", "brand": "main",
        "scope": ["players:read", "audit:read"]})
    # POST, redirect, GET: the secret is shown once on the page the redirect leads to
    assert r.status_code == 303 and r.headers["location"].endswith("notice=key-created")
    page = await client.get(r.headers["location"])
    key = re.search(r'id="new-key">(wsk_test_[0-9a-f]{48})<', page.text)
    assert key is not None
    again = await client.get(r.headers["location"])
    assert key.group(1) not in again.text and 'id="new-key"' not in again.text
    audit = await client.get("/v1/audit", params={"action": "api_key.created"},
                             headers={"Authorization": f"Bearer {key.group(1)}"})
    rows = audit.json()["data"]
    assert rows[0]["actor"]["type"] == "operator"
    assert rows[0]["after"]["scopes"] == ["audit:read", "players:read"]
    invited = await tenant.get("/v1/audit", params={"action": "operator.invited"}, mode="live")
    [invitation] = invited.json()["data"]
    assert rows[0]["actor"]["id"] == invitation["target"]["id"]
    # a carried value that is not the key's own secret is never shown
    forged = f"key:{rows[0]['target']['id']}.wsk_test_{'0' * 48}"
    client.cookies.set("wowsino_console_once", forged, path="/admin")
    page = await client.get(f"/admin/tenants/{tenant.slug}")
    assert page.status_code == 200 and "wsk_test_000" not in page.text


@pytest.mark.parametrize(("form", "status", "message"), [
    ({"slug": "acme", "name": "Again"}, 409, "is taken"),
    ({"slug": "Not A Slug", "name": "Bad"}, 400, "lowercase letters"),
    ({"slug": "fine", "name": ""}, 400, "need a name"),
])
async def test_a_refused_tenant_form_is_shown_again_with_the_reason(
    client: httpx.AsyncClient, tenant: Tenant, form: dict[str, str], status: int, message: str
) -> None:
    csrf = await sign_in(client)
    r = await client.post("/admin/tenants", data={
        "csrf": csrf, "service_mode": "plug_in", "brand_slug": "main", "brand_name": "Main",
        **form})
    assert r.status_code == status
    assert message in r.text
    assert 'name="slug"' in r.text  # the form, with what was typed
    assert "wsk_" not in r.text


async def test_unknown_tenants_modes_and_players_are_404_pages(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await signed_in_operator(app, client, tenant.id, "owner")
    for path in ("/admin/tenants/nobody", "/admin/tenants/acme/staging/players",
                 "/admin/tenants/acme/test/players/main/nobody",
                 "/admin/tenants/acme/test/players?brand=other",
                 "/admin/tenants/acme/test/webhooks/not-a-webhook"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
    r = await client.get("/admin/tenants/acme/test/players", params={"cursor": "garbage"})
    assert r.status_code == 400


async def test_test_mode_data_never_shows_in_live(
    app: Any, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await tenant.post("/v1/players", {"username": "only-in-test", "email": "t@x.io"})
    assert r.status_code == 201
    await signed_in_operator(app, client, tenant.id, "support")
    test_page = await client.get("/admin/tenants/acme/test/players")
    live_page = await client.get("/admin/tenants/acme/live/players")
    assert "only-in-test" in test_page.text and "testbanner" in test_page.text
    assert "only-in-test" not in live_page.text and "livebanner" in live_page.text

"""Structured logs: one line per request (request id, tenant, mode, route template,
status, duration), one per worker failure, readable in development and JSON in
production, and never a key, the admin token or a password."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import make_tenant
from tests.integration.support import bearer, create_player
from tests.support.receiver import receiver
from wowsino.api import create_app
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.config import Settings
from wowsino.kernel.logs import configure_logging
from wowsino.webhooks import delivery
from wowsino.worker import JOBS, Worker

FULL_KEY = re.compile(r"wsk_(live|test)_[0-9a-f]{48}")
PRODUCTION_TOKEN = "production-admin-token-" + "x" * 24


@pytest.fixture(autouse=True)
def readable_logs_after() -> Iterator[None]:
    yield
    configure_logging(json_logs=False)  # a production app configured JSON for the process


def lines_of(captured: Any) -> list[str]:
    return [line for line in (captured.out + captured.err).splitlines() if line.strip()]


async def test_one_readable_line_per_request_with_its_context(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str],
) -> None:
    tenant = await make_tenant(client, "acme")
    await create_player(tenant, "alice")
    capsys.readouterr()
    r = await client.get("/v1/players/alice", headers={**tenant.headers(),
                                                       "X-Request-Id": "trace-77"})
    assert r.status_code == 200
    missing = await client.get("/v1/me")
    lines = lines_of(capsys.readouterr())
    assert len(lines) == 2, lines
    ok, refused = lines
    for expected in ("request", "request_id=trace-77", "tenant=acme", "mode=test",
                     "route=/v1/players/{key}", "status=200", "duration_ms=", "method=GET"):
        assert expected in ok, ok
    assert "alice" not in ok  # the route template, never the raw path
    assert f"request_id={missing.headers['x-request-id']}" in refused
    assert "status=401" in refused and "tenant=" not in refused


async def test_production_logs_are_json_lines(
    db_url: str, capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(admin_token=PRODUCTION_TOKEN, env="production", log_json=True,
                        db_pool_size=2)
    app = create_app(settings, database_url=db_url, clock=ManualClock())

    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/v1/boom", boom, methods=["GET"])
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post("/tenants", headers=bearer(PRODUCTION_TOKEN), json={
                "slug": "acme", "name": "Acme", "service_mode": "plug_in",
                "brand": {"slug": "main", "name": "Main"}})
            assert r.status_code == 201, r.text
            key = r.json()["keys"]["live"]
            capsys.readouterr()
            assert (await c.get("/v1/me", headers=bearer(key))).status_code == 200
            assert (await c.get("/v1/boom")).status_code == 500
    finally:
        await app.state.platform.engine.dispose()
    records = [json.loads(line) for line in lines_of(capsys.readouterr())]
    assert len(records) == 2, records
    me, crash = records
    assert me["event"] == "request" and me["level"] == "info"
    assert {k: me[k] for k in ("tenant", "mode", "route", "status", "method")} == {
        "tenant": "acme", "mode": "live", "route": "/v1/me", "status": 200, "method": "GET"}
    assert me["request_id"].startswith("req_") and me["duration_ms"] >= 0 and me["timestamp"]
    assert crash["level"] == "error" and crash["status"] == 500
    assert crash["route"] == "/v1/boom" and "RuntimeError: boom" in crash["exception"]


async def test_one_line_per_failed_webhook_delivery_and_per_failed_job(
    app: Any, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = await make_tenant(client, "acme")
    await create_player(tenant, "alice")
    with receiver(statuses=[500]) as rx:
        r = await tenant.post("/v1/webhooks", {"url": rx.url, "events": ["*"]})
        assert r.status_code == 201, r.text
        await tenant.patch("/v1/players/alice/status", {"status": "suspended",
                                                        "reason": "checks"})
        capsys.readouterr()
        async with delivery.client() as http:
            assert await delivery.deliver_due(app.state.platform, http) == 1
    lines = lines_of(capsys.readouterr())
    assert len(lines) == 1, lines
    assert "webhook delivery failed" in lines[0] and "status_code=500" in lines[0]
    assert "event_type=" in lines[0] and "attempt=1" in lines[0]
    assert rx.url not in lines[0]  # a destination URL may carry credentials

    async def broken(platform: Any) -> int:
        raise RuntimeError("job broke")

    monkeypatch.setattr("wowsino.worker.JOBS", [("broken", broken), *JOBS])
    done = await Worker(app.state.platform).tick()
    assert "broken" not in done and "chains_sealed" in done  # the others still ran
    out = capsys.readouterr().out
    assert out.count("worker job failed") == 1 and "job=broken" in out
    assert "RuntimeError: job broke" in out


@pytest.mark.parametrize("json_logs", [False, True])
async def test_no_key_admin_token_or_password_ever_reaches_the_logs(
    db_url: str, capsys: pytest.CaptureFixture[str], json_logs: bool,
) -> None:
    app = create_app(Settings(admin_token=PRODUCTION_TOKEN, db_pool_size=2, log_json=json_logs),
                     database_url=db_url, clock=ManualClock())
    admin = bearer(PRODUCTION_TOKEN)
    secrets: list[str] = [PRODUCTION_TOKEN]

    async def boom() -> None:
        raise RuntimeError("boom")

    async def failing_statement() -> None:  # a statement error carrying a secret value
        async with app.state.platform.engine.connect() as conn:
            await conn.execute(text("SELECT CAST(:value AS integer)"), {"value": secrets[-1]})

    app.add_api_route("/v1/boom", boom, methods=["GET"])
    app.add_api_route("/v1/failing-statement", failing_statement, methods=["GET"])
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            capsys.readouterr()
            r = await c.post("/tenants", headers=admin, json={
                "slug": "acme", "name": "Acme", "service_mode": "plug_in",
                "brand": {"slug": "main", "name": "Main"}})
            created = r.json()
            live, test = created["keys"]["live"], created["keys"]["test"]
            secrets += [live, test]
            tenant_id = created["tenant"]["id"]
            r = await c.post(f"/tenants/{tenant_id}/api-keys", headers=admin, json={
                "brand": "main", "mode": "test", "scopes": ["players:read"], "name": "r"})
            reader = r.json()["api_key"]["key"]
            secrets.append(reader)
            for key in (live, test):
                r = await c.post("/v1/players", headers=bearer(key), json={
                    "username": "alice", "email": "alice@example.com"})
                assert r.status_code == 201, r.text
                r = await c.post("/v1/players/alice/adjustments", headers=bearer(key), json={
                    "rail": "real", "asset": "USD", "amount": "5.00", "reason": "welcome"})
                assert r.status_code == 201, r.text
            await c.get("/v1/players/alice", headers=bearer(reader))
            await c.post("/v1/players", headers=bearer(reader), json={"username": "bob"})
            wrong = "wsk_live_" + "0123456789abcdef" * 3
            secrets.append(wrong)
            assert (await c.get("/v1/me", headers=bearer(wrong))).status_code == 401
            assert (await c.get("/v1/me", headers=bearer(live[:-1]))).status_code == 401
            assert (await c.get("/v1/me", headers={"Authorization": live})).status_code == 401
            assert (await c.get("/tenants", headers=bearer(live))).status_code == 401
            password = "hunter2-not-the-admin-token"
            secrets.append(password)
            assert (await c.get("/tenants", headers=bearer(password))).status_code == 401
            r = await c.post("/admin/sign-in", data={"token": password})
            assert r.status_code == 401
            r = await c.post("/admin/sign-in", data={"token": PRODUCTION_TOKEN})
            assert r.status_code == 303
            secrets.append(c.cookies["wowsino_console"])
            page = await c.get(f"/admin/tenants/{tenant_id}")
            csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
            assert csrf is not None
            r = await c.post(f"/admin/tenants/{tenant_id}/owner",
                             data={"csrf": csrf.group(1), "email": "owner@example.com"})
            link = re.search(r'/admin/invitations/([^<"]+)',
                             (await c.get(r.headers["location"])).text)
            assert link is not None
            operator_password = "an operator's own secret password"
            secrets += [link.group(1), operator_password]
            r = await c.post(f"/admin/invitations/{link.group(1)}", data={
                "password": operator_password, "confirm": operator_password})
            assert r.status_code == 303
            c.cookies.clear()
            r = await c.post("/admin/sign-in", data={"email": "owner@example.com",
                                                     "password": operator_password})
            assert r.status_code == 303
            secrets.append(c.cookies["wowsino_console"])
            await c.get("/admin/account")
            await c.post("/admin/sign-in", data={"email": "owner@example.com",
                                                 "password": operator_password + "!"})
            await c.post(f"/tenants/{tenant_id}/api-keys/not-a-uuid/revoke", headers=admin)
            await c.get("/v1/boom", headers=bearer(live))
            assert (await c.get("/v1/failing-statement")).status_code == 500
            await c.get("/v1/players", headers={**bearer(test), "X-Request-Id": "x" * 500})
    finally:
        await app.state.platform.engine.dispose()
    logged = "\n".join(lines_of(capsys.readouterr()))
    assert "status=500" in logged or '"status": 500' in logged
    for secret in secrets:
        assert secret not in logged, f"a secret reached the logs: {secret[:12]}…"
    assert not FULL_KEY.search(logged)
    # a key's hint (prefix and last four) is no secret, but the hex body never appears
    for key in secrets[1:4]:
        assert key[9:40] not in logged

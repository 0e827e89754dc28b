"""The platform admin credential: failed authentications are throttled per client address,
a production token must be strong, and console sessions end on the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.integration.support import assert_error
from tests.integration.test_console import sign_in
from wowsino.api import create_app
from wowsino.cli import app as cli_app
from wowsino.console.auth import COOKIE
from wowsino.kernel.admin import LOCKOUT_SECONDS, MAX_FAILURES, WeakAdminToken
from wowsino.kernel.config import Settings

WRONG = {"Authorization": "Bearer not-the-admin-token"}


@asynccontextmanager
async def client_from(app: Any, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000),
                                    raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://wowsino.test") as c:
        yield c


async def test_repeated_wrong_admin_tokens_lock_the_address_out_with_retry_after(
    app: Any, clock: Any
) -> None:
    async with client_from(app, "203.0.113.7") as attacker, \
            client_from(app, "198.51.100.20") as admin:
        for _ in range(MAX_FAILURES):
            assert_error(await attacker.get("/tenants", headers=WRONG), 401, "AUTH_INVALID")
        locked = await attacker.get("/tenants", headers=WRONG)
        assert_error(locked, 429, "RATE_LIMIT")
        assert 0 < int(locked.headers["retry-after"]) <= LOCKOUT_SECONDS
        # even the right token is refused from the locked-out address ...
        assert_error(await attacker.get("/tenants", headers=ADMIN), 429, "RATE_LIMIT")
        # ... while another address authenticates as usual
        assert (await admin.get("/tenants", headers=ADMIN)).status_code == 200
        clock.advance(timedelta(seconds=LOCKOUT_SECONDS))
        assert (await attacker.get("/tenants", headers=ADMIN)).status_code == 200


async def test_an_ipv6_client_is_throttled_by_its_64(app: Any) -> None:
    async with client_from(app, "2001:db8:1:2::10") as first, \
            client_from(app, "2001:db8:1:2::99") as same_block, \
            client_from(app, "2001:db8:1:3::10") as other_block:
        for _ in range(MAX_FAILURES):
            await first.get("/tenants", headers=WRONG)
        assert_error(await same_block.get("/tenants", headers=ADMIN), 429, "RATE_LIMIT")
        assert (await other_block.get("/tenants", headers=ADMIN)).status_code == 200


async def test_a_success_clears_the_address_failures(app: Any) -> None:
    async with client_from(app, "203.0.113.8") as c:
        for _ in range(MAX_FAILURES - 1):
            await c.get("/tenants", headers=WRONG)
        assert (await c.get("/tenants", headers=ADMIN)).status_code == 200
        for _ in range(MAX_FAILURES - 1):
            await c.get("/tenants", headers=WRONG)
        assert (await c.get("/tenants", headers=ADMIN)).status_code == 200


async def test_console_sign_in_failures_lock_out_with_a_429_page(app: Any) -> None:
    async with client_from(app, "203.0.113.9") as attacker, \
            client_from(app, "198.51.100.21") as admin:
        for _ in range(MAX_FAILURES - 1):
            r = await attacker.post("/admin/sign-in", data={"token": "guess"})
            assert r.status_code == 401
        # the same credential: failures on /tenants count towards the same lockout
        await attacker.get("/tenants", headers=WRONG)
        r = await attacker.post("/admin/sign-in", data={"token": ADMIN_TOKEN})
        assert r.status_code == 429
        assert "text/html" in r.headers["content-type"]
        assert "Too many failed sign-ins" in r.text
        assert int(r.headers["retry-after"]) > 0
        assert COOKIE not in r.headers.get("set-cookie", "")
        await sign_in(admin)


def test_a_short_admin_token_is_refused_in_production(db_url: str) -> None:
    weak = Settings(admin_token="x" * 31, env="production")
    with pytest.raises(WeakAdminToken, match="at least 32"):
        create_app(weak, database_url=db_url)
    create_app(Settings(admin_token="x" * 31), database_url=db_url)  # development: allowed
    strong = create_app(Settings(admin_token="x" * 32, env="production"), database_url=db_url)
    assert strong.state.platform.settings.production


def test_serve_refuses_to_start_with_a_short_token_in_production(tmp_path: Any) -> None:
    result = CliRunner().invoke(cli_app, ["serve"], env={
        "WOWSINO_ENV": "production", "WOWSINO_ADMIN_TOKEN": "short-token",
        "WOWSINO_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "WOWSINO_ADMIN_TOKEN" in result.output and "at least 32" in result.output
    assert not (tmp_path / "pgdata").exists()


async def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(
    app: Any, client: httpx.AsyncClient
) -> None:
    csrf = await sign_in(client)
    copied = client.cookies.get(COOKIE)
    assert copied
    r = await client.post("/admin/sign-out", data={"csrf": csrf})
    assert r.status_code == 303
    async with client_from(app, "127.0.0.1") as thief:
        thief.cookies.set(COOKIE, copied)
        r = await thief.get("/admin/tenants")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/admin/sign-in")


async def test_changing_the_admin_token_ends_every_session_for_good(
    db_url: str, clock: Any
) -> None:
    async def console_answers(token: str, cookie: str) -> int:
        application = create_app(Settings(admin_token=token), database_url=db_url, clock=clock)
        try:
            async with client_from(application, "127.0.0.1") as c:
                c.cookies.set(COOKIE, cookie)
                return (await c.get("/admin/tenants")).status_code
        finally:
            await application.state.platform.engine.dispose()

    first = create_app(Settings(admin_token="token-one"), database_url=db_url, clock=clock)
    async with client_from(first, "127.0.0.1") as c:
        r = await c.post("/admin/sign-in", data={"token": "token-one"})
        assert r.status_code == 303
        cookie = c.cookies.get(COOKIE)
        assert (await c.get("/admin/tenants")).status_code == 200
    await first.state.platform.engine.dispose()
    assert cookie
    assert await console_answers("token-one", cookie) == 200  # a restart keeps it
    # the server starts with another token (and nobody opens the console)
    second = create_app(Settings(admin_token="token-two"), database_url=db_url, clock=clock)
    async with second.router.lifespan_context(second):
        pass
    # the old token is back, but its sessions were ended when the token changed
    assert await console_answers("token-one", cookie) == 303

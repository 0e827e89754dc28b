"""While PostgreSQL is down: requests that need it answer 503 SERVICE_UNAVAILABLE with
one log line each (no traceback), the worker logs one line per failed job, usage
counts wait for the next flush; once it is back the same process serves again; and a
shutdown with it down completes, saying how many counted calls it could not save.
Runs on a private embedded server that the test stops and starts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_TOKEN, make_tenant
from tests.integration.support import adjust, assert_error, create_player
from wowsino.api import create_app
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.config import Settings
from wowsino.kernel.db import create_engine, migrate
from wowsino.kernel.embedded import EmbeddedPostgres
from wowsino.worker import Worker


class Lifespan:
    """Drives the ASGI lifespan protocol the way a server does."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self.to_app.get, self.from_app.put))
        await self.to_app.put({"type": "lifespan.startup"})
        assert (await self.from_app.get())["type"] == "lifespan.startup.complete"

    async def shutdown(self) -> str:
        """Ask the app to shut down; returns the message type it answers."""
        assert self.task is not None
        await self.to_app.put({"type": "lifespan.shutdown"})
        answer = await asyncio.wait_for(self.from_app.get(), 30)
        await asyncio.gather(self.task, return_exceptions=True)
        return str(answer["type"])


@pytest.fixture
async def private_server(tmp_path: Path) -> AsyncIterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "pg", durable=False)
    url = await asyncio.to_thread(server.start)
    engine = create_engine(url, pool_size=1)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def log_lines(captured: Any) -> list[str]:
    return [line for line in (captured.out + captured.err).splitlines() if line.strip()]


async def test_with_the_database_down_requests_answer_503_and_shutdown_completes(
    private_server: EmbeddedPostgres, capsys: pytest.CaptureFixture[str],
) -> None:
    # usage counts are flushed here by hand (what a worker or the periodic flush does)
    app = create_app(Settings(admin_token=ADMIN_TOKEN, db_pool_size=2),
                     database_url=private_server.url, clock=ManualClock(),
                     usage_flush_seconds=None)
    lifespan = Lifespan(app)
    await lifespan.startup()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://wowsino.test") as client:
        tenant = await make_tenant(client, "acme")
        await create_player(tenant, "alice")
        assert (await adjust(tenant, "alice", "5.00")).status_code == 201
        assert (await client.post("/admin/sign-in", data={"token": ADMIN_TOKEN})
                ).status_code == 303
        counted = app.state.platform.usage.pending
        assert counted >= 2

        await asyncio.to_thread(private_server.stop)
        # the key cache stops serving once its listening connection is seen to close (the
        # server's goodbye is read by the event loop, a moment after the stop returns)
        for _ in range(100):
            if not app.state.platform.keys.listening:
                break
            await asyncio.sleep(0.05)
        assert not app.state.platform.keys.listening
        capsys.readouterr()
        requests = [
            lambda: tenant.get("/v1/me"),
            lambda: tenant.get("/v1/players"),
            lambda: tenant.post("/v1/players", {"username": "bob", "email": "b@example.com"}),
            lambda: adjust(tenant, "alice", "1.00", key="during-outage"),
            lambda: client.get("/tenants", headers=ADMIN),
            lambda: client.get("/admin/tenants"),
        ]
        for _ in range(2):  # first on pooled connections that died, then on refused ones
            for send in requests:
                r = await send()
                assert_error(r, 503, "SERVICE_UNAVAILABLE")
                assert r.headers["x-request-id"]
                assert "safe to retry" in r.json()["error"]
        assert_error(await client.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
        lines = log_lines(capsys.readouterr())
        assert len(lines) == 2 * len(requests) + 1, "\n".join(lines)
        assert not any("Traceback" in line for line in lines), "\n".join(lines)
        assert all("database unavailable" in line for line in lines[:-1]), "\n".join(lines)

        done = await Worker(app.state.platform).tick()
        assert done == {}
        lines = log_lines(capsys.readouterr())
        assert len(lines) == 1, "\n".join(lines)  # the pass stops at the first outage
        assert "worker job failed" in lines[0] and "database unavailable" in lines[0]
        assert "job=" in lines[0]
        assert app.state.platform.usage.pending == counted  # kept for the next flush

        await restart_on_the_same_port(private_server)
        assert (await tenant.get("/v1/me")).status_code == 200
        retried = await adjust(tenant, "alice", "1.00", key="during-outage")
        assert retried.status_code == 201, retried.text  # it never happened during the outage
        assert (await tenant.get("/v1/players/alice")).json()["player"]["balances"][
            "real"]["USD"] == 6
        # the counts kept through the outage, and the three calls since
        assert await app.state.platform.usage.flush(app.state.platform.engine) == counted + 3

        assert (await tenant.get("/v1/me")).status_code == 200  # counted, not saved yet
        await asyncio.to_thread(private_server.stop)
        # the key cache stops serving once its listening connection is seen to close (the
        # server's goodbye is read by the event loop, a moment after the stop returns)
        for _ in range(100):
            if not app.state.platform.keys.listening:
                break
            await asyncio.sleep(0.05)
        assert not app.state.platform.keys.listening
        capsys.readouterr()

    assert await lifespan.shutdown() == "lifespan.shutdown.complete"
    lines = log_lines(capsys.readouterr())
    assert len(lines) == 1, "\n".join(lines)
    assert "usage counts not saved" in lines[0]
    assert "unsaved_calls=1" in lines[0]


async def restart_on_the_same_port(server: EmbeddedPostgres) -> None:
    """Start the stopped server again where the app's engine points."""
    port = server.port
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("wowsino.kernel.embedded._free_port", lambda: port)
        await asyncio.to_thread(server.start)
    assert server.port == port

"""Reads from a real streaming replica: served there while it keeps up, never behind the
caller's own writes, never beyond the staleness bound, and from the primary when it is
down.

The replica is a second embedded ``postgres`` streaming from a primary of this module's
own (``tests/support/replication.py``). Which server answered is told by
``X-Read-Source``, and proved by values only the paused replica can still show.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, Tenant, make_tenant
from tests.integration.console_support import signed_in_operator
from tests.integration.crm_support import segment
from tests.integration.support import adjust, assert_validation, bearer, create_key, create_player
from tests.integration.tournament_support import make_tournament
from tests.integration.wl_support import make_white_label, player_session
from tests.support.replication import (
    StreamingPair,
    pause_replay,
    replica_execute,
    resume_replay,
)
from wowsino.api import create_app
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.config import Settings

pytestmark = pytest.mark.integration

MAX_LAG_MS = 3000  # wide enough that a slow machine still reads the paused replica at once
_slugs = itertools.count()


@pytest.fixture(scope="module")
def pair() -> Iterator[StreamingPair]:
    with tempfile.TemporaryDirectory(prefix="wowsino-replica-") as root:
        servers = StreamingPair(Path(root))
        try:
            servers.start()
            yield servers
        finally:
            servers.stop()


@pytest.fixture
async def api(pair: StreamingPair) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = Settings(admin_token=ADMIN_TOKEN, db_pool_size=4, rate_limit_burst=100_000,
                        replica_urls=(pair.replica_url,), replica_max_lag_ms=MAX_LAG_MS)
    app = create_app(settings, database_url=pair.primary_url, clock=ManualClock())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=transport, base_url="http://wowsino.test") as client:
        yield app, client
    await resume_replay(pair)  # a failed test leaves the next one a replica that replays


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        await asyncio.sleep(0.02)


def source(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.headers["x-read-source"]


def replica_answered(response: httpx.Response) -> bool:
    """A 200 from the replica. Another caller than the writer may find on the replica no
    player yet (bounded staleness): a 404 from there is a reason to wait, not a failure."""
    if response.status_code == 404 and response.headers.get("x-read-source") == "replica":
        return False
    return source(response) == "replica"


async def tenant_with_reader(client: httpx.AsyncClient, service_mode: str = "plug_in"
                             ) -> tuple[Tenant, dict[str, str]]:
    """A tenant (its test key writes) and a second key of the same realm that only reads."""
    tenant = await make_tenant(client, f"replica{next(_slugs)}", service_mode)
    reader = await create_key(client, tenant, ["players:read"], name="reader")
    return tenant, bearer(reader["key"])


async def replica_reader(client: httpx.AsyncClient, name: str
                         ) -> tuple[dict[str, str], Callable[[], Awaitable[bool]]]:
    """A reader key of a new tenant with player ``name``, once the reader's reads of that
    player come from the replica; the reader's headers and that check."""
    tenant, reader = await tenant_with_reader(client)
    await create_player(tenant, name, currency="USD")

    async def on_replica() -> bool:
        return replica_answered(await client.get(f"/v1/players/{name}", headers=reader))

    await until(on_replica)
    return reader, on_replica


def real_usd(response: httpx.Response) -> int:
    return int(response.json()["player"]["balances"]["real"]["USD"])


async def test_the_writer_reads_its_write_while_others_read_the_replica_within_the_bound(
    pair: StreamingPair, api: tuple[Any, httpx.AsyncClient],
) -> None:
    _, client = api
    tenant, reader = await tenant_with_reader(client)
    await create_player(tenant, "alice", currency="USD")
    dossier = "/v1/players/alice"

    async def reader_on_replica() -> bool:
        return replica_answered(await client.get(dossier, headers=reader))

    await until(reader_on_replica)  # the replica keeps up: reads go there

    await pause_replay(pair)
    r = await adjust(tenant, "alice", 10)
    assert r.status_code == 201, r.text  # the write's own answer: built in its transaction
    written = time.monotonic()

    # the writer's next read shows its write: the paused replica lacks it, the primary serves
    mine = await tenant.get(dossier)
    assert (source(mine), real_usd(mine)) == ("primary", 10)

    # another caller reads the replica as it was, within the bound
    theirs = await client.get(dossier, headers=reader)
    assert (source(theirs), real_usd(theirs)) == ("replica", 0)

    # ... and not beyond it: once the replica is more than the bound behind, the primary
    async def reader_on_primary() -> bool:
        began = time.monotonic()
        r = await client.get(dossier, headers=reader)
        if source(r) == "replica":
            assert real_usd(r) == 0
            assert began < written + MAX_LAG_MS / 1000, "a replica beyond the bound was used"
            return False
        assert real_usd(r) == 10
        return True

    await until(reader_on_primary, MAX_LAG_MS / 1000 + 10)
    again = await tenant.get(dossier)
    assert (source(again), real_usd(again)) == ("primary", 10)

    await resume_replay(pair)

    async def both_on_replica() -> bool:
        mine, theirs = await tenant.get(dossier), await client.get(dossier, headers=reader)
        # whoever reads the replica now sees the write: it has replayed past it
        for r in (mine, theirs):
            if source(r) == "replica":
                assert real_usd(r) == 10
        return source(mine) == source(theirs) == "replica"

    await until(both_on_replica)


async def test_every_routed_read_runs_on_the_replica(
    pair: StreamingPair, api: tuple[Any, httpx.AsyncClient],
) -> None:
    """Each routed endpoint runs read-only on a hot standby (a write there would fail)."""
    app, client = api
    tenant = await make_white_label(client, f"replica{next(_slugs)}")
    await create_player(tenant, "bob", currency="USD")
    player = await player_session(tenant, "dave")
    made = await segment(tenant, "min_vip_level = 0")
    tournament = await make_tournament(tenant, app.state.platform.clock)
    raffle = await tenant.post("/v1/raffles", {"name": "Weekly", "ticket_cost_winz": 10,
                                               "prize_winz": 700})
    assert raffle.status_code == 201, raffle.text
    raffle_id = raffle.json()["raffle"]["id"]
    operator = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://wowsino.test")
    await signed_in_operator(app, operator, tenant.id, "analyst")
    paths = [
        "/v1/players", "/v1/players/bob", "/v1/players/bob/timeline", "/v1/players/bob/ledger",
        "/v1/players/bob/balances/real/USD/explain", "/v1/players/bob/bonuses",
        "/v1/players/bob/vip", "/v1/players/bob/journeys", "/v1/players/bob/transactions",
        "/v1/bonus-templates", "/v1/lootbox", "/v1/mini-games", "/v1/raffles", "/v1/jackpots",
        "/v1/tournaments", f"/v1/tournaments/{tournament['id']}/leaderboard",
        "/v1/segments", f"/v1/segments/{made['id']}/preview",
    ]
    # the player API's listings, leaderboard and the player's own lists
    player_paths = [f"/v1/player/{p}" for p in (
        "bonuses", "vip", "journeys", "lootboxes", "mini-games", "raffles",
        f"raffles/{raffle_id}/entries", "tournaments",
        f"tournaments/{tournament['id']}/leaderboard", "jackpots", "transactions",
        "withdrawals")]
    await until(lambda: _all_on_replica(tenant, operator, paths, player, player_paths))
    await operator.aclose()


async def _all_on_replica(tenant: Tenant, operator: httpx.AsyncClient, paths: list[str],
                          player: dict[str, str], player_paths: list[str]) -> bool:
    # the writer's own reads too, once the replica has replayed past its writes
    sources = {path: source(await tenant.get(path)) for path in paths}
    for path in player_paths:
        sources[path] = source(await tenant.client.get(path, headers=player))
    sources["dashboard"] = source(
        await operator.get(f"/admin/tenants/{tenant.slug}/test/dashboard"))
    return set(sources.values()) == {"replica"}


async def test_a_caller_asks_for_strong_reads_and_a_bad_value_is_refused(
    api: tuple[Any, httpx.AsyncClient],
) -> None:
    app, client = api
    reader, _ = await replica_reader(client, "carol")
    strong = await client.get("/v1/players/carol",
                              headers={**reader, "X-Read-Consistency": "strong"})
    assert source(strong) == "primary"
    bounded = await client.get("/v1/players/carol",
                               headers={**reader, "X-Read-Consistency": "bounded"})
    assert source(bounded) == "replica"
    bad = await client.get("/v1/players/carol",
                           headers={**reader, "X-Read-Consistency": "fresh"})
    assert_validation(bad, "X-Read-Consistency")
    metrics = (await client.get("/metrics")).text
    name = app.state.platform.reads.replicas[0].name
    assert f'wowsino_read_replica_up{{replica="{name}"}} 1.0' in metrics
    assert f'wowsino_read_replica_staleness_seconds{{replica="{name}"}}' in metrics
    assert 'wowsino_routed_reads_total{source="replica"}' in metrics


async def test_reads_succeed_from_the_primary_while_the_replica_is_down(
    pair: StreamingPair, api: tuple[Any, httpx.AsyncClient],
) -> None:
    app, client = api
    # pooled connections to the replica are open once its reads come from there
    reader, on_replica = await replica_reader(client, "dave")
    pair.stop_replica()
    try:
        for _ in range(20):  # the first ones find the pool's connections dead
            r = await client.get("/v1/players/dave", headers=reader)
            assert source(r) == "primary"
        assert not app.state.platform.reads.replicas[0].up
    finally:
        await pair.start_replica()
    await until(on_replica)  # probed again, back in rotation


async def test_a_read_that_fails_on_the_replica_is_answered_from_the_primary(
    pair: StreamingPair, api: tuple[Any, httpx.AsyncClient],
) -> None:
    _, client = api
    reader, on_replica = await replica_reader(client, "erin")
    # the replica still answers its probes (pg_catalog is always searched) and keeps up,
    # but no statement of a read finds its tables there any more
    await replica_execute(pair, "ALTER SYSTEM SET search_path = 'no_such_schema'")
    await replica_execute(pair, "SELECT pg_reload_conf()")
    try:
        for _ in range(3):
            r = await client.get("/v1/players/erin", headers=reader)
            assert source(r) == "primary"
            assert r.json()["player"]["username"] == "erin"
    finally:
        await replica_execute(pair, "ALTER SYSTEM RESET search_path")
        await replica_execute(pair, "SELECT pg_reload_conf()")
    await until(on_replica)


async def test_read_your_writes_holds_across_the_api_processes_of_serve(
    pair: StreamingPair, tmp_path: Path,
) -> None:
    """``serve --workers 2`` on the primary with the replica, and connections held open to
    each of its two processes (which process accepted which is read from the
    processes' sockets). With the replica's replay paused, a credit written through one
    process is seen by the writer's next read through the other, from the primary; a
    reader that did not write reads the paused replica there, within the bound."""
    import os

    import psutil

    from tests.integration.test_processes import STARTUP, running
    from tests.support.live_server import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "WOWSINO_DATABASE_URL": pair.primary_url,
           "WOWSINO_ADMIN_TOKEN": ADMIN_TOKEN, "WOWSINO_DATA_DIR": str(tmp_path / "data"),
           "WOWSINO_REPLICA_URLS": pair.replica_url, "WOWSINO_REPLICA_MAX_LAG_MS": "600000",
           "PYTHONUNBUFFERED": "1"}
    args = ["serve", "--workers", "2", "--no-worker", "--host", "127.0.0.1",
            "--port", str(port)]

    async def answering() -> bool:
        try:
            async with httpx.AsyncClient(base_url=base, timeout=5) as http:
                return (await http.get("/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    def owner(parent: int, response: httpx.Response) -> int:
        """The API process holding the connection ``response`` came on."""
        local = response.extensions["network_stream"].get_extra_info("socket").getsockname()
        for child in psutil.Process(parent).children():
            with contextlib.suppress(psutil.Error):
                if any(c.raddr and c.raddr.port == local[1]
                       for c in child.net_connections(kind="tcp")):
                    return int(child.pid)
        raise AssertionError(f"no process holds the connection from port {local[1]}")

    with running(args, env, tmp_path / "serve.log") as parent:
        await until(answering, STARTUP)
        by_process: dict[int, httpx.AsyncClient] = {}
        opened = []
        for _ in range(20):  # connections at once, until both processes hold one
            batch = [httpx.AsyncClient(base_url=base, timeout=30) for _ in range(8)]
            opened += batch
            answers = await asyncio.gather(*(c.get("/readyz") for c in batch))
            for c, r in zip(batch, answers, strict=True):
                by_process.setdefault(owner(parent.pid, r), c)
            if len(by_process) == 2:
                break
        try:
            assert len(by_process) == 2, "every connection went to one process"
            one, other = by_process.values()
            tenant = await make_tenant(one, f"replica{next(_slugs)}")
            await create_player(tenant, "erin", currency="USD")
            reader = bearer((await create_key(one, tenant, ["players:read"]))["key"])

            async def on_replica() -> bool:
                answers = [await c.get("/v1/players/erin", headers=reader)
                           for c in (one, other)]
                return all(replica_answered(r) for r in answers)

            await until(on_replica, 30)
            await pause_replay(pair)
            try:
                for credit in range(1, 4):
                    assert (await adjust(tenant, "erin", 1)).status_code == 201  # via one
                    mine = await other.get("/v1/players/erin", headers=tenant.headers())
                    assert (source(mine), real_usd(mine)) == ("primary", credit), credit
                    theirs = await other.get("/v1/players/erin", headers=reader)
                    assert (source(theirs), real_usd(theirs)) == ("replica", 0), credit
            finally:
                await resume_replay(pair)
        finally:
            for c in opened:
                await c.aclose()

"""Several processes, one truth: real ``wowsino worker`` and ``wowsino serve`` processes
on one database.

Three workers against the same due raffles, tournaments, bonuses, campaign runs, VIP
cashback and webhook deliveries do each thing once; a worker killed mid-delivery loses
its claims when the lease runs out and another sends them, once; a worker stopped with
SIGTERM hands its claims back at once; an API process stopped with SIGTERM finishes the request in
flight and exits 0; ``serve --workers 2`` runs two API processes and one worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest
from typer.testing import CliRunner

from tests.conftest import ADMIN_TOKEN, Tenant
from tests.integration.bonus_support import grant, template
from tests.integration.crm_support import campaign, segment
from tests.integration.support import create_player
from tests.integration.tournament_support import make_tournament, wager
from tests.integration.vip_support import BRONZE, SILVER, configure
from tests.integration.vip_support import wager as vip_wager
from tests.support.live_server import free_port
from tests.support.receiver import receiver
from wowsino.kernel.clock import ManualClock, iso
from wowsino.kernel.db import plain_url

DEADLINE = 25.0  # seconds any one wait may take
STARTUP = 90.0  # seconds a process may take to start on a busy machine
STOP_DEADLINE = 40.0  # seconds the children of a killed serve may take to stop
SETUP = timedelta(seconds=15)  # writing what three workers then find due at once


@pytest.fixture
def clock() -> ManualClock:
    """The API's clock, from the wall clock's time (the workers run on the wall clock);
    a test sets it to write what falls due when it chooses."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


def _env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "WOWSINO_DATABASE_URL": db_url, "WOWSINO_ADMIN_TOKEN": ADMIN_TOKEN,
            "WOWSINO_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1", **extra}


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``wowsino <args>`` as a subprocess (output to ``log``); if still running at the
    end, stopped with SIGTERM (so it stops its own children), killed with its children
    if that takes over 30 s."""
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "wowsino.cli", *args], env=env,
                                   stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with suppress(psutil.Error):
                    for child in psutil.Process(process.pid).children(recursive=True):
                        child.kill()
                process.kill()
        process.wait(timeout=10)


@contextmanager
def workers(count: int, env: dict[str, str], tmp_path: Path, *, first: int = 0
            ) -> Iterator[list[subprocess.Popen[bytes]]]:
    with ExitStack() as stack:
        yield [stack.enter_context(running(["worker"], env, tmp_path / f"worker-{i}.log"))
               for i in range(first, first + count)]


async def listening(db_url: str, count: int) -> None:
    """Wait until ``count`` workers listen for deliveries (they have started)."""
    async def check() -> bool:
        return await scalar(db_url, "SELECT count(*) FROM pg_stat_activity WHERE query "
                                    "LIKE 'LISTEN %' AND datname = current_database()"
                            ) >= count

    await until(check, f"{count} workers to start", deadline=STARTUP)


async def until(check: Callable[[], Awaitable[bool]], what: str,
                deadline: float = DEADLINE) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``deadline`` seconds."""
    ends = time.monotonic() + deadline
    while not await check():
        assert time.monotonic() < ends, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def scalar(db_url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(plain_url(db_url))
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def rows(db_url: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(plain_url(db_url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _subscribe(tenant: Tenant, url: str) -> None:
    r = await tenant.post("/v1/webhooks", {"url": url, "events": ["*"]})
    assert r.status_code == 201, r.text


@dataclass
class AlreadyDue:
    """What is due before the workers start: campaigns at a past scheduled time, and
    yesterday's VIP cashback."""

    slot: datetime  # the campaigns' scheduled time, two minutes ago
    campaigns: list[str]
    members: list[str]  # the ids of the players in the campaigns' segment
    day: date  # yesterday (UTC), the cashback period that has ended
    losers: list[str]  # the ids of the players who lost real money that day
    winner: str


async def _already_due(tenant: Tenant, clock: ManualClock) -> AlreadyDue:
    """Written before any worker runs: a slot or a period that ends while the workers
    run is a whole minute or a local midnight, too far off for a test to wait for."""
    now = datetime.now(UTC)
    slot = now.replace(second=0, microsecond=0) - timedelta(minutes=2)
    clock.set(now - timedelta(days=1))  # the programme and the wagers: yesterday
    await configure(tenant, cashback_as="real", timezone="UTC", cashback_period="daily",
                    levels=[{**BRONZE, "cashback_pct": 10},
                            {**SILVER, "xp_required": 100_000}])
    losers = [(await create_player(tenant, f"loser{i}"))["user_id"] for i in range(3)]
    winner = (await create_player(tenant, "winner"))["user_id"]
    for i in range(3):
        await vip_wager(tenant, f"lost{i}", "10.00", user=f"loser{i}")
    await vip_wager(tenant, "won", "10.00", user="winner", win_amount="30.00")
    clock.set(slot - timedelta(minutes=1))  # the campaigns' next run: ``slot``
    members = [(await create_player(tenant, f"member{i}", country_code="MT"))["user_id"]
               for i in range(3)]
    maltese = (await segment(tenant, "country_code = 'MT'"))["id"]
    daily = {"cron": f"{slot.minute} {slot.hour} * * *", "tz": "UTC"}
    campaigns = [(await campaign(tenant, maltese, {"type": "grant_winz", "amount": amount},
                                 daily))["id"] for amount in (100, 7)]
    return AlreadyDue(slot, campaigns, members, (now - timedelta(days=1)).date(), losers,
                      winner)


async def _assert_done_once(db_url: str, due: AlreadyDue) -> None:
    """One run per campaign for its slot, one grant per member and run; one cashback per
    loser for yesterday, none for the winner."""
    runs = await rows(db_url, "SELECT id, campaign_id, scheduled_for, status, granted "
                              "FROM crm_runs")
    assert sorted((str(r["campaign_id"]), r["scheduled_for"], r["status"], r["granted"])
                  for r in runs) == sorted((c, due.slot, "completed", len(due.members))
                                           for c in due.campaigns)
    results = await rows(db_url, "SELECT run_id, player_id, outcome FROM crm_run_results")
    assert sorted((str(r["run_id"]), str(r["player_id"]), r["outcome"]) for r in results) == \
        sorted((str(run["id"]), member, "granted") for run in runs for member in due.members)
    grants = await rows(db_url, (
        "SELECT e.ref_id, a.owner_key, count(*) AS n FROM ledger_entries e "
        "JOIN ledger_postings p ON p.tenant_id = e.tenant_id AND p.entry_id = e.id "
        "JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id "
        "WHERE e.kind = 'campaign.grant' AND a.owner_type = 'player' GROUP BY 1, 2"))
    assert Counter({(r["ref_id"], r["owner_key"]): r["n"] for r in grants}) == Counter(
        {(str(run["id"]), member): 1 for run in runs for member in due.members})
    paid = await rows(db_url, "SELECT player_id, period_start, outcome, amount "
                              "FROM vip_cashback")
    assert sorted((str(r["player_id"]), r["outcome"], r["amount"]) for r in paid
                  if r["period_start"] == due.day) == sorted(
        (loser, "granted", 100) for loser in due.losers)  # 10 % of 10.00 lost
    cashback = await rows(db_url, "SELECT ref_id, metadata->>'period_start' AS period, "
                                  "count(*) AS n FROM ledger_entries "
                                  "WHERE kind = 'vip.cashback' GROUP BY 1, 2")
    assert {(r["ref_id"], r["period"]) for r in cashback} >= {
        (loser, due.day.isoformat()) for loser in due.losers}
    assert all(r["n"] == 1 for r in cashback), cashback  # once per player and period
    assert len(cashback) == sum(r["outcome"] == "granted" for r in paid)
    assert due.winner not in {str(r["player_id"]) for r in paid}


async def test_three_workers_do_each_due_thing_once(
    tenant: Tenant, clock: ManualClock, db_url: str, tmp_path: Path
) -> None:
    players = [f"p{i}" for i in range(6)]
    already = await _already_due(tenant, clock)  # the workers race for it from the start
    with receiver() as rx, workers(3, _env(db_url, tmp_path), tmp_path):
        # everything falls due at once, once it is all written and the workers are up
        due = datetime.now(UTC).replace(microsecond=0) + SETUP
        clock.set(due - SETUP)
        await _subscribe(tenant, rx.url)
        for name in players:
            await create_player(tenant, name)
        raffles = []
        for i in range(5):
            r = await tenant.post("/v1/raffles", {"name": f"Raffle {i}", "ticket_cost_winz": 0,
                                                  "prize_winz": 50, "draw_at": iso(due)})
            assert r.status_code == 201, r.text
            raffles.append(r.json()["raffle"]["id"])
            for name in players[i % 3:i % 3 + 3]:
                entered = await tenant.post(f"/v1/raffles/{raffles[-1]}/enter",
                                            {"user_id": name, "tickets": 1})
                assert entered.status_code == 201, entered.text
        tournaments = [(await make_tournament(
            tenant, clock, name=f"Race {i}", starts_at=iso(due - timedelta(hours=1)),
            ends_at=iso(due)))["id"] for i in range(3)]
        for i, name in enumerate(players[:4]):
            await wager(tenant, name, f"w{i}", str(10 + i))  # every tournament: 4 entrants
        expiring = await template(tenant, wagering_multiple=10, expires_in_hours=1)
        clock.set(due - timedelta(hours=1))  # granted an hour before ``due``: expire then
        bonuses = [(await grant(tenant, expiring["id"], user=name))["bonus"]["id"]
                   for name in players]
        assert datetime.now(UTC) < due, "the set-up took longer than SETUP"
        await listening(db_url, 3)  # all three contend for what falls due

        async def all_done() -> bool:
            return bool(await scalar(db_url, (
                "SELECT (SELECT count(*) FROM raffles WHERE status = 'completed') = $1 "
                "AND (SELECT count(*) FROM tournaments WHERE status = 'closed') = $2 "
                "AND (SELECT count(*) FROM bonuses WHERE status = 'expired') = $3 "
                "AND (SELECT count(*) FROM crm_runs WHERE status = 'completed') >= $4 "
                "AND (SELECT count(*) FROM vip_cashback) >= $5 "
                "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries "
                "WHERE status <> 'succeeded')"), len(raffles), len(tournaments),
                len(bonuses), len(already.campaigns), len(already.losers)))

        await until(all_done, "the workers to finish every due job",
                    deadline=SETUP.total_seconds() + DEADLINE)
        await asyncio.sleep(1.5)  # a double would show up within another pass or two

    prizes = await rows(db_url, "SELECT kind, ref_id, count(*) AS n FROM ledger_entries "
                                "WHERE kind IN ('raffle.prize', 'tournament.prize', "
                                "'bonus.expire') GROUP BY kind, ref_id")
    by_kind = Counter(row["kind"] for row in prizes)
    assert all(row["n"] == 1 for row in prizes), prizes
    assert by_kind["raffle.prize"] == len(raffles)  # one draw, one prize each
    assert by_kind["bonus.expire"] == len(bonuses)
    draws = await rows(db_url, "SELECT raffle_id, count(*) AS n FROM raffle_draws "
                               "GROUP BY raffle_id")
    assert sorted(str(row["raffle_id"]) for row in draws) == sorted(raffles)
    assert all(row["n"] == 1 for row in draws)
    tournament_prizes = await scalar(
        db_url, "SELECT count(*) FROM ledger_entries WHERE kind = 'tournament.prize'")
    assert tournament_prizes == len(tournaments) * 3  # ranks 1 to 3 of each, once
    delivered = await rows(db_url, "SELECT id, attempts FROM webhook_deliveries")
    received = Counter(request.headers["webhook-id"] for request in rx.requests)
    assert len(delivered) > len(players) + len(raffles) + len(tournaments)
    assert received == Counter({str(row["id"]): 1 for row in delivered})
    assert {row["attempts"] for row in delivered} == {1}
    await _assert_done_once(db_url, already)


@dataclass
class HoldingReceiver:
    """A webhook receiver that never finishes answering its first ``hold`` requests (a
    byte a second: no client timeout ends them) and answers every later one with 200."""

    hold: int
    url: str = ""
    closing: threading.Event = field(default_factory=threading.Event)
    held: list[str] = field(default_factory=list)  # webhook ids of the held requests
    answered: list[tuple[str, datetime]] = field(default_factory=list)  # and when


@contextmanager
def holding_receiver(hold: int) -> Iterator[HoldingReceiver]:
    state = HoldingReceiver(hold)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            webhook_id = self.headers["webhook-id"]
            with lock:
                holding = len(state.held) < state.hold
                if holding:
                    state.held.append(webhook_id)
                else:
                    state.answered.append((webhook_id, datetime.now(UTC)))
            if holding:  # headers, then a byte a second of a body that never ends
                with suppress(OSError):
                    self.send_response(200)
                    self.send_header("content-length", "1000000")
                    self.end_headers()
                    while not state.closing.wait(timeout=1):
                        self.wfile.write(b".")
                        self.wfile.flush()
                return
            with suppress(OSError):
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.closing.set()
        server.shutdown()
        server.server_close()


HOOKED = 4  # players created with a subscription: one delivery each


async def _pending_deliveries(tenant: Tenant, url: str, db_url: str) -> set[str]:
    """A subscription to ``url`` and ``HOOKED`` deliveries to it; their ids."""
    for i in range(HOOKED):
        await create_player(tenant, f"hooked{i}")
    await _subscribe(tenant, url)
    for i in range(HOOKED):  # one player.status_changed each
        r = await tenant.patch(f"/v1/players/hooked{i}/status",
                               {"status": "suspended", "reason": "checks"})
        assert r.status_code == 200, r.text
    ids = {str(row["id"]) for row in await rows(db_url, "SELECT id FROM webhook_deliveries")}
    assert len(ids) == HOOKED
    return ids


async def _all_held(rx: HoldingReceiver) -> bool:
    """Every delivery is held at the receiver, sent by the worker and not answered yet."""
    return len(rx.held) == HOOKED


def _assert_each_sent_once(rx: HoldingReceiver, ids: Any) -> None:
    assert Counter(webhook_id for webhook_id, _ in rx.answered) == Counter(
        {webhook_id: 1 for webhook_id in ids})


async def _all_sent(db_url: str) -> bool:
    return not await scalar(db_url, "SELECT count(*) FROM webhook_deliveries "
                                    "WHERE status <> 'succeeded'")


async def test_a_killed_workers_deliveries_are_sent_once_by_another_after_the_lease(
    tenant: Tenant, db_url: str, tmp_path: Path
) -> None:
    env = _env(db_url, tmp_path, WOWSINO_WEBHOOK_LEASE_SECONDS="3")
    with holding_receiver(hold=HOOKED) as rx:
        ids = await _pending_deliveries(tenant, rx.url, db_url)  # one claim takes them all
        with running(["worker"], env, tmp_path / "first.log") as first:
            await until(lambda: _all_held(rx), "the first worker to send every delivery",
                        deadline=STARTUP)
            leased_until = await scalar(db_url, "SELECT max(lease_until) FROM webhook_deliveries "
                                                "WHERE status = 'delivering'")
            with running(["worker"], env, tmp_path / "second.log"):
                await listening(db_url, 2)
                first.send_signal(signal.SIGKILL)  # mid-job: every delivery in flight
                first.wait(timeout=10)
                await until(lambda: _all_sent(db_url), "the second worker to send every delivery")
                await asyncio.sleep(1)  # a second send would arrive by now
    assert sorted(rx.held) == sorted(ids)  # the first worker had claimed them all
    _assert_each_sent_once(rx, ids)
    assert min(at for _, at in rx.answered) >= leased_until  # not before the lease ran out
    attempts = await rows(db_url, "SELECT attempts FROM webhook_deliveries")
    assert [row["attempts"] for row in attempts] == [2] * HOOKED  # the lost claim counts


async def test_sigterm_hands_a_workers_deliveries_back_at_once(
    tenant: Tenant, db_url: str, tmp_path: Path
) -> None:
    env = _env(db_url, tmp_path)  # the default lease: a minute
    with holding_receiver(hold=HOOKED) as rx:
        ids = await _pending_deliveries(tenant, rx.url, db_url)  # one claim takes them all
        with running(["worker"], env, tmp_path / "first.log") as first:
            await until(lambda: _all_held(rx), "the worker to send every delivery",
                        deadline=STARTUP)
            first.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            assert first.wait(timeout=10) == 0
            assert time.monotonic() - stopped_at < 5
            released = await rows(db_url, "SELECT status, lease_until, attempts "
                                          "FROM webhook_deliveries")
            assert [(r["status"], r["lease_until"], r["attempts"]) for r in released] == [
                ("pending", None, 0)] * HOOKED
            with running(["worker"], env, tmp_path / "second.log"):
                await until(lambda: _all_sent(db_url), "another worker to send them",
                            deadline=STARTUP)  # the lease (a minute) does not hold it back
                await asyncio.sleep(1)
    _assert_each_sent_once(rx, ids)
    attempts = await rows(db_url, "SELECT attempts FROM webhook_deliveries")
    assert [row["attempts"] for row in attempts] == [1] * HOOKED


async def test_sigterm_lets_another_running_worker_send_at_once(
    tenant: Tenant, db_url: str, tmp_path: Path
) -> None:
    env = _env(db_url, tmp_path)  # the default lease: a minute
    with holding_receiver(hold=HOOKED) as rx:
        ids = await _pending_deliveries(tenant, rx.url, db_url)  # one claim takes them all
        with running(["worker"], env, tmp_path / "first.log") as first:
            await until(lambda: _all_held(rx), "the first worker to send every delivery",
                        deadline=STARTUP)
            with running(["worker"], env, tmp_path / "second.log"):
                await listening(db_url, 2)
                first.send_signal(signal.SIGTERM)
                stopped_at = time.monotonic()
                await until(lambda: _all_sent(db_url), "the second worker to send them",
                            deadline=10)  # well inside the minute's lease
                assert time.monotonic() - stopped_at < 10
                assert first.wait(timeout=10) == 0
                await asyncio.sleep(1)
    _assert_each_sent_once(rx, ids)


async def test_a_stopped_worker_returns_and_hands_back_what_it_had_not_sent(
    app: Any, tenant: Tenant, db_url: str
) -> None:
    from wowsino.worker import STOP_GRACE, Worker

    with holding_receiver(hold=HOOKED) as rx:
        await _pending_deliveries(tenant, rx.url, db_url)
        worker = Worker(app.state.platform, interval=0.2)
        running_worker = asyncio.create_task(worker.run_forever())

        await until(lambda: _all_held(rx), "the worker to send every delivery")
        stopped_at = time.monotonic()
        worker.stop()
        await asyncio.wait_for(running_worker, STOP_GRACE + 5)
        assert time.monotonic() - stopped_at < STOP_GRACE + 2
    released = await rows(db_url, "SELECT status, lease_until, attempts FROM webhook_deliveries")
    assert [(r["status"], r["lease_until"], r["attempts"]) for r in released] == [
        ("pending", None, 0)] * HOOKED
    attempts = await scalar(db_url, "SELECT count(*) FROM webhook_attempts")
    assert attempts == 0  # nothing recorded as tried


def _worker_children(pid: int) -> list[psutil.Process]:
    """The ``wowsino worker`` processes ``pid`` started and that still run."""
    found = []
    for child in psutil.Process(pid).children():
        with suppress(psutil.Error):  # one that just ended
            if child.status() != psutil.STATUS_ZOMBIE and "wowsino.cli worker" in " ".join(
                    child.cmdline()):
                found.append(child)
    return found


async def _answering(base: str) -> bool:
    with suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{base}/readyz")).status_code == 200
    return False


@pytest.mark.parametrize("processes", [1, 2])
async def test_serve_finishes_a_request_in_flight_on_sigterm_and_exits_0(
    db_url: str, tmp_path: Path, processes: int
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(db_url, tmp_path)
    env.pop("WOWSINO_RATE_LIMIT_STORE", None)
    args = ["serve", "--workers", str(processes), "--host", "127.0.0.1", "--port", str(port)]
    with running(args, env, tmp_path / "serve.log") as parent:
        await until(lambda: _answering(base), "the API to answer", deadline=STARTUP)
        commands = [" ".join(child.cmdline()) for child in psutil.Process(parent.pid).children()]
        workers = _worker_children(parent.pid)
        if processes == 1:  # the worker runs inside the one API process
            assert not workers, commands
        else:  # one worker process beside the API processes, not one in each
            assert len(workers) == 1, commands
            assert sum("multiprocessing.spawn" in c for c in commands) == 2, commands
            assert workers[0].environ()["WOWSINO_RATE_LIMIT_STORE"] == "postgres"
            workers[0].kill()  # a worker that dies is replaced

            def replacement() -> list[psutil.Process]:
                return [c for c in _worker_children(parent.pid) if c != workers[0]]

            async def replaced() -> bool:
                return len(replacement()) == 1

            await until(replaced, "another worker process")
            workers = replacement()
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            r = await http.post("/tenants", headers=admin, json={
                "slug": "acme", "name": "Acme", "service_mode": "plug_in",
                "brand": {"slug": "main", "name": "Main"}})
            assert r.status_code == 201, r.text
            key = {"Authorization": f"Bearer {r.json()['keys']['test']}"}
            r = await http.post("/v1/players", headers=key,
                                json={"username": "alice", "email": "alice@example.com"})
            assert r.status_code == 201, r.text
            credit = {"rail": "real", "asset": "USD", "amount": "1.00", "reason": "test"}
            r = await http.post("/v1/players/alice/adjustments", headers=key, json=credit)
            assert r.status_code == 201, r.text

            async def counted() -> bool:  # each API process writes its usage counts
                return (await scalar(db_url, "SELECT coalesce(sum(api_calls), 0) "
                                             "FROM usage_counters")) >= 2

            await until(counted, "the usage counts to be written")
            # hold alice's balances: the next credit waits on the lock, in flight
            lock = await asyncpg.connect(plain_url(db_url))
            try:
                holding = lock.transaction()
                await holding.start()
                await lock.execute("SELECT 1 FROM ledger_accounts FOR UPDATE")
                in_flight = asyncio.create_task(
                    http.post("/v1/players/alice/adjustments", headers=key, json=credit))

                async def waiting() -> bool:
                    return bool(await scalar(
                        db_url, "SELECT count(*) FROM pg_stat_activity WHERE "
                                "wait_event_type = 'Lock' AND datname = current_database()"))

                await until(waiting, "the credit to wait on the lock")
                parent.send_signal(signal.SIGTERM)
                await asyncio.sleep(1)  # the processes are stopping, the request is held
                assert not in_flight.done()
                await holding.rollback()
            finally:
                await lock.close()
            finished = await asyncio.wait_for(in_flight, 20)
        assert finished.status_code == 201, finished.text
        assert parent.wait(timeout=30) == 0
        assert not any(worker.is_running() for worker in workers)
    assert await scalar(db_url, "SELECT count(*) FROM ledger_entries "
                                "WHERE kind = 'adjustment'") == 2
    assert not await _answering(base)  # nothing listens any more


def test_serve_refuses_a_process_count_out_of_range() -> None:
    from wowsino.cli import app

    for count, bound in (("0", "greater than or equal to 1"), ("65", "less than or equal to 64")):
        result = CliRunner().invoke(app, ["serve", "--workers", count])
        assert result.exit_code == 2
        said = " ".join(result.output.replace("│", " ").split())
        assert "Invalid value for '--workers'" in said and bound in said, said



async def test_the_children_of_serve_stop_when_it_is_killed(db_url: str, tmp_path: Path) -> None:
    """``serve --workers 2`` killed with SIGKILL cannot stop its children itself: they stop
    on their own (the kernel signals each when its parent dies), and nothing is left
    serving on the port or holding the database."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(db_url, tmp_path)
    args = ["serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)]
    with running(args, env, tmp_path / "serve.log") as parent:
        await until(lambda: _answering(base), "the API to answer", deadline=STARTUP)
        children = psutil.Process(parent.pid).children()
        commands = [" ".join(child.cmdline()) for child in children]
        assert len(_worker_children(parent.pid)) == 1, commands
        assert sum("multiprocessing.spawn" in c for c in commands) == 2, commands
        parent.kill()
        parent.wait(timeout=10)

        async def all_stopped() -> bool:
            return not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE
                           for c in children)

        await until(all_stopped, "the children to stop", deadline=STOP_DEADLINE)
    assert not await _answering(base)
    assert await scalar(db_url, "SELECT count(*) FROM pg_stat_activity WHERE "
                                "application_name = 'wowsino' AND pid <> pg_backend_pid() "
                                "AND datname = current_database()") == 0

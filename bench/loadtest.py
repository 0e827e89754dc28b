"""``make loadtest``: a plug-in operator's traffic against 1, then 2, API processes.

Loopback only, bounded in time: each configuration runs ``--seconds`` of load (default
20) on its own fresh database of one embedded PostgreSQL server.

A configuration is ``wowsino serve --workers N --no-worker`` (N API processes behind
one port) with N ``wowsino worker`` processes beside it. A plug-in tenant gets players
with an active wagering bonus, a jackpot pool with a contribution (so every wager event
does bonus-wagering and jackpot work), a lootbox, and a webhook subscription to a local
receiver for ``lootbox.opened``, ``jackpot.*`` and ``bonus.*`` events. Then four ``wrk``
processes (C, one thread each) run at once, one per request kind:

- wager events, one per request (``POST /v1/events/wager``);
- wager batches of 50 events (``POST /v1/events/wager:batch``);
- lootbox opens (``POST /v1/lootbox/<id>/open``);
- dossier reads (``GET /v1/players/<name>``);

while the workers deliver webhooks to the receiver, which records each delivery's lag
(arrival minus the event's ``created_at``). After the load stops, deliveries are given
up to 30 s to drain.

Printed per configuration: requests/s, p50 and p99 per kind with errors; deliveries/s
with lag p50/p99 and how many were left undelivered; the cores each group of processes
kept busy (API, workers, PostgreSQL, load generators, and the machine's other
processes), and from those the requests per busy core of API and of PostgreSQL (the
capacity-planning figures of docs/operations.md). Then the scaling ratio of
requests/s (2 processes over 1), and, when it is under the 1.6× target, the reason read
off those CPU figures (a machine with no idle core cannot scale by adding processes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil

from bench.adjustments import WRK_COMMON, Load, _wrk
from bench.api import ADMIN_HEADER, _wowsino_command, api_server, bench_tenant, stop_process
from bench.server import analyze, bench_server

PLAYERS = 256
BATCH = 50
TARGET = 1.6
DRAIN_SECONDS = 30.0
# connections per kind: what an operator's integration might keep open
CONNECTIONS = {"wager": 8, "wager batch": 2, "lootbox open": 4, "dossier read": 8}

_HEADERS = """
local headers = {["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json"}
local sent = 0
local function money(cents)
  return string.format("%%d.%%02d", math.floor(cents / 100), cents %% 100)
end
local function wager(n)
  return string.format(
    '{"user_id": "lt%%d", "source_wager_id": "%(run)s-%%d-%%d-%%d", "amount": "%%s", ' ..
    '"currency": "USD", "win_amount": "%%s", "game_category": "slots"}',
    math.random(0, %(players)d - 1), seed, sent, n, money(math.random(10, 500)),
    money(math.random(0, 800)))
end
"""

SCRIPTS = {
    "wager": """
function request()
  sent = sent + 1
  return wrk.format("POST", "/v1/events/wager", headers, wager(0))
end
""",
    "wager batch": """
function request()
  sent = sent + 1
  local events = {}
  for n = 1, %(batch)d do events[n] = wager(n) end
  return wrk.format("POST", "/v1/events/wager:batch", headers,
    '{"events": [' .. table.concat(events, ",") .. ']}')
end
""",
    "lootbox open": """
function request()
  sent = sent + 1
  return wrk.format("POST", "/v1/lootbox/%(box)s/open", headers,
    string.format('{"user_id": "lt%%d"}', math.random(0, %(players)d - 1)))
end
""",
    "dossier read": """
function request()
  return wrk.format("GET", "/v1/players/lt" .. math.random(0, %(players)d - 1), headers)
end
""",
}


@dataclass
class Deliveries:
    """What the webhook receiver saw: one lag (seconds) per delivered event id."""

    lags: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, body: bytes) -> None:
        arrived = time.time()
        try:
            event = json.loads(body)
            created = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            return
        with self.lock:
            if event["id"] in self.lags:
                self.duplicates += 1
            else:
                self.lags[event["id"]] = arrived - created.timestamp()


@contextmanager
def receiver(into: Deliveries) -> Iterator[str]:
    """A local webhook receiver answering 200 to every POST; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            into.record(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [*_wowsino_command(), *args], env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)


@dataclass
class Platform:
    base: str
    token: str
    api_pid: int
    workers: list[subprocess.Popen[bytes]]


@contextmanager
def platform(database_url: str, workdir: Path, processes: int) -> Iterator[Platform]:
    """``processes`` API processes on one port and as many workers, on ``database_url``."""
    token = secrets.token_urlsafe(24)
    with api_server(database_url, workdir, token=token, name=f"api-{processes}",
                    processes=processes) as (base, _, pid):
        env = {**os.environ, "WOWSINO_DATABASE_URL": database_url,
               "WOWSINO_ADMIN_TOKEN": token, "WOWSINO_DATA_DIR": str(workdir / "api-data")}
        workers = [_start(["worker"], env, workdir / f"workers-{processes}.log")
                   for _ in range(processes)]
        try:
            yield Platform(base, token, pid, workers)
        finally:
            for process in workers:
                stop_process(process, grace=30)


async def _prepare(base: str, token: str, hook_url: str) -> tuple[str, str]:
    """The tenant, players with a bonus, a pool, a lootbox and a webhook; (key, box id)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as setup:
        key = await bench_tenant(setup, token, "loadtest")
        (await setup.post("/v1/jackpots", headers=key, json={
            "name": "Progressive", "currency": "USD", "seed_usd": 1000,
            "contribution_pct": "0.5"})).raise_for_status()
        template = await setup.post("/v1/bonus-templates", headers=key, json={
            "name": "Welcome", "type": "no_deposit", "amount": "10.00",
            "wagering_multiple": 200, "game_weights": {"slots": 1}})
        template.raise_for_status()
        box = await setup.post("/v1/lootbox", headers=key, json={
            "name": "Daily box", "prize_table": [
                {"segment_label": "5 WINZ", "weight": 3, "asset": "WINZ", "amount": 5},
                {"segment_label": "100 XP", "weight": 1, "asset": "XP", "amount": 100}]})
        box.raise_for_status()
        (await setup.post("/v1/webhooks", headers=key, json={
            "url": hook_url, "events": ["lootbox.opened", "jackpot.*", "bonus.*"]})
         ).raise_for_status()

        async def player(i: int) -> None:
            (await setup.post("/v1/players", headers=key, json={
                "username": f"lt{i}", "email": f"lt{i}@example.com"})).raise_for_status()
            (await setup.post("/v1/bonuses/grant", headers=key, json={
                "player_id": f"lt{i}", "template": template.json()["template"]["id"]})
             ).raise_for_status()

        for start in range(0, PLAYERS, 16):
            await asyncio.gather(*(player(i) for i in range(start, min(start + 16, PLAYERS))))
    return key[ADMIN_HEADER].removeprefix("Bearer "), str(box.json()["lootbox"]["id"])


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def _machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine, every process included."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _own_cpu_seconds() -> float:
    """This process (the webhook receiver) and its finished children (the wrk runs)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _postgres() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ("postgres", "postmaster"):
            found.append(process)
    return found


@dataclass
class Outcome:
    processes: int
    loads: dict[str, Load]
    seconds: float
    deliveries: Deliveries
    delivered_in_window: int
    undelivered: int
    cpu: dict[str, float]

    @property
    def requests_per_second(self) -> float:
        return sum(load.per_second for load in self.loads.values())

    @property
    def events_per_second(self) -> float:
        """Wager events/s: single events plus the events inside batches."""
        return self.loads["wager"].per_second + self.loads["wager batch"].per_second * BATCH

    @property
    def others(self) -> float:
        """CPU seconds of the machine's processes that are not the platform's nor ours."""
        ours = sum(used for name, used in self.cpu.items() if name != "machine")
        return max(0.0, self.cpu["machine"] - ours)

    def lines(self) -> list[str]:
        out = [f"{self.processes} API process(es) + {self.processes} worker(s): "
               f"{self.requests_per_second:,.0f} req/s, {self.events_per_second:,.0f} "
               "wager events/s"]
        for kind, load in self.loads.items():
            p50 = statistics.median(load.p50 or [0]) / 1000
            p99 = max(load.p99 or [0]) / 1000
            out.append(f"  {kind}: {load.per_second:,.0f} req/s, p50 {p50:.1f} ms, "
                       f"p99 {p99:.1f} ms, {load.errors} errors")
        lags = sorted(self.deliveries.lags.values())
        if lags:
            p50 = lags[len(lags) // 2]
            p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
            lag = f"lag p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
        else:
            lag = "none delivered"
        out.append(f"  webhook deliveries: {self.delivered_in_window / self.seconds:,.0f}/s "
                   f"during the load, {len(lags):,} in all, {lag}, {self.undelivered} left "
                   f"after {DRAIN_SECONDS:.0f} s, {self.deliveries.duplicates} duplicates")
        cores = ", ".join(f"{name} {used / self.seconds:.2f}"
                          for name, used in self.cpu.items() if name != "machine")
        out.append(f"  cores used: {cores}, other processes {self.others / self.seconds:.2f} "
                   f"(of {os.cpu_count()})")
        per_core = {name: self.requests_per_second / (self.cpu[name] / self.seconds)
                    for name in ("API", "PostgreSQL") if self.cpu[name] > 0}
        deliveries = self.delivered_in_window / self.cpu["workers"] if self.cpu["workers"] else 0
        out.append("  per busy core: " + ", ".join(
            f"{name} {rate:,.0f} req/s" for name, rate in per_core.items())
            + f", workers {deliveries:,.0f} webhook deliveries/s (capacity planning: "
              "docs/operations.md)")
        return out


async def _pending_deliveries(database_url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending', 'delivering')"))
    finally:
        await conn.close()


async def measure(database_url: str, workdir: Path, processes: int, seconds: int) -> Outcome:
    deliveries = Deliveries()
    with ExitStack() as stack:
        hook = stack.enter_context(receiver(deliveries))
        running = stack.enter_context(platform(database_url, workdir, processes))
        key, box = await _prepare(running.base, running.token, hook)
        values = {"key": key, "players": PLAYERS, "batch": BATCH, "box": box,
                  "run": f"p{processes}"}
        scripts = {}
        for kind, body in SCRIPTS.items():
            script = workdir / f"{kind.replace(' ', '-')}-{processes}.lua"
            script.write_text((_HEADERS + body + WRK_COMMON) % values)
            scripts[kind] = script
        # connections, plans and the key cache warm on every API process
        await asyncio.gather(*(_wrk(running.base, script, 2, Load(), clients=2)
                               for script in scripts.values()))
        await analyze(database_url)
        await asyncio.sleep(1.0)
        groups = {
            "API": lambda: _cpu_seconds(_tree(running.api_pid)),
            "workers": lambda: _cpu_seconds([p for w in running.workers for p in _tree(w.pid)]),
            "PostgreSQL": lambda: _cpu_seconds(_postgres()),
            "load generators": _own_cpu_seconds,
            "machine": _machine_cpu_seconds,
        }
        before = {name: used() for name, used in groups.items()}
        delivered_before = len(deliveries.lags)
        loads = {kind: Load() for kind in scripts}
        started = time.perf_counter()
        await asyncio.gather(*(_wrk(running.base, scripts[kind], seconds, loads[kind],
                                    clients=CONNECTIONS[kind]) for kind in scripts))
        elapsed = time.perf_counter() - started
        delivered_in_window = len(deliveries.lags) - delivered_before
        cpu = {name: used() - before[name] for name, used in groups.items()}
        deadline = time.monotonic() + DRAIN_SECONDS
        undelivered = await _pending_deliveries(database_url)
        while undelivered and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            undelivered = await _pending_deliveries(database_url)
    return Outcome(processes, loads, elapsed, deliveries, delivered_in_window, undelivered,
                   cpu)


def verdict(one: Outcome, two: Outcome) -> list[str]:
    ratio = two.requests_per_second / one.requests_per_second if one.requests_per_second else 0
    lines = [f"scaling: {ratio:.2f}x requests/s on 2 API processes + 2 workers over 1 + 1 "
             f"(target {TARGET}x where the database is not the bottleneck)"]
    if ratio < TARGET:
        cores = os.cpu_count() or 1
        busy = two.cpu["machine"] / two.seconds
        database = two.cpu["PostgreSQL"] / two.seconds
        if busy >= cores * 0.9:
            lines.append(
                f"reason: the machine has no idle core — {busy:.2f} of {cores} cores were busy "
                f"with 2 processes (PostgreSQL {database:.2f}, API "
                f"{two.cpu['API'] / two.seconds:.2f}, workers "
                f"{two.cpu['workers'] / two.seconds:.2f}, load generators "
                f"{two.cpu['load generators'] / two.seconds:.2f}, other processes "
                f"{two.others / two.seconds:.2f}); a second API process "
                "only takes time from the others. Scale-out needs cores for it: run the "
                "API, the database and the load on separate machines.")
        elif database >= 0.9:
            lines.append(f"reason: PostgreSQL is the bottleneck ({database:.2f} cores busy)")
        else:
            lines.append(f"reason: not CPU ({busy:.2f} of {cores} cores busy): lock waits or "
                         "connection limits; see the p99 figures")
    return lines


def run(seconds: int) -> list[str]:
    """Both configurations, each on a fresh database; prints and returns the lines."""
    out: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        out.append(line)

    with tempfile.TemporaryDirectory(prefix="wowsino-loadtest-") as tmp, \
            bench_server() as server:
        outcomes = []
        for processes in (1, 2):
            url = server.fresh_database(f"loadtest_{processes}")
            outcome = asyncio.run(measure(url, Path(tmp), processes, seconds))
            outcomes.append(outcome)
            for line in outcome.lines():
                say(line)
        for line in verdict(*outcomes):
            say(line)
        errors = sum(load.errors for o in outcomes for load in o.loads.values())
        if errors or any(o.deliveries.duplicates or o.undelivered for o in outcomes):
            raise SystemExit(f"loadtest: {errors} failed requests, or webhooks duplicated or "
                             "left undelivered (see above)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20,
                        help="seconds of load per configuration (5..600)")
    args = parser.parse_args(argv)
    if not 5 <= args.seconds <= 600:
        parser.error("--seconds: 5..600")
    run(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

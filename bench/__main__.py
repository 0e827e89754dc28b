"""``python -m bench`` (``make bench``): every benchmark, one server, one run.

Prints the machine, then one line per figure:

    ledger: <transfers/s> transfers/s, pgbench <tps> tps, ratio <x>
    ledger in a unit of work: <transfers/s> transfers/s, pgbench <tps> tps, ratio <x>
    hordak: <transfers/s> transfers/s, ratio vs pgbench <x>, wowsino/hordak <y>
    api: <req/s> req/s, p50 <ms> ms, p99 <ms> ms, peak RSS <MB> MB
    healthz: <req/s> req/s, p50 <ms> ms, p99 <ms> ms, ratio <x>
    api adjustments: <n> req/s, p50 <ms>, p99 <ms>, <k> round trips, pgbench <tps> tps, ratio <x>
    round trips: player upsert <k>, adjustment <k>, lootbox open <k>
    jackpot: <contributions/s> one pool, … over many pools, ratio <x>
    verify: <entries/s> entries/s (<n> entries, <s> s)
    explain: first page <ms> ms (duplicates over <n> entries), deep page <ms> ms, …, ratio <x>
    wager events (single): <n>/s, p50 <ms>, p99 <ms>, pgbench <tps> tps, ratio <x>
    wager events (batch 500): <n>/s, pgbench <tps> tps, ratio <x>
    wager events, every consumer (single): <n>/s, p50 <ms>, p99 <ms>, pgbench <tps> tps, ratio <x>
    wager events, every consumer (batch 500): <n>/s, pgbench <tps> tps, ratio <x>
    crm preview: <ms> ms at <n> players (<matched> match), all joins <ms> ms, count(*) <ms> ms
    crm run: <grants/s> grants/s (<n> players, <s> s), bare WINZ credits <n>/s, ratio <x>
    tournament leaderboard (100,000 players): top-100 p50/p99, own rank p50/p99, …
    seamless wallet: <n> rounds/s, p50 <ms>, p99 <ms>, pgbench <tps> tps, ratio <x>
    rate limits (GET /v1/me): memory <n> req/s, postgres <n> req/s (ratio <x>), redis …

``--only <phase>`` (repeatable) runs just those of the further phases (``--only games``:
the seamless wallet), after the machine line. See bench/README.md for the method and
recorded results.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import platform
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psutil
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench import adjustments, api, hordak, ledger
from bench.server import Server, bench_server

# Further benchmarks on the same server: a module ``bench/<name>.py`` whose
# ``async def run(url: str) -> str`` migrates the fresh database at ``url``,
# measures, and prints its own line.
EXTRA_PHASES = {
    "lootbox": "Lootbox opens over HTTP, and /healthz",
    "jackpots": "Jackpot contributions: one pool, then many",
    "verify": "ledger verify over one new realm",
    "explain": "Explaining one balance of 10,000 entries, page by page",
    "wagers": "Wager events over HTTP: single and batches of 500, against pgbench",
    "crm": "CRM: a segment preview at 200,000 players, a campaign run's grants/s",
    "tournaments": "Tournament leaderboard reads at 100,000 participants",
    "games": "Seamless wallet: bet+win rounds over HTTP at 32 clients, against pgbench",
    "ratelimit": "GET /v1/me with the rate-limit buckets in memory, PostgreSQL and Redis",
}


def machine(server: Server) -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for row in cpuinfo.read_text().splitlines():
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    where = "embedded, default settings" if server.embedded else "external"
    return (f"machine: {os.cpu_count()} CPUs ({model}), {memory:.1f} GiB RAM, "
            f"{platform.system()} {platform.release()}; PostgreSQL {server.version()} "
            f"({where}); Python {platform.python_version()}")


@contextmanager
def step(progress: Progress, description: str, seconds: float | None = None) -> Iterator[None]:
    """A progress row: a bar that follows the clock for timed steps, a pulse otherwise."""
    task = progress.add_task(description, total=seconds)
    done = threading.Event()

    def follow() -> None:
        started = time.monotonic()
        while not done.wait(0.25):
            progress.update(task, completed=min(time.monotonic() - started, seconds or 0) * 0.99)

    follower = threading.Thread(target=follow, daemon=True)
    if seconds:
        follower.start()
    try:
        yield
    finally:
        done.set()
        if seconds:
            follower.join()
        progress.update(task, total=seconds or 1, completed=seconds or 1)


def run(args: argparse.Namespace, progress: Progress, say: Console) -> None:
    def report(line: str) -> None:
        say.print(line, markup=False, highlight=False, soft_wrap=True)

    with ExitStack() as stack:
        with step(progress, "Starting PostgreSQL"):
            server = stack.enter_context(bench_server())
        report(machine(server))
        if args.only:
            extra_phases(args.only, server, progress)
            return
        with step(progress, f"Ledger: migrate, fund {args.players:,} players"):
            setup = asyncio.run(ledger.prepare(
                server.fresh_database("bench_ledger"), server.workdir,
                players=args.players, clients=args.clients))
        with step(progress, f"django-hordak: migrate, {args.players:,} accounts"):
            hordak_bench = hordak.HordakBench.prepare(
                server.fresh_database("bench_hordak"), players=args.players,
                clients=args.clients)

        async def hordak_round(span: int, index: int) -> ledger.Throughput:
            return await asyncio.to_thread(hordak_bench.run, span, seed=index)

        timed = args.seconds * 4 + args.rounds * 6
        with step(progress, "Transfers: wowsino alone and in units of work, pgbench, hordak "
                            f"({args.clients} clients, {args.rounds} rounds)", timed):
            totals = asyncio.run(ledger.compare(
                setup, clients=args.clients, seconds=args.seconds, rounds=args.rounds,
                others={"hordak": hordak_round}))
        report(ledger.line(totals["wowsino"], totals["pgbench"]))
        report(ledger.line(totals["unit_of_work"], totals["pgbench"],
                           label="ledger in a unit of work"))
        report(hordak.line(totals["hordak"], totals["pgbench"], totals["unit_of_work"]))

        with step(progress, f"API: {args.api_clients} HTTP clients, writes and /healthz",
                  args.api_seconds * 2 + 8):
            result = asyncio.run(api.run(
                server.fresh_database("bench_api"), server.workdir, clients=args.api_clients,
                seconds=args.api_seconds))
        for line in result.lines():
            report(line)

        with step(progress, f"Adjustments: round trips, then wrk ({adjustments.CLIENTS} "
                            "connections) and pgbench alternating, on 1 then "
                            f"{adjustments.PROCESSES} API processes", args.api_seconds * 4 + 40):
            lines = asyncio.run(adjustments.run(
                server.fresh_database("bench_adjustments"), server.fresh_database("bench_trips"),
                setup, seconds=args.api_seconds, rounds=args.api_rounds))
        for line in lines:
            report(line)

        extra_phases(list(EXTRA_PHASES), server, progress)


def extra_phases(names: list[str], server: Server, progress: Progress) -> None:
    """The further phases, each on a fresh database of the server; each prints its line."""
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError:
            continue
        with step(progress, EXTRA_PHASES[name]):
            asyncio.run(module.run(server.fresh_database(f"bench_{name}")))


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20,
                        help="seconds of transfers for each of wowsino, pgbench, hordak")
    parser.add_argument("--rounds", type=int, default=4, help="rounds they alternate in")
    parser.add_argument("--clients", type=int, default=16, help="ledger clients (connections)")
    parser.add_argument("--players", type=int, default=1000, help="funded player accounts")
    parser.add_argument("--api-seconds", type=int, default=15,
                        help="seconds of API writes (and as many of /healthz)")
    parser.add_argument("--api-clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--api-rounds", type=int, default=4,
                        help="rounds adjustments (wrk) and pgbench alternate in")
    parser.add_argument("--only", action="append", choices=sorted(EXTRA_PHASES),
                        metavar="PHASE", help="run only this further phase (repeatable): "
                        + ", ".join(EXTRA_PHASES))
    args = parser.parse_args(argv)
    console = Console()
    started = time.monotonic()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, refresh_per_second=4) as progress:
            run(args, progress, console)
    except Exception:
        traceback.print_exc()
        return 1
    console.print(f"done in {time.monotonic() - started:.0f} s", markup=False, highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

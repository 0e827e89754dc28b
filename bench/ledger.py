"""Ledger transfers/s, against pgbench doing the same row writes.

One transfer moves a random amount between two random funded player accounts:
two cached balances change (never below zero), one entry and two postings are
appended, in one READ COMMITTED transaction. The reference is pgbench running a
script with exactly those row writes on tables shaped like the ledger's (same
columns, constraints and indexes, via ``CREATE TABLE … (LIKE … INCLUDING ALL)``),
on the same server, with the same client count and the same total duration.

Two ways of posting are measured: ``post_alone`` (the entry is the transaction, one
message), with the clients spread over as many processes as pgbench has threads
(``--jobs``), which is the ``ledger`` line; and ``post_entry`` inside a
``unit_of_work`` (``BEGIN``, the call, ``COMMIT``: how the platform's writes post,
beside their other rows), from one process, which is the ``ledger in a unit of
work`` line and the one set against django-hordak.

The contenders alternate in short rounds, in a rotating order, so that a change
in the machine's load during the run weighs on all of them alike.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.kernel.db import create_engine, migrate, plain_url, unit_of_work
from wowsino.kernel.embedded import bin_dir
from wowsino.kernel.ledger import (
    PSP_CLEARING,
    Account,
    NewEntry,
    Posting,
    post_alone,
    post_entry,
)
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Mode, Realm

FUNDING = 1_000_000_000  # minor units per player: no transfer can run a balance dry
MAX_AMOUNT = 10_000


@dataclass(frozen=True)
class Throughput:
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def __add__(self, other: Throughput) -> Throughput:
        return Throughput(self.count + other.count, self.seconds + other.seconds)


@dataclass(frozen=True)
class LedgerSetup:
    url: str
    realm: Realm
    accounts: tuple[Account, ...]
    pgbench_script: Path


def _now() -> datetime:
    return datetime.now(UTC)


async def _checkpoint(engine: AsyncEngine) -> None:
    """Flush dirty pages before measuring (skipped for a role without the privilege)."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CHECKPOINT"))
    except Exception:  # noqa: S110
        pass


PGBENCH_TABLES = (
    "DROP TABLE IF EXISTS pgb_postings, pgb_entries, pgb_accounts",
    "CREATE TABLE pgb_accounts (LIKE ledger_accounts INCLUDING ALL)",
    "CREATE TABLE pgb_entries (LIKE ledger_entries INCLUDING ALL)",
    "CREATE TABLE pgb_postings (LIKE ledger_postings INCLUDING ALL)",
)

# One transfer: both balances in id order, each guarded against going negative,
# the entry, its two postings (with the balances after), in one transaction.
PGBENCH_SCRIPT = r"""
\set a random(1, :naccounts)
\set b random(1, :naccounts - 1)
\set b case when :b >= :a then :b + 1 else :b end
\set amount random(1, :maxamount)
\set lo least(:a, :b)
\set hi greatest(:a, :b)
\set dlo case when :lo = :a then -:amount else :amount end
\set dhi -:dlo
BEGIN;
UPDATE pgb_accounts SET balance = balance + :dlo WHERE tenant_id = :tenant AND id = :lo AND balance + :dlo >= 0 RETURNING balance AS blo \gset
UPDATE pgb_accounts SET balance = balance + :dhi WHERE tenant_id = :tenant AND id = :hi AND balance + :dhi >= 0 RETURNING balance AS bhi \gset
INSERT INTO pgb_entries (tenant_id, mode, kind, metadata, content_hash, created_at) VALUES (:tenant, 'live', 'transfer', '{}', sha256('transfer'), now()) RETURNING id AS entry \gset
INSERT INTO pgb_postings (tenant_id, mode, entry_id, account_id, asset, amount, balance_after) VALUES (:tenant, 'live', :entry, :lo, 'USD', :dlo, :blo);
INSERT INTO pgb_postings (tenant_id, mode, entry_id, account_id, asset, amount, balance_after) VALUES (:tenant, 'live', :entry, :hi, 'USD', :dhi, :bhi);
END;
"""  # noqa: E501 — pgbench takes one command per line


async def prepare(url: str, workdir: Path, *, players: int, clients: int) -> LedgerSetup:
    """Migrate; fund ``players`` USD accounts from PSP clearing through the ledger (which
    creates them); create pgbench's mirror tables with as many funded accounts."""
    engine = create_engine(url, pool_size=clients)
    try:
        await migrate(engine)
        realm = Realm(uuid.uuid4(), Mode.LIVE)
        accounts = _accounts(players)
        clearing = Account.system(PSP_CLEARING, Rail.REAL, "USD")
        queue = list(accounts)

        async def fund() -> None:
            while queue:
                account = queue.pop()

                async def deposit(conn: AsyncConnection, account: Account = account) -> None:
                    await post_entry(conn, realm=realm, kind="deposit", at=_now(), postings=[
                        Posting(account, FUNDING), Posting(clearing, -FUNDING)])

                await unit_of_work(engine, deposit)

        await asyncio.gather(*(fund() for _ in range(clients)))
        async with engine.begin() as conn:
            for statement in PGBENCH_TABLES:
                await conn.execute(text(statement))
            await conn.execute(
                text("INSERT INTO pgb_accounts (tenant_id, mode, owner_type, owner_key, rail, "
                     "asset, balance) SELECT :tenant_id, :mode, 'player', 'p' || g, 'real', "
                     "'USD', :funding FROM generate_series(1, :n) AS g"),
                {**realm.params, "funding": FUNDING, "n": players},
            )
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()
    script = workdir / "transfer.pgbench"
    script.write_text(PGBENCH_SCRIPT.lstrip())
    return LedgerSetup(url, realm, accounts, script)


def _accounts(players: int) -> tuple[Account, ...]:
    return tuple(Account.player(uuid.UUID(int=i + 1), Rail.REAL, "USD") for i in range(players))


def _transfer(rng: random.Random, accounts: tuple[Account, ...]) -> list[Posting]:
    source, target = rng.sample(accounts, 2)
    amount = rng.randint(1, MAX_AMOUNT)
    return [Posting(source, -amount), Posting(target, amount)]


Transfer = Callable[[list[Posting]], Awaitable[object]]  # posts one transfer's postings


async def _transfers(post: Transfer, accounts: tuple[Account, ...], *, clients: int,
                     seconds: float, seed: int) -> Throughput:
    """``clients`` workers posting random transfers with ``post`` for ``seconds``."""
    count = 0

    async def worker(rng: random.Random, deadline: float) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await post(_transfer(rng, accounts))
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(random.Random(seed * 1000 + i), started + seconds)
                           for i in range(clients)))
    return Throughput(count, time.perf_counter() - started)


async def _ours(
    engine: AsyncEngine, setup: LedgerSetup, *, clients: int, seconds: float, seed: int
) -> Throughput:
    """``clients`` workers (one pooled connection each) posting transfers in units of work
    (``post_entry``) for ``seconds``."""
    async def post(postings: list[Posting]) -> None:
        await unit_of_work(engine, lambda conn: post_entry(
            conn, realm=setup.realm, kind="transfer", at=_now(), postings=postings))

    return await _transfers(post, setup.accounts, clients=clients, seconds=seconds, seed=seed)


async def _alone_in_process(url: str, realm: Realm, players: int, clients: int, seconds: float,
                            seed: int, start: Any) -> tuple[int, float]:
    """One client process: ``clients`` workers posting transfers with ``post_alone`` for
    ``seconds``, once every process has its connections open and warm (``start``)."""
    engine = create_engine(url, pool_size=clients)
    accounts = _accounts(players)

    async def post(postings: list[Posting]) -> None:
        await post_alone(engine, realm=realm, entry=NewEntry("transfer", postings, _now()))

    try:
        async def warm() -> None:
            rng = random.Random(seed)
            for _ in range(3):
                await post(_transfer(rng, accounts))

        await asyncio.gather(*(warm() for _ in range(clients)))
        await asyncio.to_thread(start.wait)
        done = await _transfers(post, accounts, clients=clients, seconds=seconds, seed=seed)
        return done.count, done.seconds
    finally:
        await engine.dispose()


def _alone_process(*args: Any) -> tuple[int, float]:
    return asyncio.run(_alone_in_process(*args))


async def _alone(pool: ProcessPoolExecutor, start: Any, setup: LedgerSetup, *, clients: int,
                 processes: int, seconds: float, seed: int) -> Throughput:
    """``post_alone`` from ``processes`` client processes sharing ``clients`` connections,
    started together; the count of all over the longest one's duration."""
    loop = asyncio.get_running_loop()
    shares = [clients // processes + (1 if i < clients % processes else 0)
              for i in range(processes)]
    runs = await asyncio.gather(*(
        loop.run_in_executor(pool, _alone_process, setup.url, setup.realm, len(setup.accounts),
                             share, seconds, seed * 100 + i, start)
        for i, share in enumerate(shares)))
    return Throughput(sum(c for c, _ in runs), max(s for _, s in runs))


async def _pgbench(setup: LedgerSetup, *, clients: int, seconds: int, jobs: int) -> Throughput:
    """One pgbench run of the transfer script; its count and its measured duration."""
    process = await asyncio.create_subprocess_exec(
        str(bin_dir() / "pgbench"), "--no-vacuum", "--protocol=prepared",
        f"--client={clients}", f"--jobs={min(jobs, clients)}", f"--time={seconds}",
        f"--file={setup.pgbench_script}", f"--define=tenant={setup.realm.tenant_id}",
        f"--define=naccounts={len(setup.accounts)}", f"--define=maxamount={MAX_AMOUNT}",
        plain_url(setup.url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=seconds + 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    report = out.decode()
    processed = re.search(r"^number of transactions actually processed: (\d+)", report, re.M)
    tps = re.search(r"^tps = ([0-9.]+)", report, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", report, re.M)
    if process.returncode != 0 or not processed or not tps or (failed and int(failed[1])):
        raise RuntimeError(f"pgbench failed ({process.returncode}):\n{report}\n{err.decode()}")
    count = int(processed[1])
    # pgbench's tps excludes connection set-up; express it as count over that duration
    return Throughput(count, count / float(tps[1]))


async def pgbench(setup: LedgerSetup, *, clients: int, seconds: int, jobs: int = 2) -> Throughput:
    """pgbench's transfer script (the ledger's reference) for ``seconds``, as a reference for
    other benchmarks of the same run."""
    return await _pgbench(setup, clients=clients, seconds=seconds, jobs=jobs)


Contender = Callable[[int, int], Awaitable[Throughput]]  # (seconds, round) -> throughput


async def compare(
    setup: LedgerSetup, *, clients: int, seconds: int, rounds: int = 4, jobs: int = 2,
    others: dict[str, Contender] | None = None,
) -> dict[str, Throughput]:
    """``seconds`` in total for each contender ("wowsino": ``post_alone`` from ``jobs``
    processes; "unit_of_work": ``post_entry`` in a unit of work from this one; "pgbench";
    and ``others``), split into rounds; each round runs them all, in an order that
    rotates."""
    engine = create_engine(setup.url, pool_size=clients)
    spawn = multiprocessing.get_context("spawn")  # this process has threads and a loop
    manager = spawn.Manager()
    pool = ProcessPoolExecutor(jobs, mp_context=spawn)
    try:
        # open every connection and prepare the statement on it before any clock starts
        async def warm(conn: AsyncConnection) -> None:
            await post_entry(conn, realm=setup.realm, kind="transfer", at=_now(), postings=[
                Posting(setup.accounts[0], -1), Posting(setup.accounts[1], 1)])
            await asyncio.sleep(0.05)

        for _ in range(10):  # past the server's first plans for the function's statements
            await asyncio.gather(*(unit_of_work(engine, warm) for _ in range(clients)))
        await _checkpoint(engine)

        async def ours(span: int, index: int) -> Throughput:
            start = manager.Barrier(jobs)
            return await _alone(pool, start, setup, clients=clients, processes=jobs,
                                seconds=span, seed=index)

        async def in_unit(span: int, index: int) -> Throughput:
            return await _ours(engine, setup, clients=clients, seconds=span, seed=index)

        async def pgbench(span: int, index: int) -> Throughput:
            return await _pgbench(setup, clients=clients, seconds=span, jobs=jobs)

        contenders: dict[str, Contender] = {
            "wowsino": ours, "unit_of_work": in_unit, "pgbench": pgbench, **(others or {})}
        totals = {name: Throughput(0, 0.0) for name in contenders}
        names = list(contenders)
        per_round = max(1, seconds // rounds)
        for index in range(rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                totals[name] += await contenders[name](per_round, index)
        return totals
    finally:
        pool.shutdown()
        manager.shutdown()
        await engine.dispose()


def line(ours: Throughput, pgbench: Throughput, *, label: str = "ledger") -> str:
    ratio = ours.per_second / pgbench.per_second if pgbench.count else 0.0
    return (f"{label}: {ours.per_second:,.0f} transfers/s, pgbench {pgbench.per_second:,.0f} "
            f"tps, ratio {ratio:.2f}")

"""Ledger transfers/s through ``post_entry``, against pgbench doing the same row writes.

One transfer moves a random amount between two random funded player accounts:
two cached balances change (never below zero), one entry and two postings are
appended, in one READ COMMITTED transaction. The reference is pgbench running a
script with exactly those row writes on tables shaped like the ledger's (same
columns, constraints and indexes, via ``CREATE TABLE … (LIKE … INCLUDING ALL)``),
on the same server, with the same client count and duration.
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.kernel.db import create_engine, migrate, plain_url, unit_of_work
from wowsino.kernel.embedded import bin_dir
from wowsino.kernel.ledger import PSP_CLEARING, Account, Posting, post_entry
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


@dataclass(frozen=True)
class LedgerSetup:
    url: str
    realm: Realm
    accounts: tuple[Account, ...]


def _now() -> datetime:
    return datetime.now(UTC)


async def checkpoint(engine: AsyncEngine) -> None:
    """Start each measurement from a clean checkpoint (skipped without the privilege)."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CHECKPOINT"))
    except Exception:  # noqa: S110 — an unprivileged role on an external server
        pass


async def prepare(url: str, *, players: int, clients: int) -> LedgerSetup:
    """Migrate, then fund ``players`` USD accounts from PSP clearing (this creates them)."""
    engine = create_engine(url, pool_size=clients)
    try:
        await migrate(engine)
        realm = Realm(uuid.uuid4(), Mode.LIVE)
        accounts = tuple(
            Account.player(uuid.uuid4(), Rail.REAL, "USD") for _ in range(players)
        )
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
            await conn.execute(text("ANALYZE"))
        return LedgerSetup(url, realm, accounts)
    finally:
        await engine.dispose()


async def run_wowsino(setup: LedgerSetup, *, clients: int, seconds: float) -> Throughput:
    """``clients`` workers, one pooled connection each, posting transfers for ``seconds``."""
    engine = create_engine(setup.url, pool_size=clients)
    accounts = setup.accounts
    count = 0
    try:
        # open every connection (and prepare the statement on it) before the clock starts
        async def warm(conn: AsyncConnection) -> None:
            await post_entry(conn, realm=setup.realm, kind="transfer", at=_now(), postings=[
                Posting(accounts[0], -1), Posting(accounts[1], 1)])
            await asyncio.sleep(0.05)

        await asyncio.gather(*(unit_of_work(engine, warm) for _ in range(clients)))
        await checkpoint(engine)

        async def worker(seed: int, deadline: float) -> None:
            nonlocal count
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                source, target = rng.sample(accounts, 2)
                amount = rng.randint(1, MAX_AMOUNT)

                async def transfer(
                    conn: AsyncConnection, source: Account = source, target: Account = target,
                    amount: int = amount,
                ) -> None:
                    await post_entry(conn, realm=setup.realm, kind="transfer", at=_now(),
                                     postings=[Posting(source, -amount), Posting(target, amount)])

                await unit_of_work(engine, transfer)
                count += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(i, started + seconds) for i in range(clients)))
        return Throughput(count, time.perf_counter() - started)
    finally:
        await engine.dispose()


PGBENCH_TABLES = """
DROP TABLE IF EXISTS pgb_postings, pgb_entries, pgb_accounts;
CREATE TABLE pgb_accounts (LIKE ledger_accounts INCLUDING ALL);
CREATE TABLE pgb_entries (LIKE ledger_entries INCLUDING ALL);
CREATE TABLE pgb_postings (LIKE ledger_postings INCLUDING ALL);
"""

# One transfer: both balances in id order, each guarded against going negative,
# the entry, its two postings (with the balances after), one transaction.
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
"""


async def prepare_pgbench(setup: LedgerSetup, workdir: Path) -> Path:
    """Create the mirror tables with ``len(accounts)`` funded accounts (ids 1..N)."""
    engine = create_engine(setup.url, pool_size=1)
    try:
        async with engine.begin() as conn:
            for statement in filter(None, (s.strip() for s in PGBENCH_TABLES.split(";"))):
                await conn.execute(text(statement))
            await conn.execute(
                text("INSERT INTO pgb_accounts (tenant_id, mode, owner_type, owner_key, rail, "
                     "asset, balance) SELECT :tenant_id, :mode, 'player', 'p' || g, 'real', "
                     "'USD', :funding FROM generate_series(1, :n) AS g"),
                {**setup.realm.params, "funding": FUNDING, "n": len(setup.accounts)},
            )
            await conn.execute(text("ANALYZE pgb_accounts"))
        await checkpoint(engine)
    finally:
        await engine.dispose()
    script = workdir / "transfer.pgbench"
    script.write_text(PGBENCH_SCRIPT.lstrip())
    return script


def run_pgbench(
    setup: LedgerSetup, script: Path, *, clients: int, seconds: int, threads: int = 2
) -> float:
    """Run the script; return pgbench's tps (without initial connection time)."""
    command = [
        str(bin_dir() / "pgbench"), "--no-vacuum", "--protocol=prepared",
        f"--client={clients}", f"--jobs={min(threads, clients)}", f"--time={seconds}",
        f"--file={script}", f"--define=tenant={setup.realm.tenant_id}",
        f"--define=naccounts={len(setup.accounts)}", f"--define=maxamount={MAX_AMOUNT}",
        plain_url(setup.url),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                          check=False)
    found = re.search(r"^tps = ([0-9.]+)", done.stdout, re.MULTILINE)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if done.returncode != 0 or found is None or (failed and int(failed.group(1))):
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return float(found.group(1))


def summary(ours: Throughput, pgbench_tps: float) -> str:
    ratio = ours.per_second / pgbench_tps if pgbench_tps else 0.0
    return (f"ledger: {ours.per_second:,.0f} transfers/s, pgbench {pgbench_tps:,.0f} tps, "
            f"ratio {ratio:.2f}")

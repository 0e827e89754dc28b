"""Tamper evidence: the append-only triggers refuse rewrites in normal operation, and
when a superuser bypasses them, ``wowsino ledger verify`` / ``wowsino audit verify``
(run as the real command) exit non-zero naming each problem."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.kernel import audit, chain, ledger
from wowsino.kernel.canonical import canonical, fingerprint
from wowsino.kernel.db import create_engine, sqlstate, unit_of_work
from wowsino.kernel.errors import Conflict, LedgerInvariantViolated
from wowsino.kernel.ledger import Account, Posting
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import ADMIN, Mode, Realm
from wowsino.players import service as players
from wowsino.tenants import service as tenants

AT = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
TRIGGERS = {
    "ledger_entries": "ledger_entries_append_only",
    "ledger_postings": "ledger_postings_append_only",
    "audit_log": "audit_log_append_only",
}


def _wowsino() -> str:
    beside = Path(sys.executable).with_name("wowsino")
    found = str(beside) if beside.exists() else shutil.which("wowsino")
    assert found, "the wowsino command is not installed"
    return found


async def run_cli(db_url: str, *args: str) -> tuple[int, str]:
    """Run ``wowsino *args`` against ``db_url``; return its exit code and all output."""
    env = {**os.environ, "WOWSINO_DATABASE_URL": db_url, "COLUMNS": "1000", "NO_COLOR": "1"}
    proc = await asyncio.create_subprocess_exec(
        _wowsino(), *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, (out + err).decode()


@dataclass
class Books:
    """One tenant's live realm with two players, entries and audit rows, all sealed."""

    realm: Realm
    brand_id: UUID
    players: list[UUID]
    entries: list[int] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"[{self.realm.tenant_id} live]"

    def wallet(self, i: int) -> Account:
        return Account.player(self.players[i], Rail.REAL, "USD")


async def open_books(engine: AsyncEngine, slug: str) -> Books:
    async def setup(conn: AsyncConnection) -> Books:
        created = await tenants.create_tenant(
            conn, slug=slug, name=slug, service_mode="white_label", brand_slug="main",
            brand_name="Main", actor=ADMIN, at=AT)
        realm = Realm(UUID(created["tenant"]["id"]), Mode.LIVE)
        brand_id = UUID(created["brand"]["id"])
        ids = []
        for name in ("alice", "bob"):
            _, body = await players.upsert(
                conn, realm=realm, brand_id=brand_id, actor=ADMIN, at=AT,
                fields={"username": name, "email": f"{name}@example.com", "currency": "USD"})
            ids.append(UUID(body["player"]["user_id"]))
        return Books(realm, brand_id, ids)

    books = await unit_of_work(engine, setup)
    at = AT
    for i, (who, amount) in enumerate([("alice", "100.00"), ("bob", "40.50"),
                                       ("alice", "-12.25")]):
        at += timedelta(minutes=1)
        _, body = await unit_of_work(engine, lambda conn, w=who, a=amount, t=at, n=i:
                                     players.adjust(
            conn, realm=books.realm, brand_id=books.brand_id, ref=w, rail="real",
            asset_code="USD", amount=a, reason=f"adjustment {n}", actor=ADMIN, at=t))
        books.entries.append(body["adjustment"]["entry_id"])
    transfer = await unit_of_work(engine, lambda conn: ledger.post_entry(
        conn, realm=books.realm, kind="transfer", at=AT + timedelta(minutes=5),
        metadata={"note": "split the bill", "share": "0.5"},
        postings=[Posting(books.wallet(0), -2_000), Posting(books.wallet(1), 2_000)]))
    books.entries.append(transfer.id)
    undo = await unit_of_work(engine, lambda conn: ledger.reverse_entry(
        conn, realm=books.realm, entry_id=transfer.id, at=AT + timedelta(minutes=6)))
    books.entries.append(undo.id)
    await seal(engine, books.realm)
    return books


async def seal(engine: AsyncEngine, realm: Realm) -> None:
    async def job(conn: AsyncConnection) -> None:
        await chain.seal(conn, realm, "ledger")
        await chain.seal(conn, realm, "audit")

    await unit_of_work(engine, job)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
async def superuser(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(db_url)
    yield conn
    await conn.close()


class Bypass:
    """A superuser with the append-only triggers switched off, as an attacker would."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def __aenter__(self) -> asyncpg.Connection:
        for table, trigger in TRIGGERS.items():
            await self.conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        for table, trigger in TRIGGERS.items():
            await self.conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


async def account_id(conn: asyncpg.Connection, books: Books, player: int) -> int:
    return int(await conn.fetchval(
        "SELECT id FROM ledger_accounts WHERE tenant_id = $1 AND owner_key = $2 "
        "AND rail = 'real' AND asset = 'USD'", books.realm.tenant_id, str(books.players[player])))


# -- the verifiers, as commands -------------------------------------------------------------


async def test_verify_commands_pass_on_untampered_books(db_url: str, engine: AsyncEngine) -> None:
    first = await open_books(engine, "clean")
    await open_books(engine, "also-clean")
    # an entry and an audit row written after the last seal: the commands seal them first
    await unit_of_work(engine, lambda conn: ledger.post_entry(
        conn, realm=first.realm, kind="late", at=AT + timedelta(hours=1),
        postings=[Posting(first.wallet(0), 1), Posting(
            Account.system(ledger.HOUSE, Rail.REAL, "USD"), -1)]))
    (code, out), (audit_code, audit_out) = await asyncio.gather(
        run_cli(db_url, "ledger", "verify"), run_cli(db_url, "audit", "verify"))
    assert code == 0, out
    assert "ledger verified" in out
    assert "entries" in out
    assert audit_code == 0, audit_out
    assert "audit verified" in audit_out
    async with engine.connect() as conn:
        links = await chain.verify_links(conn, first.realm, "ledger")
    assert links.unsealed == 0
    assert links.checked == len(first.entries) + 1
    assert links.problems == []


async def test_verify_commands_name_every_tampering(
    db_url: str, engine: AsyncEngine, superuser: asyncpg.Connection
) -> None:
    """Each tenant suffers one kind of tampering; each is reported under its realm and
    the untouched tenant is not mentioned."""
    names = ["control", "amount", "rebalanced", "cached", "untracked", "deleted", "orphaned",
             "last", "rehashed", "moved", "audit-edit", "audit-delete", "audit-head"]
    books = {name: await open_books(engine, name) for name in names}
    orphan = await unit_of_work(engine, lambda conn: ledger.post_entry(  # not yet sealed
        conn, realm=books["orphaned"].realm, kind="late", at=AT + timedelta(hours=1),
        postings=[Posting(Account.system(ledger.HOUSE, Rail.REAL, "USD"), 7),
                  Posting(Account.system(ledger.PSP_CLEARING, Rail.REAL, "USD"), -7)]))

    async with Bypass(superuser) as db:
        # a posting amount changed: the entry no longer balances, the cache disagrees
        b = books["amount"]
        await db.execute("UPDATE ledger_postings SET amount = amount + 1 WHERE tenant_id = $1 "
                         "AND entry_id = $2 AND account_id = $3", b.realm.tenant_id,
                         b.entries[0], await account_id(db, b, 0))
        # money moved between players with postings and caches kept consistent
        b = books["rebalanced"]
        alice, bob = await account_id(db, b, 0), await account_id(db, b, 1)
        await db.execute("UPDATE ledger_postings SET amount = amount - 500, balance_after = "
                         "balance_after - 500 WHERE tenant_id = $1 AND entry_id = $2 "
                         "AND account_id = $3", b.realm.tenant_id, b.entries[3], alice)
        await db.execute("UPDATE ledger_postings SET amount = amount + 500, balance_after = "
                         "balance_after + 500 WHERE tenant_id = $1 AND entry_id = $2 "
                         "AND account_id = $3", b.realm.tenant_id, b.entries[3], bob)
        await db.execute("UPDATE ledger_accounts SET balance = balance - 500 WHERE id = $1 "
                         "AND tenant_id = $2", alice, b.realm.tenant_id)
        await db.execute("UPDATE ledger_accounts SET balance = balance + 500 WHERE id = $1 "
                         "AND tenant_id = $2", bob, b.realm.tenant_id)
        # a cached balance raised
        b = books["cached"]
        await db.execute("UPDATE ledger_accounts SET balance = balance + 100000 WHERE id = $1 "
                         "AND tenant_id = $2", await account_id(db, b, 1), b.realm.tenant_id)
        # a player's balance no longer tracked (it could then go negative)
        b = books["untracked"]
        await db.execute("UPDATE ledger_accounts SET balance = NULL WHERE id = $1 "
                         "AND tenant_id = $2", await account_id(db, b, 0), b.realm.tenant_id)
        # a sealed entry in the middle of the chain deleted with its postings
        b = books["deleted"]
        await db.execute("DELETE FROM ledger_postings WHERE tenant_id = $1 AND entry_id = $2",
                         b.realm.tenant_id, b.entries[1])
        await db.execute("DELETE FROM ledger_entries WHERE tenant_id = $1 AND id = $2",
                         b.realm.tenant_id, b.entries[1])
        # an entry deleted before it was sealed, its postings left behind
        b = books["orphaned"]
        await db.execute("DELETE FROM ledger_entries WHERE tenant_id = $1 AND id = $2",
                         b.realm.tenant_id, orphan.id)
        # the newest sealed entry deleted (no gap left behind it)
        b = books["last"]
        await db.execute("DELETE FROM ledger_postings WHERE tenant_id = $1 AND entry_id = $2",
                         b.realm.tenant_id, b.entries[-1])
        await db.execute("DELETE FROM ledger_entries WHERE tenant_id = $1 AND id = $2",
                         b.realm.tenant_id, b.entries[-1])
        # metadata rewritten together with a correct content hash: only the chain knows
        b = books["rehashed"]
        await rewrite_metadata(db, b, b.entries[3], {"note": "nothing to see", "share": "1"})
        # an account handed to another owner: every entry on it stops matching its hash
        b = books["moved"]
        await db.execute("UPDATE ledger_accounts SET owner_key = 'mallory' WHERE id = $1 "
                         "AND tenant_id = $2", await account_id(db, b, 1), b.realm.tenant_id)
        # an audit row edited, another deleted, a chain head rewritten
        b = books["audit-edit"]
        await db.execute("UPDATE audit_log SET after = jsonb_set(after, '{email}', "
                         "'\"eve@example.com\"') WHERE tenant_id = $1 AND mode = 'live' "
                         "AND action = 'player.created' AND target_id = $2",
                         b.realm.tenant_id, str(b.players[0]))
        b = books["audit-delete"]
        await db.execute("DELETE FROM audit_log WHERE tenant_id = $1 AND mode = 'live' "
                         "AND action = 'player.created' AND target_id = $2",
                         b.realm.tenant_id, str(b.players[1]))
        b = books["audit-head"]
        await db.execute("UPDATE chain_heads SET last_hash = $2 WHERE tenant_id = $1 "
                         "AND mode = 'live' AND chain = 'audit'", b.realm.tenant_id,
                         b"\x01" * 32)

    (code, out), (audit_code, audit_out) = await asyncio.gather(
        run_cli(db_url, "ledger", "verify"), run_cli(db_url, "audit", "verify"))
    assert code == 1, out
    assert audit_code == 1, audit_out

    def problems(output: str, name: str) -> str:
        return "\n".join(line for line in output.splitlines() if books[name].tag in line)

    assert problems(out, "control") == ""
    assert problems(audit_out, "control") == ""

    amount = problems(out, "amount")
    assert f"entry {books['amount'].entries[0]}: postings do not balance" in amount
    assert f"entry {books['amount'].entries[0]}: content does not match its hash" in amount
    assert "cached 8775 != postings 8776" in amount

    rebalanced = problems(out, "rebalanced")
    assert f"entry {books['rebalanced'].entries[3]}: content does not match its hash" in rebalanced
    assert "balance" not in rebalanced  # the sums were kept right: only the hash tells

    assert "cached 104050 != postings 4050" in problems(out, "cached")
    assert "player account without a cached balance" in problems(out, "untracked")

    deleted = problems(out, "deleted")
    assert "ledger: gap before seq 3 (expected 2)" in deleted
    assert "cached 4050 != postings 0" in deleted

    assert f"entry {orphan.id}: postings without their entry" in problems(out, "orphaned")
    assert "ledger: head does not match the last sealed row" in problems(out, "last")

    rehashed = problems(out, "rehashed")
    assert f"ledger: row {books['rehashed'].entries[3]} breaks the chain at seq 4" in rehashed
    assert "content does not match" not in rehashed

    moved = problems(out, "moved")
    for entry_id in books["moved"].entries[1], books["moved"].entries[3]:
        assert f"entry {entry_id}: content does not match its hash" in moved

    for name in names:
        if name not in ("control", "audit-edit", "audit-delete", "audit-head"):
            assert problems(out, name), name
    assert "problem(s)" in out

    assert "audit: row" in problems(audit_out, "audit-edit")
    assert "was altered" in problems(audit_out, "audit-edit")
    assert "audit: gap before seq" in problems(audit_out, "audit-delete")
    assert "audit: head does not match the last sealed row" in problems(audit_out, "audit-head")
    for name in names:
        if not name.startswith("audit-"):
            assert problems(audit_out, name) == "", name


async def rewrite_metadata(db: asyncpg.Connection, books: Books, entry_id: int,
                           metadata: dict[str, Any]) -> None:
    row = await db.fetchrow("SELECT kind, ref_type, ref_id, reverses_entry_id, created_at "
                            "FROM ledger_entries WHERE tenant_id = $1 AND id = $2",
                            books.realm.tenant_id, entry_id)
    postings = await db.fetch(
        "SELECT a.owner_type, a.owner_key, a.rail, a.asset, p.amount FROM ledger_postings p "
        "JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id "
        "WHERE p.tenant_id = $1 AND p.entry_id = $2", books.realm.tenant_id, entry_id)
    content = ledger.entry_content(
        books.realm, row["kind"], row["ref_type"], row["ref_id"], metadata,
        row["reverses_entry_id"], row["created_at"], [tuple(p) for p in postings])
    await db.execute("UPDATE ledger_entries SET metadata = $3::jsonb, content_hash = $4 "
                     "WHERE tenant_id = $1 AND id = $2", books.realm.tenant_id, entry_id,
                     canonical(metadata).decode(), fingerprint(content))


# -- the triggers, in normal operation ------------------------------------------------------


REWRITES = [
    "UPDATE ledger_entries SET kind = 'other' WHERE tenant_id = :t AND id = :e",
    "UPDATE ledger_entries SET metadata = '{}' WHERE tenant_id = :t AND id = :e",
    "UPDATE ledger_entries SET chain_seq = NULL, chain_hash = NULL WHERE tenant_id = :t "
    "AND id = :e",
    "DELETE FROM ledger_entries WHERE tenant_id = :t AND id = :e",
    "UPDATE ledger_postings SET amount = amount * 2 WHERE tenant_id = :t AND entry_id = :e",
    "UPDATE ledger_postings SET balance_after = 0 WHERE tenant_id = :t AND entry_id = :e",
    "DELETE FROM ledger_postings WHERE tenant_id = :t AND entry_id = :e",
    "UPDATE audit_log SET action = 'nothing' WHERE tenant_id = :t",
    "UPDATE audit_log SET chain_hash = NULL WHERE tenant_id = :t",
    "DELETE FROM audit_log WHERE tenant_id = :t",
]


async def test_append_only_tables_refuse_rewrites(engine: AsyncEngine) -> None:
    books = await open_books(engine, "acme")
    for statement in REWRITES:
        with pytest.raises(DBAPIError) as caught:
            async with engine.begin() as conn:
                await conn.execute(text(statement), {"t": books.realm.tenant_id,
                                                     "e": books.entries[0]})
        assert sqlstate(caught.value) == "WZ003", statement
        assert "is append-only" in str(caught.value), statement
    async with engine.connect() as conn:
        report = await ledger.verify_realm(conn, books.realm)
        assert report.problems == []
        assert report.entries == len(books.entries)
        assert await audit.verify_contents(conn, books.realm) == []
        links = await chain.verify_links(conn, books.realm, "ledger")
        assert links.problems == []
        assert links.checked == len(books.entries)


async def test_an_unsealed_row_may_only_gain_its_chain_link(engine: AsyncEngine) -> None:
    books = await open_books(engine, "acme")
    late = await unit_of_work(engine, lambda conn: ledger.post_entry(
        conn, realm=books.realm, kind="late", at=AT + timedelta(hours=1),
        postings=[Posting(books.wallet(0), 5),
                  Posting(Account.system(ledger.HOUSE, Rail.REAL, "USD"), -5)]))
    params = {"t": books.realm.tenant_id, "e": late.id}
    with pytest.raises(DBAPIError) as caught:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE ledger_entries SET chain_seq = 99, chain_hash = "
                                    "'\\x00', kind = 'other' WHERE tenant_id = :t AND id = :e"),
                               params)
    assert sqlstate(caught.value) == "WZ003"
    await seal(engine, books.realm)  # the sealer's own update is allowed, once
    with pytest.raises(DBAPIError) as caught:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE ledger_entries SET chain_seq = chain_seq + 100 "
                                    "WHERE tenant_id = :t AND id = :e"), params)
    assert sqlstate(caught.value) == "WZ003"
    async with engine.connect() as conn:
        links = await chain.verify_links(conn, books.realm, "ledger")
    assert links.problems == []
    assert links.checked == len(books.entries) + 1


async def test_a_cached_balance_cannot_be_negative_even_for_a_superuser(
    engine: AsyncEngine, superuser: asyncpg.Connection
) -> None:
    books = await open_books(engine, "acme")
    with pytest.raises(asyncpg.CheckViolationError):
        await superuser.execute("UPDATE ledger_accounts SET balance = -1 WHERE id = $1 "
                                "AND tenant_id = $2", await account_id(superuser, books, 0),
                                books.realm.tenant_id)


# -- refusals by the kernel -----------------------------------------------------------------


async def test_a_second_reversal_is_refused(engine: AsyncEngine) -> None:
    books = await open_books(engine, "acme")
    # entries[1] credited bob 40.50, all of which he still has; entries[3] is the
    # transfer the books were opened with, reversed already
    first = await unit_of_work(engine, lambda conn: ledger.reverse_entry(
        conn, realm=books.realm, entry_id=books.entries[1], at=AT + timedelta(hours=1)))
    assert first.kind == "adjustment.reversal"
    # undoing entries[1] again would need 40.50 bob no longer has: still a Conflict, not a
    # shortfall, since the entry is already undone
    for entry_id in (books.entries[1], books.entries[3]):
        with pytest.raises(Conflict) as caught:
            await unit_of_work(engine, lambda conn, e=entry_id: ledger.reverse_entry(
                conn, realm=books.realm, entry_id=e, at=AT + timedelta(hours=2)))
        assert caught.value.code == "ALREADY_REVERSED"
        assert caught.value.status == 409
    async with engine.connect() as conn:
        report = await ledger.verify_realm(conn, books.realm)
        reversals = await conn.scalar(text(
            "SELECT count(*) FROM ledger_entries WHERE tenant_id = :t AND reverses_entry_id "
            "IS NOT NULL"), {"t": books.realm.tenant_id})
        balances = await ledger.player_balances(conn, books.realm, books.players[1])
    assert report.problems == []
    assert reversals == 2
    assert balances == {"real": {"USD": 0}}


class Untouchable:
    """A connection that fails the test if anything is sent to the database."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the database was touched ({name})")


PLAYER = Account.player(UUID(int=1), Rail.REAL, "USD")
OTHER = Account.player(UUID(int=2), Rail.REAL, "USD")
HOUSE_USD = Account.system(ledger.HOUSE, Rail.REAL, "USD")
HOUSE_EUR = Account.system(ledger.HOUSE, Rail.REAL, "EUR")


@pytest.mark.parametrize(("postings", "why"), [
    ([Posting(PLAYER, 100), Posting(HOUSE_USD, -99)], "do not balance"),
    ([Posting(PLAYER, 100)], "two or more"),
    ([], "two or more"),
    ([Posting(PLAYER, 100), Posting(HOUSE_EUR, -100)], "do not balance"),  # per asset
    ([Posting(PLAYER, 100), Posting(HOUSE_USD, -100), Posting(HOUSE_EUR, 0)], "non-zero"),
    ([Posting(PLAYER, 100), Posting(HOUSE_USD, -100.0)], "integers"),  # type: ignore[arg-type]
    ([Posting(PLAYER, True), Posting(HOUSE_USD, -1)], "integers"),  # type: ignore[arg-type]
    ([Posting(PLAYER, 5), Posting(PLAYER, -5)], "posted twice"),
    ([Posting(PLAYER, 5), Posting(OTHER, 5), Posting(HOUSE_USD, -10), Posting(OTHER, -1),
      Posting(HOUSE_USD, 1)], "posted twice"),
])
async def test_bad_postings_are_refused_before_the_database(postings: list[Posting],
                                                            why: str) -> None:
    with pytest.raises(LedgerInvariantViolated, match=why):
        await ledger.post_entry(Untouchable(), realm=Realm(UUID(int=9), Mode.TEST),  # type: ignore[arg-type]
                                kind="broken", postings=postings, at=AT)


async def test_the_database_refuses_unbalanced_postings_on_its_own(
    superuser: asyncpg.Connection,
) -> None:
    """``ledger_post`` checks again, for any writer that bypasses the kernel."""
    call = ("SELECT * FROM ledger_post($1, 'live', 'raw', NULL, NULL, '{}'::jsonb, NULL, "
            "'\\x00'::bytea, now(), $2, $3, $4, $5, $6, $7)")
    tenant = UUID(int=7)
    cases = [
        (["player", "system"], ["p", "house"], ["real", "real"], ["USD", "USD"], [True, False],
         [100, -99]),
        (["player", "system"], ["p", "house"], ["real", "real"], ["USD", "EUR"], [True, False],
         [100, -100]),
        (["player"], ["p"], ["real"], ["USD"], [True], [0]),
        (["player", "player"], ["p", "p"], ["real", "real"], ["USD", "USD"], [True, True],
         [5, -5]),
        # arrays of different lengths, missing amounts or account fields
        (["player", "system"], ["p", "house"], ["real", "real"], ["USD", "USD"], [True],
         [100, -100]),
        (["player", "system", "system"], ["p", "house", "house"], ["real", "real", "real"],
         ["USD", "USD", "USD"], [True, False, False], [100, -100]),
        (["player", "system"], ["p", "house"], ["real", "real"], ["USD", "USD"], [True, False],
         [None, None]),
        (["player", "system"], [None, "house"], ["real", "real"], ["USD", "USD"], [True, False],
         [100, -100]),
        (["player", "system"], ["p", "house"], ["real", "real"], [None, None], [True, False],
         [100, -100]),
    ]
    for case in cases:
        with pytest.raises(asyncpg.PostgresError) as caught:
            await superuser.fetch(call, tenant, *case)
        assert caught.value.sqlstate == "WZ002"
    assert await superuser.fetchval("SELECT count(*) FROM ledger_entries") == 0
    assert await superuser.fetchval("SELECT count(*) FROM ledger_postings") == 0


async def test_the_database_answers_in_input_order_and_names_the_short_posting(
    superuser: asyncpg.Connection,
) -> None:
    """One row per posting in input order, the balance after for tracked accounts only;
    a shortfall is WZ001 with the (1-based) posting in DETAIL, and writes nothing."""
    call = ("SELECT * FROM ledger_post($1, 'live', 'raw', NULL, NULL, '{}'::jsonb, NULL, "
            "'\\x00'::bytea, now(), $2, $3, $4, $5, $6, $7)")
    tenant = UUID(int=8)
    rows = await superuser.fetch(call, tenant, ["system", "player", "player"],
                                 ["house", "b", "a"], ["real"] * 3, ["USD"] * 3,
                                 [False, True, True], [-30, 10, 20])
    assert [(r["ord"], r["balance_after"]) for r in rows] == [(1, None), (2, 10), (3, 20)]
    assert len({r["entry_id"] for r in rows}) == 1
    with pytest.raises(asyncpg.PostgresError) as caught:
        await superuser.fetch(call, tenant, ["player", "player", "system"], ["a", "b", "house"],
                              ["real"] * 3, ["USD"] * 3, [True, True, False], [5, -11, 6])
    assert caught.value.sqlstate == "WZ001"
    assert caught.value.detail == "2"
    assert await superuser.fetchval("SELECT count(*) FROM ledger_entries") == 1
    assert await superuser.fetchval(
        "SELECT array_agg(balance ORDER BY owner_key) FROM ledger_accounts "
        "WHERE owner_type = 'player'") == [20, 10]

"""The ledger under concurrency: many transactions at once on the same balances.

Each writer is its own READ COMMITTED transaction through ``unit_of_work``. Balance
rows are locked in one fixed order, so transfers crossing the same accounts in
opposite directions never deadlock; the conditional debit lets exactly the
affordable number of racing debits through.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from bench.roundtrips import RoundTripCounter, upstream_of
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from wowsino.kernel import ledger
from wowsino.kernel.db import create_engine, sqlstate, unit_of_work
from wowsino.kernel.errors import Conflict, InsufficientFunds, ValidationFailed
from wowsino.kernel.ledger import Account, Posting
from wowsino.kernel.money import Rail
from wowsino.kernel.realm import Mode, Realm

AT = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
TASKS = 16


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url, pool_size=TASKS + 4)
    # open the pool's connections up front so racing tasks really overlap
    async with AsyncExitStack() as stack:
        for _ in range(TASKS + 4):
            await stack.enter_async_context(engine.connect())
    yield engine
    await engine.dispose()


@pytest.fixture
def realm() -> Realm:
    return Realm(uuid4(), Mode.LIVE)


def usd(player: UUID) -> Account:
    return Account.player(player, Rail.REAL, "USD")


HOUSE_USD = Account.system(ledger.HOUSE, Rail.REAL, "USD")


async def post(engine: AsyncEngine, realm: Realm, kind: str, postings: list[Posting], *,
               attempts: int = 8, alone: bool = False) -> ledger.PostedEntry:
    """``post_entry`` in a unit of work, or (``alone``) ``post_alone``: the entry its own
    transaction, one message."""
    if alone:
        return await ledger.post_alone(engine, realm=realm, attempts=attempts,
                                       entry=ledger.NewEntry(kind, postings, AT))
    return await unit_of_work(engine, lambda conn: ledger.post_entry(
        conn, realm=realm, kind=kind, postings=postings, at=AT), attempts=attempts)


ALONE = pytest.mark.parametrize("alone", [False, True], ids=["unit_of_work", "post_alone"])


async def deposit(engine: AsyncEngine, realm: Realm, account: Account, amount: int) -> None:
    system = Account.system(ledger.counterparty_for(account.rail), account.rail, account.asset)
    await post(engine, realm, "deposit", [Posting(account, amount), Posting(system, -amount)])


async def balances(engine: AsyncEngine, realm: Realm, accounts: list[Account]) -> list[int]:
    async with engine.connect() as conn:
        out = []
        for account in accounts:
            found = await ledger.player_balances(conn, realm, UUID(account.owner_key))
            out.append(found[account.rail.value][account.asset])
        return out


async def assert_books_clean(engine: AsyncEngine, realm: Realm) -> ledger.LedgerReport:
    async with engine.connect() as conn:
        report = await ledger.verify_realm(conn, realm)
        negative = await conn.scalar(text("SELECT count(*) FROM ledger_accounts WHERE balance < 0"))
    assert report.problems == []
    assert negative == 0
    return report


async def assert_no_lost_update(engine: AsyncEngine, realm: Realm, account: Account,
                                final: int) -> None:
    """Every posting's balance before (after − amount) is some other posting's balance
    after, or the zero the account started from: the updates form one chain."""
    async with engine.connect() as conn:
        rows = (await conn.execute(
            text("SELECT p.amount, p.balance_after FROM ledger_postings p JOIN ledger_accounts a "
                 "ON a.tenant_id = p.tenant_id AND a.id = p.account_id WHERE a.tenant_id = "
                 ":tenant_id AND a.mode = :mode AND a.owner_key = :key AND a.rail = :rail "
                 "AND a.asset = :asset"),
            {**realm.params, "key": account.owner_key, "rail": account.rail.value,
             "asset": account.asset},
        )).all()
    befores = Counter([int(r.balance_after) - int(r.amount) for r in rows] + [final])
    afters = Counter([int(r.balance_after) for r in rows] + [0])
    assert befores == afters


def plan_transfers(seed: int, players: int, count: int) -> list[list[tuple[int, int]]]:
    """A deterministic list of entries; each entry is [(player index, amount), …] summing
    to zero, with two or three legs in a shuffled order."""
    rng = random.Random(seed)
    entries = []
    for _ in range(count):
        if rng.random() < 0.7:
            src, dst = rng.sample(range(players), 2)
            amount = rng.randint(1, 500)
            legs = [(src, -amount), (dst, amount)]
        else:
            a, b, c = rng.sample(range(players), 3)
            x, y = rng.randint(1, 500), rng.randint(1, 500)
            legs = [(a, -x - y), (b, x), (c, y)]
        rng.shuffle(legs)
        entries.append(legs)
    return entries


async def run_crossing_transfers(engine: AsyncEngine, realm: Realm, players: list[UUID],
                                 *, attempts: int, alone: bool) -> None:
    accounts = [usd(p) for p in players]
    funded = 1_000_000
    for account in accounts:
        await deposit(engine, realm, account, funded)
    plans = [plan_transfers(seed, len(players), 25) for seed in range(TASKS)]
    start = asyncio.Event()

    async def worker(plan: list[list[tuple[int, int]]]) -> int:
        await start.wait()
        for legs in plan:
            entry = await post(engine, realm, "transfer",
                               [Posting(accounts[i], amount) for i, amount in legs],
                               attempts=attempts, alone=alone)
            assert len(entry.balances_after) == len(legs)
        return len(plan)

    tasks = [asyncio.create_task(worker(plan)) for plan in plans]
    await asyncio.sleep(0)
    start.set()
    done = await asyncio.gather(*tasks)
    assert sum(done) == TASKS * 25

    expected = [funded] * len(players)
    for plan in plans:
        for legs in plan:
            for i, amount in legs:
                expected[i] += amount
    assert await balances(engine, realm, accounts) == expected
    assert sum(expected) == funded * len(players)
    report = await assert_books_clean(engine, realm)
    assert report.entries == len(players) + TASKS * 25
    for account, final in zip(accounts, expected, strict=True):
        await assert_no_lost_update(engine, realm, account, final)


@ALONE
async def test_crossing_transfers_with_retries(engine: AsyncEngine, realm: Realm,
                                               alone: bool) -> None:
    """16 transactions at once moving money both ways between the same four players."""
    await run_crossing_transfers(engine, realm, [uuid4() for _ in range(4)], attempts=8,
                                 alone=alone)


@ALONE
async def test_crossing_transfers_never_deadlock_even_without_retries(
    engine: AsyncEngine, realm: Realm, alone: bool
) -> None:
    """With the accounts in place the fixed lock order leaves nothing to retry."""
    await run_crossing_transfers(engine, realm, [uuid4() for _ in range(3)], attempts=1,
                                 alone=alone)


async def test_first_use_of_accounts_from_many_transactions(
    engine: AsyncEngine, realm: Realm
) -> None:
    """Accounts created on first use by racing transactions: one row each, exact sums."""
    players = [uuid4() for _ in range(6)]
    start = asyncio.Event()

    async def worker(i: int) -> None:
        await start.wait()
        rng = random.Random(i)
        order = rng.sample(players, len(players))
        postings = [Posting(usd(p), 10 + i) for p in order]
        postings.append(Posting(HOUSE_USD, -(10 + i) * len(players)))
        await post(engine, realm, "bonus.drop", postings)

    tasks = [asyncio.create_task(worker(i)) for i in range(TASKS)]
    start.set()
    await asyncio.gather(*tasks)
    per_player = sum(10 + i for i in range(TASKS))
    assert await balances(engine, realm, [usd(p) for p in players]) == [per_player] * 6
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM ledger_accounts")) == 7
        assert await ledger.system_balance(conn, realm, HOUSE_USD) == -per_player * 6
    await assert_books_clean(engine, realm)


@pytest.mark.parametrize(("account", "price", "affordable", "racers", "code"), [
    (Rail.REAL, 700, 10, 32, "INSUFFICIENT_FUNDS"),
    (Rail.WINZ, 3, 5, 24, "INSUFFICIENT_WINZ"),
])
@ALONE
async def test_racing_debits_take_exactly_what_is_there(
    engine: AsyncEngine, realm: Realm, account: Rail, price: int, affordable: int, racers: int,
    code: str, alone: bool,
) -> None:
    asset = "USD" if account is Rail.REAL else "WINZ"
    wallet = Account.player(uuid4(), account, asset)
    sink = Account.system(ledger.counterparty_for(account), account, asset)
    await deposit(engine, realm, wallet, price * affordable)
    start = asyncio.Event()

    async def debit() -> ledger.PostedEntry:
        await start.wait()
        return await post(engine, realm, "wager", [Posting(wallet, -price), Posting(sink, price)],
                          alone=alone)

    tasks = [asyncio.create_task(debit()) for _ in range(racers)]
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    won = [r for r in results if isinstance(r, ledger.PostedEntry)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(won) == affordable
    assert len(refused) == racers - affordable
    assert {r.code for r in refused} == {code}
    # each winner saw a distinct balance: no two debits read the same one
    assert sorted(w.balance_after(wallet) for w in won) == [
        price * k for k in range(affordable)
    ]
    assert await balances(engine, realm, [wallet]) == [0]
    await assert_no_lost_update(engine, realm, wallet, 0)
    report = await assert_books_clean(engine, realm)
    assert report.entries == 1 + affordable


@ALONE
async def test_racing_credits_and_debits_never_go_negative(
    engine: AsyncEngine, realm: Realm, alone: bool
) -> None:
    wallet = usd(uuid4())
    await deposit(engine, realm, wallet, 1_000)
    start = asyncio.Event()

    async def move(i: int) -> tuple[int, bool]:
        await start.wait()
        amount = 150 + 37 * (i % 7)
        sign = -1 if i % 3 else 1  # two debits for every credit
        try:
            await post(engine, realm, "wager" if sign < 0 else "win",
                       [Posting(wallet, sign * amount), Posting(HOUSE_USD, -sign * amount)],
                       alone=alone)
        except InsufficientFunds:
            assert sign < 0
            return 0, False
        return sign * amount, True

    tasks = [asyncio.create_task(move(i)) for i in range(3 * TASKS)]
    start.set()
    moved = await asyncio.gather(*tasks)
    final = 1_000 + sum(delta for delta, _ in moved)
    assert final >= 0
    assert await balances(engine, realm, [wallet]) == [final]
    await assert_no_lost_update(engine, realm, wallet, final)
    report = await assert_books_clean(engine, realm)
    assert report.entries == 1 + sum(ok for _, ok in moved)


async def test_racing_reversals_of_one_entry(engine: AsyncEngine, realm: Realm) -> None:
    """Only one of many concurrent reversals of the same entry wins; the others conflict."""
    wallet = usd(uuid4())
    await deposit(engine, realm, wallet, 5_000)
    entry = await post(engine, realm, "wager", [Posting(wallet, -1_200),
                                                Posting(HOUSE_USD, 1_200)])
    start = asyncio.Event()

    async def reverse() -> ledger.PostedEntry:
        await start.wait()
        return await unit_of_work(engine, lambda conn: ledger.reverse_entry(
            conn, realm=realm, entry_id=entry.id, at=AT))

    tasks = [asyncio.create_task(reverse()) for _ in range(12)]
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    won = [r for r in results if isinstance(r, ledger.PostedEntry)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1
    assert len(lost) == 11
    assert {c.code for c in lost} == {"ALREADY_REVERSED"}
    assert won[0].balance_after(wallet) == 5_000
    assert await balances(engine, realm, [wallet]) == [5_000]
    report = await assert_books_clean(engine, realm)
    assert report.entries == 3


async def test_a_reversal_racing_an_uncommitted_one_conflicts(
    engine: AsyncEngine, realm: Realm
) -> None:
    """The second reversal cannot see the first (not yet committed) one: the database's
    one-reversal constraint decides, and the loser gets the same Conflict."""
    wallet = usd(uuid4())
    await deposit(engine, realm, wallet, 5_000)
    entry = await post(engine, realm, "wager", [Posting(wallet, -1_200),
                                                Posting(HOUSE_USD, 1_200)])
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        await ledger.reverse_entry(first, realm=realm, entry_id=entry.id, at=AT)
        await second.begin()
        racing = asyncio.create_task(
            ledger.reverse_entry(second, realm=realm, entry_id=entry.id, at=AT))
        await asyncio.sleep(0.3)
        assert not racing.done()  # waits on the first transaction
        await first.commit()
        with pytest.raises(Conflict) as caught:
            await racing
        assert caught.value.code == "ALREADY_REVERSED"
        await second.rollback()
    assert await balances(engine, realm, [wallet]) == [5_000]
    report = await assert_books_clean(engine, realm)
    assert report.entries == 3


LOCK_ACCOUNT = text("SELECT 1 FROM ledger_accounts WHERE tenant_id = :tenant_id AND mode = :mode "
                    "AND owner_key = :key FOR UPDATE")


async def test_the_unit_of_work_retries_a_deadlock(engine: AsyncEngine, realm: Realm) -> None:
    """Two units that lock the same rows in opposite orders deadlock once; PostgreSQL
    aborts one, the wrapper runs it again, and both transfers land."""
    a, b = usd(uuid4()), usd(uuid4())
    await deposit(engine, realm, a, 100)
    await deposit(engine, realm, b, 100)
    both_hold_one = asyncio.Barrier(2)
    calls: Counter[str] = Counter()

    async def transfer(name: str, source: Account, target: Account) -> ledger.PostedEntry:
        async def job(conn: Any) -> ledger.PostedEntry:
            calls[name] += 1
            await conn.execute(LOCK_ACCOUNT, {**realm.params, "key": source.owner_key})
            if calls[name] == 1:
                await both_hold_one.wait()
            await conn.execute(LOCK_ACCOUNT, {**realm.params, "key": target.owner_key})
            return await ledger.post_entry(conn, realm=realm, kind="transfer", at=AT,
                                           postings=[Posting(source, -10), Posting(target, 10)])

        return await unit_of_work(engine, job)

    await asyncio.wait_for(asyncio.gather(transfer("ab", a, b), transfer("ba", b, a)), 30)
    assert sorted(calls.values()) == [1, 2]  # exactly one unit was rolled back and re-run
    assert await balances(engine, realm, [a, b]) == [100, 100]
    report = await assert_books_clean(engine, realm)
    assert report.entries == 4


# -- the posting statement sent on the driver, inside SQLAlchemy's transaction -------------


async def entry_count(engine: AsyncEngine, realm: Realm) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(
            text("SELECT count(*) FROM ledger_entries WHERE tenant_id = :tenant_id"), realm.params))


async def test_a_deadlock_inside_the_posting_statement_is_retried(
    engine: AsyncEngine, realm: Realm
) -> None:
    """Each unit holds one balance row, then posts an entry needing the other: the
    deadlock is detected inside ``ledger_post`` (sent on the driver) and the wrapper
    runs the aborted unit again."""
    a, b = usd(uuid4()), usd(uuid4())
    await deposit(engine, realm, a, 100)
    await deposit(engine, realm, b, 100)
    both_hold_one = asyncio.Barrier(2)
    calls: Counter[str] = Counter()
    failures: list[BaseException] = []

    async def transfer(name: str, source: Account, target: Account) -> ledger.PostedEntry:
        async def job(conn: Any) -> ledger.PostedEntry:
            calls[name] += 1
            await conn.execute(LOCK_ACCOUNT, {**realm.params, "key": source.owner_key})
            if calls[name] == 1:
                await both_hold_one.wait()
            try:
                return await ledger.post_entry(conn, realm=realm, kind="transfer", at=AT,
                                               postings=[Posting(source, -10),
                                                         Posting(target, 10)])
            except BaseException as exc:
                failures.append(exc)
                raise

        return await unit_of_work(engine, job)

    await asyncio.wait_for(asyncio.gather(transfer("ab", a, b), transfer("ba", b, a)), 30)
    assert sorted(calls.values()) == [1, 2]
    assert len(failures) == 1
    assert isinstance(failures[0], DBAPIError)  # as SQLAlchemy raises it
    assert sqlstate(failures[0]) == "40P01"
    assert await balances(engine, realm, [a, b]) == [100, 100]
    report = await assert_books_clean(engine, realm)
    assert report.entries == 4


async def test_a_posting_as_the_first_statement_belongs_to_the_unit(
    engine: AsyncEngine, realm: Realm
) -> None:
    """Nothing has begun the transaction on the server before the posting: it is begun
    for it, so a later failure in the unit takes the posting back."""
    wallet = usd(uuid4())
    await deposit(engine, realm, wallet, 1_000)

    class Later(Exception):
        pass

    async def post_then_raise(conn: Any) -> None:
        await ledger.post_entry(conn, realm=realm, kind="wager", at=AT,
                                postings=[Posting(wallet, -300), Posting(HOUSE_USD, 300)])
        raise Later

    async def post_then_fail_in_sql(conn: Any) -> None:
        await ledger.post_entry(conn, realm=realm, kind="wager", at=AT,
                                postings=[Posting(wallet, -300), Posting(HOUSE_USD, 300)])
        await conn.execute(text("SELECT 1 / 0"))

    with pytest.raises(Later):
        await unit_of_work(engine, post_then_raise)
    with pytest.raises(DBAPIError) as caught:
        await unit_of_work(engine, post_then_fail_in_sql)
    assert sqlstate(caught.value) == "22012"
    assert await balances(engine, realm, [wallet]) == [1_000]
    assert await entry_count(engine, realm) == 1
    # and the same unit without a failure commits the posting and what follows it
    entry = await unit_of_work(engine, lambda conn: ledger.post_entry(
        conn, realm=realm, kind="wager", at=AT,
        postings=[Posting(wallet, -300), Posting(HOUSE_USD, 300)]))
    assert entry.balance_after(wallet) == 700
    assert await balances(engine, realm, [wallet]) == [700]
    await assert_books_clean(engine, realm)


async def test_an_entry_alone_is_one_message_and_commits_by_itself(
    db_url: str, realm: Realm
) -> None:
    """``post_alone``: no ``BEGIN``, no ``COMMIT``, one round trip; the entry is committed
    when it returns (another connection sees it), and a refusal leaves nothing behind."""
    counter = RoundTripCounter(*upstream_of(db_url), record=True)
    await counter.start()
    counted = create_engine(counter.url(db_url), pool_size=1)
    try:
        wallet = usd(uuid4())
        clearing = Account.system(ledger.PSP_CLEARING, Rail.REAL, "USD")
        await ledger.post_alone(counted, realm=realm, entry=ledger.NewEntry(
            "deposit", [Posting(wallet, 1_000), Posting(clearing, -1_000)], AT))
        before = counter.count
        counter.exchanges.clear()
        entry = await ledger.post_alone(counted, realm=realm, entry=ledger.NewEntry(
            "wager", [Posting(wallet, -300), Posting(HOUSE_USD, 300)], AT))
        assert counter.count - before == 1
        sent = " ".join(s for exchange in counter.exchanges for s in exchange).upper()
        assert "LEDGER_POST" in sent
        assert "BEGIN" not in sent
        assert "COMMIT" not in sent
        assert entry.balance_after(wallet) == 700
        with pytest.raises(InsufficientFunds):
            await ledger.post_alone(counted, realm=realm, entry=ledger.NewEntry(
                "wager", [Posting(wallet, -701), Posting(HOUSE_USD, 701)], AT))
    finally:
        await counted.dispose()
        await counter.close()
    other = create_engine(db_url, pool_size=1)
    try:
        assert await balances(other, realm, [wallet]) == [700]
        report = await assert_books_clean(other, realm)
        assert report.entries == 2
    finally:
        await other.dispose()


async def test_a_posting_on_a_connection_without_a_transaction_begins_one(
    engine: AsyncEngine, realm: Realm
) -> None:
    """As any statement would: the connection begins a transaction, which the caller
    commits or rolls back."""
    wallet = usd(uuid4())
    await deposit(engine, realm, wallet, 1_000)
    postings = [Posting(wallet, -100), Posting(HOUSE_USD, 100)]
    async with engine.connect() as conn:
        await ledger.post_entry(conn, realm=realm, kind="wager", at=AT, postings=postings)
        assert conn.in_transaction()
        await conn.rollback()
    assert await balances(engine, realm, [wallet]) == [1_000]
    async with engine.connect() as conn:
        await ledger.post_entry(conn, realm=realm, kind="wager", at=AT, postings=postings)
        await conn.commit()
    assert await balances(engine, realm, [wallet]) == [900]
    await assert_books_clean(engine, realm)


async def test_driver_errors_are_raised_as_sqlalchemy_raises_them(
    engine: AsyncEngine, realm: Realm
) -> None:
    """A database error from the posting statement has the type, ``orig`` and SQLSTATE
    the same statement executed through SQLAlchemy gives."""
    unknown_asset = [Posting(Account.player(uuid4(), Rail.REAL, "XXX"), 5),
                     Posting(Account.system(ledger.HOUSE, Rail.REAL, "XXX"), -5)]

    async def post(conn: Any) -> None:
        await ledger.post_entry(conn, realm=realm, kind="odd", at=AT, postings=unknown_asset)

    async def through_sqlalchemy(conn: Any) -> None:
        await conn.execute(text(
            "INSERT INTO ledger_accounts (tenant_id, mode, owner_type, owner_key, rail, asset) "
            "VALUES (:tenant_id, :mode, 'system', 'house', 'real', 'XXX')"), realm.params)

    with pytest.raises(DBAPIError) as driver:
        await unit_of_work(engine, post)
    with pytest.raises(DBAPIError) as reference:
        await unit_of_work(engine, through_sqlalchemy)
    assert isinstance(driver.value, IntegrityError)
    assert type(driver.value) is type(reference.value)
    assert type(driver.value.orig) is type(reference.value.orig)
    assert sqlstate(driver.value) == sqlstate(reference.value) == "23503"
    assert "ledger_accounts_asset_fkey" in str(driver.value)


async def test_text_the_database_cannot_store_is_a_validation_error(
    engine: AsyncEngine, realm: Realm
) -> None:
    wallet = usd(uuid4())
    with pytest.raises(ValidationFailed):
        await unit_of_work(engine, lambda conn: ledger.post_entry(
            conn, realm=realm, kind="bonus\x00drop", at=AT,
            postings=[Posting(wallet, 5), Posting(HOUSE_USD, -5)]))
    assert await entry_count(engine, realm) == 0


async def test_a_shortfall_names_the_posting_that_falls_short(
    engine: AsyncEngine, realm: Realm
) -> None:
    """The function reports the first posting that would go negative; the error names
    that posting's account (here the third: WINZ, not the USD of the first)."""
    player = uuid4()
    cash, winz = usd(player), Account.player(player, Rail.WINZ, "WINZ")
    winz_mint = Account.system(ledger.WINZ_ISSUANCE, Rail.WINZ, "WINZ")
    await deposit(engine, realm, cash, 500)
    await deposit(engine, realm, winz, 3)
    with pytest.raises(InsufficientFunds) as caught:
        await post(engine, realm, "shop", [Posting(cash, 100), Posting(HOUSE_USD, -100),
                                           Posting(winz, -4), Posting(winz_mint, 4)])
    assert caught.value.code == "INSUFFICIENT_WINZ"
    with pytest.raises(InsufficientFunds) as caught:
        await post(engine, realm, "shop", [Posting(winz_mint, -1), Posting(winz, 1),
                                           Posting(HOUSE_USD, 600), Posting(cash, -600)])
    assert caught.value.code == "INSUFFICIENT_FUNDS"
    assert await balances(engine, realm, [cash, winz]) == [500, 3]
    entry = await post(engine, realm, "shop", [Posting(cash, -100), Posting(HOUSE_USD, 100),
                                               Posting(winz, -3), Posting(winz_mint, 3)])
    assert entry.balances_after == (400, None, 0, None)
    await assert_books_clean(engine, realm)


# -- the unit of work itself ---------------------------------------------------------------


def checked_out(engine: AsyncEngine) -> int:
    return int(engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]


async def test_a_unit_that_fails_at_commit_rolls_back_and_returns_its_connection(
    engine: AsyncEngine, realm: Realm
) -> None:
    """A deferred constraint fails at COMMIT: the unit raises as the database does,
    nothing of it stays, and its connection goes back to the pool usable."""
    wallet = usd(uuid4())
    await deposit(engine, realm, wallet, 1_000)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE deferred_once (id integer, CONSTRAINT deferred_once_id "
                                "UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)"))

    async def post_and_break(conn: Any) -> ledger.PostedEntry:
        await conn.execute(text("INSERT INTO deferred_once VALUES (1), (1)"))
        return await ledger.post_entry(conn, realm=realm, kind="wager", at=AT,
                                       postings=[Posting(wallet, -100), Posting(HOUSE_USD, 100)])

    with pytest.raises(IntegrityError) as caught:
        await unit_of_work(engine, post_and_break)
    assert sqlstate(caught.value) == "23505"
    assert checked_out(engine) == 0
    assert await balances(engine, realm, [wallet]) == [1_000]
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM deferred_once")) == 0
    entry = await post(engine, realm, "wager", [Posting(wallet, -100), Posting(HOUSE_USD, 100)])
    assert entry.balance_after(wallet) == 900
    await assert_books_clean(engine, realm)


async def test_a_cancelled_unit_rolls_back_and_returns_its_connection(
    engine: AsyncEngine, realm: Realm
) -> None:
    """Cancelled while ``ledger_post`` waits for a balance lock: nothing is posted and the
    connection is back in the pool, fit for the next unit."""
    wallet = usd(uuid4())
    await deposit(engine, realm, wallet, 1_000)
    async with engine.connect() as holder:
        await holder.execute(text("SELECT 1 FROM ledger_accounts WHERE owner_key = :key FOR UPDATE"),
                             {"key": wallet.owner_key})
        waiting = asyncio.create_task(post(engine, realm, "wager", [Posting(wallet, -100),
                                                                    Posting(HOUSE_USD, 100)]))
        for _ in range(500):
            async with engine.connect() as conn:
                blocked = await conn.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"))
            if blocked:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the posting never waited for the lock")
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await holder.rollback()
    assert checked_out(engine) == 0
    assert await balances(engine, realm, [wallet]) == [1_000]
    for _ in range(TASKS + 4):  # every pooled connection still works
        await post(engine, realm, "wager", [Posting(wallet, -1), Posting(HOUSE_USD, 1)])
    assert await balances(engine, realm, [wallet]) == [1_000 - TASKS - 4]
    await assert_books_clean(engine, realm)


# --- several entries in one statement (post_entries) ---------------------------------------


async def postings_of(engine: AsyncEngine, realm: Realm) -> list[tuple[Any, ...]]:
    """Every posting of ``realm`` in entry order: (entry kind, metadata, account, amount,
    balance after)."""
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT e.kind, e.metadata, a.owner_type, a.owner_key, a.rail, a.asset, p.amount, "
            "p.balance_after FROM ledger_entries e JOIN ledger_postings p ON p.tenant_id = "
            "e.tenant_id AND p.entry_id = e.id JOIN ledger_accounts a ON a.tenant_id = "
            "p.tenant_id AND a.id = p.account_id WHERE e.tenant_id = :tenant_id AND e.mode = "
            ":mode ORDER BY e.id, a.owner_type, a.owner_key"), realm.params)
        return [tuple(r) for r in rows]


def entries_for(players: list[UUID], plan: list[tuple[int, int, int]]) -> list[ledger.NewEntry]:
    """Entries from (player, other player or -1 for the house, amount) triples: a transfer
    from the player to the other, or a credit (negative: a debit) against the house."""
    out = []
    for n, (a, b, amount) in enumerate(plan):
        other = HOUSE_USD if b < 0 else usd(players[b])
        moved = amount if b < 0 else -abs(amount)
        out.append(ledger.NewEntry(kind="adjustment" if b < 0 else "transfer", at=AT,
                                   ref_type="player", ref_id=str(players[a]),
                                   metadata={"n": n},
                                   postings=[Posting(usd(players[a]), moved),
                                             Posting(other, -moved)]))
    return out


async def test_post_entries_appends_what_post_entry_one_by_one_appends(
    engine: AsyncEngine,
) -> None:
    """The same entries through ``post_entries`` (one statement) and through
    ``post_entry`` one at a time, each in a realm of its own: the same postings, balances
    after each posting (an account posted to by several entries included), answers and
    clean books."""
    rng = random.Random(7)
    players = [uuid4() for _ in range(5)]
    plan = [(rng.randrange(5), -1, rng.randint(100, 10_000)) for _ in range(10)]
    plan += [(rng.randrange(5), rng.choice([-1, rng.randrange(5)]), rng.randint(-50, 50) or 1)
             for _ in range(40)]
    plan = [(a, -1 if b == a else b, amount) for a, b, amount in plan]
    together, alone = Realm(uuid4(), Mode.LIVE), Realm(uuid4(), Mode.LIVE)
    for p in players:  # enough for every debit
        await deposit(engine, together, usd(p), 1_000_000)
        await deposit(engine, alone, usd(p), 1_000_000)
    entries = entries_for(players, plan)
    posted = await unit_of_work(engine, lambda conn: ledger.post_entries(
        conn, realm=together, entries=entries))
    one_by_one = []
    for entry in entries:
        one_by_one.append(await unit_of_work(engine, lambda conn, e=entry: ledger.post_entry(
            conn, realm=alone, kind=e.kind, postings=e.postings, at=e.at, ref_type=e.ref_type,
            ref_id=e.ref_id, metadata=e.metadata)))
    assert [p.balances_after for p in posted] == [p.balances_after for p in one_by_one]
    assert [p.postings for p in posted] == [p.postings for p in one_by_one]
    assert [p.id for p in posted] == sorted(p.id for p in posted)
    assert await postings_of(engine, together) == await postings_of(engine, alone)
    await assert_books_clean(engine, together)
    await assert_books_clean(engine, alone)


async def test_post_entries_refused_anywhere_appends_nothing(
    engine: AsyncEngine, realm: Realm,
) -> None:
    """A debit beyond the balance in any entry fails the statement: nothing of the others is
    kept once the transaction rolls back, and the balances are as before."""
    players = [uuid4(), uuid4()]
    await deposit(engine, realm, usd(players[0]), 500)
    entries = entries_for(players, [(0, -1, 100), (1, -1, 200), (0, -1, -700), (1, -1, 5)])
    with pytest.raises(DBAPIError) as refused:
        await unit_of_work(engine, lambda conn: ledger.post_entries(
            conn, realm=realm, entries=entries))
    assert sqlstate(refused.value) == "WZ001"
    assert await balances(engine, realm, [usd(players[0])]) == [500]
    assert len(await postings_of(engine, realm)) == 2  # the deposit's
    assert await unit_of_work(engine, lambda conn: ledger.post_entries(
        conn, realm=realm, entries=[])) == []
    await assert_books_clean(engine, realm)

"""The ledger kernel as a state machine against a real PostgreSQL.

Random credits, debits, manual adjustments, transfers, bonus conversions,
currency exchanges and reversals across two realms, three players per realm
and every rail, against a model of expected balances. After every step the
books must balance per asset, no player balance may be negative, cached
balances must equal both the postings and the model, ``verify_realm`` must find
nothing, and the freshly sealed hash chains must verify.

The test gets its own database cloned from the migrated template; each run of
the machine starts from it emptied (every tenant-scoped table truncated).
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import _with_database
from wowsino import verify
from wowsino.kernel import audit, chain, ledger
from wowsino.kernel.clock import ManualClock
from wowsino.kernel.db import create_engine, unit_of_work
from wowsino.kernel.errors import (
    Conflict,
    InsufficientFunds,
    LedgerInvariantViolated,
    NotFound,
    ValidationFailed,
)
from wowsino.kernel.money import ASSETS, Rail, check_rail_asset, from_minor
from wowsino.kernel.realm import ADMIN, Mode, Realm
from wowsino.players import service as players
from wowsino.tenants import service as tenants

pytestmark = pytest.mark.integration

T = TypeVar("T")
Key = tuple[str, str, str, str, str]  # mode, owner_type, owner_key, rail, asset

CODES = ("USD", "EUR", "BTC", "WINZ", "XP")
CURRENCIES = ("USD", "EUR", "BTC")
PLAYERS = ("alice", "bob", "carol")
MODES = (Mode.LIVE, Mode.TEST)


def _holds(rail: Rail, code: str) -> bool:
    try:
        check_rail_asset(rail, ASSETS[code])
    except ValidationFailed:
        return False
    return True


# every (rail, asset) a player may hold among the assets exercised here
BOOKS: tuple[tuple[Rail, str], ...] = tuple(
    (rail, code) for rail in Rail for code in CODES if _holds(rail, code)
)
assert len(BOOKS) == 8


def amounts(code: str) -> st.SearchStrategy[int]:
    """Minor units: up to a thousand whole units of the asset."""
    return st.integers(min_value=1, max_value=1000 * 10 ** ASSETS[code].scale)


books_with_amounts = st.sampled_from(BOOKS).flatmap(
    lambda book: st.tuples(st.just(book), amounts(book[1]))
)
currency_amounts = st.sampled_from(CURRENCIES).flatmap(
    lambda code: st.tuples(st.just(code), amounts(code))
)

# What a ledger entry's metadata may carry; every value must hash the same
# after a round trip through jsonb.
metadata_values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=12),
    st.booleans(),
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**9,
                max_value=10**9),
    # any sign, digits and exponent, negative zero and 1E+2 included
    st.builds(lambda sign, digits, exponent: Decimal((sign, tuple(digits), exponent)),
              st.integers(0, 1), st.lists(st.integers(0, 9), min_size=1, max_size=20),
              st.integers(-30, 30)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
)
metadata = st.dictionaries(st.text(alphabet="abcdefgh_", min_size=1, max_size=6),
                           metadata_values, max_size=3)

realm_index = st.integers(min_value=0, max_value=len(MODES) - 1)
player_index = st.integers(min_value=0, max_value=len(PLAYERS) - 1)
pick = st.integers(min_value=0, max_value=10**6)
shares = st.integers(min_value=1, max_value=1250)  # permille of a balance; > 1000 overdraws


@dataclass
class ModelEntry:
    realm: int
    id: int
    kind: str
    postings: list[tuple[ledger.Account, int]]
    reverses: int | None
    reversed: bool = False


async def _empty(url: str) -> None:
    """Truncate every table that holds tenant data (reference data such as ``assets``
    and the migration state stay), restarting identities: a fresh database."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT DISTINCT c.table_name FROM information_schema.columns c "
            "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
            "AND t.table_name = c.table_name WHERE c.table_schema = 'public' "
            "AND t.table_type = 'BASE TABLE' AND c.column_name = 'tenant_id'"
        )
        names = ", ".join(f'"{r[0]}"' for r in [*tables, ("tenants",)])
        # the append-only tables refuse TRUNCATE by trigger; replica mode fires none
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.run(_empty(url))
        self.engine = create_engine(url, pool_size=2)
        self.clock = ManualClock()
        self.balances: dict[Key, int] = {}
        self.entries: list[ModelEntry] = []
        self.players: list[list[UUID]] = []
        self.realms: list[Realm] = []
        self.audit_rows: dict[int, int] = {}
        self.brand_id = UUID(int=0)  # set by _setup_tenant
        self.run(self._setup_tenant())

    # -- plumbing -------------------------------------------------------------------------

    def run(self, coro: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coro)

    def work(self, job: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        return self.run(unit_of_work(self.engine, job))

    def now(self) -> Any:
        return self.clock.advance(timedelta(seconds=1, microseconds=1234))

    async def _setup_tenant(self) -> None:
        """A tenant with three players in each mode, in one transaction."""
        at = self.now()

        async def setup(conn: AsyncConnection) -> None:
            created = await tenants.create_tenant(
                conn, slug="acme", name="Acme", service_mode="white_label", brand_slug="main",
                brand_name="Main", actor=ADMIN, at=at)
            tenant_id, self.brand_id = (UUID(created["tenant"]["id"]),
                                        UUID(created["brand"]["id"]))
            self.realms, self.players = [], []
            for mode in MODES:
                realm = Realm(tenant_id, mode)
                self.realms.append(realm)
                ids = []
                for name in PLAYERS:
                    status, body = await players.upsert(
                        conn, realm=realm, brand_id=self.brand_id, actor=ADMIN, at=at,
                        fields={"username": name, "email": f"{name}@example.com",
                                "currency": "EUR"})
                    assert status == 201
                    ids.append(UUID(body["player"]["user_id"]))
                self.players.append(ids)
            counts = await conn.execute(text(
                "SELECT mode, count(*) FROM audit_log WHERE tenant_id = :t GROUP BY mode"),
                {"t": tenant_id})
            by_mode = {mode: int(n) for mode, n in counts}
            self.audit_rows = {r: by_mode.get(m.value, 0) for r, m in enumerate(MODES)}

        await unit_of_work(self.engine, setup)
        assert self.audit_rows[1] >= len(PLAYERS)

    def teardown(self) -> None:
        try:
            self.run(self._final_checks())
        finally:
            try:
                self.run(self.engine.dispose())
            finally:
                self.loop.close()

    # -- the model ------------------------------------------------------------------------

    def key(self, r: int, account: ledger.Account) -> Key:
        return (MODES[r].value, account.owner_type, account.owner_key, account.rail.value,
                account.asset)

    def balance(self, r: int, account: ledger.Account) -> int:
        return self.balances.get(self.key(r, account), 0)

    def player(self, r: int, p: int, rail: Rail, code: str) -> ledger.Account:
        return ledger.Account.player(self.players[r][p], rail, code)

    @staticmethod
    def system(rail: Rail, code: str, name: str | None = None) -> ledger.Account:
        return ledger.Account.system(name or ledger.counterparty_for(rail), rail, code)

    def shortfalls(self, r: int, postings: list[tuple[ledger.Account, int]]) -> list[ledger.Account]:
        return [a for a, amount in postings if a.tracked and self.balance(r, a) + amount < 0]

    def record(self, r: int, entry_id: int, kind: str, postings: list[tuple[ledger.Account, int]],
               balances_after: tuple[int | None, ...] | None, reverses: int | None = None) -> None:
        for i, (account, amount) in enumerate(postings):
            k = self.key(r, account)
            self.balances[k] = self.balances.get(k, 0) + amount
            if balances_after is not None:
                expected = self.balances[k] if account.tracked else None
                assert balances_after[i] == expected, (account, balances_after, expected)
        assert all(e.id != entry_id for e in self.entries)
        self.entries.append(ModelEntry(r, entry_id, kind, postings, reverses))

    def refused(self, job: Callable[[AsyncConnection], Awaitable[Any]],
                error: type[Exception]) -> Any:
        with pytest.raises(error) as caught:
            self.work(job)
        return caught.value

    def expect_insufficient(self, job: Callable[[AsyncConnection], Awaitable[Any]],
                            short: list[ledger.Account]) -> None:
        exc = self.refused(job, InsufficientFunds)
        assert isinstance(exc, InsufficientFunds)
        assert exc.status == 402
        if all(a.asset == "WINZ" for a in short):
            assert exc.code == "INSUFFICIENT_WINZ"
        elif all(a.asset != "WINZ" for a in short):
            assert exc.code == "INSUFFICIENT_FUNDS"
        if len(short) == 1:
            expected = ("insufficient WINZ balance" if short[0].asset == "WINZ" else
                        f"insufficient {short[0].rail.value} {short[0].asset} balance")
            assert exc.message == expected

    def post(self, r: int, kind: str, postings: list[tuple[ledger.Account, int]],
             meta: dict[str, Any] | None = None) -> None:
        """Post through the kernel; succeed or be refused exactly as the model predicts."""
        realm, at = self.realms[r], self.now()

        async def job(conn: AsyncConnection) -> ledger.PostedEntry:
            return await ledger.post_entry(
                conn, realm=realm, kind=kind, at=at, metadata=meta, ref_type="test",
                ref_id=f"step-{len(self.entries)}",
                postings=[ledger.Posting(a, amount) for a, amount in postings])

        short = self.shortfalls(r, postings)
        if short:
            # the first short posting (in input order) names the refusal
            self.expect_insufficient(job, short[:1])
            return
        entry = self.work(job)
        assert entry.kind == kind
        assert entry.created_at == at
        self.record(r, entry.id, kind, postings, entry.balances_after)

    # -- rules ----------------------------------------------------------------------------

    @initialize(deposits=st.lists(st.tuples(realm_index, player_index, books_with_amounts),
                                  min_size=1, max_size=8))
    def fund(self, deposits: list[tuple[int, int, tuple[tuple[Rail, str], int]]]) -> None:
        for r, p, ((rail, code), amount) in deposits:
            self.post(r, "deposit", [(self.player(r, p, rail, code), amount),
                                     (self.system(rail, code), -amount)])

    @rule(r=realm_index, p=player_index, book=books_with_amounts, meta=metadata)
    def credit(self, r: int, p: int, book: tuple[tuple[Rail, str], int],
               meta: dict[str, Any]) -> None:
        (rail, code), amount = book
        self.post(r, "credit", [(self.player(r, p, rail, code), amount),
                                (self.system(rail, code), -amount)], meta)

    @rule(r=realm_index, p=player_index, book=books_with_amounts, meta=metadata)
    def debit(self, r: int, p: int, book: tuple[tuple[Rail, str], int],
              meta: dict[str, Any]) -> None:
        (rail, code), amount = book
        self.post(r, "debit", [(self.player(r, p, rail, code), -amount),
                               (self.system(rail, code), amount)], meta)

    def funded(self, *rails: Rail) -> list[tuple[int, int, ledger.Account]]:
        """Player accounts with a positive balance (on ``rails``, or any)."""
        out = []
        for r in range(len(MODES)):
            for p in range(len(PLAYERS)):
                for rail, code in BOOKS:
                    account = self.player(r, p, rail, code)
                    if (not rails or rail in rails) and self.balance(r, account) > 0:
                        out.append((r, p, account))
        return out

    def share_of(self, r: int, account: ledger.Account, permille: int) -> int:
        """``permille`` of the balance (at least one minor unit); above 1000 overdraws."""
        return max(1, self.balance(r, account) * permille // 1000)

    @precondition(lambda self: self.funded())
    @rule(choice=pick, permille=shares)
    def spend(self, choice: int, permille: int) -> None:
        funded = self.funded()
        r, _, account = funded[choice % len(funded)]
        amount = self.share_of(r, account, permille)
        self.post(r, "debit", [(account, -amount),
                               (self.system(account.rail, account.asset), amount)])

    @precondition(lambda self: self.funded())
    @rule(choice=pick)
    def spend_everything(self, choice: int) -> None:
        """Debiting exactly the balance is allowed and leaves zero."""
        funded = self.funded()
        r, _, account = funded[choice % len(funded)]
        amount = self.balance(r, account)
        self.post(r, "debit", [(account, -amount), (self.system(account.rail, account.asset),
                                                    amount)])
        assert self.balance(r, account) == 0

    @rule(r=realm_index, p=player_index, book=st.sampled_from(BOOKS),
          extra=st.integers(min_value=1, max_value=10**6))
    def overdraw(self, r: int, p: int, book: tuple[Rail, str], extra: int) -> None:
        """One minor unit more than the balance is refused and changes nothing."""
        rail, code = book
        account = self.player(r, p, rail, code)
        amount = self.balance(r, account) + extra
        postings = [(self.system(rail, code), amount), (account, -amount)]
        assert self.shortfalls(r, postings) == [account]
        self.post(r, "debit", postings)

    @rule(r=realm_index, p=player_index, book=books_with_amounts, credit=st.booleans(),
          reason=st.text(max_size=20).filter(lambda s: "\x00" not in s))
    def adjust(self, r: int, p: int, book: tuple[tuple[Rail, str], int], credit: bool,
               reason: str) -> None:
        """A manual adjustment through the players service: audited, against the rail's
        system account, refused (and not audited) when a debit exceeds the balance."""
        (rail, code), amount = book
        minor = amount if credit else -amount
        realm, at = self.realms[r], self.now()
        mine = self.player(r, p, rail, code)
        postings = [(mine, minor), (self.system(rail, code), -minor)]

        async def job(conn: AsyncConnection) -> tuple[int, dict[str, Any]]:
            return await players.adjust(
                conn, realm=realm, brand_id=self.brand_id, ref=PLAYERS[p], rail=rail.value,
                asset_code=code, amount=from_minor(minor, ASSETS[code]), reason=reason,
                actor=ADMIN, at=at)

        if rail in (Rail.REAL, Rail.BONUS) and code != "EUR":  # the players hold EUR
            exc = self.refused(job, ValidationFailed)
            assert exc.code == "CURRENCY_MISMATCH"
            return
        short = self.shortfalls(r, postings)
        if short:
            self.expect_insufficient(job, short)
            return
        status, body = self.work(job)
        assert status == 201
        adjustment = body["adjustment"]
        self.record(r, adjustment["entry_id"], "adjustment", postings, None)
        assert adjustment["amount"] == from_minor(minor, ASSETS[code])
        assert adjustment["balance_after"] == from_minor(self.balance(r, mine), ASSETS[code])
        assert adjustment["user_id"] == str(self.players[r][p])
        self.audit_rows[r] += 1

    @precondition(lambda self: self.funded())
    @rule(choice=pick, step=st.integers(min_value=0, max_value=len(PLAYERS) - 1),
          permille=shares)
    def transfer(self, choice: int, step: int, permille: int) -> None:
        """Player to player on one rail and asset; ``step`` 0 names the payer twice."""
        funded = self.funded()
        r, payer, source = funded[choice % len(funded)]
        payee = (payer + step) % len(PLAYERS)
        target = self.player(r, payee, source.rail, source.asset)
        amount = self.share_of(r, source, permille)
        postings = [(source, -amount), (target, amount)]
        if payer == payee:
            # one account twice is a programming error, refused before the database
            self.refused(lambda conn: ledger.post_entry(
                conn, realm=self.realms[r], kind="transfer", at=self.now(),
                postings=[ledger.Posting(a, x) for a, x in postings]), LedgerInvariantViolated)
            return
        self.post(r, "transfer", postings)

    @precondition(lambda self: self.funded(Rail.BONUS))
    @rule(choice=pick, permille=shares)
    def convert_bonus(self, choice: int, permille: int) -> None:
        """One entry, two balanced pairs: bonus → liability, house → real."""
        funded = self.funded(Rail.BONUS)
        r, p, bonus = funded[choice % len(funded)]
        code, amount = bonus.asset, self.share_of(r, bonus, permille)
        self.post(r, "bonus.convert", [
            (bonus, -amount),
            (self.system(Rail.BONUS, code, ledger.BONUS_LIABILITY), amount),
            (self.system(Rail.REAL, code, ledger.HOUSE), -amount),
            (self.player(r, p, Rail.REAL, code), amount),
        ])

    @precondition(lambda self: self.funded(Rail.REAL))
    @rule(choice=pick, permille=shares, received=currency_amounts)
    def exchange(self, choice: int, permille: int, received: tuple[str, int]) -> None:
        """A multi-asset entry: balanced per asset, not in total."""
        funded = self.funded(Rail.REAL)
        r, p, sold = funded[choice % len(funded)]
        bought, back = received
        if bought == sold.asset:
            bought = CURRENCIES[(CURRENCIES.index(bought) + 1) % len(CURRENCIES)]
        out = self.share_of(r, sold, permille)
        self.post(r, "exchange", [
            (sold, -out),
            (self.system(Rail.REAL, sold.asset, ledger.HOUSE), out),
            (self.system(Rail.REAL, bought, ledger.HOUSE), -back),
            (self.player(r, p, Rail.REAL, bought), back),
        ])

    @rule(r=realm_index, p=player_index, book=books_with_amounts,
          skew=st.integers(min_value=1, max_value=100))
    def unbalanced(self, r: int, p: int, book: tuple[tuple[Rail, str], int], skew: int) -> None:
        """Postings that do not sum to zero are a programming error and change nothing."""
        (rail, code), amount = book
        self.refused(lambda conn: ledger.post_entry(
            conn, realm=self.realms[r], kind="broken", at=self.now(), postings=[
                ledger.Posting(self.player(r, p, rail, code), amount + skew),
                ledger.Posting(self.system(rail, code), -amount)]), LedgerInvariantViolated)

    def reversible(self) -> list[ModelEntry]:
        return [e for e in self.entries if not e.reversed and e.reverses is None]

    @precondition(lambda self: any(e.reverses is not None for e in self.entries))
    @rule(choice=pick)
    def reverse_a_reversal(self, choice: int) -> None:
        """A reversal is never reversed: the entry stands, whatever the balances."""
        reversals = [e for e in self.entries if e.reverses is not None]
        entry = reversals[choice % len(reversals)]
        exc = self.refused(lambda conn: ledger.reverse_entry(
            conn, realm=self.realms[entry.realm], entry_id=entry.id, at=self.now()), Conflict)
        assert exc.code == "REVERSAL_NOT_REVERSIBLE"

    @precondition(lambda self: self.reversible())
    @rule(choice=pick)
    def reverse(self, choice: int) -> None:
        candidates = self.reversible()
        entry = candidates[choice % len(candidates)]
        realm, at = self.realms[entry.realm], self.now()
        undo = [(a, -amount) for a, amount in entry.postings]

        async def job(conn: AsyncConnection) -> ledger.PostedEntry:
            return await ledger.reverse_entry(conn, realm=realm, entry_id=entry.id, at=at,
                                              metadata={"why": "test"})

        short = self.shortfalls(entry.realm, undo)
        if short:
            self.expect_insufficient(job, short)
            return
        posted = self.work(job)
        assert posted.kind == f"{entry.kind}.reversal"
        assert sorted((self.key(entry.realm, p.account), p.amount) for p in posted.postings) \
            == sorted((self.key(entry.realm, a), x) for a, x in undo)
        by_key = {self.key(entry.realm, p.account): (p.amount, b)
                  for p, b in zip(posted.postings, posted.balances_after, strict=True)}
        self.record(entry.realm, posted.id, posted.kind, undo, None, reverses=entry.id)
        for account, _ in undo:
            _, after = by_key[self.key(entry.realm, account)]
            assert after == (self.balance(entry.realm, account) if account.tracked else None)
        entry.reversed = True

    @precondition(lambda self: any(e.reversed for e in self.entries))
    @rule(choice=pick)
    def reverse_again(self, choice: int) -> None:
        """A second reversal of the same entry is refused, whatever the balances."""
        done = [e for e in self.entries if e.reversed]
        entry = done[choice % len(done)]
        exc = self.refused(lambda conn: ledger.reverse_entry(
            conn, realm=self.realms[entry.realm], entry_id=entry.id, at=self.now()), Conflict)
        assert exc.code == "ALREADY_REVERSED"

    @precondition(lambda self: self.entries)
    @rule(choice=pick)
    def reverse_from_another_realm(self, choice: int) -> None:
        """An entry is invisible outside its realm."""
        entry = self.entries[choice % len(self.entries)]
        other = self.realms[1 - entry.realm]
        self.refused(lambda conn: ledger.reverse_entry(conn, realm=other, entry_id=entry.id,
                                                       at=self.now()), NotFound)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def books_are_consistent(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        async with self.engine.connect() as conn:
            stored = (await conn.execute(text(
                "SELECT e.id, e.mode, e.kind, e.reverses_entry_id, a.owner_type, a.owner_key, "
                "a.rail, a.asset, p.asset AS posted_asset, p.amount FROM ledger_entries e "
                "LEFT JOIN ledger_postings p ON p.tenant_id = e.tenant_id AND p.entry_id = e.id "
                "LEFT JOIN ledger_accounts a ON a.tenant_id = p.tenant_id "
                "AND a.id = p.account_id"))).all()
            entries: dict[int, tuple[str, str, int | None, dict[Key, int]]] = {}
            per_asset: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for row in stored:
                _, _, _, postings = entries.setdefault(
                    row.id, (row.mode, row.kind, row.reverses_entry_id, {}))
                if row.amount is None:
                    continue
                assert row.posted_asset == row.asset
                postings[(row.mode, row.owner_type, row.owner_key, row.rail, row.asset)] = int(
                    row.amount)
                per_asset[row.id][row.asset] += int(row.amount)
            # every entry: two or more postings, balanced per asset
            assert all(len(postings) >= 2 for *_, postings in entries.values())
            unbalanced = {(i, a): x for i, sums in per_asset.items() for a, x in sums.items() if x}
            assert unbalanced == {}
            assert entries == {
                e.id: (MODES[e.realm].value, e.kind, e.reverses,
                       {self.key(e.realm, a): x for a, x in e.postings})
                for e in self.entries
            }

            rows = (await conn.execute(text(
                "SELECT a.mode, a.owner_type, a.owner_key, a.rail, a.asset, a.balance, "
                "coalesce(sum(p.amount), 0) AS total FROM ledger_accounts a "
                "LEFT JOIN ledger_postings p ON p.tenant_id = a.tenant_id "
                "AND p.account_id = a.id GROUP BY a.tenant_id, a.id"))).all()
            summed: dict[Key, int] = {}
            for row in rows:
                k = (row.mode, row.owner_type, row.owner_key, row.rail, row.asset)
                summed[k] = int(row.total)
                if row.owner_type == "player":
                    assert row.balance is not None, k
                    assert row.balance >= 0, k
                    assert row.balance == row.total, k
                else:
                    assert row.balance is None, k  # system accounts are never hot rows
            assert summed == self.balances

            for r, realm in enumerate(self.realms):
                report = await ledger.verify_realm(conn, realm)
                assert report.problems == []
                assert report.entries == sum(e.realm == r for e in self.entries)
                assert report.accounts == sum(k[0] == realm.mode.value for k in self.balances)

        async def seal(conn: AsyncConnection) -> None:
            for realm in self.realms:
                await chain.seal(conn, realm, "ledger")
                await chain.seal(conn, realm, "audit")

        await unit_of_work(self.engine, seal)
        async with self.engine.connect() as conn:
            for r, realm in enumerate(self.realms):
                links = await chain.verify_links(conn, realm, "ledger")
                assert links.problems == []
                assert links.unsealed == 0
                assert links.checked == sum(e.realm == r for e in self.entries)
                trail = await chain.verify_links(conn, realm, "audit")
                assert trail.problems == []
                assert trail.unsealed == 0
                assert trail.checked == self.audit_rows[r]
                assert await audit.verify_contents(conn, realm) == []

    async def _final_checks(self) -> None:
        """What ``wowsino ledger verify`` / ``audit verify`` run, and the kernel's readers."""
        problems, summary = await verify.verify_ledger(self.engine)
        assert problems == []
        assert f"{len(self.entries)} entries" in summary
        problems, _ = await verify.verify_audit(self.engine)
        assert problems == []
        async with self.engine.connect() as conn:
            for r, realm in enumerate(self.realms):
                for p, player_id in enumerate(self.players[r]):
                    expected: dict[str, dict[str, int]] = defaultdict(dict)
                    for rail, code in BOOKS:
                        k = self.key(r, self.player(r, p, rail, code))
                        if k in self.balances:
                            expected[rail.value][code] = self.balances[k]
                    assert await ledger.player_balances(conn, realm, player_id) == expected
                for k, value in self.balances.items():
                    if k[0] == realm.mode.value and k[1] == "system":
                        account = ledger.Account.system(k[2], Rail(k[3]), k[4])
                        assert await ledger.system_balance(conn, realm, account) == value


async def _database(server_url: str, template: str, name: str, *, drop: bool) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        if drop:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()


def test_ledger_state_machine(server_url: str, template_db: str) -> None:
    name = f"wz_sm_{os.getpid()}"
    asyncio.run(_database(server_url, template_db, name, drop=False))
    try:
        _run_machine(_with_database(server_url, name))
    finally:
        asyncio.run(_database(server_url, template_db, name, drop=True))


def _run_machine(url: str) -> None:
    run_state_machine_as_test(
        lambda: LedgerMachine(url),
        settings=settings(
            max_examples=int(os.environ.get("WOWSINO_LEDGER_EXAMPLES", "20")),
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

"""The ledger: double-entry, multi-asset, immutable — the only writer of balances.

Accounts are ``(realm, owner, rail, asset)``. An entry has two or more postings
that sum to zero per asset. Player accounts keep a cached balance, updated in
the same transaction and never negative; system accounts (mints, house,
settlement) keep none and are summed on read, so they never become hot rows.
No posting moves more than its asset's bound (``Asset.max_minor``) and no
credit takes a cached balance above it, so nothing overflows a bigint: a
refusal is a 400 naming ``amount``. A reversal cannot itself be reversed.
``ledger_post`` (SQL) does the whole write in one round trip and checks the
same rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import simplejson
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.kernel import wire
from wowsino.kernel.canonical import canonical, fingerprint, sha256
from wowsino.kernel.clock import iso
from wowsino.kernel.db import alone, driver_connection, driver_fetch, error_detail, sqlstate
from wowsino.kernel.errors import (
    Conflict,
    InsufficientFunds,
    LedgerInvariantViolated,
    NotFound,
    ValidationFailed,
)
from wowsino.kernel.money import ASSETS, Rail, check_bound, from_minor
from wowsino.kernel.realm import Realm

# System accounts per realm (design.md, "The ledger").
HOUSE = "house"
PSP_CLEARING = "psp_clearing"
BONUS_LIABILITY = "bonus_liability"
WINZ_ISSUANCE = "winz_issuance"
XP_ISSUANCE = "xp_issuance"
OPERATOR_SETTLEMENT = "operator_settlement"
OPERATOR_PAYOUTS = "operator_payouts"
WITHDRAWALS_IN_FLIGHT = "withdrawals_in_flight"


@dataclass(frozen=True, slots=True)
class Account:
    owner_type: str  # player | system
    owner_key: str
    rail: Rail
    asset: str
    tracked: bool  # keeps a cached, never-negative balance

    @classmethod
    def player(cls, player_id: UUID, rail: Rail, asset: str) -> Account:
        return cls("player", str(player_id), rail, asset, True)

    @classmethod
    def system(cls, name: str, rail: Rail, asset: str, *, tracked: bool = False) -> Account:
        return cls("system", name, rail, asset, tracked)


def counterparty_for(rail: Rail) -> str:
    """The system account a manual adjustment on ``rail`` moves against."""
    return {
        Rail.REAL: HOUSE,
        Rail.BONUS: BONUS_LIABILITY,
        Rail.WINZ: WINZ_ISSUANCE,
        Rail.XP: XP_ISSUANCE,
    }[rail]


@dataclass(frozen=True, slots=True)
class Posting:
    account: Account
    amount: int  # minor units; credit > 0, debit < 0


@dataclass(frozen=True)
class PostedEntry:
    id: int
    kind: str
    created_at: datetime
    postings: tuple[Posting, ...]
    balances_after: tuple[int | None, ...]

    def balance_after(self, account: Account) -> int | None:
        for posting, balance in zip(self.postings, self.balances_after, strict=True):
            if posting.account == account:
                return balance
        raise KeyError(account)


def entry_content(
    realm: Realm, kind: str, ref_type: str | None, ref_id: str | None,
    metadata: dict[str, Any], reverses: int | None, at: datetime, postings: list[tuple[Any, ...]],
) -> dict[str, Any]:
    """What an entry's content hash covers (the verifier recomputes exactly this)."""
    return {
        "tenant_id": str(realm.tenant_id), "mode": realm.mode.value, "kind": kind,
        "ref_type": ref_type, "ref_id": ref_id, "metadata": metadata,
        "reverses_entry_id": reverses, "created_at": at,
        "postings": sorted([list(p) for p in postings]),
    }


_POST_ARGS = ("tenant_id", "mode", "kind", "ref_type", "ref_id", "metadata", "reverses", "hash",
              "at", "owner_types", "owner_keys", "rails", "assets", "tracked", "amounts")
# Sent on the driver (positional) or, when that is not possible, through SQLAlchemy (named).
_POST_SQL = ("SELECT entry_id, ord, account_id, balance_after FROM ledger_post($1, $2, $3, $4, $5, "
             "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
_POST = text(
    "SELECT entry_id, ord, account_id, balance_after FROM ledger_post(:tenant_id, :mode, :kind, "
    ":ref_type, :ref_id, CAST(:metadata AS jsonb), :reverses, :hash, :at, :owner_types, "
    ":owner_keys, :rails, :assets, :tracked, :amounts)"
)

_json_text = simplejson.encoder.encode_basestring  # a str as canonical() writes it


def content_hash(
    realm: Realm, kind: str, ref_type: str | None, ref_id: str | None, metadata: dict[str, Any],
    metadata_json: str, reverses: int | None, at: datetime, postings: list[tuple[Any, ...]],
) -> bytes:
    """``fingerprint(entry_content(...))``, with ``metadata_json`` = ``canonical(metadata)``.

    When every field has its usual type (str, int, datetime, or None where allowed), the
    canonical bytes are written directly, key by key in sorted order, instead of building
    the document and walking it; anything else takes the general path. The two agree
    byte for byte (tests/unit/test_canonical.py).
    """
    plain = (
        type(kind) is str and type(at) is datetime
        and (ref_type is None or type(ref_type) is str) and (ref_id is None or type(ref_id) is str)
        and (reverses is None or type(reverses) is int)
        and all(type(a) is str and type(b) is str and type(c) is str and type(d) is str
                and type(n) is int for a, b, c, d, n in postings)
    )
    if not plain:
        return fingerprint(entry_content(realm, kind, ref_type, ref_id, metadata, reverses, at,
                                         postings))
    document = "".join((
        '{"created_at":', _json_text(iso(at)),
        ',"kind":', _json_text(kind),
        ',"metadata":', metadata_json,
        ',"mode":', _json_text(realm.mode.value),
        ',"postings":[',
        ",".join(f"[{_json_text(a)},{_json_text(b)},{_json_text(c)},{_json_text(d)},{n}]"
                 for a, b, c, d, n in sorted(postings)),
        '],"ref_id":', "null" if ref_id is None else _json_text(ref_id),
        ',"ref_type":', "null" if ref_type is None else _json_text(ref_type),
        ',"reverses_entry_id":', "null" if reverses is None else str(reverses),
        ',"tenant_id":', _json_text(str(realm.tenant_id)),
        "}",
    ))
    return sha256(document.encode("utf-8"))


def _post_args(realm: Realm, kind: str, postings: list[Posting], at: datetime,
               ref_type: str | None, ref_id: str | None, metadata: dict[str, Any] | None,
               reverses: int | None) -> tuple[Any, ...]:
    """``ledger_post``'s arguments for one entry (``_POST_ARGS``), its postings checked."""
    _check_balanced(postings)
    metadata = metadata or {}
    metadata_json = canonical(metadata).decode() if metadata else "{}"
    accounts = [p.account for p in postings]
    rails = [a.rail.value for a in accounts]
    content = [(a.owner_type, a.owner_key, rail, a.asset, p.amount)
               for a, rail, p in zip(accounts, rails, postings, strict=True)]
    return (
        realm.tenant_id, realm.mode.value, kind, ref_type, ref_id, metadata_json, reverses,
        content_hash(realm, kind, ref_type, ref_id, metadata, metadata_json, reverses, at, content),
        at, [a.owner_type for a in accounts], [a.owner_key for a in accounts], rails,
        [a.asset for a in accounts], [a.tracked for a in accounts], [p.amount for p in postings],
    )


@dataclass(frozen=True)
class NewEntry:
    """An entry to post with ``post_entries``: ``post_entry``'s arguments but the realm."""

    kind: str
    postings: list[Posting]
    at: datetime
    ref_type: str | None = None
    ref_id: str | None = None
    metadata: dict[str, Any] | None = None


_FLAT = ("owner_types", "owner_keys", "rails", "assets", "tracked", "amounts")  # per posting
# ``ledger_post`` once per entry, in the order given, in one statement: each entry's
# postings are its slice of the flat posting arrays.
_POST_MANY = (
    "SELECT e.i, r.entry_id, r.balance_after FROM unnest(CAST(:kinds AS text[]), "
    "CAST(:ref_types AS text[]), CAST(:ref_ids AS text[]), "
    "CAST(CAST(:metadatas AS text[]) AS jsonb[]), CAST(:hashes AS bytea[]), "
    "CAST(:ats AS timestamptz[]), CAST(:firsts AS integer[]), CAST(:lasts AS integer[])) "
    "WITH ORDINALITY AS e (kind, ref_type, ref_id, metadata, hash, at, first, last, i) "
    "CROSS JOIN LATERAL ledger_post(:tenant_id, :mode, e.kind, e.ref_type, e.ref_id, "
    "e.metadata, NULL, e.hash, e.at, "
    "(CAST(:owner_types AS text[]))[e.first:e.last], (CAST(:owner_keys AS text[]))[e.first:e.last], "
    "(CAST(:rails AS text[]))[e.first:e.last], (CAST(:assets AS text[]))[e.first:e.last], "
    "(CAST(:tracked AS boolean[]))[e.first:e.last], (CAST(:amounts AS bigint[]))[e.first:e.last]) "
    "AS r ORDER BY e.i, r.ord"
)


async def post_entries(conn: AsyncConnection, *, realm: Realm, entries: Sequence[NewEntry]
                       ) -> list[PostedEntry]:
    """Append several balanced entries in the caller's transaction, in the order given, in
    one statement: what ``post_entry`` for each in turn appends (balances after each
    posting included), for one round trip.

    A refusal of any entry (a balance that would go negative or beyond its bound) raises
    the database's error without saying which entry: the transaction is over, and the
    caller that needs each refusal sends the entries again one by one (``post_entry``).
    """
    if not entries:
        return []
    args = [_post_args(realm, e.kind, e.postings, e.at, e.ref_type, e.ref_id, e.metadata, None)
            for e in entries]
    firsts, lasts, at = [], [], 1
    for a in args:
        firsts.append(at)
        at += len(a[-1])
        lasts.append(at - 1)
    flat = {name: [x for a in args for x in a[i]]
            for i, name in enumerate(_POST_ARGS) if name in _FLAT}
    rows = await wire.send(conn, _POST_MANY, {
        **realm.params, "kinds": [a[2] for a in args], "ref_types": [a[3] for a in args],
        "ref_ids": [a[4] for a in args], "metadatas": [a[5] for a in args],
        "hashes": [a[7] for a in args], "ats": [a[8] for a in args], "firsts": firsts,
        "lasts": lasts, **flat})
    balances: list[list[int | None]] = [[] for _ in entries]
    ids = [0] * len(entries)
    for i, entry_id, balance in rows:  # one row per posting, in entry and posting order
        ids[i - 1] = int(entry_id)
        balances[i - 1].append(None if balance is None else int(balance))
    return [PostedEntry(id=ids[n], kind=e.kind, created_at=e.at, postings=tuple(e.postings),
                        balances_after=tuple(balances[n])) for n, e in enumerate(entries)]


async def post_entry(
    conn: AsyncConnection,
    *,
    realm: Realm,
    kind: str,
    postings: list[Posting],
    at: datetime,
    ref_type: str | None = None,
    ref_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    reverses: int | None = None,
) -> PostedEntry:
    """Append one balanced entry in the caller's transaction.

    Raises InsufficientFunds (``INSUFFICIENT_WINZ`` for WINZ) when a tracked
    balance would go negative; LedgerInvariantViolated for unbalanced postings
    (a programming error).
    """
    args = _post_args(realm, kind, postings, at, ref_type, ref_id, metadata, reverses)
    try:
        # the one statement of the hottest write: sent on the driver when possible
        driver = await driver_connection(conn)
        if driver is None:
            rows: Sequence[Any] = (
                await conn.execute(_POST, dict(zip(_POST_ARGS, args, strict=True)))
            ).all()
        else:
            rows = await driver_fetch(conn, driver, _POST_SQL, args)
    except DBAPIError as exc:
        _refusal(exc, postings, reverses)
        raise
    return _posted(rows, kind, at, postings)


async def post_alone(engine: AsyncEngine, *, realm: Realm, entry: NewEntry,
                     attempts: int = 8) -> PostedEntry:
    """Append one balanced entry as a transaction of its own, in one message: what
    ``post_entry`` in a ``unit_of_work`` does, for one round trip instead of three
    (``db.alone``). For an entry that is the whole effect; refused as ``post_entry``
    refuses."""
    args = _post_args(realm, entry.kind, entry.postings, entry.at, entry.ref_type,
                      entry.ref_id, entry.metadata, None)
    try:
        rows = await alone(engine, _POST_SQL, args, attempts=attempts)
    except DBAPIError as exc:
        _refusal(exc, entry.postings, None)
        raise
    return _posted(rows, entry.kind, entry.at, entry.postings)


def _posted(rows: Sequence[Any], kind: str, at: datetime, postings: list[Posting]) -> PostedEntry:
    """The entry ``ledger_post`` answered: rows (entry_id, ord, account_id, balance_after),
    one per posting in input order."""
    return PostedEntry(
        id=int(rows[0][0]), kind=kind, created_at=at, postings=tuple(postings),
        balances_after=tuple(None if r[3] is None else int(r[3]) for r in rows),
    )


def _refusal(exc: DBAPIError, postings: list[Posting], reverses: int | None) -> None:
    """Raise the ledger's own error for a refusal by ``ledger_post``; return for any other
    failure (the caller re-raises it)."""
    state = sqlstate(exc)
    if state == "WZ001":
        short = postings[int(error_detail(exc) or "1") - 1]
        raise _insufficient(short.account) from None
    if state == "WZ002":
        raise LedgerInvariantViolated(str(exc.orig)) from exc
    if state == "WZ005":  # a posting or a balance beyond its asset's bound
        beyond = postings[int(error_detail(exc) or "1") - 1]
        raise _beyond_bound(beyond.account, balance="balance" in str(exc.orig)) from None
    if state == "WZ006" and reverses is not None:
        raise _reversal_not_reversible(reverses) from None
    if state == "23505" and reverses is not None and "ledger_entries_one_reversal" in str(
        exc.orig
    ):  # a concurrent reversal of the same entry won
        raise _already_reversed(reverses) from None


def _insufficient(account: Account) -> InsufficientFunds:
    if account.asset == "WINZ":
        return InsufficientFunds("insufficient WINZ balance", code="INSUFFICIENT_WINZ")
    return InsufficientFunds(f"insufficient {account.rail.value} {account.asset} balance")


def _beyond_bound(account: Account, *, balance: bool) -> ValidationFailed:
    unit = ASSETS[account.asset]
    limit = from_minor(unit.max_minor, unit)
    what = f"the {account.rail.value} {account.asset} balance would exceed" if balance else \
        "a posting would move more than"
    return ValidationFailed(f"amount: {what} the maximum of {limit} {account.asset}",
                            field="amount", max=str(limit))


def _reversal_not_reversible(entry_id: int) -> Conflict:
    return Conflict(f"ledger entry {entry_id} is a reversal, which cannot be reversed; post a "
                    "new entry instead", code="REVERSAL_NOT_REVERSIBLE")


def _already_reversed(entry_id: int) -> Conflict:
    return Conflict(f"ledger entry {entry_id} is already reversed", code="ALREADY_REVERSED")


def _check_balanced(postings: list[Posting]) -> None:
    if len(postings) < 2:
        raise LedgerInvariantViolated("an entry needs two or more postings")
    sums: dict[str, int] = defaultdict(int)
    seen: set[Account] = set()
    for p in postings:
        if p.amount == 0 or not isinstance(p.amount, int) or isinstance(p.amount, bool):
            raise LedgerInvariantViolated(f"posting amounts are non-zero integers: {p}")
        if p.account in seen:
            raise LedgerInvariantViolated(f"account posted twice in one entry: {p.account}")
        seen.add(p.account)
        unit = ASSETS.get(p.account.asset)
        if unit is not None:  # an unknown asset is the database's to refuse (foreign key)
            check_bound(p.amount, unit)
        sums[p.account.asset] += p.amount
    unbalanced = {a: s for a, s in sums.items() if s}
    if unbalanced:
        raise LedgerInvariantViolated(f"postings do not balance: {unbalanced}")


async def reverse_entry(
    conn: AsyncConnection, *, realm: Realm, entry_id: int, at: datetime, kind: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> PostedEntry:
    """Append the entry that exactly undoes ``entry_id``.

    Once only: a second reversal raises Conflict ``ALREADY_REVERSED``; a reversal is never
    reversed itself (Conflict ``REVERSAL_NOT_REVERSIBLE``: post a new entry instead).
    """
    rows = (
        await conn.execute(
            text("SELECT e.kind, e.reverses_entry_id, a.owner_type, a.owner_key, a.rail, "
                 "a.asset, a.balance, p.amount, "
                 "EXISTS (SELECT 1 FROM ledger_entries r WHERE r.tenant_id = e.tenant_id "
                 "AND r.reverses_entry_id = e.id) AS reversed "
                 "FROM ledger_entries e JOIN ledger_postings p ON p.tenant_id = e.tenant_id "
                 "AND p.entry_id = e.id JOIN ledger_accounts a ON a.tenant_id = p.tenant_id "
                 "AND a.id = p.account_id WHERE e.tenant_id = :tenant_id AND e.mode = :mode "
                 "AND e.id = :id ORDER BY p.account_id"),
            {**realm.params, "id": entry_id},
        )
    ).all()
    if not rows:
        raise NotFound(f"no ledger entry {entry_id}")
    if rows[0].reverses_entry_id is not None:
        raise _reversal_not_reversible(entry_id)
    if rows[0].reversed:
        raise _already_reversed(entry_id)
    postings = [
        Posting(Account(r.owner_type, r.owner_key, Rail(r.rail), r.asset, r.balance is not None),
                -int(r.amount))
        for r in rows
    ]
    return await post_entry(
        conn, realm=realm, kind=kind or f"{rows[0].kind}.reversal", postings=postings, at=at,
        ref_type="ledger_entry", ref_id=str(entry_id), metadata=metadata or {},
        reverses=entry_id,
    )


_PLAYER_BALANCES = text(
    "SELECT owner_key, rail, asset, balance FROM ledger_accounts WHERE tenant_id = :tenant_id "
    "AND mode = :mode AND owner_type = 'player' AND owner_key = ANY (CAST(:keys AS text[]))"
)


async def players_balances(
    conn: AsyncConnection, realm: Realm, player_ids: list[UUID]
) -> dict[str, dict[str, dict[str, int]]]:
    """``{player_id: {rail: {asset: minor}}}`` for many players in one query (cached balances)."""
    keys = [str(pid) for pid in player_ids]
    out: dict[str, dict[str, dict[str, int]]] = {key: defaultdict(dict) for key in keys}
    if keys:
        for owner, rail, asset_code, balance in await conn.execute(
            _PLAYER_BALANCES, {**realm.params, "keys": keys}
        ):
            out[owner][rail][asset_code] = int(balance)
    return {key: dict(rails) for key, rails in out.items()}


async def player_balances(
    conn: AsyncConnection, realm: Realm, player_id: UUID
) -> dict[str, dict[str, int]]:
    """``{rail: {asset: minor}}`` from the cached balances of a player's accounts."""
    return (await players_balances(conn, realm, [player_id]))[str(player_id)]


async def system_balance(conn: AsyncConnection, realm: Realm, account: Account) -> int:
    """The balance of any account summed from its postings (the source of truth)."""
    value = await conn.scalar(
        text("SELECT coalesce(sum(p.amount), 0) FROM ledger_postings p JOIN ledger_accounts a "
             "ON a.tenant_id = p.tenant_id AND a.id = p.account_id WHERE a.tenant_id = "
             ":tenant_id AND a.mode = :mode AND a.owner_type = :ot AND a.owner_key = :ok "
             "AND a.rail = :rail AND a.asset = :asset"),
        {**realm.params, "ot": account.owner_type, "ok": account.owner_key,
         "rail": account.rail.value, "asset": account.asset},
    )
    return int(value or 0)


@dataclass
class LedgerReport:
    entries: int = 0
    accounts: int = 0
    problems: list[str] = field(default_factory=list)


async def verify_realm(conn: AsyncConnection, realm: Realm) -> LedgerReport:
    """Recompute every cached balance from postings, every entry's balance per asset
    and content hash; report each mismatch."""
    report = LedgerReport()
    mismatched = await conn.execute(
        text("SELECT a.id, a.owner_type, a.owner_key, a.rail, a.asset, a.balance, "
             "coalesce(s.total, 0) AS total "
             "FROM ledger_accounts a LEFT JOIN (SELECT account_id, sum(amount) AS total "
             "FROM ledger_postings WHERE tenant_id = :tenant_id AND mode = :mode "
             "GROUP BY account_id) s ON s.account_id = a.id WHERE a.tenant_id = :tenant_id "
             "AND a.mode = :mode"),
        realm.params,
    )
    for row in mismatched:
        report.accounts += 1
        if row.balance is not None and int(row.balance) != int(row.total):
            report.problems.append(
                f"account {row.id} ({row.owner_key} {row.rail} {row.asset}): cached "
                f"{row.balance} != postings {row.total}"
            )
        tracked = row.balance is not None or row.owner_type == "player"
        if row.balance is None and tracked:
            report.problems.append(
                f"account {row.id} ({row.owner_key} {row.rail} {row.asset}): player account "
                "without a cached balance"
            )
        if tracked and int(row.total) < 0:
            report.problems.append(f"account {row.id}: negative balance {row.total}")
    orphans = await conn.execute(
        text("SELECT DISTINCT p.entry_id FROM ledger_postings p WHERE p.tenant_id = :tenant_id "
             "AND p.mode = :mode AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE "
             "e.tenant_id = p.tenant_id AND e.mode = p.mode AND e.id = p.entry_id) "
             "ORDER BY p.entry_id"),
        realm.params,
    )
    for (entry_id,) in orphans:
        report.problems.append(f"entry {entry_id}: postings without their entry")
    # streams in entry order, each entry's postings by primary-key probes: a shape whose
    # plan does not depend on statistics (no join of the whole realm to aggregate)
    result = await conn.stream(
        text("SELECT e.id, e.kind, e.ref_type, e.ref_id, e.metadata, e.reverses_entry_id, "
             "e.created_at, e.content_hash, ARRAY(SELECT ARRAY[a.owner_type, a.owner_key, "
             "a.rail, a.asset, p.amount::text, p.asset] FROM ledger_postings p "
             "LEFT JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id "
             "WHERE p.tenant_id = e.tenant_id AND p.entry_id = e.id) AS postings "
             "FROM ledger_entries e WHERE e.tenant_id = :tenant_id AND e.mode = :mode "
             "ORDER BY e.tenant_id, e.id"),
        realm.params,
    )
    from wowsino.kernel.jsonio import loads

    async for row in result:
        report.entries += 1
        postings = [p for p in row.postings if p[0] is not None]
        sums: dict[str, int] = defaultdict(int)
        for p in postings:
            sums[p[3]] += int(p[4])
            if p[3] != p[5]:
                report.problems.append(f"entry {row.id}: posting asset differs from its account")
        if len(postings) < 2 or any(sums.values()):
            report.problems.append(f"entry {row.id}: postings do not balance ({dict(sums)})")
        metadata = loads(row.metadata) if isinstance(row.metadata, str) else row.metadata
        content = entry_content(
            realm, row.kind, row.ref_type, row.ref_id, metadata, row.reverses_entry_id,
            row.created_at, [(p[0], p[1], p[2], p[3], int(p[4])) for p in postings],
        )
        if fingerprint(content) != bytes(row.content_hash):
            report.problems.append(f"entry {row.id}: content does not match its hash")
    return report

"""Fewer round trips for a write, with the same statements.

A request's write pays for each exchange with PostgreSQL, so three things here
let the hot writes keep their statements while sending fewer of them:

- ``send``: a statement with named parameters (as ``text()`` takes them) sent on
  the asyncpg connection itself, inside the transaction SQLAlchemy began,
  bypassing SQLAlchemy's per-statement execution; errors are raised as SQLAlchemy
  raises them.
- Deferred writes (``defer``): inserts and updates whose results nothing in the
  request reads (the audit row, outbox events, activity marks, a draw's record)
  are held while ``deferring`` is active and sent together, as one statement of
  data-modifying ``WITH`` clauses, with the write's last statement (the stored
  idempotent response). Outside ``deferring`` they are sent at once. A reader of
  a table written this way calls ``settle`` first.
- Prefetched reads (``prefetching``): a ``SELECT`` the write will run first can be
  answered by the statement that claims the idempotency key; ``first`` then
  returns that answer instead of asking again.

Nothing here changes what a write does or the order of its effects on any one
table; it changes how many messages carry them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Hashable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.db import driver_connection, driver_fetch

# a named bind parameter as SQLAlchemy's text() finds it (not ``::type``, not ``\:``)
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Compiled:
    """One SQL text in both forms: named (SQLAlchemy) and positional (asyncpg)."""

    named: TextClause
    positional: str
    names: tuple[str, ...]  # the parameter of each $n, in order

    def args(self, params: Params) -> list[Any]:
        return [params[name] for name in self.names]


@functools.lru_cache(maxsize=512)
def compile_sql(sql: str) -> Compiled:
    """``sql`` with ``:name`` parameters, compiled once."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return Compiled(text(sql), _BIND.sub(number, sql), tuple(names))


async def send(conn: AsyncConnection, sql: str, params: Params) -> Sequence[Any]:
    """Run ``sql`` in ``conn``'s transaction, on the driver when possible; its rows."""
    compiled = compile_sql(sql)
    driver = await driver_connection(conn)
    if driver is None:
        return (await conn.execute(compiled.named, dict(params))).all()
    return await driver_fetch(conn, driver, compiled.positional, compiled.args(params))


def instants(name: str, values: Sequence[datetime]) -> dict[str, list[Any]]:
    """A batch's timestamps as two array parameters: ``name``, each distinct instant once,
    and ``name_ix``, the position of each value among them (from 1), to be unnested with
    the batch's other arrays as ``CAST(:name_ix AS integer[])`` and read back with
    ``instant``. The driver encodes a timestamp in about 1.5 µs and an integer in 0.2, and
    a batch's wagers share a few instants."""
    seen: dict[datetime, int] = {}
    positions = [seen.setdefault(value, len(seen) + 1) for value in values]
    return {name: list(seen), f"{name}_ix": positions}


def instant(name: str, position: str) -> str:
    """SQL for the instant of ``instants``' parameter ``name`` at ``position`` (the
    unnested ``name_ix`` column)."""
    return f"(CAST(:{name} AS timestamptz[]))[{position}]"


def mapped(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows of ``send`` as dicts (asyncpg records, or SQLAlchemy rows without the driver)."""
    return [dict(r._mapping) if hasattr(r, "_mapping") else dict(r) for r in rows]


# --- deferred writes ----------------------------------------------------------------------


@dataclass
class _Pending:
    conn: AsyncConnection
    writes: list[tuple[str, Params]] = field(default_factory=list)

    def tables(self) -> set[str]:
        return {_target(sql) for sql, _ in self.writes}


_pending: ContextVar[_Pending | None] = ContextVar("wowsino_deferred_writes", default=None)


@asynccontextmanager
async def deferring(conn: AsyncConnection) -> AsyncIterator[None]:
    """Hold ``defer``red writes on ``conn`` until ``flush``; dropped if the block raises
    (its transaction rolls back)."""
    token = _pending.set(_Pending(conn))
    try:
        yield
    finally:
        _pending.reset(token)


@asynccontextmanager
async def savepoint(conn: AsyncConnection) -> AsyncIterator[None]:
    """``conn.begin_nested()`` for code that may defer writes: what is held is sent first,
    and writes inside the savepoint are sent at once, so rolling it back takes them back
    too (a held write would outlive the rollback and be sent with the stored response)."""
    await settle(conn)
    token = _pending.set(None)
    try:
        async with conn.begin_nested():
            yield
    finally:
        _pending.reset(token)


async def defer(conn: AsyncConnection, *writes: tuple[str, Params]) -> None:
    """Send ``writes`` (one or more INSERT/UPDATE statements whose results nobody reads)
    with the next flush, or at once, together, outside ``deferring``."""
    pending = _pending.get()
    if pending is None or pending.conn is not conn:
        await _send_together(conn, list(writes))
        return
    if pending.tables() & {_target(sql) for sql, _ in writes}:
        await flush(conn)  # rows of one table keep their order
    pending.writes.extend(writes)


async def flush(conn: AsyncConnection, last: tuple[str, Params] | None = None) -> Sequence[Any]:
    """Send the held writes and ``last`` (whose rows are returned) as one statement."""
    pending = _pending.get()
    writes: list[tuple[str, Params]] = []
    if pending is not None and pending.conn is conn:
        writes, pending.writes = pending.writes, []
    if last is not None:
        writes.append(last)
    if not writes:
        return []
    return await _send_together(conn, writes)


async def settle(conn: AsyncConnection) -> None:
    """Send the held writes now: the caller is about to read what they write."""
    pending = _pending.get()
    if pending is not None and pending.conn is conn and pending.writes:
        await flush(conn)


async def _send_together(conn: AsyncConnection, writes: list[tuple[str, Params]]) -> Sequence[Any]:
    if len(writes) == 1:
        return await send(conn, *writes[0])
    shared = _shared(writes)
    sql = _combined(tuple(sql for sql, _ in writes), shared)
    reused = dict(shared)
    params = {f"w{i}_{name}": value for i, (_, p) in enumerate(writes)
              for name, value in p.items() if (i, name) not in reused}
    return await send(conn, sql, params)


Shared = tuple[tuple[tuple[int, str], int], ...]  # ((statement, name), earlier statement)


def _shared(writes: list[tuple[str, Params]]) -> Shared:
    """The array parameters a statement shares with an earlier one: the same list under
    the same name (two statements written from one batch's arrays, as the activity
    totals and their daily aggregate are). Each is sent, and read, once."""
    first: dict[tuple[str, int], int] = {}
    shared = []
    for i, (_, params) in enumerate(writes):
        for name, value in params.items():
            if type(value) is list:
                earlier = first.setdefault((name, id(value)), i)
                if earlier != i:
                    shared.append(((i, name), earlier))
    return tuple(shared)


@functools.lru_cache(maxsize=256)
def _combined(statements: tuple[str, ...], shared: Shared = ()) -> str:
    """``WITH w0 AS (s0), w1 AS (s1) … sN``: every statement runs once, in one snapshot;
    a parameter in ``shared`` is named as the earlier statement names it."""
    reused = dict(shared)
    renamed = [_BIND.sub(lambda m, i=i: f":w{reused.get((i, m.group(1)), i)}_{m.group(1)}",  # type: ignore[misc]
                         sql)
               for i, sql in enumerate(statements)]
    heads = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(renamed[:-1]))
    return f"WITH {heads} {renamed[-1]}"


_TARGET = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.I)


@functools.lru_cache(maxsize=512)  # the statements are module constants
def _target(sql: str) -> str:
    match = _TARGET.match(sql)
    if match is None:
        raise ValueError(f"not a plain INSERT, UPDATE or DELETE: {sql[:60]!r}")
    return match.group(1).lower()


# --- prefetched reads ---------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """A ``SELECT`` (at most one row) that a write will run, to be sent ahead of it."""

    sql: str
    params: Params

    @property
    def key(self) -> Hashable:
        return _key(self.sql, self.params)


def _key(sql: str, params: Params) -> Hashable:
    try:
        return sql, frozenset(params.items())
    except TypeError:  # an unhashable parameter: never prefetched
        return None


_prefetched: ContextVar[tuple[AsyncConnection, dict[Hashable, dict[str, Any] | None]] | None] = (
    ContextVar("wowsino_prefetched", default=None)
)


@asynccontextmanager
async def prefetching(conn: AsyncConnection, answers: dict[Hashable, dict[str, Any] | None]
                      ) -> AsyncIterator[None]:
    """``first`` on ``conn`` answers a lookup in ``answers`` (once) without a statement."""
    token = _prefetched.set((conn, answers))
    try:
        yield
    finally:
        _prefetched.reset(token)


async def first(conn: AsyncConnection, lookup: Lookup) -> dict[str, Any] | None:
    """The first row of ``lookup`` as a dict (None: no row), or its prefetched answer."""
    prefetched = _prefetched.get()
    if prefetched is not None and prefetched[0] is conn:
        key = lookup.key
        if key is not None and key in prefetched[1]:
            return prefetched[1].pop(key)
    row = (await conn.execute(compile_sql(lookup.sql).named, dict(lookup.params))).first()
    return dict(row._mapping) if row is not None else None


def with_lookups(head: str, lookups: Sequence[Lookup]) -> tuple[str, Params]:
    """``head`` (a statement returning at most one row), each lookup run after it,
    laterally, when it returned a row; see ``split``."""
    if not lookups:
        return head, {}
    sql = _with_lookups(head, tuple(lookup.sql for lookup in lookups))
    params = {f"l{i}_{name}": value for i, lookup in enumerate(lookups)
              for name, value in lookup.params.items()}
    return sql, params


@functools.lru_cache(maxsize=256)
def _with_lookups(head: str, lookups: tuple[str, ...]) -> str:
    joins, columns = [], ["head.*"]
    for i, lookup in enumerate(lookups):
        inner = _BIND.sub(lambda m, i=i: f":l{i}_{m.group(1)}", lookup)  # type: ignore[misc]
        joins.append(f"LEFT JOIN LATERAL (SELECT true AS _found, l.* FROM ({inner}) AS l) "
                     f"AS l{i} ON true")
        columns.append(f"l{i}.*")
    return f"WITH head AS ({head}) SELECT {', '.join(columns)} FROM head {' '.join(joins)}"


def split(row: Any, head_columns: int, lookups: Sequence[Lookup]
          ) -> tuple[tuple[Any, ...], dict[Hashable, dict[str, Any] | None]]:
    """A row of ``with_lookups``: the head's values, and each lookup's answer by key."""
    if hasattr(row, "_fields"):  # a SQLAlchemy row (sent without the driver)
        names, values = list(row._fields), list(row)
    else:  # an asyncpg record: keys() keeps every column, duplicates included
        names, values = list(row.keys()), list(row.values())
    answers: dict[Hashable, dict[str, Any] | None] = {}
    if not lookups:
        return tuple(values), answers
    starts = [i for i, name in enumerate(names) if name == "_found" and i >= head_columns]
    for lookup, start, end in zip(lookups, starts, [*starts[1:], len(names)], strict=True):
        answers[lookup.key] = (dict(zip(names[start + 1:end], values[start + 1:end], strict=True))
                               if values[start] else None)
    return tuple(values[:head_columns]), answers

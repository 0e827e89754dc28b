"""Engine, migrations and the unit of work.

Services never commit: a write runs inside ``unit_of_work``, which commits once
and retries the whole unit on deadlocks and serialization failures.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.jsonio import dumps, loads

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
RETRYABLE_SQLSTATES = {"40001", "40P01"}
# Units of work retried in this process, by SQLSTATE (40P01: deadlock): a deadlock means
# two writers took their locks in different orders, so the tests expect none.
RETRIES: Counter[str] = Counter()
# Unique constraints whose violation is a lost race, not a bad request: a unit of work
# found the key free, wrote it last, and a concurrent one had written it meanwhile.
# Retried like a serialization failure (the retry finds the key taken); see
# ``retry_on_conflict``.
_RACED_CONSTRAINTS: set[str] = set()
# Text PostgreSQL cannot store (U+0000 in text, \u0000 in jsonb) comes from the client:
# a 400, not a crash.
UNSTORABLE_TEXT_SQLSTATES = {"22021", "22P05"}
# The server is shutting down, starting up or out of connections (class 08 is the
# connection exceptions): the database is unavailable, not the request wrong.
UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}
_FILESYSTEM_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def async_url(url: str) -> str:
    """Normalise any ``postgres[ql]://`` URL to the asyncpg dialect."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise ValueError(f"not a PostgreSQL URL: {url}")


def plain_url(url: str) -> str:
    """The libpq form of ``url`` (for psql, pgbench and humans)."""
    return "postgresql://" + async_url(url)[len("postgresql+asyncpg://"):]


def create_engine(url: str, *, pool_size: int = 20, pre_ping: bool = False,
                  connect_timeout: float | None = None) -> AsyncEngine:
    """An engine of up to ``2 × pool_size`` connections, opened as concurrency requires and
    then kept open. Not ``pool_size`` plus as many overflow connections: those are closed
    on their return, so a steady load between the two would open a new connection (a new
    server process, with its start-up round trips) every few requests.

    ``pre_ping``: test each connection as it leaves the pool (a replica that went away is
    then noticed before a read starts on it); ``connect_timeout``: seconds a new
    connection may take (asyncpg's default is a minute)."""
    connect_args: dict[str, Any] = {"server_settings": {"application_name": "wowsino"}}
    if connect_timeout is not None:
        connect_args["timeout"] = connect_timeout
    return create_async_engine(
        async_url(url),
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args=connect_args,
        hide_parameters=True,  # a logged error never shows a statement's values
        json_serializer=dumps,
        json_deserializer=loads,
    )


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind a driver error, if any."""
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None), exc):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return None


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached right now (refused or lost
    connection, a server shutting down or starting up, a pool timeout): a 503 that is
    safe to retry, not a bug. Follows the driver error SQLAlchemy wraps and the explicit
    cause chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (asyncpg.DataError, *_FILESYSTEM_ERRORS)):
            return False  # bad query input, a missing file: bugs, not an outage
        if isinstance(current, (OSError, PoolTimeout, asyncpg.InterfaceError,
                                asyncpg.PostgresConnectionError)):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        code = getattr(current, "sqlstate", None)
        if isinstance(code, str) and (code in UNAVAILABLE_SQLSTATES or code.startswith("08")):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


def retry_on_conflict(constraint: str) -> None:
    """Have ``unit_of_work`` retry a unit that violates unique ``constraint``: its code
    checks the key first and writes it at the end, so a violation means a concurrent
    first use committed in between, and the retry sees it."""
    _RACED_CONSTRAINTS.add(constraint)


def _retryable(exc: BaseException) -> str | None:
    """The SQLSTATE that makes ``exc`` worth a retry of the whole unit, if any."""
    state = sqlstate(exc)
    if state in RETRYABLE_SQLSTATES:
        return state
    if state == "23505" and _constraint(exc) in _RACED_CONSTRAINTS:
        return state
    return None


def _constraint(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    for candidate in (getattr(orig, "__cause__", None), orig, exc):
        name = getattr(candidate, "constraint_name", None)
        if name:
            return str(name)
    return None


def error_detail(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    for candidate in (getattr(orig, "__cause__", None), orig):
        detail = getattr(candidate, "detail", None)
        if detail:
            return str(detail)
    return None


async def driver_connection(conn: AsyncConnection) -> Any | None:
    """The asyncpg connection under ``conn``, inside the transaction ``conn`` has begun, for
    a hot statement sent without SQLAlchemy's execution layer.

    SQLAlchemy's asyncpg adapter sends ``BEGIN`` lazily, before the first statement it
    executes; when none has run yet it is sent here, through the adapter, so that the
    adapter commits or rolls back as usual. None when the statement should go through
    SQLAlchemy instead: no transaction begun on ``conn`` (it would begin one implicitly),
    an autocommit connection, a closed or invalidated one, another driver. Errors from
    statements sent this way go through ``driver_error``.
    """
    if conn.closed or conn.invalidated or not conn.in_transaction():
        return None
    assert conn.sync_connection is not None  # in a transaction: started
    pooled = conn.sync_connection.connection  # no I/O: the connection is open and valid
    driver = pooled.driver_connection
    if not isinstance(driver, asyncpg.Connection):
        return None
    if not driver.is_in_transaction():
        adapter = pooled.dbapi_connection
        start = getattr(adapter, "_start_transaction", None)
        if start is None or getattr(adapter, "_transaction", True) is not None:
            return None
        await start()  # BEGIN, at the isolation level the adapter was given
        if not driver.is_in_transaction():  # autocommit
            return None
    return driver


def driver_error(
    conn: AsyncConnection, error: Exception, statement: str, params: Any
) -> Exception:
    """``error``, raised by asyncpg for a statement sent on ``driver_connection``, as
    SQLAlchemy raises it for a statement it executes: the same ``DBAPIError`` subclass
    around the same adapter exception (with its ``sqlstate`` and ``detail``), so that
    ``unit_of_work``, ``sqlstate`` and every ``except DBAPIError`` treat both alike."""
    dbapi = conn.dialect.loaded_dbapi
    translate: dict[type, type] = getattr(dbapi, "_asyncpg_error_translate", None) or {}
    for kind in type(error).__mro__:
        if kind in translate:
            adapted = translate[kind](error.args[0] if error.args else str(error), error)
            break
    else:
        if not isinstance(error, asyncpg.PostgresError):
            return error
        adapted = dbapi.Error(error.args[0] if error.args else str(error), error)
    adapted.__cause__ = error
    wrapped = DBAPIError.instance(statement, params, adapted, dbapi.Error, dialect=conn.dialect,
                                  hide_parameters=conn.sync_engine.hide_parameters)
    assert isinstance(wrapped, Exception)
    return wrapped


async def driver_fetch(conn: AsyncConnection, driver: asyncpg.Connection, statement: str,
                       args: Sequence[Any]) -> Sequence[Any]:
    """The rows of ``statement`` sent on ``driver`` (``conn``'s asyncpg connection), its
    errors raised as SQLAlchemy raises them (``driver_error``)."""
    try:
        rows: Sequence[Any] = await driver.fetch(statement, *args)
    except Exception as error:
        wrapped = driver_error(conn, error, statement, args)
        if wrapped is error:
            raise
        raise wrapped from error
    return rows


async def unit_of_work(
    engine: AsyncEngine,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    attempts: int = 8,
) -> T:
    """Run ``work`` in one READ COMMITTED transaction and commit once.

    Deadlocks, serialization failures and lost races on a ``retry_on_conflict`` key roll
    back and retry the whole unit with jittered backoff; anything else rolls back and
    propagates.
    """
    return await _retried(lambda: _in_transaction(engine, work), attempts)


async def _retried(once: Callable[[], Awaitable[T]], attempts: int) -> T:
    """``once()``, again with jittered backoff after a deadlock, a serialization failure or
    a lost race on a ``retry_on_conflict`` key, up to ``attempts`` times in all."""
    for attempt in range(1, attempts + 1):
        try:
            return await once()
        except (DBAPIError, asyncpg.PostgresError) as exc:  # the latter: sent on the driver
            _refuse_unstorable_text(exc)
            state = _retryable(exc)
            if state is None or attempt == attempts:
                raise
            RETRIES[state] += 1
            await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311
    raise AssertionError("unreachable")


async def _in_transaction(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """``async with engine.begin() as conn: return await work(conn)``, in fewer steps.

    The same pooled connection, transaction, commit and rollback, but the checkout and
    ``begin()`` share one call into SQLAlchemy's synchronous core, and so do the commit (or
    rollback) and the return to the pool, where ``engine.begin()`` makes four such calls
    and runs the last in a task of its own. The cleanup runs in the calling task, also
    when that task is being cancelled. ``work`` must not end the transaction itself.
    """
    sync = await greenlet_spawn(_checkout_and_begin, engine.sync_engine)
    try:
        result = await work(AsyncConnection(engine, sync))
    except BaseException:
        await greenlet_spawn(_end, sync, False)
        raise
    await greenlet_spawn(_end, sync, True)
    return result


async def alone(engine: AsyncEngine, statement: str, args: Sequence[Any], *,
                attempts: int = 8) -> list[Any]:
    """Send ``statement`` (positional ``$n`` parameters) as a transaction of its own: on a
    pooled connection in autocommit, with no ``BEGIN`` or ``COMMIT`` around it, so the whole
    transaction is one message and one answer. PostgreSQL runs a lone statement atomically
    and answers once it has committed (durably, with ``synchronous_commit`` on).

    For a write that is one statement and nothing else; anything that must commit with it
    goes through ``unit_of_work``. Retried like a unit of work; errors are raised as
    SQLAlchemy raises them.
    """
    async def once() -> list[Any]:
        sync = await greenlet_spawn(engine.sync_engine.connect)
        try:
            driver = sync.connection.driver_connection
            assert isinstance(driver, asyncpg.Connection)
            return list(await driver_fetch(AsyncConnection(engine, sync), driver, statement, args))
        finally:
            await greenlet_spawn(sync.close)

    return await _retried(once, attempts)


def _checkout_and_begin(engine: Engine) -> Connection:
    conn = engine.connect()
    try:
        conn.begin()
    except BaseException:
        conn.close()
        raise
    return conn


def _end(conn: Connection, commit: bool) -> None:
    try:
        if commit:
            conn.commit()
    finally:
        conn.close()  # back to the pool, rolling back whatever is still open


@asynccontextmanager
async def read_only(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        try:
            yield conn
        except DBAPIError as exc:
            _refuse_unstorable_text(exc)
            raise


def refuse_unstorable_text(exc: Exception) -> None:
    """Raise ``ValidationFailed`` for a statement that failed on text PostgreSQL cannot
    store (the client's input, a 400); return for any other failure."""
    _refuse_unstorable_text(exc)


def _refuse_unstorable_text(exc: Exception) -> None:
    if sqlstate(exc) in UNSTORABLE_TEXT_SQLSTATES:
        raise ValidationFailed(
            "a text value contains a character that cannot be stored (such as U+0000)"
        ) from None


def _alembic_config(url: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending migration (idempotent; safe with several processes)."""
    from alembic import command

    def upgrade(sync_conn: Any) -> None:
        cfg = _alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        # several processes may start at once: one migrates, the others wait
        await conn.execute(text("SELECT pg_advisory_xact_lock(727272)"))
        await conn.run_sync(upgrade)


async def current_revision(conn: AsyncConnection) -> str | None:
    exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists:
        return None
    revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    return None if revision is None else str(revision)


def split_sql(script: str) -> list[str]:
    """Split a SQL script into statements on ``;`` outside quotes, comments and
    dollar-quoted bodies (drivers with prepared statements take one at a time)."""
    statements: list[str] = []
    buf: list[str] = []
    i, n = 0, len(script)
    quote: str | None = None  # "'", '"' or a $tag$
    while i < n:
        ch = script[i]
        if quote is None:
            if script.startswith("--", i):
                end = script.find("\n", i)
                i = n if end == -1 else end
                continue
            if script.startswith("/*", i):  # block comments nest in PostgreSQL
                depth, i = 1, i + 2
                while i < n and depth:
                    if script.startswith("/*", i):
                        depth, i = depth + 1, i + 2
                    elif script.startswith("*/", i):
                        depth, i = depth - 1, i + 2
                    else:
                        i += 1
                buf.append(" ")
                continue
            if ch in ("'", '"'):
                quote = ch
            elif ch == "$":
                end = script.find("$", i + 1)
                tag = script[i : end + 1] if end != -1 else ""
                if tag and (tag == "$$" or tag[1:-1].isidentifier()):
                    quote = tag
                    buf.append(tag)
                    i = end + 1
                    continue
            elif ch == ";":
                stmt = "".join(buf).strip()
                if stmt:
                    statements.append(stmt)
                buf = []
                i += 1
                continue
        elif quote in ("'", '"'):
            if ch == quote:
                quote = None
        elif script.startswith(quote, i):
            buf.append(quote)
            i += len(quote)
            quote = None
            continue
        buf.append(ch)
        i += 1
    tail = "".join(buf).strip()
    if tail:
        statements.append(tail)
    return statements

"""Reads from streaming replicas: within a staleness bound, and never behind the writer.

``WOWSINO_REPLICA_URLS`` names hot standbys of the primary. The reads that accept bounded
staleness — dossiers and a player's lists, leaderboards, listings, segment previews, the
console's dashboard, and the player API's listings, leaderboards and the player's own
lists — take their connection from ``reading(request)``: a replica that is
up and no more than ``WOWSINO_REPLICA_MAX_LAG_MS`` behind, else the primary. Everything
in a write path reads the primary, in the write's own transaction.

How far behind a replica is. ``now() - pg_last_xact_replay_timestamp()`` grows on an idle
primary although the replica has replayed everything, and compares two servers' clocks.
Instead each API process samples the primary's WAL insert position every ``interval``
(one cheap statement) and, right after, each replica's replay position. A replica has
*caught up to* a sample once it has replayed that far: everything committed before the
sample was taken is then visible on it. Its staleness is the age of the newest sample it
has caught up to — an upper bound of its real lag, measured on this process's clock
alone, that stays near zero on an idle primary. The insert position, not the flushed
one, because an asynchronous commit (``synchronous_commit = off``) is acknowledged before
its WAL is flushed. WAL inserted without a commit after it (pruning by a read, say) can
wait in a half-filled page until the next commit; when two samples in a row find the same
position still unflushed, the sampler commits an empty transaction (an xid, no row) whose
commit flushes it, so that an idle primary's replicas do not look stale.

Read-your-writes. A write's own answer is built in its transaction on the primary. When
the answer of a write request starts (its transaction committed), its writer — the API
key, the player's session or the console session — is remembered with the time; that
writer's reads use a replica only once the replica has caught up to a sample taken after
that time, and read the primary until then. Nothing is added to the write path. The
API processes of one ``serve --workers N`` share these times (``SharedWrites``: a table
in a file mapped into each, keyed by a stable hash of the writer; ``time.monotonic`` is
one clock for a whole host), so the promise holds whichever of them serves the read;
across hosts it holds per host. ``X-Read-Consistency: strong`` sends any read to the
primary.

A replica that fails to answer is taken out of rotation and probed again with a growing
pause (at most ``RETRY_MAX_SECONDS``); a read whose replica cannot be reached is served
by the primary, so no read fails because a replica is down.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import itertools
import mmap
import os
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
import structlog
from fastapi import Request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wowsino.kernel.db import create_engine, database_unavailable, refuse_unstorable_text
from wowsino.kernel.errors import ValidationFailed

log = structlog.get_logger("wowsino.replicas")

CONSISTENCY_HEADER = "x-read-consistency"
CONSISTENCIES = ("bounded", "strong")  # bounded: the default
SOURCE_HEADER = b"x-read-source"
SOURCE_STATE = "read_source"  # on request.state: where the request's routed read ran
PRIMARY_ONLY = "read_primary_only"  # on request.state: a read answered again, on the primary
PRIMARY, REPLICA = "primary", "replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

PROBE_TIMEOUT_SECONDS = 1.0  # a probe slower than this counts as a failure
CONNECT_TIMEOUT_SECONDS = 2.0  # a read waits no longer for a new replica connection
RETRY_MAX_SECONDS = 5.0

_PRIMARY_POSITION = text(
    "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint, "
    "(pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint")
# an empty transaction whose commit flushes the WAL before it: an xid, no row
_FLUSH_ON_COMMIT = text("SET LOCAL synchronous_commit = local")
_ASSIGN_XID = text("SELECT pg_current_xact_id()")
_REPLAY_POSITION = text(
    "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint")


SHARED_WRITES_ENV = "WOWSINO_SHARED_WRITES"  # the table's file, set by ``serve --workers``


class SharedWrites:
    """When each writer last wrote, for every API process of one host: ``SLOTS`` doubles
    (monotonic seconds) in a file each process maps, a writer's slot chosen by a hash of
    it that every process computes alike. A slot keeps the latest write of all the
    writers that fall in it, under an exclusive lock of the file, so a writer's reads
    wait for its own writes and, rarely, for a neighbour's too (which only sends a read
    to the primary), never for less."""

    SLOTS = 1 << 16

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, self.SLOTS * 8)
        self._times = memoryview(self._map).cast("d")

    @classmethod
    def create(cls, path: str) -> SharedWrites:
        """An empty table in the file ``path``, made or emptied (``close(remove=True)``
        deletes it; one a killed process left is emptied by the next)."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, cls.SLOTS * 8)  # zeros: no write seen
        finally:
            os.close(fd)
        return cls(path)

    @staticmethod
    def _slot(writer: Hashable) -> int:
        digest = hashlib.blake2b(repr(writer).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % SharedWrites.SLOTS

    def mark(self, writer: Hashable, at: float) -> None:
        slot = self._slot(writer)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if self._times[slot] < at:
                self._times[slot] = at
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def written_at(self, writer: Hashable) -> float | None:
        at = self._times[self._slot(writer)]
        return at or None

    def close(self, *, remove: bool = False) -> None:
        self._times.release()
        self._map.close()
        os.close(self._fd)
        if remove:
            with suppress(FileNotFoundError):
                os.unlink(self.path)


def poll_interval(max_lag_ms: int) -> float:
    """Seconds between samples: a tenth of the bound, from 25 ms to 250 ms."""
    return min(0.25, max(0.025, max_lag_ms / 10_000))


def display_name(url: str) -> str:
    """``host:port/database`` of a replica URL: for logs and metrics, without credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path or '/'}"


@dataclass(frozen=True, slots=True)
class Sample:
    """The primary's WAL insert position (bytes), read at ``at`` (monotonic seconds,
    taken before the statement was sent)."""

    at: float
    lsn: int


def caught_up_to(samples: Iterable[Sample], replayed: int) -> float | None:
    """The time of the newest sample a replica that replayed up to ``replayed`` has
    reached (everything committed before it is visible there); None if none."""
    newest: float | None = None
    for sample in samples:
        if sample.lsn <= replayed and (newest is None or sample.at > newest):
            newest = sample.at
    return newest


@dataclass
class Replica:
    """One streaming replica, as this process last saw it."""

    name: str
    engine: AsyncEngine
    up: bool = False
    caught_up_at: float | None = None  # see ``caught_up_to``
    failures: int = 0
    retry_at: float = 0.0

    def staleness(self, now: float) -> float | None:
        """Seconds of commits it may lack; None while it is down or not caught up."""
        if not self.up or self.caught_up_at is None:
            return None
        return max(0.0, now - self.caught_up_at)


def usable(replica: Replica, *, now: float, max_lag: float, written_at: float | None) -> bool:
    """Whether a read may run on ``replica``: it is up, at most ``max_lag`` seconds behind,
    and — for a caller that wrote at ``written_at`` — caught up to a sample taken after
    that write's commit."""
    staleness = replica.staleness(now)
    if staleness is None or staleness > max_lag:
        return False
    assert replica.caught_up_at is not None
    return written_at is None or replica.caught_up_at > written_at


def consistency(value: str | None) -> str:
    """The ``X-Read-Consistency`` a caller asked for: ``bounded`` (the default) or
    ``strong`` (read the primary). Anything else is a 400."""
    if value is None:
        return "bounded"
    chosen = value.strip().lower()
    if chosen not in CONSISTENCIES:
        raise ValidationFailed("X-Read-Consistency must be bounded or strong",
                               field="X-Read-Consistency")
    return chosen


def writer_of(state: Mapping[str, Any]) -> Hashable | None:
    """Who a request acts as, for read-your-writes: the API key or the player's session
    (within its realm), or the console session; None for anyone else."""
    principal = state.get("principal")
    if principal is not None:
        return (principal.realm, principal.actor.label)
    session = state.get("console_session")
    if session is not None:
        return ("console", session.public_id)
    return None


@dataclass
class ReadRouter:
    """Chooses where a read runs, from the replicas' positions sampled in the background
    (``start``); with no replica configured, or before the first sample, the primary."""

    primary: AsyncEngine
    replicas: Sequence[Replica]
    max_lag_ms: int
    clock: Callable[[], float] = time.monotonic
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=4096))
    written: dict[Hashable, float] = field(default_factory=dict)  # without ``shared``
    served: Counter[str] = field(default_factory=Counter)
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _unflushed: int | None = None  # the insert position the last sample found unflushed
    _task: asyncio.Task[None] | None = None
    shared: SharedWrites | None = None  # the other API processes' writes, if any

    @classmethod
    def build(cls, primary: AsyncEngine, urls: Sequence[str], *, max_lag_ms: int,
              pool_size: int) -> ReadRouter:
        replicas = [Replica(display_name(url), create_engine(
            url, pool_size=pool_size, pre_ping=True, connect_timeout=CONNECT_TIMEOUT_SECONDS))
            for url in urls]
        table = os.environ.get(SHARED_WRITES_ENV)
        shared = SharedWrites(table) if replicas and table else None
        return cls(primary, replicas, max_lag_ms, shared=shared)

    @property
    def max_lag(self) -> float:
        return self.max_lag_ms / 1000

    @property
    def interval(self) -> float:
        return poll_interval(self.max_lag_ms)

    # --- the decision -----------------------------------------------------------------

    def mark_write(self, writer: Hashable | None) -> None:
        """``writer``'s write has committed: its reads wait for a replica to pass it."""
        if writer is not None and self.replicas:
            if self.shared is not None:
                self.shared.mark(writer, self.clock())
            else:
                self.written[writer] = self.clock()

    def written_at(self, writer: Hashable | None) -> float | None:
        """When ``writer`` last wrote: through any API process of the host when they share
        a table, else through this one."""
        if writer is None:
            return None
        if self.shared is not None:
            return self.shared.written_at(writer)
        return self.written.get(writer)

    def choose(self, writer: Hashable | None) -> Replica | None:
        """A replica for ``writer``'s read (round robin among the usable ones), or None
        for the primary."""
        if not self.replicas:
            return None
        now = self.clock()
        written_at = self.written_at(writer)
        candidates = [r for r in self.replicas
                      if usable(r, now=now, max_lag=self.max_lag, written_at=written_at)]
        if not candidates:
            return None
        return candidates[next(self._turn) % len(candidates)]

    @asynccontextmanager
    async def connect(self, writer: Hashable | None, *, strong: bool = False
                      ) -> AsyncIterator[tuple[AsyncConnection, str]]:
        """A connection for a read and where it goes (``primary`` or ``replica``). A
        replica that cannot be reached is taken out and the primary serves the read."""
        replica = None if strong else self.choose(writer)
        conn: AsyncConnection | None = None
        if replica is not None:
            conn = replica.engine.connect()
            try:
                await conn.start()
            except Exception as exc:  # refused, timed out, a password it does not take…
                self._failed(replica, exc)
                conn = None
        source = REPLICA if conn is not None else PRIMARY
        if conn is None:
            replica = None
            conn = self.primary.connect()
            await conn.start()
        try:
            yield conn, source
        except DBAPIError as exc:
            if replica is not None and database_unavailable(exc):
                self._failed(replica, exc)
            refuse_unstorable_text(exc)
            raise
        finally:
            await conn.close()
        self.served[source] += 1

    # --- the samples ------------------------------------------------------------------

    async def poll(self) -> None:
        """One round: sample the primary, then every replica due for a probe."""
        at = self.clock()
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                async with self.primary.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    inserted, flushed = (await conn.execute(_PRIMARY_POSITION)).one()
                if self._stuck(int(inserted), int(flushed)):
                    async with self.primary.begin() as conn:
                        await conn.execute(_FLUSH_ON_COMMIT)
                        await conn.execute(_ASSIGN_XID)
        except Exception as exc:  # the primary's own outage answers 503 elsewhere
            log.debug("primary WAL position not sampled", error=type(exc).__name__)
        else:
            self.samples.append(Sample(at, int(inserted)))
        horizon = self.clock() - self.max_lag - self.interval
        while len(self.samples) > 1 and self.samples[0].at < horizon:
            self.samples.popleft()
        for writer in [w for w, t in self.written.items() if t < horizon]:
            del self.written[writer]  # older than any usable replica's position
        due = [r for r in self.replicas if r.retry_at <= self.clock()]
        await asyncio.gather(*(self._probe(r) for r in due))

    def _stuck(self, inserted: int, flushed: int) -> bool:
        """Whether WAL inserted before the previous sample is still unflushed (and
        nothing was inserted since): a commit is needed to flush it."""
        if inserted <= flushed:
            self._unflushed = None
            return False
        if self._unflushed == inserted:
            self._unflushed = None
            return True
        self._unflushed = inserted
        return False

    async def _probe(self, replica: Replica) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                async with replica.engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    row = (await conn.execute(_REPLAY_POSITION)).one()
        except Exception as exc:
            self._failed(replica, exc)
            return
        in_recovery, replayed = row
        if not in_recovery or replayed is None:
            self._failed(replica, RuntimeError("not a standby in recovery"))
            return
        reached = caught_up_to(self.samples, int(replayed))
        if reached is not None and (replica.caught_up_at is None
                                    or reached > replica.caught_up_at):
            replica.caught_up_at = reached
        if not replica.up:
            log.info("read replica in rotation", replica=replica.name)
        replica.up, replica.failures, replica.retry_at = True, 0, 0.0

    def _failed(self, replica: Replica, exc: BaseException) -> None:
        if replica.up or replica.failures == 0:
            log.warning("read replica out of rotation", replica=replica.name,
                        error=f"{type(exc).__name__}: {str(exc)[:200]}")
        replica.up, replica.caught_up_at = False, None
        replica.failures += 1
        pause = min(RETRY_MAX_SECONDS, self.interval * 2 ** min(replica.failures, 10))
        replica.retry_at = self.clock() + pause

    async def _run(self) -> None:
        while True:
            began = self.clock()
            try:
                await self.poll()
            except Exception:  # a bug here must not end the sampling
                log.exception("replica sampling failed")
            await asyncio.sleep(max(0.0, self.interval - (self.clock() - began)))

    async def start(self) -> None:
        """Sample in the background (nothing to do without replicas)."""
        if self.replicas and self._task is None:
            await self.poll()  # the first round before the first request
            self._task = asyncio.create_task(self._run(), name="replica-sampling")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for replica in self.replicas:
            await replica.engine.dispose()
        if self.shared is not None:
            self.shared.close()
            self.shared = None

    def collector(self) -> Collector:
        return _RouterMetrics(self)


class _RouterMetrics(Collector):
    """``wowsino_read_replica_up``, ``wowsino_read_replica_staleness_seconds`` and
    ``wowsino_routed_reads_total{source}`` for ``/metrics``."""

    def __init__(self, router: ReadRouter) -> None:
        self.router = router

    def collect(self) -> Iterable[Metric]:
        now = self.router.clock()
        up = GaugeMetricFamily("wowsino_read_replica_up",
                               "1 while the replica is in rotation", labels=["replica"])
        stale = GaugeMetricFamily(
            "wowsino_read_replica_staleness_seconds",
            "How far behind the primary the replica may be (an upper bound)",
            labels=["replica"])
        for replica in self.router.replicas:
            up.add_metric([replica.name], 1.0 if replica.up else 0.0)
            staleness = replica.staleness(now)
            if staleness is not None:
                stale.add_metric([replica.name], staleness)
        reads = CounterMetricFamily("wowsino_routed_reads",
                                    "Reads that accept bounded staleness, by where they ran",
                                    labels=["source"])
        for source in (PRIMARY, REPLICA):
            reads.add_metric([source], float(self.router.served[source]))
        return [up, stale, reads]


ROUTED_READ = "wowsino_routed_read"  # set on a handler's function by ``routed_read``

Handler = TypeVar("Handler", bound=Callable[..., Any])


def routed_read(handler: Handler) -> Handler:
    """Mark a GET handler that reads through ``reading``: the OpenAPI document then
    declares the ``X-Read-Consistency`` header it takes and the ``X-Read-Source`` header
    it answers with (``kernel.http.declare_errors``)."""
    setattr(handler, ROUTED_READ, True)
    return handler


def declare_routing(operation: dict[str, Any]) -> None:
    """Add the read-routing headers to a routed read's OpenAPI operation."""
    operation.setdefault("parameters", []).append({
        "name": "X-Read-Consistency", "in": "header", "required": False,
        "schema": {"type": "string", "enum": list(CONSISTENCIES), "default": "bounded"},
        "description": "`bounded` (the default): the read may come from a streaming "
                       "replica within WOWSINO_REPLICA_MAX_LAG_MS, never behind the "
                       "caller's own writes; `strong`: from the primary. Anything else: "
                       "400 VALIDATION_ERROR."})
    for code, answer in operation.get("responses", {}).items():
        if code.startswith("2"):
            answer.setdefault("headers", {})["X-Read-Source"] = {
                "description": "Where the read ran: `primary` or `replica`.",
                "schema": {"type": "string", "enum": [PRIMARY, REPLICA]}}


@asynccontextmanager
async def reading(request: Request) -> AsyncIterator[AsyncConnection]:
    """The connection for a read that accepts bounded staleness: a usable replica, or the
    primary (see the module's docstring). The answer names which in ``X-Read-Source``.
    Raises 400 for an ``X-Read-Consistency`` other than ``bounded`` or ``strong``."""
    asked = consistency(request.headers.get(CONSISTENCY_HEADER))
    router: ReadRouter = request.app.state.platform.reads
    state = request.scope.get("state") or {}
    strong = asked == "strong" or bool(state.get(PRIMARY_ONLY))
    async with router.connect(writer_of(state), strong=strong) as (conn, source):
        setattr(request.state, SOURCE_STATE, source)
        yield conn


class ReadRouting:
    """Pure ASGI: when the answer of a write request starts (its transaction committed),
    remember its writer; on the answer of a routed read, ``X-Read-Source``. A read that
    fails on a replica with a database error (the replica lost mid-read, a statement
    cancelled by a conflict with recovery) is answered again from the primary."""

    def __init__(self, app: ASGIApp, router: ReadRouter) -> None:
        self.app = app
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        writes = scope["method"] not in SAFE_METHODS
        started = False
        received: list[Message] = []

        async def send_marked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                state = scope.get("state") or {}
                if writes:
                    self.router.mark_write(writer_of(state))
                source = state.get(SOURCE_STATE)
                if source is not None:
                    message["headers"] = [*message.get("headers", ()),
                                          (SOURCE_HEADER, source.encode())]
            await send(message)

        async def receive_kept() -> Message:
            message = await receive()
            received.append(message)
            return message

        try:
            await self.app(scope, receive_kept, send_marked)
        except (DBAPIError, asyncpg.PostgresError) as exc:
            state = scope.get("state") or {}
            if writes or started or state.get(SOURCE_STATE) != REPLICA:
                raise
            log.warning("read failed on a replica; answered from the primary",
                        error=f"{type(exc).__name__}: {str(exc)[:200]}")
            state[SOURCE_STATE], state[PRIMARY_ONLY] = None, True
            again = iter(received)

            async def receive_again() -> Message:
                return next(again, None) or await receive()

            await self.app(scope, receive_again, send_marked)

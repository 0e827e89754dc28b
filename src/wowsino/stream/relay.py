"""The event stream: every committed outbox event published to a NATS JetStream stream,
once, and per player in commit order.

Subjects are ``<prefix>.<tenant slug>.<mode>.<event type>`` (a slug is lowercase letters,
digits and hyphens, never a ``.``, ``*``, ``>`` or space, so it is one subject token and
never changes); the payload is the webhook envelope without ``delivered_at``, with the
tenant's slug; the header ``Nats-Msg-Id`` is the event id. An event whose message would
exceed the server's ``max_payload`` is kept whole in the object store ``<stream>_EVENTS``
(named by its id), and its message says so: ``data`` null and ``data_object`` (a claim
check), so one large event neither stalls the stream nor is cut short.

Which events to publish, and in which order
-------------------------------------------
An event's ``seq`` and ``created_at`` are assigned when it is inserted, not when its
transaction commits, so a cursor over either skips an event whose transaction commits
after a later-numbered one was published. Each event therefore also records its
transaction's id (``xid``, ``pg_current_xact_id()`` as the column default: the insert
stays one statement with the write's last one). A pass of the relay reads, in one
statement and so in one snapshot, the oldest transaction id still running (the
snapshot's ``xmin``, the *horizon*) and every visible event not yet published whose
``xid`` is at or above the stream's *watermark*, in ``seq`` order:

- every transaction below the horizon has ended, so an event below it that is not
  visible never will be (it rolled back); an event of a transaction still running has an
  ``xid`` at or above the horizon, and is found by a later pass once it commits;
- after publishing, the watermark moves to the horizon and the seqs published at or
  above it are kept in ``published`` (a multirange, pruned below the lowest seq that can
  still matter), so nothing is skipped and nothing is published twice by the relay's
  own bookkeeping.

Two writes that wait for each other keep their order: on a player's row (status,
limits) or a player's balance (whatever moves money), the later write takes the lock only
once the earlier committed, and an event is inserted after the change it reports (with
the write's last statement, in an API request), so it draws its ``seq`` after the
earlier event committed. Whenever the later event is visible the earlier one is too, and
publishing the visible events in ``seq`` order keeps a player's events in the order their
writes committed. Writes that never wait for each other ran at the same time: no order
is promised between their events.

Once, and after a crash
-----------------------
A pass runs in one database transaction holding an advisory lock per stream, so several
relays (each worker when ``WOWSINO_NATS_URL`` is set, or ``wowsino relay`` processes) may
run and one publishes at a time. It publishes the batch on one NATS connection (JetStream
stores a connection's messages in the order sent), waits for every acknowledgement, then
records its progress and commits. A relay that dies before that commit leaves the state
as it was: the next pass, by any relay, publishes the same events again, and JetStream
drops them as duplicates of their ``Nats-Msg-Id`` within the stream's duplicate window
(``DUPLICATE_WINDOW``, 2 minutes: a republished batch is seconds old). Consumers see each
event once.

What JetStream stored of a failed batch is always its first messages, in order, so
publishing the batch again keeps the order: the relay's client does not reconnect by
itself (a batch resumed on a new connection could store messages buffered during the
reconnect ahead of one lost with the old connection); a lost connection fails the pass,
and the next pass starts the batch again on a new connection.

The relay creates the stream on start (subjects ``<prefix>.>``, file storage, limits
retention) or adds those subjects to an existing one and sets its duplicate window,
keeping its other settings (retention, replicas) as the operator set them. Outbox rows
are kept: nothing purges them, and the stream's first relay publishes every event since
revision 0025.

Costs
-----
On the write path: one more column, filled by its default, and one index entry. A pass
reads the events at or above the watermark through that index: normally the last
moment's. A write transaction left open holds the horizon back, so until it ends each
pass reads every event committed since it began (and publishes only the new ones); the
first relay of a stream sorts the outbox's history a batch at a time.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import nats
import structlog
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, ObjectStoreConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from wowsino.kernel.config import Settings
from wowsino.kernel.jsonio import dumps, loads
from wowsino.kernel.logs import log_failure

log = structlog.get_logger("wowsino.stream")

DUPLICATE_WINDOW = 120.0  # seconds JetStream remembers a Nats-Msg-Id
BATCH = 500  # events per pass
POLL = 0.25  # seconds between passes when there was nothing to publish
ACK_TIMEOUT = 10.0  # seconds to wait for a batch's acknowledgements
HEADROOM = 1024  # bytes of a message's limit kept for its subject and headers
RETRY = 2.0  # seconds before trying again after a failure (NATS or the database down)

# a stream name: no whitespace, ``.``, ``*``, ``>``, path separators; subject tokens: no
# whitespace, ``*`` or ``>`` (NATS's rules)
# (200 at most: the object store of its large events is a stream named OBJ_<name>_EVENTS,
# within NATS's 255)
STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
SUBJECT_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")


class BadStreamSettings(ValueError):
    """``WOWSINO_NATS_STREAM`` or ``WOWSINO_NATS_SUBJECT_PREFIX`` is not usable."""


@dataclass(frozen=True)
class StreamSettings:
    url: str
    stream: str = "WOWSINO"
    prefix: str = "wowsino"

    @property
    def bucket(self) -> str:
        """The object store of the stream's events too large for a message."""
        return f"{self.stream}_EVENTS"

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamSettings:
        if not settings.nats_url:
            raise BadStreamSettings("WOWSINO_NATS_URL is not set")
        found = cls(settings.nats_url, settings.nats_stream, settings.nats_subject_prefix)
        if not STREAM_NAME.match(found.stream):
            raise BadStreamSettings(
                f"WOWSINO_NATS_STREAM {found.stream!r}: 1-200 letters, digits, _ and -")
        if not SUBJECT_PREFIX.match(found.prefix):
            raise BadStreamSettings(
                f"WOWSINO_NATS_SUBJECT_PREFIX {found.prefix!r}: tokens of letters, digits, "
                "_ and - separated by dots")
        return found


@dataclass(frozen=True)
class Event:
    seq: int
    id: str
    tenant: str  # the tenant's slug
    mode: str
    type: str
    data: str  # JSON text, as stored
    created_at: datetime

    def subject(self, prefix: str) -> str:
        return f"{prefix}.{self.tenant}.{self.mode}.{self.type}"

    def envelope(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "tenant": self.tenant, "mode": self.mode,
                "created_at": self.created_at}

    def payload(self) -> bytes:
        return dumps({**self.envelope(), "data": loads(self.data)}).encode()

    def claim_check(self, bucket: str, size: int) -> bytes:
        """The message for an event too large for one: the envelope, ``data`` null, and
        where the whole message is kept (``data_object``)."""
        return dumps({**self.envelope(), "data": None, "data_object": {
            "bucket": bucket, "name": self.id, "bytes": size}}).encode()


_STATE_ROW = text("INSERT INTO outbox_relays (stream, updated_at) VALUES (:stream, now()) "
                  "ON CONFLICT (stream) DO NOTHING")
_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))")
# the horizon and the pending events in one snapshot (READ COMMITTED: one statement)
_PENDING = text(
    "SELECT CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS horizon, "
    "CAST(r.watermark AS text) AS watermark, e.seq, e.id, e.tenant, e.mode, e.type, e.data, "
    "e.created_at FROM outbox_relays r LEFT JOIN LATERAL ("
    "SELECT o.seq, CAST(o.id AS text) AS id, t.slug AS tenant, o.mode, o.type, "
    "CAST(o.data AS text) AS data, o.created_at FROM outbox_events o "
    "JOIN tenants t ON t.id = o.tenant_id WHERE o.xid >= r.watermark "
    "AND NOT r.published @> o.seq ORDER BY o.seq LIMIT :batch) e ON true "
    "WHERE r.stream = :stream"
)
# the published seqs that can still matter: from the lowest seq visible at or above the
# (new) watermark; an event below that seq and not visible now is not published yet
_RECORD = text(
    "UPDATE outbox_relays SET watermark = greatest(watermark, CAST(:watermark AS xid8)), "
    "published = (published + CAST(CAST(:published AS text) AS int8multirange)) * int8multirange("
    "int8range(coalesce((SELECT min(o.seq) FROM outbox_events o WHERE o.xid >= "
    "greatest(watermark, CAST(:watermark AS xid8))), 9223372036854775807), NULL)), "
    "published_total = published_total + :count, updated_at = now() WHERE stream = :stream"
)
_LAGS = (
    "SELECT r.stream, count(o.seq) AS pending, min(o.created_at) AS oldest FROM outbox_relays r "
    "LEFT JOIN outbox_events o ON o.xid >= r.watermark AND NOT r.published @> o.seq "
)
_LAG = text(_LAGS + "WHERE r.stream = :stream GROUP BY r.stream")
_EVERY_LAG = text(_LAGS + "GROUP BY r.stream ORDER BY r.stream")


def ranges(seqs: Sequence[int]) -> str:
    """``seqs`` as an ``int8multirange`` literal: ``{[1,4),[7,8)}``."""
    spans: list[list[int]] = []
    for seq in sorted(seqs):
        if spans and seq == spans[-1][1]:
            spans[-1][1] = seq + 1
        else:
            spans.append([seq, seq + 1])
    return "{" + ",".join(f"[{a},{b})" for a, b in spans) + "}"


async def ensure_stream(js: JetStreamContext, settings: StreamSettings) -> None:
    """Create the stream, or add the subjects to the existing one and set its duplicate
    window, keeping the rest of its configuration."""
    subjects = [f"{settings.prefix}.>"]
    try:
        info = await js.stream_info(settings.stream)
    except NotFoundError:
        await js.add_stream(StreamConfig(
            name=settings.stream, subjects=subjects, duplicate_window=DUPLICATE_WINDOW,
            storage=StorageType.FILE, retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD))
        return
    config = info.config
    if subjects[0] not in (config.subjects or []) or config.duplicate_window != DUPLICATE_WINDOW:
        config.subjects = [*(config.subjects or []), *subjects]
        config.duplicate_window = DUPLICATE_WINDOW
        await js.update_stream(config)


class Lag(NamedTuple):
    pending: int  # committed events not yet published
    oldest: datetime | None  # the oldest of them (its created_at)


class Relay:
    """Publishes the outbox to one stream; ``run_forever`` until cancelled, or
    ``publish_pending`` one pass at a time (tests)."""

    def __init__(self, engine: AsyncEngine, settings: StreamSettings, *,
                 batch: int = BATCH, poll: float = POLL) -> None:
        self.engine = engine
        self.settings = settings
        self.batch = batch
        self.poll = poll
        self._nc: Any = None
        self._js: JetStreamContext | None = None
        self._store: Any = None  # the object store of large events, once looked up

    async def connect(self) -> None:
        """Connect to NATS, create or update the stream, and the stream's state row."""
        # no reconnecting inside the client: see "Once, and after a crash"
        self._nc = await nats.connect(self.settings.url, name="wowsino-relay",
                                      allow_reconnect=False, connect_timeout=5)
        self._js = self._nc.jetstream()
        await ensure_stream(self._js, self.settings)
        async with self.engine.begin() as conn:
            await conn.execute(_STATE_ROW, {"stream": self.settings.stream})

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()
            self._nc, self._js, self._store = None, None, None

    async def publish_pending(self) -> int | None:
        """One pass: publish the next batch of pending events and record it. How many were
        published, None when another relay holds the stream."""
        assert self._js is not None, "connect() first"
        async with self.engine.begin() as conn:
            if not await conn.scalar(_LOCK, {"key": f"wowsino.stream:{self.settings.stream}"}):
                return None
            rows = (await conn.execute(_PENDING, {"stream": self.settings.stream,
                                                  "batch": self.batch})).all()
            if not rows:
                raise RuntimeError(f"no state row for stream {self.settings.stream}")
            events = [Event(r.seq, r.id, r.tenant, r.mode, r.type, r.data, r.created_at)
                      for r in rows if r.seq is not None]
            if not events:  # the watermark moves with the next batch (moving it now would
                return 0  # take a transaction id, and so move the horizon: a write per poll)
            duplicates = await self._publish(events)
            full = len(events) >= self.batch  # more may be pending below the horizon
            await conn.execute(_RECORD, {
                "stream": self.settings.stream, "published": ranges([e.seq for e in events]),
                "watermark": int(rows[0].watermark if full else rows[0].horizon),
                "count": len(events) - duplicates})
        if duplicates:  # after a relay died between publishing and recording
            log.info("events published again; the stream dropped the copies",
                     stream=self.settings.stream, count=duplicates)
        return len(events)

    async def _publish(self, events: list[Event]) -> int:
        """Send ``events`` in order and wait for every acknowledgement; how many JetStream
        already had (a batch published again after a crash)."""
        assert self._js is not None
        futures = []
        for event in events:
            payload = event.payload()
            if len(payload) > self._nc.max_payload - HEADROOM:
                payload = await self._check_in(event, payload)
            futures.append(await self._js.publish_async(
                event.subject(self.settings.prefix), payload, stream=self.settings.stream,
                headers={"Nats-Msg-Id": event.id}))
        acks = await asyncio.wait_for(asyncio.gather(*futures), timeout=ACK_TIMEOUT)
        return sum(1 for ack in acks if ack.duplicate)

    async def _check_in(self, event: Event, payload: bytes) -> bytes:
        """Keep the whole message of an event too large for the server's message limit in
        the stream's object store (the *claim check*), and return the message that says
        where: the stream goes on, in order, and no event is cut short. Put again after a
        crash, the object is replaced by the same bytes."""
        assert self._js is not None
        bucket = self.settings.bucket
        if self._store is None:
            try:
                self._store = await self._js.object_store(bucket)
            except BucketNotFoundError:
                self._store = await self._js.create_object_store(bucket, ObjectStoreConfig(
                    description=f"events of stream {self.settings.stream} too large for a "
                                "message", storage=StorageType.FILE))
        await self._store.put(event.id, payload)
        log.warning("event larger than a message; kept in the object store",
                    stream=self.settings.stream, event_id=event.id, type=event.type,
                    size=len(payload), bucket=bucket)
        return event.claim_check(bucket, len(payload))

    async def lag(self) -> Lag:
        async with self.engine.connect() as conn:
            row = (await conn.execute(_LAG, {"stream": self.settings.stream})).first()
        return Lag(row.pending, row.oldest) if row else Lag(0, None)

    async def run_forever(self) -> None:
        """Publish until cancelled; NATS or the database being down is logged and retried."""
        try:
            while True:
                try:
                    if self._js is None:
                        await self.connect()
                        log.info("event stream relay started", stream=self.settings.stream,
                                 subjects=f"{self.settings.prefix}.>")
                    published = await self.publish_pending()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log_failure(log, "event stream pass failed", exc,
                                stream=self.settings.stream)
                    await self.close()
                    await asyncio.sleep(RETRY)
                    continue
                if published is None or published < self.batch:
                    await asyncio.sleep(self.poll)
        finally:
            await self.close()


async def run(engine: AsyncEngine, settings: Settings) -> None:
    """The worker's relay: publishes until cancelled; unusable stream settings are logged
    and leave the other jobs running."""
    try:
        stream = StreamSettings.from_settings(settings)
    except BadStreamSettings as exc:
        log.error("event stream relay not started", error=str(exc))
        return
    await Relay(engine, stream).run_forever()


async def lag_metrics(engine: AsyncEngine, now: datetime) -> str:
    """Each stream's lag in Prometheus text format, read from the database (nothing when
    it does not answer: the rest of ``/metrics`` still does)."""
    registry = CollectorRegistry()
    pending = Gauge("wowsino_event_stream_pending", "Committed events not yet published",
                    ["stream"], registry=registry)
    oldest = Gauge("wowsino_event_stream_oldest_pending_seconds",
                   "Age of the oldest committed event not yet published (0: none)",
                   ["stream"], registry=registry)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(_EVERY_LAG)).all()
    except Exception as exc:
        log_failure(log, "event stream lag unavailable", exc)
        return ""
    for row in rows:
        pending.labels(row.stream).set(row.pending)
        oldest.labels(row.stream).set(
            max(0.0, (now - row.oldest).total_seconds()) if row.oldest else 0.0)
    return generate_latest(registry).decode()

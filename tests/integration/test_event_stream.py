"""The event stream: committed outbox events published to a real NATS JetStream, each
once (``Nats-Msg-Id`` deduplication), per player in commit order, and none skipped when a
transaction that began earlier commits later; a relay killed mid-stream and replaced
loses and doubles nothing.

Each test uses its own stream and subjects and deletes the stream afterwards. The tests
need NATS with JetStream (``WOWSINO_TEST_NATS_URL``, default ``nats://127.0.0.1:4222``)
and are skipped, saying so, only where none answers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import text

from tests.conftest import Tenant
from tests.docs.test_python_snippets import snippet
from tests.integration.support import create_player
from wowsino.api import create_app
from wowsino.kernel import outbox
from wowsino.kernel.clock import ManualClock, iso
from wowsino.kernel.config import Settings
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Mode, Realm
from wowsino.stream.relay import DUPLICATE_WINDOW, Relay, StreamSettings
from wowsino.worker import Worker

NATS_URL = os.environ.get("WOWSINO_TEST_NATS_URL", "nats://127.0.0.1:4222")
STATUSES = ("suspended", "fraud_hold", "aml_hold", "active")


@pytest.fixture
async def js() -> AsyncIterator[JetStreamContext]:
    try:
        nc = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False,
                                max_reconnect_attempts=0)
    except Exception as exc:
        pytest.skip(f"no NATS at {NATS_URL} ({type(exc).__name__}); set WOWSINO_TEST_NATS_URL")
    context = nc.jetstream()
    try:
        await context.account_info()
    except Exception as exc:
        await nc.close()
        pytest.skip(f"NATS at {NATS_URL} has no JetStream ({type(exc).__name__})")
    yield context
    await nc.close()


@pytest.fixture
async def stream(js: JetStreamContext) -> AsyncIterator[StreamSettings]:
    """A stream and subject prefix of this test only, deleted afterwards."""
    tag = uuid4().hex[:12]
    settings = StreamSettings(NATS_URL, f"WZT_{tag}", f"wzt{tag}")
    yield settings
    with suppress(NotFoundError):
        await js.delete_stream(settings.stream)


async def eventually(check: Callable[[], Awaitable[bool]], what: str,
                     deadline: float = 30.0) -> None:
    until = time.monotonic() + deadline
    while not await check():
        assert time.monotonic() < until, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def stored(js: JetStreamContext, stream: StreamSettings) -> int:
    try:
        return int((await js.stream_info(stream.stream)).state.messages)
    except NotFoundError:
        return 0


async def consume(js: JetStreamContext, stream: StreamSettings) -> list[Any]:
    """Every message of the stream, in stream order, through an ordered consumer (what an
    operator's consumer does)."""
    expected = await stored(js, stream)
    sub = await js.subscribe(f"{stream.prefix}.>", stream=stream.stream, ordered_consumer=True)
    try:
        messages = [await sub.next_msg(timeout=5) for _ in range(expected)]
        with pytest.raises(nats.errors.TimeoutError):
            await sub.next_msg(timeout=0.3)  # nothing more
    finally:
        await sub.unsubscribe()
    return messages


async def outbox_rows(engine: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT CAST(o.id AS text) AS id, t.slug AS tenant, o.mode, o.type, o.data, "
            "o.created_at, o.seq FROM outbox_events o JOIN tenants t ON t.id = o.tenant_id "
            "ORDER BY o.seq"))
        return [dict(r._mapping) for r in rows]


async def drain(relay: Relay) -> int:
    total = 0
    while (published := await relay.publish_pending()):
        total += published
    return total


def per_player(envelopes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for envelope in envelopes:
        if envelope["type"] == "player.status_changed":
            found[envelope["data"]["user"]["user_id"]].append(envelope["data"])
    return found


def assert_commit_order(changes: dict[str, list[dict[str, Any]]]) -> None:
    """Each player's status changes, as received, chain: each starts from the status the
    previous one set, which holds only in the order they committed."""
    assert changes
    for player, chain in changes.items():
        assert chain[0]["from"] == "active", (player, chain[0])
        for before, after in itertools.pairwise(chain):
            assert after["from"] == before["to"], (player, before, after)


async def change_statuses(tenant: Tenant, username: str, rounds: int, mode: str = "test"
                          ) -> None:
    for i in range(rounds):
        r = await tenant.patch(f"/v1/players/{username}/status",
                               {"status": STATUSES[i % len(STATUSES)], "reason": f"r{i}"},
                               mode=mode)
        assert r.status_code == 200, r.text


async def test_committed_events_are_published_with_their_subject_id_and_envelope(
    js: JetStreamContext, stream: StreamSettings, tenant: Tenant, other_tenant: Tenant,
    engine: Any,
) -> None:
    names = ["alice", "bob", "carol"]
    for name in names:
        await create_player(tenant, name)
    await create_player(other_tenant, "dave")
    await create_player(tenant, "erin", mode="live")
    # several writers per player at once: they serialize on the player's row
    await asyncio.gather(*(change_statuses(tenant, name, 6) for name in names for _ in range(3)),
                         change_statuses(other_tenant, "dave", 3),
                         change_statuses(tenant, "erin", 2, mode="live"))

    relay = Relay(engine, stream, batch=7)  # several passes
    await relay.connect()
    try:
        assert await drain(relay) == len(await outbox_rows(engine))
        assert await relay.lag() == (0, None)
    finally:
        await relay.close()

    info = await js.stream_info(stream.stream)
    assert info.config.subjects == [f"{stream.prefix}.>"]
    assert info.config.duplicate_window == DUPLICATE_WINDOW
    rows = await outbox_rows(engine)
    messages = await consume(js, stream)
    assert len(messages) == len(rows) > 20
    envelopes = [json.loads(m.data) for m in messages]
    by_id = {row["id"]: row for row in rows}
    for message, envelope in zip(messages, envelopes, strict=True):
        row = by_id[message.headers["Nats-Msg-Id"]]
        assert message.subject == f"{stream.prefix}.{row['tenant']}.{row['mode']}.{row['type']}"
        assert envelope == {"id": row["id"], "type": row["type"], "tenant": row["tenant"],
                            "mode": row["mode"], "created_at": iso(row["created_at"]),
                            "data": row["data"]}
    assert sorted(by_id) == sorted(e["id"] for e in envelopes)
    subjects = {m.subject for m in messages}
    assert f"{stream.prefix}.globex.test.player.status_changed" in subjects
    assert f"{stream.prefix}.acme.live.player.status_changed" in subjects
    assert_commit_order(per_player(envelopes))


async def test_a_batch_published_again_after_a_crash_is_dropped_by_jetstream(
    js: JetStreamContext, stream: StreamSettings, tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await change_statuses(tenant, "alice", 5)
    relay = Relay(engine, stream)
    await relay.connect()
    try:
        assert await relay.publish_pending() == 5
        # a relay that died after publishing, before recording it: the state as it was
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE outbox_relays SET watermark = '0', "
                                    "published = '{}' WHERE stream = :s"), {"s": stream.stream})
        assert await relay.lag() == (5, (await outbox_rows(engine))[0]["created_at"])
        assert await relay.publish_pending() == 5  # sent again ...
        assert await relay.publish_pending() == 0
    finally:
        await relay.close()
    assert await stored(js, stream) == 5  # ... and dropped as duplicates of their ids
    async with engine.connect() as conn:
        total = await conn.scalar(text("SELECT published_total FROM outbox_relays "
                                       "WHERE stream = :s"), {"s": stream.stream})
    assert total == 5


async def test_an_event_whose_transaction_commits_late_is_not_skipped(
    js: JetStreamContext, stream: StreamSettings, tenant: Tenant, engine: Any,
    clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    await create_player(tenant, "bob")
    realm = Realm(UUID(tenant.id), Mode.TEST)
    relay = Relay(engine, stream)
    await relay.connect()
    try:
        async with engine.connect() as held:
            transaction = await held.begin()
            late = await outbox.emit(held, realm=realm, type="player.status_changed",
                                     data={"user": {"user_id": "late", "username": "alice"},
                                           "from": "active", "to": "suspended",
                                           "reason": "late"},
                                     at=clock.now())
            # later events, with higher seqs, commit and are published meanwhile
            await change_statuses(tenant, "bob", 3)
            assert await drain(relay) == 3
            assert await stored(js, stream) == 3
            assert await relay.lag() == (0, None)  # the held event is not committed
            await transaction.commit()
        assert await drain(relay) == 1
    finally:
        await relay.close()
    messages = await consume(js, stream)
    assert [m.headers["Nats-Msg-Id"] for m in messages][-1] == str(late)
    assert len({m.headers["Nats-Msg-Id"] for m in messages}) == 4


async def test_a_relay_killed_mid_stream_and_replaced_publishes_every_event_once_in_order(
    js: JetStreamContext, stream: StreamSettings, tenant: Tenant, db_url: str, engine: Any,
    tmp_path: Path,
) -> None:
    names = [f"p{i}" for i in range(3)]
    for name in names:
        await create_player(tenant, name)
    env = {**os.environ, "WOWSINO_DATABASE_URL": db_url, "WOWSINO_NATS_URL": stream.url,
           "WOWSINO_NATS_STREAM": stream.stream, "WOWSINO_NATS_SUBJECT_PREFIX": stream.prefix,
           "WOWSINO_DATA_DIR": str(tmp_path)}

    async def start(n: int) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wowsino.cli", "relay", env=env, cwd=tmp_path,
            stdout=(tmp_path / f"relay{n}.out").open("wb"), stderr=asyncio.subprocess.STDOUT)

    stop = asyncio.Event()

    async def writer(name: str) -> None:
        i = 0
        while not stop.is_set():
            r = await tenant.patch(f"/v1/players/{name}/status",
                                   {"status": STATUSES[i % len(STATUSES)], "reason": "w"})
            assert r.status_code == 200, r.text
            i += 1
            # leave the relays some of the machine, and stay under the tenant's rate limit
            # (six writers at most 40 requests/s against a refill of 50/s)
            await asyncio.sleep(0.15)

    async def committed() -> int:
        return len(await outbox_rows(engine))

    async def started(n: int) -> bool:
        return "relay started" in (tmp_path / f"relay{n}.out").read_text()

    writers: list[asyncio.Task[None]] = []
    first = await start(1)
    second = None
    try:
        await eventually(lambda: started(1), "the first relay to start", deadline=90)
        writers = [asyncio.create_task(writer(name)) for name in names for _ in range(2)]
        await eventually(lambda: _at_least(stored(js, stream), 15), "the first relay")
        # a second relay: it waits for the stream's lock, or takes passes between the
        # first one's, and carries on alone once the first is killed mid-stream
        second = await start(2)
        await eventually(lambda: started(2), "the second relay to start", deadline=90)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        killed_at = await committed()
        await eventually(lambda: _at_least(committed(), killed_at + 20), "writes meanwhile")
        stop.set()
        await asyncio.gather(*writers)
        total = await committed()
        assert total > killed_at
        await eventually(lambda: _at_least(stored(js, stream), total), "every event")
    finally:
        stop.set()
        for task in writers:
            task.cancel()
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()

    rows = await outbox_rows(engine)
    messages = await consume(js, stream)
    ids = [m.headers["Nats-Msg-Id"] for m in messages]
    assert len(ids) == len(set(ids)) == len(rows)  # each event once
    assert set(ids) == {row["id"] for row in rows}
    envelopes = [json.loads(m.data) for m in messages]
    assert_commit_order(per_player(envelopes))
    # and per player, in the order of the outbox (the writes' order on the player's row)
    seq = {row["id"]: row["seq"] for row in rows}
    for chain in per_player_ids(envelopes).values():
        assert chain == sorted(chain, key=seq.__getitem__)


def per_player_ids(envelopes: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for envelope in envelopes:
        found[envelope["data"]["user"]["user_id"]].append(envelope["id"])
    return found


async def _at_least(value: Awaitable[int], n: int) -> bool:
    return await value >= n


async def test_the_worker_publishes_when_the_nats_url_is_set(
    js: JetStreamContext, stream: StreamSettings, tenant: Tenant, engine: Any,
    settings: Settings, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    await change_statuses(tenant, "alice", 3)
    configured = replace(settings, nats_url=stream.url, nats_stream=stream.stream,
                         nats_subject_prefix=stream.prefix)
    worker = asyncio.create_task(Worker(Platform.build(configured, engine, clock)).run_forever())
    try:
        await eventually(lambda: _at_least(stored(js, stream), 3), "the worker's relay")
    finally:
        worker.cancel()
        with suppress(asyncio.CancelledError):
            await worker
    assert_commit_order(per_player([json.loads(m.data) for m in await consume(js, stream)]))


async def test_the_documented_consumer_receives_the_events_of_its_subjects(
    js: JetStreamContext, stream: StreamSettings, tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await create_player(tenant, "bob", mode="live")
    await change_statuses(tenant, "alice", 2)
    await change_statuses(tenant, "bob", 3, mode="live")
    relay = Relay(engine, stream)
    await relay.connect()
    try:
        assert await drain(relay) == 5
    finally:
        await relay.close()

    namespace: dict[str, Any] = {}
    code = compile(snippet("docs/operations.md", "pull_subscribe"), "operations.md", "exec")
    exec(code, namespace)  # noqa: S102 -- the snippet is the subject under test
    received: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def handle(event: dict[str, Any]) -> None:
        received.append(event)
        if len(received) == 3:
            done.set()

    consumer = asyncio.create_task(namespace["consume"](
        handle, url=stream.url, stream=stream.stream, subjects=f"{stream.prefix}.acme.live.>"))
    async def all_acknowledged() -> bool:
        info = await js.consumer_info(stream.stream, "crm-sync")
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)

    try:
        await asyncio.wait_for(done.wait(), timeout=30)
        # the consumer acknowledges each event after handling it: the last one's ack is
        # on its way when the handler returns
        await eventually(all_acknowledged, "each event acknowledged")
    finally:
        consumer.cancel()
        with suppress(asyncio.CancelledError):
            await consumer
    assert [(e["tenant"], e["mode"], e["data"]["user"]["username"]) for e in received] == [
        ("acme", "live", "bob")] * 3
    assert_commit_order(per_player(received))


async def test_a_players_events_keep_commit_order_when_the_later_write_began_first(
    js: JetStreamContext, stream: StreamSettings, tenant: Tenant, engine: Any,
    clock: ManualClock,
) -> None:
    """The later write took its transaction id first (so ordering by transaction id would
    put its event first), and an older transaction is still running throughout (so
    publishing only below the oldest running one would wait for it)."""
    player = await create_player(tenant, "alice")
    realm = Realm(UUID(tenant.id), Mode.TEST)
    lock = text("SELECT 1 FROM players WHERE tenant_id = :t AND id = :p FOR UPDATE")
    key = {"t": UUID(tenant.id), "p": UUID(player["user_id"])}

    async def change(conn: Any, before: str, after: str) -> UUID:
        await conn.execute(lock, key)
        return await outbox.emit(conn, realm=realm, type="player.status_changed", at=clock.now(),
                                 data={"user": {"user_id": player["user_id"], "username": "alice"},
                                       "from": before, "to": after, "reason": "order"})

    relay = Relay(engine, stream)
    await relay.connect()
    try:
        async with engine.connect() as oldest, engine.connect() as first, \
                engine.connect() as second:
            held = await oldest.begin()
            await oldest.execute(text("SELECT pg_current_xact_id()"))
            later = await second.begin()
            await second.execute(text("SELECT pg_current_xact_id()"))  # an id before first's
            earlier = await first.begin()
            one = await change(first, "active", "suspended")
            waiting = asyncio.create_task(change(second, "suspended", "fraud_hold"))
            await asyncio.sleep(0.2)
            assert not waiting.done()  # it waits for the player's row
            await earlier.commit()
            two = await waiting
            await later.commit()
            assert await drain(relay) == 2
            await held.rollback()
    finally:
        await relay.close()
    assert [m.headers["Nats-Msg-Id"] for m in await consume(js, stream)] == [str(one), str(two)]


async def test_metrics_show_how_far_the_stream_is_behind(
    js: JetStreamContext, stream: StreamSettings, tenant: Tenant, engine: Any, db_url: str,
    settings: Settings, clock: ManualClock,
) -> None:
    await create_player(tenant, "alice")
    await change_statuses(tenant, "alice", 4)
    relay = Relay(engine, stream)
    await relay.connect()  # the stream's row: nothing published yet
    clock.advance(timedelta(seconds=90))
    configured = replace(settings, nats_url=stream.url, nats_stream=stream.stream,
                         nats_subject_prefix=stream.prefix)
    app = create_app(configured, database_url=db_url, clock=clock)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://w.test") as http:
            behind = (await http.get("/metrics")).text
            await drain(relay)
            caught_up = (await http.get("/metrics")).text
    finally:
        await relay.close()
        await app.state.platform.engine.dispose()
    label = f'{{stream="{stream.stream}"}}'
    assert f"wowsino_event_stream_pending{label} 4.0" in behind
    assert f"wowsino_event_stream_oldest_pending_seconds{label} 90.0" in behind
    assert f"wowsino_event_stream_pending{label} 0.0" in caught_up
    assert f"wowsino_event_stream_oldest_pending_seconds{label} 0.0" in caught_up
    assert "wowsino_http_requests_total" in caught_up


async def test_a_relay_without_nats_keeps_trying_and_the_events_wait(
    tenant: Tenant, engine: Any,
) -> None:
    await create_player(tenant, "alice")
    await change_statuses(tenant, "alice", 2)
    unreachable = StreamSettings("nats://127.0.0.1:1", f"WZT_{uuid4().hex[:12]}", "wztdown")
    running = asyncio.create_task(Relay(engine, unreachable).run_forever())
    await asyncio.sleep(1.0)
    assert not running.done()  # failing to connect is logged and retried, never raised
    running.cancel()
    with suppress(asyncio.CancelledError):
        await running
    async with engine.connect() as conn:  # nothing recorded: the events wait in the outbox
        assert await conn.scalar(text("SELECT count(*) FROM outbox_relays")) == 0


async def test_an_event_larger_than_a_message_is_kept_in_the_object_store_and_the_stream_goes_on(
    js: JetStreamContext, stream: StreamSettings, tenant: Tenant, engine: Any,
) -> None:
    """A ``tournament.closed`` of many thousands of payouts is more than a NATS message
    may carry: its message names the object holding the whole of it, in the stream's
    order, and the events after it are published as usual (no pass fails on it)."""
    await create_player(tenant, "alice")
    realm = Realm(UUID(tenant.id), Mode.TEST)
    payouts = [{"rank": rank, "user": {"user_id": str(uuid4()), "username": f"player{rank}"},
                "prize": {"asset": "WINZ", "amount": "10"}} for rank in range(1, 12_001)]
    async with engine.begin() as conn:
        big = await outbox.emit(conn, realm=realm, type="tournament.closed", at=ManualClock().now(),
                                data={"tournament_id": str(uuid4()), "payouts": payouts,
                                      "total_paid": [{"asset": "WINZ", "amount": "120000"}]})
    await change_statuses(tenant, "alice", 2)
    relay = Relay(engine, stream)
    await relay.connect()
    try:
        limit = relay._nc.max_payload
        assert await drain(relay) == len(await outbox_rows(engine)) == 3
    finally:
        await relay.close()

    rows = {row["id"]: row for row in await outbox_rows(engine)}
    envelopes = [json.loads(m.data) for m in await consume(js, stream)]
    assert [e["id"] for e in envelopes] == list(rows)  # every event, in seq order
    whole = {"id": str(big), "type": "tournament.closed", "tenant": tenant.slug, "mode": "test",
             "created_at": iso(rows[str(big)]["created_at"]), "data": rows[str(big)]["data"]}
    size = len(json.dumps(whole).encode())
    assert size > limit  # the event could not be one message
    check = next(e for e in envelopes if e["id"] == str(big))
    assert check["data"] is None
    assert check["data_object"]["bucket"] == stream.bucket
    assert check["data_object"]["name"] == str(big)
    store = await js.object_store(check["data_object"]["bucket"])
    try:
        kept = await store.get(check["data_object"]["name"])
        assert len(kept.data) == check["data_object"]["bytes"]
        assert json.loads(kept.data) == whole
    finally:
        await js.delete_object_store(stream.bucket)
    assert [e["data"]["to"] for e in envelopes if e["type"] == "player.status_changed"] == [
        "suspended", "fraud_hold"]

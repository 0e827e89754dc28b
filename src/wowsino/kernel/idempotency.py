"""Idempotent writes, built once for every write endpoint.

``IdempotentWrites.run`` claims ``(tenant, mode, endpoint, key)`` at the start of
the transaction, performs the effect, stores the response and commits — all in
one transaction. A concurrent duplicate blocks on the claim until the first
commits (then replays its stored response) or rolls back (then performs the
effect itself), so there is never a second effect. A different body under the
same key is refused with 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wowsino.kernel import wire
from wowsino.kernel.canonical import fingerprint
from wowsino.kernel.clock import Clock
from wowsino.kernel.db import sqlstate, unit_of_work
from wowsino.kernel.errors import (
    DomainError,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    ValidationFailed,
)
from wowsino.kernel.ids import new_id, visible_ascii
from wowsino.kernel.jsonio import dumps, loads
from wowsino.kernel.realm import Realm
from wowsino.kernel.wire import Lookup

MAX_KEY_LENGTH = 255
LOCK_WAIT = "10s"  # how long a duplicate waits for the first call before answering 409


# The claim: one statement, see IdempotentWrites.run.
_CLAIM = (
    "INSERT INTO idempotency_keys (tenant_id, mode, endpoint, key, request_hash, created_at, "
    "expires_at) SELECT :tenant_id, :mode, :endpoint, :key, :hash, :now, :expires "
    "FROM (SELECT set_config('lock_timeout', :wait, true)) AS waiting "
    "ON CONFLICT DO NOTHING RETURNING set_config('lock_timeout', '0', true) AS claimed"
)
_STORE = (
    "UPDATE idempotency_keys SET status_code = :status, response = :response "
    "WHERE tenant_id = :tenant_id AND mode = :mode AND endpoint = :endpoint AND key = :key"
)
# A group's claims (``run_group``): in key order, so concurrent groups sharing keys wait
# on each other rather than deadlock.
_CLAIM_MANY = (
    "INSERT INTO idempotency_keys (tenant_id, mode, endpoint, key, request_hash, created_at, "
    "expires_at) SELECT :tenant_id, :mode, :endpoint, k.key, k.hash, :now, :expires "
    "FROM (SELECT set_config('lock_timeout', :wait, true)) AS waiting, "
    "unnest(CAST(:keys AS text[]), CAST(:hashes AS bytea[])) AS k (key, hash) ORDER BY k.key "
    "ON CONFLICT DO NOTHING RETURNING key, set_config('lock_timeout', '0', true) AS claimed"
)
_STORE_MANY = (
    "UPDATE idempotency_keys AS i SET status_code = s.status, response = s.response "
    "FROM unnest(CAST(:keys AS text[]), CAST(:statuses AS integer[]), "
    "CAST(:responses AS text[])) AS s (key, status, response) "
    "WHERE i.tenant_id = :tenant_id AND i.mode = :mode AND i.endpoint = :endpoint "
    "AND i.key = s.key"
)
_RELEASE_MANY = (  # the claims of refused requests: as if their transaction had rolled back
    "DELETE FROM idempotency_keys WHERE tenant_id = :tenant_id AND mode = :mode "
    "AND endpoint = :endpoint AND key = ANY (CAST(:keys AS text[]))"
)
_STORED = text(
    "SELECT key, request_hash, status_code, response FROM idempotency_keys "
    "WHERE tenant_id = :tenant_id AND mode = :mode AND endpoint = :endpoint "
    "AND key = ANY (CAST(:keys AS text[]))"
)


@dataclass(frozen=True)
class WriteResult:
    """What a write endpoint answers: status, body, and whether it was a replay."""

    status: int
    body: dict[str, Any]
    deduped: bool
    key: str
    # ``body`` as JSON, when it was encoded for the stored response: the answer sends
    # these same bytes instead of encoding the body a second time
    encoded: str | None = None


Effect = Callable[[AsyncConnection], Awaitable[tuple[int, dict[str, Any]]]]
# A group's effect: for the requests at the given indexes, in order, each one's
# (status, body), or the refusal it raises when sent alone.
Outcome = tuple[int, dict[str, Any]] | DomainError
GroupEffect = Callable[[AsyncConnection, list[int]], Awaitable[list[Outcome]]]


@dataclass(frozen=True)
class KeyedRequest:
    """One request of a group: its key and its fingerprinted content."""

    key: str
    content: Any


def choose_key(body_key: Any, header_key: str | None) -> str:
    """The key from the body, else the header, else a fresh one. Both given must agree.

    A key is 1 to 255 visible ASCII characters (``!`` to ``~``): it is echoed in the
    ``Idempotency-Key`` response header after the effect commits, so a key that cannot
    travel in a header is refused here, before any effect. Raises ``ValidationFailed``
    (``details.field`` ``idempotency_key``).
    """
    if body_key is not None and not isinstance(body_key, str):
        raise ValidationFailed("idempotency_key: must be a string", field="idempotency_key")
    for given in (body_key, header_key):
        if given is not None and not visible_ascii(given, MAX_KEY_LENGTH):
            raise ValidationFailed(
                f"idempotency_key: 1 to {MAX_KEY_LENGTH} visible ASCII characters "
                "(no spaces, control or non-ASCII characters)", field="idempotency_key"
            )
    if body_key and header_key and body_key != header_key:
        raise ValidationFailed(
            "idempotency_key: body and Idempotency-Key header disagree", field="idempotency_key"
        )
    return body_key or header_key or f"auto_{new_id().hex}"


class IdempotentWrites:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, retention_days: int = 30) -> None:
        self.engine = engine
        self.clock = clock
        self.retention = timedelta(days=retention_days)

    async def run(
        self, *, realm: Realm, endpoint: str, key: str, request: Any, effect: Effect,
        lookups: Sequence[Lookup] = (),
    ) -> WriteResult:
        """Perform ``effect`` once per key; replay the stored response afterwards.

        ``lookups``: reads the effect starts with, sent with the claim (``kernel.wire``).
        The effect's deferred writes go with the stored response, in one statement.
        """
        request_hash = fingerprint(request)

        async def attempt(conn: AsyncConnection) -> WriteResult:
            now = self.clock.now()
            where = {**realm.params, "endpoint": endpoint, "key": key}
            claim, lookup_params = wire.with_lookups(_CLAIM, lookups)
            try:
                # One statement: it sets this transaction's lock_timeout to LOCK_WAIT before the
                # row it inserts exists (so before any wait on a concurrent claim of the key),
                # and, once the key is claimed, back to 0 in its RETURNING: the effect's own
                # lock waits (and the lookups, run only once the key is claimed) have no limit.
                # A replay keeps LOCK_WAIT for its one read.
                rows = await wire.send(conn, claim, {
                    **where, "hash": request_hash, "now": now, "expires": now + self.retention,
                    "wait": LOCK_WAIT, **lookup_params})
            except DBAPIError as exc:
                if sqlstate(exc) == "55P03":  # lock_timeout: the first call is still running
                    raise IdempotencyInProgress(
                        "a request with this idempotency key is still in progress; retry shortly"
                    ) from None
                raise
            if not rows:
                return await self._replay(conn, realm, endpoint, key, request_hash)
            _, answers = wire.split(rows[0], 1, lookups)
            async with wire.deferring(conn), wire.prefetching(conn, answers):
                status, body = await effect(conn)
                # an effect may itself report a natural-key replay (deduped: true)
                body = {**body, "deduped": bool(body.get("deduped", False))}
                encoded = dumps(body)
                await wire.flush(conn, (_STORE, {**where, "status": status,
                                                 "response": encoded}))
            return WriteResult(status, body, body["deduped"], key, encoded)

        return await unit_of_work(self.engine, attempt)

    async def run_group(
        self, *, realm: Realm, endpoint: str, requests: list[KeyedRequest], effect: GroupEffect,
    ) -> list[WriteResult | DomainError]:
        """Several requests to one endpoint, each under its own key, in one transaction:
        what ``run`` does for each, with one claim, one effect and one store for all.

        Each request gets exactly the answer ``run`` would give it: its effect's response
        the first time (stored under its key), the stored response on a replay, 422 for
        its key reused with another body, or its refusal, which stores nothing (its claim
        is released, as its rolled-back transaction would have). Keys must be distinct.
        An error of the group as a whole (a refusal the effect raises instead of
        returning, the database) raises: the caller may then send the requests one by one.
        """
        hashes = [fingerprint(r.content) for r in requests]
        keys = [r.key for r in requests]
        assert len(set(keys)) == len(keys), "a group's keys must be distinct"

        async def attempt(conn: AsyncConnection) -> list[WriteResult | DomainError]:
            now = self.clock.now()
            where = {**realm.params, "endpoint": endpoint}
            try:
                rows = await wire.send(conn, _CLAIM_MANY, {
                    **where, "keys": keys, "hashes": hashes, "now": now,
                    "expires": now + self.retention, "wait": LOCK_WAIT})
            except DBAPIError as exc:
                if sqlstate(exc) == "55P03":
                    raise IdempotencyInProgress(
                        "a request with this idempotency key is still in progress; retry "
                        "shortly") from None
                raise
            claimed = {row[0] for row in rows}
            out: list[WriteResult | DomainError | None] = [None] * len(requests)
            replays = [i for i, key in enumerate(keys) if key not in claimed]
            if replays:
                stored = {row.key: row for row in await conn.execute(
                    _STORED, {**where, "keys": [keys[i] for i in replays]})}
                for i in replays:
                    out[i] = _stored_answer(stored[keys[i]], keys[i], hashes[i])
            fresh = [i for i, key in enumerate(keys) if key in claimed]
            if fresh:
                async with wire.deferring(conn):
                    outcomes = await effect(conn, fresh)
                    done: list[tuple[str, int, str]] = []
                    refused: list[str] = []
                    for i, outcome in zip(fresh, outcomes, strict=True):
                        if isinstance(outcome, DomainError):
                            out[i] = outcome
                            refused.append(keys[i])
                            continue
                        status, body = outcome
                        body = {**body, "deduped": bool(body.get("deduped", False))}
                        encoded = dumps(body)
                        out[i] = WriteResult(status, body, body["deduped"], keys[i], encoded)
                        done.append((keys[i], status, encoded))
                    if refused:
                        await wire.defer(conn, (_RELEASE_MANY, {**where, "keys": refused}))
                    await wire.flush(conn, (_STORE_MANY, {
                        **where, "keys": [d[0] for d in done], "statuses": [d[1] for d in done],
                        "responses": [d[2] for d in done]}) if done else None)
            assert all(o is not None for o in out)
            return [o for o in out if o is not None]

        return await unit_of_work(self.engine, attempt)

    async def _replay(
        self, conn: AsyncConnection, realm: Realm, endpoint: str, key: str, request_hash: bytes
    ) -> WriteResult:
        row = (await conn.execute(
            _STORED, {**realm.params, "endpoint": endpoint, "keys": [key]})).one()
        answer = _stored_answer(row, key, request_hash)
        if isinstance(answer, DomainError):
            raise answer
        return answer

    async def purge_expired(self) -> int:
        """Delete keys past their retention; returns how many."""

        async def purge(conn: AsyncConnection) -> int:
            result = await conn.execute(
                text("DELETE FROM idempotency_keys WHERE expires_at < :now"),
                {"now": self.clock.now()},
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

        return await unit_of_work(self.engine, purge)


def _stored_answer(row: Any, key: str, request_hash: bytes) -> WriteResult | DomainError:
    """The replay of a stored response, or 422 when the key came with another body."""
    if bytes(row.request_hash) != request_hash:
        return IdempotencyKeyReused(
            "this idempotency key was already used with a different request body")
    body = loads(row.response)
    body["deduped"] = True
    return WriteResult(200, body, True, key)

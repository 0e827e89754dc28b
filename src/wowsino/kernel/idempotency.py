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
_STORED = text(
    "SELECT request_hash, status_code, response FROM idempotency_keys "
    "WHERE tenant_id = :tenant_id AND mode = :mode AND endpoint = :endpoint AND key = :key"
)


@dataclass(frozen=True)
class WriteResult:
    """What a write endpoint answers: status, body, and whether it was a replay."""

    status: int
    body: dict[str, Any]
    deduped: bool
    key: str


Effect = Callable[[AsyncConnection], Awaitable[tuple[int, dict[str, Any]]]]


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
                await wire.flush(conn, (_STORE, {**where, "status": status,
                                                 "response": dumps(body)}))
            return WriteResult(status, body, body["deduped"], key)

        return await unit_of_work(self.engine, attempt)

    async def _replay(
        self, conn: AsyncConnection, realm: Realm, endpoint: str, key: str, request_hash: bytes
    ) -> WriteResult:
        row = (
            await conn.execute(
                _STORED,
                {**realm.params, "endpoint": endpoint, "key": key},
            )
        ).one()
        if bytes(row.request_hash) != request_hash:
            raise IdempotencyKeyReused(
                "this idempotency key was already used with a different request body"
            )
        body = loads(row.response)
        body["deduped"] = True
        return WriteResult(200, body, True, key)

    async def purge_expired(self) -> int:
        """Delete keys past their retention; returns how many."""

        async def purge(conn: AsyncConnection) -> int:
            result = await conn.execute(
                text("DELETE FROM idempotency_keys WHERE expires_at < :now"),
                {"now": self.clock.now()},
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

        return await unit_of_work(self.engine, purge)

"""The wager spine: every settled wager goes through one path, a batch of one or of
a thousand alike.

1. Each event is checked on its own; a refused event carries its own error envelope.
2. Events are recorded set-based, deduped on ``(realm, source_wager_id)``: the same id
   with the same content replays the stored answer, with other content is refused
   with 409 ``SOURCE_ID_REUSED`` (a repeat inside one batch is judged the same way).
3. Every registered consumer runs once over the new wagers, in registry order, in the
   caller's transaction; their effects are stored with each wager for replays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from simplejson import RawJSON
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.events import repository
from wowsino.events.registry import DEPOSIT_CONSUMERS, WAGER_CONSUMERS
from wowsino.events.schemas import DepositIn, WagerIn
from wowsino.events.wagers import MAX_EVENT_MINOR, Context, Deposit, Wager
from wowsino.kernel.canonical import canonical, fingerprint, sha256
from wowsino.kernel.clock import iso
from wowsino.kernel.errors import Conflict, DomainError, NotFound, ValidationFailed
from wowsino.kernel.jsonio import dumps, loads
from wowsino.kernel.money import Asset, asset, from_minor, to_minor
from wowsino.kernel.realm import Realm
from wowsino.players import repository as players

Body = dict[str, Any]


def source_id_reused(kind: str, source_id: str) -> Conflict:
    return Conflict(f"{kind} {source_id!r} was already used with different content",
                    code="SOURCE_ID_REUSED", field=kind)


def _currency(code: str) -> Asset:
    found = asset(code, field="currency")
    if not found.is_currency:
        raise ValidationFailed(f"currency: {found.code} is not a currency", field="currency")
    return found


def pydantic_refusal(error: ValidationError, prefix: str = "") -> ValidationFailed:
    """A pydantic error as the API's 400, naming the first bad field."""
    first = error.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return ValidationFailed(f"{prefix}{field}: {first.get('msg', 'invalid')}",
                            field=f"{prefix}{field}")


class _Parsed:
    """One checked event, before its player is resolved."""

    __slots__ = ("amount", "currency", "fingerprint", "given", "index", "win")

    def __init__(self, index: int, given: WagerIn, currency: Asset, amount: int,
                 win: int) -> None:
        self.index, self.given, self.currency = index, given, currency
        self.amount, self.win = amount, win
        self.fingerprint = b""


def _amount(value: Any, currency: Asset, field: str, *, allow_zero: bool = False) -> int:
    """An event amount in minor units, at most ``MAX_EVENT_MINOR`` (so counters and sums
    stay far inside 64 bits)."""
    minor = to_minor(value, currency, field=field, allow_zero=allow_zero)
    if minor > MAX_EVENT_MINOR:
        raise ValidationFailed(f"{field}: at most {from_minor(MAX_EVENT_MINOR, currency)}",
                               field=field)
    return minor


def _parse(index: int, raw: Any) -> _Parsed:
    given = raw if isinstance(raw, WagerIn) else WagerIn.model_validate(raw)
    currency = _currency(given.currency)
    amount = _amount(given.amount, currency, "amount")
    win = 0 if given.win_amount is None else _amount(given.win_amount, currency, "win_amount",
                                                     allow_zero=True)
    return _Parsed(index, given, currency, amount, win)


def _content(parsed: _Parsed, player_id: UUID) -> bytes:
    """What ``SOURCE_ID_REUSED`` compares: the event as sent, with the player resolved.

    The repr of a tuple of str, int and None is exact and stable, and far cheaper per
    event than the canonical JSON of a document."""
    g = parsed.given
    settled = None if g.settled_at is None else iso(g.settled_at)
    return sha256(repr((str(player_id), parsed.currency.code, parsed.amount, parsed.win,
                        g.game_id, g.game_category, g.funding, settled)).encode())


def _refusal(error: DomainError) -> Body:
    return {"status": error.status, **error.body()}


def _answer(wager: Wager | dict[str, Any], effects: Body | RawJSON, *, deduped: bool) -> Body:
    get = wager.get if isinstance(wager, dict) else lambda k: getattr(wager, k)
    return {"status": 200 if deduped else 201, "source_wager_id": get("source_wager_id"),
            "user_id": str(get("player_id")), "deduped": deduped, "effects": effects}


@dataclass
class _Batch:
    """A batch on its way through the spine: one result slot per event, in order."""

    results: list[Body | None]
    parsed: list[_Parsed] = field(default_factory=list)
    candidates: dict[str, tuple[Wager, bytes]] = field(default_factory=dict)  # first uses
    repeats: list[tuple[_Parsed, bytes]] = field(default_factory=list)  # later uses

    def refuse(self, index: int, error: DomainError) -> None:
        self.results[index] = _refusal(error)


def _check(events: list[Any]) -> _Batch:
    """Each event checked on its own; a bad one gets its refusal, the rest go on."""
    batch = _Batch([None] * len(events))
    for index, raw in enumerate(events):
        try:
            batch.parsed.append(_parse(index, raw))
        except ValidationError as error:
            batch.refuse(index, pydantic_refusal(error))
        except DomainError as error:
            batch.refuse(index, error)
    return batch


def _resolve(batch: _Batch, players: dict[str, dict[str, Any]], at: datetime,
             bonus_money_moved: bool = False) -> None:
    """Name each event's player; the first use of a ``source_wager_id`` becomes a
    candidate wager, a later use in the same batch a repeat judged against it."""
    for p in batch.parsed:
        player = players.get(p.given.user_id)
        if player is None:
            batch.refuse(p.index, NotFound(f"no player {p.given.user_id!r}", code="NO_PLAYER"))
            continue
        content = _content(p, player["id"])
        if p.given.source_wager_id in batch.candidates:
            batch.repeats.append((p, content))
            continue
        wager = Wager(p.given.source_wager_id, player["id"], player["brand_id"],
                      p.currency.code, p.amount, p.win, p.given.game_id, p.given.game_category,
                      p.given.funding, p.given.settled_at or at, bonus_money_moved)
        batch.candidates[wager.source_wager_id] = (wager, content)
        p.fingerprint = content


def _judge(batch: _Batch, new: dict[str, str], stored: dict[str, dict[str, Any]]
           ) -> list[Body]:
    """The answer of each event: new (201), a replay (200) or ``SOURCE_ID_REUSED``.
    ``new``: the effects of each new wager, encoded (sent as they are)."""
    first: dict[str, Body] = {}
    for p in batch.parsed:
        if batch.results[p.index] is not None or not p.fingerprint:
            continue
        wager_id = p.given.source_wager_id
        if wager_id in new:
            result = _answer(batch.candidates[wager_id][0], RawJSON(new[wager_id]),
                             deduped=False)
        else:
            row = stored[wager_id]
            result = (_answer(row, row["effects"], deduped=True)
                      if row["fingerprint"] == p.fingerprint
                      else _refusal(source_id_reused("source_wager_id", wager_id)))
        batch.results[p.index] = first[wager_id] = result
    for p, content in batch.repeats:
        wager_id = p.given.source_wager_id
        earlier = first[wager_id]
        batch.results[p.index] = (
            {**earlier, "status": 200, "deduped": True}
            if content == batch.candidates[wager_id][1] and "error" not in earlier
            else _refusal(source_id_reused("source_wager_id", wager_id)))
    return [r for r in batch.results if r is not None]


async def record_wagers(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, service_mode: str,
    events: list[Any], at: datetime, bonus_money_moved: bool = False,
) -> list[Body]:
    """Record ``events`` and run every consumer over the new ones; one result per event,
    in order: ``{status, source_wager_id, user_id, deduped, effects}`` or an error
    envelope ``{status, error, code, details}``.

    ``bonus_money_moved``: the caller's wallet already moved the bonus money of these
    wagers (the seamless wallet, ``games``); see ``Wager``."""
    batch = _check(events)
    readers = [c for c in WAGER_CONSUMERS if c.reads is not None]
    players, values = await _players(
        conn, realm, brand_id, [p.given.user_id for p in batch.parsed],
        currencies=sorted({p.currency.code for p in batch.parsed}),
        reads=(repository.STORED_WAGERS, *(c.reads for c in readers if c.reads is not None)),
        wager_ids=sorted({p.given.source_wager_id for p in batch.parsed}))
    stored_value, *read_values = values
    stored = repository.stored_from(stored_value or [])
    _resolve(batch, players, at, bonus_money_moved)
    new = [w for w, _ in batch.candidates.values() if w.source_wager_id not in stored]
    ctx = Context(service_mode, at,
                  {c.name: v for c, v in zip(readers, read_values, strict=True)})
    effects = await run_consumers(conn, realm, new, ctx)
    # the wagers' own rows go last, with their answers: a concurrent first use of one of
    # the ids since they were read above is a lost race, retried (``WAGER_KEY``)
    encoded = {w.source_wager_id: dumps(effects[w.source_wager_id]) for w in new}
    await repository.insert_wagers(conn, realm, [
        (w, batch.candidates[w.source_wager_id][1], encoded[w.source_wager_id]) for w in new],
        at)
    return _judge(batch, encoded, stored)


async def _players(
    conn: AsyncConnection, realm: Realm, brand_id: UUID, refs: list[str], *,
    currencies: Sequence[str] = (), reads: tuple[str, ...] = (),
    wager_ids: Sequence[str] = (),
) -> tuple[dict[str, dict[str, Any]], list[Any]]:
    """Each reference (username or UUID) mapped to its player in the brand, and the value
    of each read in ``reads`` (``repository.players_by_ref``), in one round trip."""
    if not refs:
        return {}, [None] * len(reads)
    ids = players.parsed_refs(refs)
    rows, values = await repository.players_by_ref(
        conn, realm, brand_id, [r for r, u in ids.items() if u is None],
        [u for u in ids.values() if u is not None], currencies=currencies, reads=reads,
        wager_ids=wager_ids)
    return players.matched(ids, rows), values


async def run_consumers(
    conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context
) -> dict[str, Body]:
    """Every consumer over ``wagers``, in registry order: effects per wager and consumer."""
    effects: dict[str, Body] = {
        w.source_wager_id: {c.name: [] for c in WAGER_CONSUMERS if c.name != "activity"}
        for w in wagers}
    if not wagers:
        return effects
    for consumer in WAGER_CONSUMERS:
        done = await consumer.apply(conn, realm, wagers, ctx)
        for wager_id, items in done.items():
            effects[wager_id].setdefault(consumer.name, []).extend(items)
    return effects


async def record_wager(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, service_mode: str, event: WagerIn,
    at: datetime,
) -> tuple[int, Body]:
    """One wager event: 201 with the effects, 200 with the stored answer for a replay;
    raises the event's refusal (400, 404 ``NO_PLAYER``, 409 ``SOURCE_ID_REUSED``)."""
    [result] = await record_wagers(conn, realm=realm, brand_id=brand_id,
                                   service_mode=service_mode, events=[event], at=at)
    answer = outcome(result)
    if isinstance(answer, DomainError):
        raise answer
    return answer


def outcome(result: Body) -> tuple[int, Body] | DomainError:
    """One result of ``record_wagers`` as a single event's answer: ``(status, body)``, or
    the refusal ``record_wager`` raises."""
    result = dict(result)
    status = int(result.pop("status"))
    if "error" in result:
        return _as_error(status, result)
    return status, result


def _as_error(status: int, body: Body) -> DomainError:
    error = DomainError(body["error"], code=body["code"], **body.get("details", {}))
    error.status = status
    return error


async def record_batch(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, service_mode: str,
    events: list[Any], at: datetime,
) -> tuple[int, Body]:
    results = await record_wagers(conn, realm=realm, brand_id=brand_id,
                                  service_mode=service_mode, events=events, at=at)
    accepted = sum(1 for r in results if "error" not in r)
    return 201, {"results": results, "accepted": accepted, "refused": len(results) - accepted}


async def rollback_wager(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, source_wager_id: str,
    at: datetime,
) -> tuple[int, Body]:
    """Void a wager: every consumer reverses what it did (jackpot contributions stay).

    A second rollback answers 200 with ``already_rolled_back: true``. Raises 404
    ``NO_WAGER`` for an unknown id.
    """
    stored = (await repository.stored_wagers(conn, realm, [source_wager_id],
                                             for_update=True)).get(source_wager_id)
    if stored is None:
        raise NotFound(f"no wager {source_wager_id!r}", code="NO_WAGER")
    if stored["rolled_back_at"] is not None:
        return 200, {"source_wager_id": source_wager_id, "rolled_back_at":
                     stored["rolled_back_at"], "already_rolled_back": True, "effects": {}}
    wager = Wager(source_wager_id, stored["player_id"], stored["brand_id"],
                  stored["currency"], int(stored["amount"]), int(stored["win_amount"]),
                  stored["game_id"], stored["game_category"], stored["funding"],
                  stored["settled_at"])
    ctx = Context(service_mode, at)
    effects: Body = {}
    for consumer in WAGER_CONSUMERS:
        done = await consumer.reverse(conn, realm, [wager], ctx)
        if consumer.name != "activity":
            effects[consumer.name] = done.get(source_wager_id, [])
    await repository.mark_rolled_back(conn, realm, source_wager_id, at)
    return 201, {"source_wager_id": source_wager_id, "rolled_back_at": at,
                 "already_rolled_back": False, "effects": effects}


async def record_deposit(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, service_mode: str, event: DepositIn,
    at: datetime,
) -> tuple[int, Body]:
    """Record a deposit (counters, ``first_deposit_at``), grant what it qualifies for
    (promo code, automatic deposit match or reload, the referrer's bonus) and name the
    journey triggers it fires. Deduped on ``source_deposit_id``."""
    currency = _currency(event.currency)
    amount = _amount(event.amount, currency, "amount")
    player = (await _players(conn, realm, brand_id, [event.user_id]))[0].get(event.user_id)
    if player is None:
        raise NotFound(f"no player {event.user_id!r}", code="NO_PLAYER")
    content = fingerprint({"player_id": str(player["id"]), "currency": currency.code,
                           "amount": amount, "promo_code": event.promo_code})
    first = await repository.first_deposit_lock(conn, realm, player["id"])
    deposit = Deposit(event.source_deposit_id, player["id"], player["brand_id"], currency.code,
                      amount, event.promo_code, first)
    if not await repository.insert_deposit(conn, realm, deposit, content, at):
        row = await repository.stored_deposit(conn, realm, event.source_deposit_id)
        assert row is not None
        if bytes(row["fingerprint"]) != content:
            raise source_id_reused("source_deposit_id", event.source_deposit_id)
        return 200, {**row["effects"], "deduped": True}
    ctx = Context(service_mode, at)
    effects: Body = {}
    for consumer in DEPOSIT_CONSUMERS:
        done = await consumer.apply(conn, realm, deposit, ctx)
        if consumer.name != "activity":
            effects[consumer.name] = done
    body = {"deposit": {"source_deposit_id": deposit.source_deposit_id,
                        "user_id": str(player["id"]), "amount": from_minor(amount, currency),
                        "currency": currency.code, "first_deposit": first},
            "triggers": ["deposit", "first_deposit"] if first else ["deposit"],
            "effects": effects}
    stored = canonical(body).decode()
    await repository.store_deposit_effects(conn, realm, deposit.source_deposit_id, stored)
    return 201, {**loads(stored), "deduped": False}

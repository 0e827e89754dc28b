"""Jackpot rules: configuration, contributions, drops.

Concurrency (see ``stripes``): an ordinary contribution updates one stripe row
and appends ledger postings — it never locks the jackpot row. A contribution that
could reach the round's trigger (``must_drop_at`` or the mystery point), a manual
drop and a change of the trigger take the jackpot row and every stripe, so each
drop is decided on the exact pool, once.

The trigger is never passed: the contribution that reaches it is capped so the
pool lands exactly on it, and the excess is not taken (the contribution's
``amount`` is what the pool took, ``requested_amount`` what was offered). That
contributor wins at once. A contributor who is not ``active`` cannot win: the drop
goes to the round's most recent eligible contributor instead, and when there is
none the pool waits, full, for the next eligible contribution (which then adds
nothing and wins). Each drop pays the whole pool, then the next round starts at
the configured seed, funded as in ``flows``.

A pool without a trigger is bounded by its currency's maximum (``Asset.max_minor``,
as every amount is): its stripes share the headroom below that bound, and a
contribution that would take the pool past it is refused (400 naming ``amount``)
until the pool drops, so a pool total always fits the ledger.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.compliance import service as compliance
from wowsino.engines import lifecycle, rewards
from wowsino.engines.jackpots import flows, repository, rounds, stripes, views
from wowsino.kernel import audit, outbox, wire
from wowsino.kernel.errors import Conflict, NotFound, ValidationFailed
from wowsino.kernel.ids import new_id, parse_uuid
from wowsino.kernel.money import ASSETS, Asset, Rail, asset, from_minor, to_minor
from wowsino.kernel.realm import SYSTEM, Actor, Realm
from wowsino.players import repository as player_repository
from wowsino.players import service as players

TABLE, NOUN, NOT_FOUND = "jackpots", "jackpot", "NO_JACKPOT"
CONFIG = ("name", "currency", "seed", "contribution_pct", "must_drop_at", "mystery")
CONTRIBUTORS_BATCH = 50


async def load(
    conn: AsyncConnection, realm: Realm, ref: str, *, for_update: bool = False
) -> dict[str, Any]:
    """The jackpot row (secrets included: never show it as is), or 404 ``NO_JACKPOT``."""
    return await lifecycle.load(conn, table=TABLE, realm=realm, ref=ref,
                                not_found_code=NOT_FOUND, noun=NOUN, for_update=for_update)


async def show(conn: AsyncConnection, realm: Realm, ref: str,
               viewer_brand: UUID | None = None) -> dict[str, Any]:
    """The public view of one jackpot, or 404 ``NO_JACKPOT``."""
    jackpot_id = parse_uuid(ref)
    row = None if jackpot_id is None else await repository.view(conn, realm, jackpot_id)
    if row is None:
        raise NotFound(f"no jackpot {ref!r}", code=NOT_FOUND)
    return views.jackpot(row, viewer_brand)


def _currency(code: str) -> Asset:
    found = asset(code, field="currency")
    if not found.is_currency:
        raise ValidationFailed(f"currency: {found.code} is not a currency", field="currency")
    return found


def _headroom(terms: rounds.RoundTerms | dict[str, Any], pool: int, currency: str) -> int:
    """What the stripes share: room below the round's trigger or, without one, below the
    currency's bound."""
    trigger = terms["trigger_at"] if isinstance(terms, dict) else terms.trigger_at
    return _room(trigger, pool, currency)


def _room(trigger: int | None, pool: int, currency: str) -> int:
    return max((ASSETS[currency].max_minor if trigger is None else trigger) - pool, 0)


def _config(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in CONFIG}


async def create(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, fields: dict[str, Any],
    actor: Actor, at: datetime,
) -> tuple[int, dict[str, Any]]:
    """Configure a pool and fund its first round's seed; audited."""
    currency = _currency(fields["currency"])
    seed = to_minor(fields["seed_usd"], currency, field="seed_usd")
    raw_must = fields.get("must_drop_at")
    must = None if raw_must is None else to_minor(raw_must, currency, field="must_drop_at")
    mystery = bool(fields.get("mystery", False))
    rounds.check_config(seed=seed, must_drop_at=must, mystery=mystery)
    jackpot_id = new_id()
    terms = rounds.new_round(jackpot_id, 1, seed=seed, must_drop_at=must, mystery=mystery)
    values = {"id": jackpot_id, "name": fields["name"], "currency": currency.code, "seed": seed,
              "contribution_pct": fields.get("contribution_pct"), "must_drop_at": must,
              "mystery": mystery, "stripes": stripes.STRIPES, "round": 1,
              "round_started_at": at, **terms.columns(), "created_at": at, "updated_at": at}
    await repository.insert_jackpot(conn, realm, values)
    await stripes.create(conn, realm, jackpot_id, stripes=stripes.STRIPES, round=1,
                         headroom=_headroom(terms, seed, currency.code))
    await flows.fund_seed(conn, realm=realm, service_mode=service_mode, jackpot=values,
                          amount=seed, round=1, at=at)
    await audit.record(conn, realm=realm, actor=actor, action="jackpot.created",
                       target_type=NOUN, target_id=str(jackpot_id), after=_config(values),
                       at=at)
    return 201, {"jackpot": await show(conn, realm, str(jackpot_id))}


def _changes(jackpot: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """The columns a PATCH sets, validated against the pool's currency and rules."""
    currency = ASSETS[jackpot["currency"]]
    for required in ("name", "seed_usd"):
        if required in requested and requested[required] is None:
            raise ValidationFailed(f"{required}: must not be null", field=required)
    values: dict[str, Any] = {}
    if "name" in requested:
        values["name"] = requested["name"]
    if "contribution_pct" in requested:
        values["contribution_pct"] = requested["contribution_pct"]
    if "seed_usd" in requested:
        values["seed"] = to_minor(requested["seed_usd"], currency, field="seed_usd")
    if "must_drop_at" in requested:
        raw = requested["must_drop_at"]
        values["must_drop_at"] = None if raw is None else to_minor(raw, currency,
                                                                   field="must_drop_at")
    rounds.check_config(seed=values.get("seed", jackpot["seed"]),
                        must_drop_at=values.get("must_drop_at", jackpot["must_drop_at"]),
                        mystery=jackpot["mystery"])
    return values


async def update(
    conn: AsyncConnection, *, realm: Realm, ref: str, requested: dict[str, Any], actor: Actor,
    at: datetime,
) -> dict[str, Any]:
    """PATCH: the seed applies from the next reset; ``must_drop_at`` at once (it must
    exceed the current pool), except on a mystery pool, where the committed drop
    point stands until the next reset. Audited."""
    jackpot = await load(conn, realm, ref, for_update=True)
    values = _changes(jackpot, requested)
    must = values.get("must_drop_at", jackpot["must_drop_at"])
    if ("must_drop_at" in values and not jackpot["mystery"]
            and must != jackpot["round_must_drop_at"]):
        locked = await stripes.lock(conn, realm, jackpot)
        pool = jackpot["round_seed"] + locked.contributed
        if must is not None and must <= pool:
            raise ValidationFailed("must_drop_at: must be greater than the current pool",
                                   field="must_drop_at")
        await stripes.settle(conn, realm, jackpot["id"], stripes=locked.stripes, own=0,
                             amount=0, headroom=_room(must, pool, jackpot["currency"]))
        values.update(round_must_drop_at=must, trigger_at=must)
    await repository.update_jackpot(conn, realm, jackpot["id"], {**values, "updated_at": at})
    after = {**jackpot, **values}
    await audit.record(conn, realm=realm, actor=actor, action="jackpot.updated",
                       target_type=NOUN, target_id=str(jackpot["id"]),
                       before=_config(jackpot), after=_config(after), at=at)
    return {"jackpot": await show(conn, realm, str(jackpot["id"]))}


async def set_status(
    conn: AsyncConnection, *, realm: Realm, ref: str, to: str, actor: Actor, at: datetime
) -> dict[str, Any]:
    """Pause or resume; a paused pool refuses contributions and drops (409 ``NOT_ACTIVE``)."""
    jackpot = await load(conn, realm, ref, for_update=True)
    await lifecycle.set_status(conn, table=TABLE, realm=realm, entity=jackpot, to=to,
                               noun=NOUN, actor=actor, at=at)
    return {"jackpot": await show(conn, realm, str(jackpot["id"]))}


def contribution_lookups(realm: Realm, brand_id: UUID, ref: str, user_ref: str
                         ) -> list[wire.Lookup]:
    """The reads ``contribute`` starts with (neither locks), sent with the write's claim."""
    pool = lifecycle.load_lookup(table=TABLE, realm=realm, ref=ref)
    return [*([pool] if pool else []), player_repository.find_lookup(realm, brand_id, user_ref),
            compliance.rules_lookup(realm, brand_id)]


async def contribute(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, service_mode: str, ref: str,
    user_ref: str, source_wager_id: str, amount: Any, at: datetime,
) -> tuple[int, dict[str, Any]]:
    """Add a contribution (funded per ``flows``) and drop the pool if it reaches the trigger.

    Deduped on ``source_wager_id`` per pool: a second use answers 200 with the original
    contribution and adds nothing. Raises 404 ``NO_JACKPOT``/``NO_PLAYER``, 409
    ``NOT_ACTIVE`` for a paused pool, 400 for a bad amount.
    """
    jackpot = await load(conn, realm, ref)
    lifecycle.require_active(jackpot, NOUN)
    minor = to_minor(amount, ASSETS[jackpot["currency"]], field="amount")
    player = await players.get(conn, realm, brand_id, user_ref)
    _check_winnable(player, jackpot, service_mode)
    decision = await gate.decide(
        conn, gate.Facts(gate.Action.JACKPOT_CONTRIBUTION, player,
                         await gate.rules_for(conn, realm, player), at),
        realm=realm, actor=SYSTEM, target_type="jackpot", target_id=str(jackpot["id"]),
        context={"source_wager_id": source_wager_id})
    if not decision.allowed:
        return 403, decision.refusal()
    row = {"id": new_id(), "jackpot_id": jackpot["id"], "round": jackpot["round"],
           "player_id": player["id"], "brand_id": player["brand_id"],
           "source_wager_id": source_wager_id, "requested": minor, "amount": minor}
    if not await repository.insert_contribution(conn, realm, {**row, "at": at}):
        return 200, await _original(conn, realm, jackpot, source_wager_id, brand_id)
    own = row["id"].int % jackpot["stripes"]
    contributed = await stripes.claim(conn, realm, jackpot, amount=minor, own=own)
    if contributed is None:
        return 201, await _contribute_exclusively(
            conn, realm=realm, service_mode=service_mode, ref=ref, row=row, player=player,
            own=own, viewer_brand=brand_id, at=at)
    await flows.take_contribution(conn, realm=realm, service_mode=service_mode, jackpot=jackpot,
                                  contribution_id=row["id"], amount=minor, at=at)
    return 201, views.contribution(row, currency_code=jackpot["currency"],
                                   pool=jackpot["round_seed"] + contributed, dropped=None)


def _check_winnable(player: dict[str, Any], jackpot: dict[str, Any], service_mode: str) -> None:
    """In white-label a win is paid to the player's real rail, which holds the player's
    currency only: a pool in another currency is not theirs to feed or win (400
    ``CURRENCY_MISMATCH``). In plug-in the operator pays in its own wallet."""
    if service_mode != rewards.PLUG_IN:
        players.check_currency(player, Rail.REAL, ASSETS[jackpot["currency"]])


async def _original(
    conn: AsyncConnection, realm: Realm, jackpot: dict[str, Any], source_wager_id: str,
    viewer_brand: UUID,
) -> dict[str, Any]:
    """The contribution already recorded for ``source_wager_id``, with the pool as it is now
    (a drop it won names its winner only to a key of the winner's brand)."""
    row = await repository.contribution_by_wager(conn, realm, jackpot["id"], source_wager_id)
    won = await repository.drop_by_contribution(conn, realm, jackpot["id"], row["id"])
    dropped = None if won is None else views.drop(
        won, jackpot["currency"], show_winner=row["brand_id"] == viewer_brand)
    current = await repository.view(conn, realm, jackpot["id"])
    assert current is not None  # loaded above, and jackpots are never deleted
    body = views.contribution(row, currency_code=jackpot["currency"],
                              pool=int(current["pool"]), dropped=dropped)
    return {**body, "deduped": True}


async def _contribute_exclusively(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, ref: str, row: dict[str, Any],
    player: dict[str, Any], own: int, viewer_brand: UUID, at: datetime,
) -> dict[str, Any]:
    """The exact path: lock the pool, cap the contribution at the trigger, drop if reached."""
    jackpot = await load(conn, realm, ref, for_update=True)
    lifecycle.require_active(jackpot, NOUN)
    locked = await stripes.lock(conn, realm, jackpot)
    pool = jackpot["round_seed"] + locked.contributed
    headroom = _headroom(jackpot, pool, jackpot["currency"])
    if jackpot["trigger_at"] is None and row["requested"] > headroom:
        unit = ASSETS[jackpot["currency"]]
        raise ValidationFailed(
            f"amount: the pool would exceed its maximum of {from_minor(unit.max_minor, unit)} "
            f"{unit.code}; it takes contributions again after it drops", field="amount",
            room=str(from_minor(headroom, unit)))
    taken = min(row["requested"], headroom)
    row = {**row, "round": jackpot["round"], "amount": taken}
    await repository.settle_contribution(conn, realm, row["id"], round=row["round"],
                                         amount=taken)
    await stripes.settle(conn, realm, jackpot["id"], stripes=locked.stripes, own=own,
                         amount=taken, headroom=headroom - taken)
    await flows.take_contribution(conn, realm=realm, service_mode=service_mode, jackpot=jackpot,
                                  contribution_id=row["id"], amount=taken, at=at)
    pool += taken
    if jackpot["trigger_at"] is None or taken < headroom:
        return views.contribution(row, currency_code=jackpot["currency"], pool=pool,
                                  dropped=None)
    winner = player if rewards.is_eligible(player) else await _last_eligible_contributor(
        conn, realm, jackpot)
    if winner is None:  # full, waiting for an eligible contributor
        return views.contribution(row, currency_code=jackpot["currency"], pool=pool,
                                  dropped=None)
    dropped = await _drop(
        conn, realm=realm, service_mode=service_mode, jackpot=jackpot, pool=pool,
        winner=winner, reason="mystery" if jackpot["mystery"] else "must_drop",
        contribution_id=row["id"] if winner["id"] == player["id"] else None,
        viewer_brand=viewer_brand, at=at)
    return views.contribution(row, currency_code=jackpot["currency"],
                              pool=dropped["pool_after_minor"], dropped=dropped["view"])


async def _last_eligible_contributor(
    conn: AsyncConnection, realm: Realm, jackpot: dict[str, Any]
) -> dict[str, Any] | None:
    """The round's most recent contributor the compliance gate lets win, or None."""
    seen: set[UUID] = set()
    before: int | None = None
    while True:
        batch = await repository.contributions_before(
            conn, realm, jackpot["id"], jackpot["round"], before_seq=before,
            limit=CONTRIBUTORS_BATCH)
        for contribution in batch:
            if contribution["player_id"] in seen:
                continue
            seen.add(contribution["player_id"])
            player = await players.get(conn, realm, contribution["brand_id"],
                                       str(contribution["player_id"]))
            if rewards.is_eligible(player):
                return player
        if len(batch) < CONTRIBUTORS_BATCH:
            return None
        before = batch[-1]["seq"]


async def drop(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, service_mode: str, ref: str,
    winner_ref: str | None, actor: Actor, at: datetime,
) -> tuple[int, dict[str, Any]]:
    """A manual drop of the whole pool to ``winner_ref`` or, by default, the round's most
    recent eligible contributor; then the next round starts. Raises 403
    ``PLAYER_BLOCKED`` for a named winner who may not win, 409 ``NO_CONTRIBUTIONS``
    when nobody can win by default, 409 ``NOT_ACTIVE`` for a paused pool."""
    jackpot = await load(conn, realm, ref, for_update=True)
    lifecycle.require_active(jackpot, NOUN)
    winner = None
    if winner_ref is not None:
        winner = await players.get(conn, realm, brand_id, winner_ref)
        rewards.check_eligible(winner)
        _check_winnable(winner, jackpot, service_mode)
    locked = await stripes.lock(conn, realm, jackpot)
    if winner is None:
        winner = await _last_eligible_contributor(conn, realm, jackpot)
    if winner is None:
        raise Conflict("no eligible contributor in this round: name winner_user_id",
                       code="NO_CONTRIBUTIONS")
    dropped = await _drop(conn, realm=realm, service_mode=service_mode, jackpot=jackpot,
                          pool=jackpot["round_seed"] + locked.contributed, winner=winner,
                          reason="manual", contribution_id=None, viewer_brand=brand_id, at=at)
    await audit.record(conn, realm=realm, actor=actor, action="jackpot.dropped",
                       target_type=NOUN, target_id=str(jackpot["id"]),
                       after={"drop_id": dropped["view"]["drop_id"],
                              "winner": {"user_id": str(winner["id"]),
                                         "username": winner["username"]}}, at=at)
    return 201, {"drop": dropped["view"]}


async def _drop(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, jackpot: dict[str, Any],
    pool: int, winner: dict[str, Any], reason: str, contribution_id: UUID | None,
    viewer_brand: UUID, at: datetime,
) -> dict[str, Any]:
    """Under the pool's locks: pay ``pool`` to ``winner``, start the next round, record and
    announce the drop (``jackpot.dropped``, revealing a mystery round's seed and point).
    ``view`` names the winner only to a key of the winner's brand (``viewer_brand``)."""
    drop_id = new_id()
    await players.hold(conn, realm, winner["id"])  # before the balance: the global lock order
    payout = await flows.pay_winner(conn, realm=realm, service_mode=service_mode,
                                    jackpot=jackpot, player_id=winner["id"], amount=pool,
                                    drop_id=drop_id, at=at)
    next_round = jackpot["round"] + 1
    terms = rounds.new_round(jackpot["id"], next_round, seed=jackpot["seed"],
                             must_drop_at=jackpot["must_drop_at"], mystery=jackpot["mystery"])
    seeded = await flows.fund_seed(conn, realm=realm, service_mode=service_mode,
                                   jackpot=jackpot, amount=terms.seed, round=next_round, at=at)
    reveal = rounds.reveal(jackpot)
    row = {"id": drop_id, "jackpot_id": jackpot["id"], "round": jackpot["round"],
           "winner_id": winner["id"], "winner_username": winner["username"],
           "contribution_id": contribution_id, "amount": pool, "pool_before": pool,
           "pool_after": terms.seed, "trigger_reason": reason, "payout_entry_id": payout.id,
           "seed_entry_id": seeded.id}
    await repository.insert_drop(conn, realm, {**row, "at": at}, reveal)
    await repository.update_jackpot(conn, realm, jackpot["id"], {
        "round": next_round, "round_started_at": at, **terms.columns(), "updated_at": at})
    await stripes.reset(conn, realm, jackpot["id"], stripes=jackpot["stripes"],
                        round=next_round, headroom=_headroom(terms, terms.seed,
                                                             jackpot["currency"]))
    recorded = {**row, "mystery": reveal, "created_at": at}
    announced = views.drop(recorded, jackpot["currency"])
    if announced["mystery"] is not None:  # the event keeps its catalogued fields
        announced["mystery"] = {k: v for k, v in announced["mystery"].items()
                                if k != "verify_url"}
    await outbox.emit(conn, realm=realm, type="jackpot.dropped", at=at, data={
        **announced, "jackpot_name": jackpot["name"],
        "next_mystery_seed_hash": terms.server_seed_hash})
    shown = views.drop(recorded, jackpot["currency"],
                       show_winner=winner["brand_id"] == viewer_brand)
    return {"view": shown, "pool_after_minor": terms.seed}


async def drops(
    conn: AsyncConnection, *, realm: Realm, ref: str, cursor_round: int | None, limit: int,
    viewer_brand: UUID | None = None,
) -> list[dict[str, Any]]:
    """A pool's drop history, newest first (``limit + 1`` rows for paging); winners named
    only to keys of their own brand."""
    jackpot = await load(conn, realm, ref)
    rows = await repository.drops(conn, realm, jackpot["id"], before_round=cursor_round,
                                  limit=limit)
    return [views.drop(r, jackpot["currency"], show_winner=r["winner_brand_id"] == viewer_brand)
            for r in rows]

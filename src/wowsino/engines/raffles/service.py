"""Raffle rules: configuration, entries, the provably fair draw and scheduled draws.

A raffle commits to its server seed at creation and publishes only the hash until
it is drawn. Entries buy consecutive tickets numbered 0.. in entry order (under a
lock on the raffle row). The draw's client seed is the SHA-256 of the final ticket
list, so the result is recomputable by anyone (see ``tickets``). The list names
pseudonymous holders, and a draw names its winner only to keys of the winner's brand:
a brand's keys never learn another brand's players.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.engines import lifecycle, rewards
from wowsino.engines.raffles import repository, schemas, tickets
from wowsino.kernel import audit, fairness, outbox
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.errors import (
    Conflict,
    Forbidden,
    NotActive,
    ValidationFailed,
)
from wowsino.kernel.ids import new_id
from wowsino.kernel.money import MAX_MINOR, from_minor, to_minor
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import SYSTEM, Actor, Mode, Realm
from wowsino.players import service as players

log = structlog.get_logger("wowsino.raffles")

TABLE = "raffles"
NOUN = "raffle"
MAX_TOTAL_TICKETS = fairness.U32  # uniform_int draws from at most 2**32 tickets
PRICE_FIELDS = ("ticket_cost_winz", "prize_winz")


async def load(
    conn: AsyncConnection, realm: Realm, ref: str, *, for_update: bool = False
) -> dict[str, Any]:
    """A raffle of ``realm`` by id, or 404 ``NO_RAFFLE``."""
    return await lifecycle.load(conn, table=TABLE, realm=realm, ref=ref,
                                not_found_code="NO_RAFFLE", noun=NOUN, for_update=for_update)


def _winz(value: Any, field: str, *, allow_zero: bool) -> int:
    if allow_zero and not isinstance(value, bool) and value == 0:
        return 0
    return to_minor(value, schemas.WINZ, field=field)


def _check_draw_at(draw_at: datetime | None, at: datetime) -> None:
    if draw_at is not None and draw_at <= at:
        raise ValidationFailed("draw_at: must be in the future", field="draw_at")


async def create(
    conn: AsyncConnection, *, realm: Realm, fields: dict[str, Any], actor: Actor, at: datetime
) -> dict[str, Any]:
    """Create an active raffle and commit to its server seed; audited.

    Raises ValidationFailed for a bad WINZ amount or a ``draw_at`` not in the future.
    """
    _check_draw_at(fields.get("draw_at"), at)
    seed = fairness.new_server_seed()
    values = {
        "id": new_id(), "name": fields["name"],
        "ticket_cost_winz": _winz(fields["ticket_cost_winz"], "ticket_cost_winz",
                                  allow_zero=True),
        "prize_winz": _winz(fields["prize_winz"], "prize_winz", allow_zero=False),
        "max_tickets_per_player": fields.get("max_tickets_per_player"),
        "draw_at": fields.get("draw_at"), "server_seed": seed,
        "server_seed_hash": fairness.hash_seed(seed), "holder_key": secrets.token_bytes(32),
        "at": at,
    }
    await repository.insert_raffle(conn, realm, values)
    raffle = await load(conn, realm, str(values["id"]))
    await audit.record(conn, realm=realm, actor=actor, action="raffle.created",
                       target_type=NOUN, target_id=str(values["id"]), after=_config(raffle),
                       at=at)
    return {"raffle": schemas.public(raffle)}


def _config(raffle: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a raffle's configuration (never the seed)."""
    return {k: raffle[k] for k in repository.EDITABLE} | {
        "server_seed_hash": raffle["server_seed_hash"]}


def _changes(raffle: dict[str, Any], fields: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The columns a PATCH changes, validated against the raffle's state."""
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if name in PRICE_FIELDS:
            if value is None:
                raise ValidationFailed(f"{name}: must not be null", field=name)
            value = _winz(value, name, allow_zero=name == "ticket_cost_winz")
        elif name == "name" and value is None:
            raise ValidationFailed("name: must not be null", field="name")
        elif name == "draw_at":
            _check_draw_at(value, at)
        if value != raffle[name]:
            changes[name] = value
    if raffle["status"] in schemas.REVEALED and set(changes) - {"name"}:
        raise NotActive(f"this raffle is {raffle['status']}: only its name can change",
                        status=raffle["status"])
    if raffle["total_tickets"] > 0 and set(changes) & set(PRICE_FIELDS):
        raise Conflict("tickets are sold: the ticket cost and the prize can no longer change",
                       code="TICKETS_SOLD")
    return changes


async def update(
    conn: AsyncConnection, *, realm: Realm, ref: str, fields: dict[str, Any], actor: Actor,
    at: datetime, viewer_brand: UUID | None = None,
) -> dict[str, Any]:
    """Change a raffle's configuration; audited.

    The name may change at any time; cost and prize only before the first ticket
    (409 ``TICKETS_SOLD``); nothing else once completed or cancelled (409 ``NOT_ACTIVE``).
    """
    raffle = await load(conn, realm, ref, for_update=True)
    changes = _changes(raffle, fields, at)
    if changes:
        await repository.update_raffle(conn, realm, raffle["id"], changes, at)
        after = await load(conn, realm, ref)
        await audit.record(conn, realm=realm, actor=actor, action="raffle.updated",
                           target_type=NOUN, target_id=str(raffle["id"]),
                           before=_config(raffle), after=_config(after), at=at)
        raffle = after
    return {"raffle": await _with_draw(conn, realm, raffle, viewer_brand)}


async def set_status(
    conn: AsyncConnection, *, realm: Realm, ref: str, to: str, actor: Actor, at: datetime
) -> dict[str, Any]:
    """Pause or resume (only ``active`` ↔ ``paused``; otherwise 409 ``NOT_ACTIVE``)."""
    raffle = await load(conn, realm, ref, for_update=True)
    raffle = await lifecycle.set_status(conn, table=TABLE, realm=realm, entity=raffle, to=to,
                                        noun=NOUN, actor=actor, at=at)
    return {"raffle": schemas.public(raffle)}


async def _with_draw(conn: AsyncConnection, realm: Realm, raffle: dict[str, Any],
                     viewer_brand: UUID | None) -> dict[str, Any]:
    draws = await repository.draws_for(conn, realm, [raffle["id"]])
    return schemas.public(raffle, draws.get(raffle["id"]), viewer_brand)


async def get_one(conn: AsyncConnection, realm: Realm, ref: str,
                  viewer_brand: UUID | None = None) -> dict[str, Any]:
    """``{"raffle": ...}`` or 404 ``NO_RAFFLE``; the winner named only to ``viewer_brand``'s
    keys if it is the winner's brand."""
    return {"raffle": await _with_draw(conn, realm, await load(conn, realm, ref), viewer_brand)}


async def listing(
    conn: AsyncConnection, realm: Realm, *, status: str | None, limit: int, cursor: str | None,
    viewer_brand: UUID | None = None,
) -> dict[str, Any]:
    """A page of the realm's raffles, newest first (400 for a foreign cursor)."""
    after = NEWEST.decode(cursor)
    rows = await repository.search(conn, realm, status=status, after=after, limit=limit)
    result = NEWEST.page(rows, limit)
    draws = await repository.draws_for(conn, realm, [r["id"] for r in result["data"]])
    result["data"] = [schemas.public(r, draws.get(r["id"]), viewer_brand)
                      for r in result["data"]]
    return result


def _require_open(raffle: dict[str, Any], at: datetime) -> None:
    """Entries need an active raffle whose ``draw_at`` has not passed (409 ``NOT_ACTIVE``)."""
    lifecycle.require_active(raffle, NOUN)
    if raffle["draw_at"] is not None and raffle["draw_at"] <= at:
        raise NotActive("entries closed at this raffle's draw_at", status=raffle["status"],
                        draw_at=raffle["draw_at"])


def _check_limits(raffle: dict[str, Any], held: int, wanted: int) -> None:
    """The per-player cap and the raffle's capacity (403 ``LIMIT_EXCEEDED``)."""
    cap = raffle["max_tickets_per_player"]
    if cap is not None and held + wanted > cap:
        raise Forbidden(f"at most {cap} tickets per player; this player holds {held}",
                        code="LIMIT_EXCEEDED", max_tickets_per_player=cap, held=held,
                        requested=wanted)
    if raffle["total_tickets"] + wanted > MAX_TOTAL_TICKETS:
        raise Forbidden("this raffle cannot sell that many more tickets", code="LIMIT_EXCEEDED",
                        remaining=MAX_TOTAL_TICKETS - raffle["total_tickets"])
    if raffle["ticket_cost_winz"] * wanted > MAX_MINOR:
        raise ValidationFailed("tickets: the total cost is too large", field="tickets")


async def enter(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, user_ref: str,
    tickets_wanted: int, at: datetime,
) -> dict[str, Any]:
    """Buy ``tickets_wanted`` consecutive tickets for a player, debiting their WINZ.

    Raises 404 ``NO_RAFFLE`` / ``NO_PLAYER``, 409 ``NOT_ACTIVE``, 403 ``PLAYER_BLOCKED``
    or ``LIMIT_EXCEEDED``, 402 ``INSUFFICIENT_WINZ`` (nothing debited, no tickets).
    """
    raffle = await load(conn, realm, ref, for_update=True)  # serialises numbering
    _require_open(raffle, at)
    # locked before the balance: the global lock order (entries of one raffle already
    # serialise on its row, and a player's entries on the WINZ balance, so this costs nothing)
    player = await players.get(conn, realm, brand_id, user_ref, for_update=True)
    rewards.check_eligible(player, gate.Action.DRAW)
    held = await repository.player_tickets(conn, realm, raffle["id"], player["id"])
    _check_limits(raffle, held, tickets_wanted)
    entry_id, cost = new_id(), raffle["ticket_cost_winz"] * tickets_wanted
    first = int(raffle["total_tickets"])
    holder = tickets.holder_id(bytes(raffle["holder_key"]), str(player["id"]))
    posted = await rewards.charge_winz(
        conn, realm=realm, player=player, amount=cost, kind="raffle.entry",
        ref_type="raffle_entry", ref_id=str(entry_id), at=at,
        metadata={"raffle_id": str(raffle["id"]), "tickets": tickets_wanted,
                  "first_ticket_idx": first})
    await repository.insert_entry(conn, realm, {
        "id": entry_id, "raffle_id": raffle["id"], "player_id": player["id"],
        "brand_id": player["brand_id"], "username": player["username"], "holder_id": holder,
        "tickets": tickets_wanted, "first_ticket_idx": first, "winz_debited": cost,
        "ledger_entry_id": None if posted is None else posted.id, "at": at})
    await repository.set_total(conn, realm, raffle["id"], first + tickets_wanted, at)
    return {
        "entry_id": str(entry_id), "raffle_id": str(raffle["id"]),
        "user": players.player_ref(player), "holder_id": holder, "tickets": tickets_wanted,
        "first_ticket_idx": first, "last_ticket_idx": first + tickets_wanted - 1,
        "total_tickets": first + tickets_wanted, "winz_debited": from_minor(cost, schemas.WINZ),
        "created_at": at,
    }


async def ticket_list(conn: AsyncConnection, realm: Realm, ref: str) -> dict[str, Any]:
    """The ticket list by holder id, the exact bytes hashed and their hash (the draw's
    client seed). Final once the raffle is completed or cancelled; until then it grows.

    A raffle settled before holder ids (``ticket_format`` 1) hashed a list naming its
    players: that list is withheld (``ticket_list`` null, the draw's client seed shown).
    """
    raffle = await load(conn, realm, ref)
    ranges = await repository.ticket_ranges(conn, realm, raffle["id"])
    final = raffle["status"] in schemas.REVEALED
    data = tickets.ticket_bytes(ranges)
    published: str | None = data.decode("utf-8")
    seed: str | None = fairness.sha256_hex(data)
    if raffle["ticket_format"] == 1:
        draw = (await repository.draws_for(conn, realm, [raffle["id"]])).get(raffle["id"])
        published, seed = None, None if draw is None else draw["client_seed"]
    return {
        "raffle_id": str(raffle["id"]), "status": raffle["status"], "final": final,
        "total_tickets": sum(r.tickets for r in ranges),
        "entries": tickets.ticket_list(ranges),
        "ticket_list": published, "client_seed": seed,
        "server_seed_hash": raffle["server_seed_hash"],
        "server_seed": raffle["server_seed"] if final else None,
    }


async def player_entries(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, user_ref: str
) -> dict[str, Any]:
    """A player's own entries in a raffle: which tickets are theirs and their holder id.

    Raises 404 ``NO_RAFFLE``, or ``NO_PLAYER`` for a player outside ``brand_id``.
    """
    raffle = await load(conn, realm, ref)
    player = await players.get(conn, realm, brand_id, user_ref)
    rows = await repository.player_entries(conn, realm, raffle["id"], player["id"])
    return {
        "raffle_id": str(raffle["id"]), "user": players.player_ref(player),
        "holder_id": tickets.holder_id(bytes(raffle["holder_key"]), str(player["id"])),
        "tickets": sum(int(r["tickets"]) for r in rows),
        "entries": [{
            "entry_id": str(r["id"]), "first_ticket_idx": int(r["first_ticket_idx"]),
            "last_ticket_idx": int(r["first_ticket_idx"]) + int(r["tickets"]) - 1,
            "tickets": int(r["tickets"]),
            "winz_debited": from_minor(int(r["winz_debited"]), schemas.WINZ),
            "created_at": r["created_at"],
        } for r in rows],
    }


async def _pick(
    conn: AsyncConnection, realm: Realm, raffle: dict[str, Any]
) -> tuple[list[tickets.TicketRange], str, tickets.Pick, dict[str, Any]]:
    """Ticket list, client seed, winning pick and winner row (409 ``NO_TICKETS`` if none can
    win: no tickets, or every holder is blocked by the compliance gate)."""
    ranges = await repository.ticket_ranges(conn, realm, raffle["id"])
    if not ranges:
        raise Conflict("this raffle has no tickets", code="NO_TICKETS")
    holders = await repository.ticket_holders(conn, realm, raffle["id"])
    excluded = {pid for pid, row in holders.items() if not rewards.is_eligible(row, gate.Action.DRAW)}
    if all(r.player_id in excluded for r in ranges):
        raise Conflict("no ticket is held by a player who may win", code="NO_TICKETS",
                       blocked_holders=len(excluded))
    seed = tickets.client_seed(ranges)
    pick = tickets.pick_winner(raffle["server_seed"], seed, ranges, excluded)
    return ranges, seed, pick, holders[pick.holder.player_id]


async def draw(
    conn: AsyncConnection, *, realm: Realm, ref: str, trigger: str, actor: Actor, at: datetime,
    viewer_brand: UUID | None = None,
) -> dict[str, Any]:
    """Draw the winner, credit ``prize_winz``, complete the raffle, emit ``raffle.drawn``.

    The answer names the winner only if ``viewer_brand`` is the winner's brand (always by
    holder id). Raises 404 ``NO_RAFFLE``, 409 ``NOT_ACTIVE`` (paused, completed,
    cancelled) and 409 ``NO_TICKETS``.
    """
    raffle = await load(conn, realm, ref, for_update=True)
    lifecycle.require_active(raffle, NOUN)
    ranges, seed, pick, winner = await _pick(conn, realm, raffle)
    draw_id = new_id()
    credited = await rewards.grant(
        conn, realm=realm, player=winner, asset="WINZ", amount=int(raffle["prize_winz"]),
        kind="raffle.prize", ref_type="raffle_draw", ref_id=str(draw_id), at=at,
        metadata={"raffle_id": str(raffle["id"]), "winning_ticket_idx": pick.winning_ticket_idx})
    row = {
        "id": draw_id, "raffle_id": raffle["id"], "winner_player_id": winner["id"],
        "winner_username": winner["username"], "winning_ticket_idx": pick.winning_ticket_idx,
        "skipped_ticket_idxs": pick.skipped_ticket_idxs,
        "total_tickets": sum(r.tickets for r in ranges), "prize_winz": raffle["prize_winz"],
        "server_seed": raffle["server_seed"], "server_seed_hash": raffle["server_seed_hash"],
        "client_seed": seed, "trigger": trigger,
        "ledger_entry_id": None if credited is None else credited.id, "drawn_at": at,
    }
    await repository.insert_draw(conn, realm, row)
    await repository.set_status(conn, realm, raffle["id"], "completed", at)
    row.update(winner_holder_id=pick.holder.holder_id, winner_brand_id=winner["brand_id"])
    result = schemas.draw_view(row, show_winner=True)
    await outbox.emit(conn, realm=realm, type="raffle.drawn", at=at, data={
        **{k: v for k, v in result.items()
           if k not in ("winner_username", "trigger", "verify_url")},
        "raffle_name": raffle["name"], "winner": players.player_ref(winner)})
    await audit.record(conn, realm=realm, actor=actor, action="raffle.drawn", target_type=NOUN,
                       target_id=str(raffle["id"]), before={"status": raffle["status"]},
                       after={"status": "completed", **result}, at=at)
    return schemas.draw_view(row, show_winner=viewer_brand == winner["brand_id"])


async def _cancel(conn: AsyncConnection, realm: Realm, raffle: dict[str, Any], reason: str,
                  at: datetime) -> None:
    await repository.set_status(conn, realm, raffle["id"], "cancelled", at)
    await audit.record(conn, realm=realm, actor=SYSTEM, action="raffle.cancelled",
                       target_type=NOUN, target_id=str(raffle["id"]),
                       before={"status": raffle["status"]},
                       after={"status": "cancelled", "reason": reason}, at=at)


async def _settle_next_due(conn: AsyncConnection, now: datetime, skip: list[UUID],
                           claimed: list[UUID]) -> bool:
    """Draw (or, when no ticket can win, cancel) one due raffle; False when none is due."""
    found = await repository.claim_due(conn, now, skip)
    if found is None:
        return False
    tenant_id, mode, raffle_id = found
    claimed.append(raffle_id)
    realm = Realm(tenant_id, Mode(mode))
    try:
        await draw(conn, realm=realm, ref=str(raffle_id), trigger="scheduled", actor=SYSTEM,
                   at=now)
    except Conflict as exc:
        if exc.code != "NO_TICKETS":
            raise
        await _cancel(conn, realm, await load(conn, realm, str(raffle_id)), exc.message, now)
    return True


async def run_due(platform: Platform, *, batch: int = 500) -> int:
    """Settle every active raffle whose ``draw_at`` has come, each in its own unit of work.

    Claims with ``FOR UPDATE SKIP LOCKED`` (safe with several workers). A raffle whose
    draw fails unexpectedly is logged and skipped for this pass. Returns how many were
    drawn or cancelled.
    """
    now = platform.clock.now()
    skip: list[UUID] = []
    claimed: list[UUID] = []  # the raffle the current unit of work took, if any
    done = 0
    while done + len(skip) < batch:
        claimed.clear()
        try:
            settled = await unit_of_work(
                platform.engine, lambda conn: _settle_next_due(conn, now, skip, claimed))
        except Exception:
            if not claimed:
                raise
            log.exception("scheduled raffle draw failed", raffle_id=str(claimed[-1]))
            skip.append(claimed[-1])
            continue
        if not settled:
            break
        done += 1
    return done


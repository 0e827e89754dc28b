"""Bonus rules: templates, grants, forfeits, cancellations, free-spin settlement,
the player's view and expiry.

States: ``pending → active → completed | expired | forfeited`` and ``pending →
cancelled``; the database keeps terminal states terminal. A grant passes the
compliance gate (the brand's jurisdiction profile) before anything is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import amounts, drops, flows, lifecycle, repository, views
from wowsino.bonuses import terms as terms_
from wowsino.compliance import service as compliance
from wowsino.kernel import audit, ledger, outbox
from wowsino.kernel.errors import Conflict, NotActive, NotFound, ValidationFailed
from wowsino.kernel.ids import new_id, parse_uuid
from wowsino.kernel.money import ASSETS, Asset, Rail, asset, from_minor
from wowsino.kernel.realm import SYSTEM, Actor, Realm
from wowsino.players import service as players

Body = dict[str, Any]
CONFIG_FIELDS = ("name", "promo_code")


def _currency(code: str) -> Asset:
    found = asset(code, field="currency")
    if not found.is_currency:
        raise ValidationFailed(f"currency: {found.code} is not a currency", field="currency")
    return found


async def load_template(conn: AsyncConnection, realm: Realm, ref: str) -> dict[str, Any]:
    """A template by id or promo code, or 404 ``NO_TEMPLATE``."""
    template_id = parse_uuid(ref)
    row = await repository.template(conn, realm, template_id=template_id) if template_id \
        else await repository.template(conn, realm, promo_code=ref)
    if row is None:
        raise NotFound(f"no bonus template {ref!r}", code="NO_TEMPLATE")
    return row


def _promo_taken(code: str) -> Conflict:
    return Conflict(f"promo_code {code!r} is used by another template", code="PROMO_CODE_TAKEN",
                    field="promo_code")


async def _check_promo(conn: AsyncConnection, realm: Realm, code: str | None,
                       own: UUID | None) -> None:
    if code is None:
        return
    other = await repository.template(conn, realm, promo_code=code)
    if other is not None and other["id"] != own:
        raise _promo_taken(code)


async def create_template(conn: AsyncConnection, *, realm: Realm, fields: Body, actor: Actor,
                          at: datetime) -> tuple[int, Body]:
    """Create a template; the answer lists each brand whose profile its terms break."""
    currency = _currency(fields["currency"])
    terms = terms_.build(fields["type"], currency, fields)
    await _check_promo(conn, realm, fields.get("promo_code"), None)
    values = {"id": new_id(), "name": fields["name"], "type": fields["type"],
              "promo_code": fields.get("promo_code"), "currency": currency.code,
              "terms": terms, "at": at}
    await repository.insert_template(conn, realm, values)
    if values["type"] == "drops":
        await drops.create_state(conn, realm, values["id"], terms["prizes"])
    await audit.record(conn, realm=realm, actor=actor, action="bonus_template.created",
                       target_type="bonus_template", target_id=str(values["id"]),
                       after={"name": values["name"], "type": values["type"], "terms": terms},
                       at=at)
    return 201, await show_template(conn, realm, str(values["id"]))


async def update_template(conn: AsyncConnection, *, realm: Realm, ref: str, fields: Body,
                          actor: Actor, at: datetime) -> Body:
    """PATCH a template: applies to grants from now on (a grant keeps its terms)."""
    row = await load_template(conn, realm, ref)
    if "name" in fields and fields["name"] is None:
        raise ValidationFailed("name: must not be null", field="name")
    for fixed in ("prizes", "drop_rate"):
        if row["type"] == "drops" and fixed in fields:
            raise ValidationFailed(f"{fixed}: fixed when a drops promotion is created "
                                   "(its draw is committed)", field=fixed)
    terms = terms_.build(row["type"], ASSETS[row["currency"]], fields, base=row["terms"])
    promo = fields.get("promo_code", row["promo_code"])
    await _check_promo(conn, realm, promo, row["id"])
    await repository.update_template(conn, realm, row["id"], {
        "name": fields.get("name") or row["name"], "promo_code": promo, "terms": terms}, at)
    await audit.record(conn, realm=realm, actor=actor, action="bonus_template.updated",
                       target_type="bonus_template", target_id=str(row["id"]),
                       before={"name": row["name"], "terms": row["terms"]},
                       after={"name": fields.get("name") or row["name"], "terms": terms}, at=at)
    return await show_template(conn, realm, str(row["id"]))


async def set_template_status(conn: AsyncConnection, *, realm: Realm, ref: str, to: str,
                              actor: Actor, at: datetime) -> Body:
    """Pause (grants answer 409 ``NOT_ACTIVE``) or resume; audited."""
    row = await load_template(conn, realm, ref)
    if row["status"] != to:
        await repository.set_template_status(conn, realm, row["id"], to, at)
        await audit.record(conn, realm=realm, actor=actor, action=f"bonus_template.{to}",
                           target_type="bonus_template", target_id=str(row["id"]),
                           before={"status": row["status"]}, after={"status": to}, at=at)
    return {"template": views.template(await load_template(conn, realm, str(row["id"])))}


async def show_template(conn: AsyncConnection, realm: Realm, ref: str) -> Body:
    row = await load_template(conn, realm, ref)
    shown = views.template(row, await compliance.lint(conn, realm, row["terms"], row["type"]))
    if row["type"] == "drops":
        shown["drops"] = await drops.state(conn, realm, row["id"])
    return {"template": shown}


async def drop_wins(conn: AsyncConnection, realm: Realm, ref: str, *, brand_id: UUID,
                    before_seq: int | None, limit: int) -> list[Body]:
    """A drops promotion's winning wagers, newest first (404 ``NO_TEMPLATE``, 409
    ``NOT_DROPS`` for a template of another type)."""
    row = await load_template(conn, realm, ref)
    if row["type"] != "drops":
        raise Conflict(f"this template is a {row['type']} bonus, not a drops promotion",
                       code="NOT_DROPS")
    return await drops.wins_page(conn, realm, row["id"], brand_id=brand_id,
                                 before_seq=before_seq, limit=limit)


def _money_in(value: Any, currency: Asset, field: str) -> int | None:
    return None if value is None else terms_.bounded(value, currency, field)


async def grant_request(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, service_mode: str, request: Body,
    actor: Actor, at: datetime,
) -> tuple[int, Body]:
    """``POST /v1/bonuses/grant``: resolve the template (promo code or id) and player, then
    grant. Raises 404 ``NO_TEMPLATE``/``NO_PLAYER``, 409 ``NOT_ACTIVE``, ``MAX_GRANTS``,
    ``NO_BASIS``, 403 ``PLAYER_BLOCKED``; answers 403 ``PROMO_RULE_VIOLATION``."""
    template = await load_template(conn, realm, request["template"])
    if template["type"] == "drops":
        raise Conflict("a drops promotion runs on wagers; it is not granted to a player",
                       code="NOT_GRANTABLE")
    player = await players.get(conn, realm, brand_id, request["player_id"])
    currency = ASSETS[template["currency"]]
    if request.get("amount") is not None and template["type"] not in ("manual", "vip_comp"):
        raise ValidationFailed(f"amount: set by the template for a {template['type']} bonus",
                               field="amount")
    return await grant(
        conn, realm=realm, service_mode=service_mode, player=player, template=template,
        deposit_amount=_money_in(request.get("deposit_amount"), currency, "deposit_amount"),
        amount=_money_in(request.get("amount"), currency, "amount"),
        reason=request.get("reason"), opted_in_at=request.get("opted_in_at"), source="api",
        source_ref=None, actor=actor, at=at)


async def _value(conn: AsyncConnection, realm: Realm, *, template: Body, player: Body,
                 deposit_amount: int | None, amount: int | None, reason: str | None,
                 opted_in_at: datetime | None, at: datetime) -> int:
    """The bonus money a grant credits (0 for free spins and tickets)."""
    kind, terms = template["type"], template["terms"]
    if kind in ("manual", "vip_comp"):
        if kind == "manual" and reason is None:
            raise ValidationFailed("reason: required for a manual bonus", field="reason")
        value = amount if amount is not None else terms_.money(terms, "amount")
        if value is None:
            raise ValidationFailed(f"amount: required for a {kind} bonus", field="amount")
        return value
    if kind == "drops":  # a prize the drops draw chose
        if amount is None:
            raise Conflict("a drops promotion runs on wagers; it is not granted to a player",
                           code="NOT_GRANTABLE")
        return amount
    if kind == "cashback" and amount is not None:  # computed by an engine (VIP cashback)
        return amounts.capped(amount, terms)
    if amount is not None:
        raise ValidationFailed(f"amount: set by the template for a {kind} bonus", field="amount")
    if kind in ("no_deposit", "referral"):
        return int(terms["amount"])
    if kind in ("free_spins", "ticket"):
        return 0
    if kind == "reload" and deposit_amount is not None and not await _has_deposited(
            conn, realm, player["id"]):
        raise Conflict("a reload bonus needs an earlier deposit", code="NOT_ELIGIBLE")
    base = await amounts.basis(conn, realm, kind=kind, terms=terms, player=player,
                               currency=template["currency"], deposit_amount=deposit_amount,
                               opted_in_at=opted_in_at, at=at)
    value = amounts.pct_of(max(base, 0), terms)
    amounts.require_positive(kind, value, base)
    return value


async def _has_deposited(conn: AsyncConnection, realm: Realm, player_id: UUID) -> bool:
    from wowsino.events import activity

    return await activity.has_deposited(conn, realm, player_id)


async def grant(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, player: Body, template: Body,
    deposit_amount: int | None, amount: int | None, reason: str | None,
    opted_in_at: datetime | None, source: str, source_ref: str | None, actor: Actor,
    at: datetime,
) -> tuple[int, Body]:
    """Grant ``template`` to ``player``: the gate, the limit per player, the bonus row, its
    ledger entry and ``bonus.granted``. A bonus without wagering converts at once. An
    automatic grant (``source_ref`` set) happens once per source: a repeat answers 200."""
    if template["status"] != "active":
        raise NotActive(f"this bonus template is {template['status']}",
                        status=template["status"])
    players.require_eligible(player)
    if template["type"] != "ticket":  # tickets hold no money
        players.check_currency(player, Rail.BONUS, ASSETS[template["currency"]])
    bonus_id = new_id()
    decision = await compliance.decide_bonus(conn, realm=realm, player=player,
                                             terms=template["terms"], actor=actor, at=at,
                                             target_id=str(bonus_id), kind=template["type"])
    if not decision.allowed:
        return 403, decision.refusal()
    kind, terms = template["type"], template["terms"]
    value = await _value(conn, realm, template=template, player=player,
                         deposit_amount=deposit_amount, amount=amount, reason=reason,
                         opted_in_at=opted_in_at, at=at)
    limit = terms.get("max_grants_per_player")
    if limit is not None and not await repository.count_grant(
            conn, realm, template["id"], player["id"], int(limit)):
        raise Conflict(f"this template may be granted {limit} time(s) per player",
                       code="MAX_GRANTS", limit=limit)
    hours = terms.get("expires_in_hours")
    values = {
        "id": bonus_id, "template_id": template["id"], "player_id": player["id"],
        "brand_id": player["brand_id"], "type": kind,
        "status": "pending" if kind == "free_spins" else "active",
        "currency": template["currency"], "bonus_amount": value,
        "deposit_amount": deposit_amount,
        "wagering_required": terms_.wagering_required(terms, value, deposit_amount),
        "terms": terms, "source": source, "source_ref": source_ref, "reason": reason,
        "expires_at": None if hours is None else at + timedelta(hours=int(hours)), "at": at}
    if not await repository.insert_bonus(conn, realm, values):
        return 200, {"bonus": None, "deduped": True}
    await flows.grant(conn, realm=realm, bonus_id=bonus_id, player_id=player["id"],
                      currency=template["currency"], amount=value, at=at)
    extra: Body = {}
    if kind == "ticket":
        extra["raffle_entry"] = await _enter_raffle(conn, realm, player, template, bonus_id, at)
    currency = ASSETS[template["currency"]]
    await outbox.emit(conn, realm=realm, type="bonus.granted", at=at, data={
        "bonus_id": str(bonus_id), "template_name": template["name"], "type": kind,
        "amount": from_minor(value, currency), "currency": currency.code,
        "user": players.player_ref(player)})
    row = await repository.bonus(conn, realm, bonus_id, for_update=True)
    assert row is not None
    if kind == "ticket":  # the entries are the whole bonus
        await repository.finish(conn, realm, bonus_id, status="completed", reason="tickets",
                                at=at, real_credited=0)
        row = await repository.bonus(conn, realm, bonus_id)
        assert row is not None
    elif row["status"] == "active" and int(row["wagering_required"]) == 0:
        extra["conversion"] = await lifecycle.convert(conn, realm=realm,
                                                      service_mode=service_mode, bonus=row,
                                                      at=at)
        row = await repository.bonus(conn, realm, bonus_id)
        assert row is not None
    return 201, {"bonus": views.bonus(row), **extra}


async def _enter_raffle(conn: AsyncConnection, realm: Realm, player: Body, template: Body,
                        bonus_id: UUID, at: datetime) -> Body:
    """A ticket bonus: the entries' WINZ cost is minted to the player, then spent on the
    raffle through its own entry rule (limits, numbering, eligibility)."""
    from wowsino.engines.raffles import service as raffles

    terms = template["terms"]
    raffle = await raffles.load(conn, realm, str(terms["raffle_id"]), for_update=True)
    cost = int(raffle["ticket_cost_winz"]) * int(terms["tickets"])
    if cost:
        await ledger.post_entry(
            conn, realm=realm, kind="bonus.ticket", at=at, ref_type="bonus",
            ref_id=str(bonus_id),
            postings=[ledger.Posting(ledger.Account.player(player["id"], Rail.WINZ, "WINZ"),
                                     cost),
                      ledger.Posting(ledger.Account.system(ledger.WINZ_ISSUANCE, Rail.WINZ,
                                                           "WINZ"), -cost)])
    return await raffles.enter(conn, realm=realm, brand_id=player["brand_id"],
                               ref=str(raffle["id"]), user_ref=str(player["id"]),
                               tickets_wanted=int(terms["tickets"]), at=at)


async def _own_bonus(conn: AsyncConnection, realm: Realm, brand_id: UUID, ref: str) -> Body:
    bonus_id = parse_uuid(ref)
    row = None if bonus_id is None else await repository.bonus(conn, realm, bonus_id,
                                                                for_update=True)
    if row is None or row["brand_id"] != brand_id:
        raise NotFound(f"no bonus {ref!r}", code="NO_BONUS")
    return row


async def forfeit(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                  reason: str, actor: Actor, at: datetime) -> Body:
    """Forfeit a pending or active bonus: what is left goes back; ``bonus.forfeited``.
    409 ``NOT_ACTIVE`` for a bonus that already ended."""
    row = await _own_bonus(conn, realm, brand_id, ref)
    if row["status"] not in ("pending", "active"):
        raise NotActive(f"this bonus is {row['status']}", status=row["status"])
    done = await lifecycle.remove(conn, realm=realm, bonus=row, status="forfeited",
                                  reason=reason, at=at)
    await audit.record(conn, realm=realm, actor=actor, action="bonus.forfeited",
                       target_type="bonus", target_id=str(row["id"]),
                       before={"status": row["status"]}, after={"status": "forfeited",
                                                                "reason": reason}, at=at)
    updated = await repository.bonus(conn, realm, row["id"])
    assert updated is not None
    return {"bonus": views.bonus(updated), "amount_removed": done["amount_removed"]}


async def forfeit_active(conn: AsyncConnection, *, realm: Realm, brand_id: UUID,
                         player_id: UUID, reason: str, actor: Actor, at: datetime) -> list[Body]:
    """Forfeit every active bonus of a player (a withdrawal ends bonus play), each as
    ``forfeit`` does: ``[{bonus_id, type, currency, amount_removed}]`` in grant order.
    A bonus a concurrent request ended first is left out."""
    out = []
    for row in await repository.active_for_players(conn, realm, [player_id]):
        done = await forfeit(conn, realm=realm, brand_id=brand_id, ref=str(row["id"]),
                             reason=reason, actor=actor, at=at)
        out.append({"bonus_id": str(row["id"]), "type": row["type"],
                    "currency": row["currency"], "amount_removed": done["amount_removed"]})
    return out


async def cancel(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                 actor: Actor, at: datetime) -> Body:
    """Cancel a pending bonus (409 ``NOT_PENDING`` otherwise)."""
    row = await _own_bonus(conn, realm, brand_id, ref)
    if row["status"] != "pending":
        raise Conflict(f"only a pending bonus can be cancelled; this one is {row['status']}",
                       code="NOT_PENDING", status=row["status"])
    await lifecycle.remove(conn, realm=realm, bonus=row, status="cancelled", reason="cancelled",
                           at=at)
    await audit.record(conn, realm=realm, actor=actor, action="bonus.cancelled",
                       target_type="bonus", target_id=str(row["id"]),
                       before={"status": "pending"}, after={"status": "cancelled"}, at=at)
    updated = await repository.bonus(conn, realm, row["id"])
    assert updated is not None
    return {"bonus": views.bonus(updated)}


async def settle_free_spins(conn: AsyncConnection, *, realm: Realm, brand_id: UUID,
                            service_mode: str, ref: str, win_amount: Any,
                            at: datetime) -> Body:
    """The spins' total win becomes bonus money with the template's wagering (a win of
    zero completes the bonus). 409 ``NOT_PENDING`` once settled."""
    row = await _own_bonus(conn, realm, brand_id, ref)
    if row["type"] != "free_spins":
        raise ValidationFailed("bonus: not a free_spins bonus", field="bonus_id")
    if row["status"] != "pending":
        raise Conflict(f"the spins are already settled; the bonus is {row['status']}",
                       code="NOT_PENDING", status=row["status"])
    currency = ASSETS[row["currency"]]
    win = terms_.bounded(win_amount, currency, "win_amount", allow_zero=True)
    terms = row["terms"]
    spins_value = int(terms["free_spin_count"]) * int(terms["free_spin_value"])
    if win == 0:
        await repository.finish(conn, realm, row["id"], status="completed",
                                reason="no_win", at=at, real_credited=0)
    else:
        await repository.activate(conn, realm, row["id"], amount=win,
                                  wagering_required=terms_.wagering_required(terms, win, None))
        await flows.grant(conn, realm=realm, bonus_id=row["id"], player_id=row["player_id"],
                          currency=row["currency"], amount=win, at=at,
                          kind="bonus.free_spins_win")
        active = await repository.bonus(conn, realm, row["id"])
        assert active is not None
        if int(active["wagering_required"]) == 0:
            await lifecycle.convert(conn, realm=realm, service_mode=service_mode,
                                    bonus=active, at=at)
    updated = await repository.bonus(conn, realm, row["id"])
    assert updated is not None
    return {"bonus": views.bonus(updated), "spins_value": from_minor(spins_value, currency)}


async def player_bonuses(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                         before_seq: int | None, limit: int, now: datetime) -> list[Body]:
    """A player's bonuses, newest first, with the transparency fields."""
    player = await players.get(conn, realm, brand_id, ref)
    rows = await repository.player_bonuses(conn, realm, player["id"], before_seq=before_seq,
                                           limit=limit)
    return [{**views.transparent(r, now), "_seq": r["seq"]} for r in rows]


async def active_summaries(conn: AsyncConnection, realm: Realm,
                           player_ids: list[UUID]) -> dict[str, list[Body]]:
    """The pending and active bonuses of many players (for their dossiers), one query."""
    out: dict[str, list[Body]] = {str(pid): [] for pid in player_ids}
    for row in await repository.open_bonuses(conn, realm, player_ids):
        shown = views.bonus(row)
        out[str(row["player_id"])].append({k: shown[k] for k in (
            "id", "type", "status", "currency", "bonus_amount", "balance",
            "wagering_required", "wagering_completed", "expires_at")})
    return out


async def expire_due(conn: AsyncConnection, *, now: datetime, limit: int = 200) -> int:
    """Expire bonuses past ``expires_at`` (any realm; claimed with SKIP LOCKED)."""
    from wowsino.kernel.realm import Mode

    due = await repository.due_expiries(conn, now, limit)
    for tenant_id, mode, bonus_id in due:
        realm = Realm(tenant_id, Mode(mode))
        row = await repository.bonus(conn, realm, bonus_id, for_update=True)
        if row is None or row["status"] not in ("pending", "active"):
            continue
        await lifecycle.remove(conn, realm=realm, bonus=row, status="expired",
                               reason="expired", at=now)
        await audit.record(conn, realm=realm, actor=SYSTEM, action="bonus.expired",
                           target_type="bonus", target_id=str(bonus_id),
                           before={"status": row["status"]}, after={"status": "expired"},
                           at=now)
    return len(due)

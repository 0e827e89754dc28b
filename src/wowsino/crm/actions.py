"""What a campaign does for each player, through the service that owns it: a bonus
through ``bonuses.service.grant`` (its compliance gate, limits and ledger entry), WINZ
and free lootbox opens through ``engines.awards.give``, and a ``crm.message`` event for
the operator's messaging stack. There is no second path for money.

Each action has an asset its cost is counted in (``None`` for ``notify``): a bonus, its
template's currency (the bonus money granted; the spins' value for free spins); WINZ,
the WINZ granted; a free lootbox open, the box's WINZ price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import amounts
from wowsino.bonuses import service as bonuses
from wowsino.engines import awards, draws
from wowsino.engines.lootbox.service import LOOTBOX
from wowsino.kernel import outbox
from wowsino.kernel.errors import Conflict, DomainError, ValidationFailed
from wowsino.kernel.money import ASSETS, from_minor, to_minor
from wowsino.kernel.realm import SYSTEM, Realm
from wowsino.players import service as players

# Bonus types a campaign cannot grant, and why (400 at creation).
NOT_FOR_CAMPAIGNS = {
    "deposit_match": "a deposit_match is granted on a first deposit (auto_grant or promo code)",
    "lossback": "a lossback starts from the player's own opt-in",
    "drops": "a drops promotion runs on wagers",
}


class Refused(DomainError):
    """A player the action cannot be done for (reported as a skip with ``reason``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Plan:
    """A stored action, with what is loaded once per batch."""

    action: dict[str, Any]
    template: dict[str, Any] | None = None
    lootbox: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return str(self.action["type"])


async def resolve(conn: AsyncConnection, realm: Realm,
                  given: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The stored form of a requested action and its asset; 400/404 naming the reference."""
    kind = given["type"]
    if kind == "grant_bonus":
        template = await bonuses.load_template(conn, realm, given["template"])
        if template["type"] in NOT_FOR_CAMPAIGNS:
            raise ValidationFailed(f"action.template: {NOT_FOR_CAMPAIGNS[template['type']]}",
                                   field="action.template")
        if template["type"] in ("manual", "vip_comp") and template["terms"].get("amount") is None:
            raise ValidationFailed(f"action.template: a {template['type']} template needs an "
                                   "amount to be granted by a campaign", field="action.template")
        return {"type": kind, "template": str(template["id"])}, str(template["currency"])
    if kind == "grant_winz":
        amount = to_minor(given["amount"], ASSETS["WINZ"], field="action.amount")
        return {"type": kind, "amount": amount}, "WINZ"
    if kind == "open_lootbox":
        box = await draws.load(conn, LOOTBOX, realm, given["lootbox_id"])
        return {"type": kind, "lootbox_id": str(box["id"])}, "WINZ"
    return {"type": kind, "message": given["message"]}, None


def view(action: dict[str, Any]) -> dict[str, Any]:
    """An action as the API shows it (amounts in their unit)."""
    if action["type"] == "grant_winz":
        return {**action, "amount": Decimal(int(action["amount"]))}
    return dict(action)


async def plan(conn: AsyncConnection, realm: Realm, action: dict[str, Any]) -> Plan:
    """Load what the action needs, once for a batch (a deleted reference: a 404)."""
    if action["type"] == "grant_bonus":
        return Plan(action, template=await bonuses.load_template(conn, realm, action["template"]))
    if action["type"] == "open_lootbox":
        return Plan(action, lootbox=await draws.load(conn, LOOTBOX, realm, action["lootbox_id"]))
    return Plan(action)


def fixed_cost(plan_: Plan) -> int | None:
    """The cost per player when it does not depend on the player, else None."""
    if plan_.kind == "grant_winz":
        return int(plan_.action["amount"])
    if plan_.kind == "open_lootbox":
        assert plan_.lootbox is not None
        return int(plan_.lootbox["cost_winz"])
    if plan_.kind == "notify":
        return 0
    assert plan_.template is not None
    kind, terms = plan_.template["type"], plan_.template["terms"]
    if kind in ("no_deposit", "referral", "manual", "vip_comp"):
        return int(terms["amount"])
    if kind == "free_spins":
        return int(terms["free_spin_count"]) * int(terms["free_spin_value"])
    if kind == "ticket":
        return 0
    return None  # a percentage of the player's own basis


async def estimate(conn: AsyncConnection, realm: Realm, plan_: Plan, player: dict[str, Any],
                   deposits: dict[UUID, int], at: datetime) -> int:
    """What the action would cost for ``player`` (a dry run); ``Refused`` when it would
    be refused for want of a basis or of the player's currency."""
    fixed = fixed_cost(plan_)
    if plan_.template is not None:
        _check_currency(player, plan_.template)
    if fixed is not None:
        return fixed
    assert plan_.template is not None
    template = plan_.template
    basis = deposits.get(player["id"]) if template["type"] == "reload" else \
        await amounts.basis(conn, realm, kind=template["type"], terms=template["terms"],
                            player=player, currency=template["currency"], deposit_amount=None,
                            opted_in_at=None, at=at)
    if basis is None or basis <= 0:
        raise Refused("no_basis", "nothing to grant: no basis for this player")
    value = amounts.pct_of(basis, template["terms"])
    if value <= 0:
        raise Refused("no_basis", "nothing to grant: the amount rounds to zero")
    return value


def _check_currency(player: dict[str, Any], template: dict[str, Any]) -> None:
    if template["type"] != "ticket" and player["currency"] != template["currency"]:
        raise Refused("currency", f"the player's currency is {player['currency']}, the "
                                  f"template's {template['currency']}")


async def give(conn: AsyncConnection, *, realm: Realm, service_mode: str, plan_: Plan,
               player: dict[str, Any], campaign_id: UUID, run_id: UUID,
               deposits: dict[UUID, int], at: datetime) -> int:
    """Do the action for ``player`` for run ``run_id``; its cost in the action's asset.
    Raises ``Refused`` (or the owning service's refusal) when it cannot be done."""
    ref = str(run_id)
    if plan_.kind == "grant_bonus":
        assert plan_.template is not None
        return await _grant_bonus(conn, realm=realm, service_mode=service_mode,
                                  template=plan_.template, player=player, run_id=run_id,
                                  deposit=deposits.get(player["id"]), at=at)
    if plan_.kind == "grant_winz":
        await awards.give(conn, realm=realm, service_mode=service_mode, player=player,
                          award=awards.Award(winz=int(plan_.action["amount"])),
                          kind="campaign.grant", ref_type="campaign_run", ref_id=ref,
                          actor=SYSTEM, at=at)
        return int(plan_.action["amount"])
    if plan_.kind == "open_lootbox":
        assert plan_.lootbox is not None
        await awards.give(conn, realm=realm, service_mode=service_mode, player=player,
                          award=awards.Award(lootbox_id=str(plan_.lootbox["id"])),
                          kind="campaign.grant", ref_type="campaign_run", ref_id=ref,
                          actor=SYSTEM, at=at)
        return int(plan_.lootbox["cost_winz"])
    await outbox.emit(conn, realm=realm, type="crm.message", at=at, data={
        "user": players.player_ref(player), "message": plan_.action["message"],
        "campaign_id": str(campaign_id)})
    return 0


async def _grant_bonus(conn: AsyncConnection, *, realm: Realm, service_mode: str,
                       template: dict[str, Any], player: dict[str, Any], run_id: UUID,
                       deposit: int | None, at: datetime) -> int:
    _check_currency(player, template)
    if template["type"] == "reload" and deposit is None:
        raise Refused("no_basis", "a reload is a percentage of the last deposit: none yet")
    status, body = await bonuses.grant(
        conn, realm=realm, service_mode=service_mode, player=player, template=template,
        deposit_amount=deposit if template["type"] == "reload" else None, amount=None,
        reason=f"campaign run {run_id}", opted_in_at=None, source="campaign",
        source_ref=f"campaign_run:{run_id}", actor=SYSTEM, at=at)
    if status == 403:
        rule = (body.get("details") or {}).get("rule")
        raise Refused("jurisdiction", f"refused by the jurisdiction profile, rule {rule}")
    if body.get("bonus") is None:
        raise Conflict("granted already for this run", code="ALREADY_GRANTED")
    granted = body["bonus"]
    if template["type"] == "free_spins":
        return int(template["terms"]["free_spin_count"]) * int(
            template["terms"]["free_spin_value"])
    currency = ASSETS[template["currency"]]
    return to_minor(granted["bonus_amount"], currency, allow_zero=True)


def money(minor: int | None, asset: str | None) -> Decimal | None:
    """Minor units of the campaign's asset as the API shows them."""
    if minor is None or asset is None:
        return None
    return from_minor(minor, ASSETS[asset])

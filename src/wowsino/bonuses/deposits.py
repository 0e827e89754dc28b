"""Bonuses a deposit earns, a consumer of the spine's deposit events.

- the promo code sent with the deposit (any type; the deposit is its basis);
- every active template with ``auto_grant: true``: ``deposit_match`` on a first
  deposit, ``reload`` on a later one, each only from ``min_deposit``;
- on a first deposit of at least a ``referral`` template's ``min_deposit``, that
  bonus for the player who referred the depositor.

Each grant runs in a savepoint: a refused grant (a rule, a limit, the gate) is
reported in the effects and never refuses the deposit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import repository, service
from wowsino.events.wagers import Context, Deposit
from wowsino.kernel import wire
from wowsino.kernel.errors import DomainError
from wowsino.kernel.realm import SYSTEM, Realm
from wowsino.players import service as players

AUTO_LIMIT = 100


async def apply(conn: AsyncConnection, realm: Realm, deposit: Deposit,
                ctx: Context) -> list[dict[str, Any]]:
    player = await players.get(conn, realm, deposit.brand_id, str(deposit.player_id))
    effects: list[dict[str, Any]] = []
    chosen: list[tuple[dict[str, Any], dict[str, Any]]] = []
    if deposit.promo_code is not None:
        found = await repository.template(conn, realm, promo_code=deposit.promo_code)
        if found is None:
            effects.append({"promo_code": deposit.promo_code, "granted": False,
                            "code": "NO_TEMPLATE", "error": "no template with this promo code"})
        elif not _qualifies(found, deposit):
            effects.append({"promo_code": deposit.promo_code, "granted": False,
                            "code": "NOT_ELIGIBLE",
                            "error": "this deposit's currency or amount does not qualify "
                                     "for the promo code's template"})
        else:
            chosen.append((found, player))
    wanted = ("deposit_match",) if deposit.first_deposit else ("reload",)
    for template in await repository.templates(conn, realm, after=None, limit=AUTO_LIMIT,
                                               auto_types=wanted):
        if _qualifies(template, deposit) and all(t["id"] != template["id"] for t, _ in chosen):
            chosen.append((template, player))
    if deposit.first_deposit:
        chosen += await _referrals(conn, realm, deposit, player)
    for template, receiver in chosen:
        effects.append(await _grant(conn, realm, ctx, template, receiver, deposit))
    return effects


def _qualifies(template: dict[str, Any], deposit: Deposit) -> bool:
    minimum = template["terms"].get("min_deposit")
    return template["currency"] == deposit.currency and (
        minimum is None or deposit.amount >= int(minimum))


async def _referrals(conn: AsyncConnection, realm: Realm, deposit: Deposit,
                     player: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    referrer_id = await conn.scalar(
        text("SELECT referred_by FROM players WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND id = :id"), {**realm.params, "id": player["id"]})
    if referrer_id is None:
        return []
    referrer = await players.get(conn, realm, player["brand_id"], str(referrer_id))
    rows = await conn.execute(
        text("SELECT id FROM bonus_templates WHERE tenant_id = :tenant_id AND mode = :mode "
             "AND type = 'referral' AND status = 'active' AND currency = :currency "
             "ORDER BY created_at, id LIMIT :limit"),
        {**realm.params, "currency": deposit.currency, "limit": AUTO_LIMIT})
    out = []
    for (template_id,) in rows:
        template = await repository.template(conn, realm, template_id=template_id)
        if template is not None and _qualifies(template, deposit):
            out.append((template, referrer))
    return out


async def _grant(conn: AsyncConnection, realm: Realm, ctx: Context, template: dict[str, Any],
                 receiver: dict[str, Any], deposit: Deposit) -> dict[str, Any]:
    referral = template["type"] == "referral"
    about = {"template_id": str(template["id"]), "type": template["type"],
             "user_id": str(receiver["id"])}
    if template["type"] == "reload" and deposit.first_deposit:
        return {**about, "granted": False, "code": "NOT_ELIGIBLE",
                "error": "a reload bonus needs an earlier deposit"}
    try:
        async with wire.savepoint(conn):
            status, body = await service.grant(
                conn, realm=realm, service_mode=ctx.service_mode, player=receiver,
                template=template, deposit_amount=None if referral else deposit.amount,
                amount=None, reason=None, opted_in_at=None,
                source="referral" if referral else "deposit",
                source_ref=(str(deposit.player_id) if referral
                            else deposit.source_deposit_id), actor=SYSTEM, at=ctx.at)
    except DomainError as error:
        return {**about, "granted": False, **error.body()}
    if status == 403:
        return {**about, "granted": False, **body}
    if body.get("bonus") is None:
        return {**about, "granted": False, "code": "ALREADY_GRANTED",
                "error": "granted once for this source"}
    return {**about, "granted": True, "bonus_id": body["bonus"]["id"],
            "bonus_amount": body["bonus"]["bonus_amount"]}

"""CRM rules: segments and campaigns of a brand, previews and dry runs.

Segments and campaigns belong to the brand of the key that creates them and select that
brand's players only; another brand's keys get 404 for them (a preview names players).
Runs live in ``crm.runs``, the budget in ``crm.budget``, backtests in ``crm.backtest``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import engagement
from wowsino.compliance import service as compliance
from wowsino.crm import actions, budget, grammar, repository, schedules, views
from wowsino.crm.compiler import compile_condition
from wowsino.kernel import audit
from wowsino.kernel.errors import Conflict, NotFound, ValidationFailed
from wowsino.kernel.ids import new_id, parse_uuid
from wowsino.kernel.money import ASSETS, to_minor
from wowsino.kernel.realm import Actor, Realm

Body = dict[str, Any]
DRY_RUN_CHUNK = 1000


def checked(expression: str, at: datetime) -> grammar.Node:
    node = grammar.parse(expression)
    grammar.check_at(node, at)
    return node


async def own_segment(conn: AsyncConnection, realm: Realm, brand_id: UUID, ref: str, *,
                      for_update: bool = False) -> Body:
    found = parse_uuid(ref)
    row = None if found is None else await repository.segment(conn, realm, brand_id, found,
                                                               for_update=for_update)
    if row is None:
        raise NotFound(f"no segment {ref!r}", code="NO_SEGMENT")
    return row


async def own_campaign(conn: AsyncConnection, realm: Realm, brand_id: UUID, ref: str, *,
                       for_update: bool = False) -> Body:
    found = parse_uuid(ref)
    row = None if found is None else await repository.campaign(
        conn, realm, found, brand_id=brand_id, for_update=for_update)
    if row is None:
        raise NotFound(f"no campaign {ref!r}", code="NO_CAMPAIGN")
    return row


# --- segments ------------------------------------------------------------------------------

async def create_segment(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, fields: Body,
                         actor: Actor, at: datetime) -> Body:
    checked(fields["expression"], at)
    values = {"id": new_id(), "brand_id": brand_id, "name": fields["name"],
              "expression": fields["expression"], "at": at}
    await repository.insert_segment(conn, realm, values)
    await audit.record(conn, realm=realm, actor=actor, action="segment.created",
                       target_type="segment", target_id=str(values["id"]),
                       after={"name": values["name"], "expression": values["expression"]}, at=at)
    return {"segment": views.segment(await own_segment(conn, realm, brand_id,
                                                       str(values["id"])))}


async def update_segment(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                         fields: Body, actor: Actor, at: datetime) -> Body:
    row = await own_segment(conn, realm, brand_id, ref, for_update=True)
    name = fields.get("name") or row["name"]
    expression = fields.get("expression") or row["expression"]
    checked(expression, at)
    await repository.update_segment(conn, realm, row["id"], name, expression, at)
    await audit.record(conn, realm=realm, actor=actor, action="segment.updated",
                       target_type="segment", target_id=str(row["id"]),
                       before={"name": row["name"], "expression": row["expression"]},
                       after={"name": name, "expression": expression}, at=at)
    return {"segment": views.segment(await own_segment(conn, realm, brand_id, ref))}


async def delete_segment(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                         actor: Actor, at: datetime) -> Body:
    """Delete a segment no campaign uses (409 ``SEGMENT_IN_USE`` otherwise)."""
    row = await own_segment(conn, realm, brand_id, ref, for_update=True)
    used = await repository.campaigns_using(conn, realm, row["id"])
    if used:
        raise Conflict(f"{used} campaign(s) use this segment", code="SEGMENT_IN_USE")
    await repository.delete_segment(conn, realm, row["id"])
    await audit.record(conn, realm=realm, actor=actor, action="segment.deleted",
                       target_type="segment", target_id=str(row["id"]),
                       before={"name": row["name"], "expression": row["expression"]}, at=at)
    return {"segment": {"id": str(row["id"]), "deleted": True}}


async def preview(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                  at: datetime) -> Body:
    """``{count, sample}``: how many players match now and the newest 20, each with the
    values of the fields the expression reads."""
    row = await own_segment(conn, realm, brand_id, ref)
    compiled = compile_condition(checked(row["expression"], at), at)
    total, rows = await repository.preview(conn, realm, brand_id, compiled, at)
    sample = [{"user_id": str(r["id"]), "username": r["username"],
               "values": {f: views.value(f, r[f"f_{f}"], r["currency"])
                          for f in sorted(compiled.fields)}} for r in rows]
    return {"segment_id": str(row["id"]), "at": at, "count": total, "sample": sample}


# --- campaigns -----------------------------------------------------------------------------

def _budget(value: Decimal | None, asset: str | None) -> int | None:
    if value is None:
        return None
    if asset is None:
        raise ValidationFailed("budget: a notify campaign has no cost to cap", field="budget")
    return to_minor(value, ASSETS[asset], field="budget")


async def create_campaign(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, fields: Body,
                          actor: Actor, at: datetime) -> Body:
    segment = await own_segment(conn, realm, brand_id, fields["segment_id"])
    action, asset = await actions.resolve(conn, realm, fields["action"])
    schedule = schedules.normalise(fields.get("schedule", "once"))
    values = {"id": new_id(), "brand_id": brand_id, "segment_id": segment["id"],
              "name": fields["name"], "action": action, "asset": asset, "schedule": schedule,
              "budget": _budget(fields.get("budget"), asset),
              "max_per_player": fields.get("max_per_player_per_month"),
              "next_run_at": schedules.next_after(schedule, at), "at": at}
    await repository.insert_campaign(conn, realm, values)
    shown = views.campaign(await own_campaign(conn, realm, brand_id, str(values["id"])))
    await audit.record(conn, realm=realm, actor=actor, action="campaign.created",
                       target_type="campaign", target_id=shown["id"], after=shown, at=at)
    return {"campaign": shown}


async def update_campaign(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                          fields: Body, actor: Actor, at: datetime) -> Body:
    row = await own_campaign(conn, realm, brand_id, ref, for_update=True)
    before = views.campaign(row)
    values = {"segment_id": row["segment_id"], "name": fields.get("name") or row["name"],
              "action": row["action"], "asset": row["asset"], "schedule": row["schedule"],
              "budget": row["budget"], "max_per_player": row["max_per_player_per_month"],
              "status": row["status"], "paused_reason": row["paused_reason"], "at": at}
    if "segment_id" in fields:
        values["segment_id"] = (await own_segment(conn, realm, brand_id,
                                                  fields["segment_id"]))["id"]
    if "action" in fields:
        values["action"], values["asset"] = await actions.resolve(conn, realm, fields["action"])
        if "budget" not in fields and values["asset"] != row["asset"]:
            values["budget"] = None  # a cap in another asset means nothing now
    if "schedule" in fields:
        values["schedule"] = schedules.normalise(fields["schedule"])
    if "budget" in fields:
        values["budget"] = _budget(fields["budget"], values["asset"])
    if "max_per_player_per_month" in fields:
        values["max_per_player"] = fields["max_per_player_per_month"]
    values["next_run_at"] = schedules.next_after(values["schedule"], at)
    await repository.update_campaign(conn, realm, row["id"], values)
    shown = views.campaign(await own_campaign(conn, realm, brand_id, ref))
    await audit.record(conn, realm=realm, actor=actor, action="campaign.updated",
                       target_type="campaign", target_id=shown["id"], before=before,
                       after=shown, at=at)
    return {"campaign": shown}


async def set_status(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, to: str,
                     actor: Actor, at: datetime) -> Body:
    """Pause (no scheduled or manual runs; a running run waits) or resume (the next
    scheduled time from now on; a waiting run continues). Audited."""
    row = await own_campaign(conn, realm, brand_id, ref, for_update=True)
    if row["status"] != to or row["paused_reason"] is not None:
        values = {"segment_id": row["segment_id"], "name": row["name"], "action": row["action"],
                  "asset": row["asset"], "schedule": row["schedule"], "budget": row["budget"],
                  "max_per_player": row["max_per_player_per_month"], "status": to,
                  "paused_reason": "operator" if to == "paused" else None,
                  "next_run_at": schedules.next_after(row["schedule"], at), "at": at}
        await repository.update_campaign(conn, realm, row["id"], values)
        await audit.record(conn, realm=realm, actor=actor, action=f"campaign.{to}",
                           target_type="campaign", target_id=str(row["id"]),
                           before={"status": row["status"]}, after={"status": to}, at=at)
    return {"campaign": views.campaign(await own_campaign(conn, realm, brand_id, ref))}


async def dry_run(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                  at: datetime) -> Body:
    """Who a run now would act on, what it would cost, and whom it would skip and why;
    nothing is granted or written here (the caller audits it)."""
    campaign = await own_campaign(conn, realm, brand_id, ref)
    segment = await own_segment(conn, realm, brand_id, str(campaign["segment_id"]))
    compiled = compile_condition(checked(segment["expression"], at), at)
    plan = await actions.plan(conn, realm, campaign["action"])
    rules = await compliance.brand_rules(conn, realm, brand_id)
    skipped: Counter[str] = Counter()
    sample: list[Body] = []
    count, cost, matched = 0, 0, 0
    after = UUID(int=0)
    while True:
        ids = await repository.matching_ids(conn, realm, brand_id, compiled, at, after=after,
                                            limit=DRY_RUN_CHUNK)
        if not ids:
            break
        after, matched = ids[-1], matched + len(ids)
        held = await engagement.holds(conn, realm, ids, at)
        deposits = await repository.last_deposits(conn, realm, ids, plan.template["currency"]) \
            if plan.template is not None and plan.template["type"] == "reload" else {}
        so_far = await repository.month_grants(conn, realm, campaign["id"], ids,
                                               budget.month_of(at)) \
            if campaign["max_per_player_per_month"] else {}
        for player in await repository.players(conn, realm, ids):
            reason = gate(player, held, so_far, campaign["max_per_player_per_month"],
                          plan=plan, rules=rules, at=at)
            if reason is None:
                try:
                    each = await actions.estimate(conn, realm, plan, player, deposits, at)
                except actions.Refused as exc:
                    reason = exc.reason
            if reason is not None:
                skipped[reason] += 1
                continue
            count, cost = count + 1, cost + each
            if len(sample) < 20:
                sample.append({"user_id": str(player["id"]), "username": player["username"],
                               "cost": views.costs(each, campaign["asset"])})
    return {"campaign_id": str(campaign["id"]), "at": at, "matched": matched, "count": count,
            "sample": sample, "total_cost": views.costs(cost, campaign["asset"]),
            "skipped": dict(sorted(skipped.items())),
            "budget": actions.money(campaign["budget"], campaign["asset"]),
            "within_budget": campaign["budget"] is None or cost <= int(campaign["budget"])}


async def record_dry_run(conn: AsyncConnection, *, realm: Realm, actor: Actor, result: Body,
                         at: datetime) -> None:
    """Audit a dry run (``campaign.dry_run``) with what it found: count, cost and skips."""
    await audit.record(conn, realm=realm, actor=actor, action="campaign.dry_run",
                       target_type="campaign", target_id=result["campaign_id"],
                       after={k: result[k] for k in ("count", "total_cost", "skipped")}, at=at)


def gate(player: Body, held: dict[UUID, str], so_far: dict[UUID, int], limit: int | None,
         *, plan: actions.Plan | None = None, rules: compliance.BrandRules | None = None,
         at: datetime | None = None) -> str | None:
    """Why a run skips ``player`` before trying the action (an RG hold, a status other than
    active, the campaign's monthly limit per player), or None. A dry run passes the
    brand's ``rules`` to foresee the jurisdiction's refusals too; a run leaves them to
    the bonus engine."""
    reason = held.get(player["id"]) or ("status" if player["status"] != "active" else None)
    if reason is None and limit and so_far.get(player["id"], 0) >= limit:
        reason = "max_per_player_per_month"
    if reason is None and rules is not None and plan is not None and plan.template is not None \
            and at is not None and compliance.bonus_violation(
                rules.rules, player, plan.template["terms"], at,
                plan.template["type"]) is not None:
        reason = "jurisdiction"
    return reason

"""VIP rules: the programme (``PUT``/``GET /v1/vip``), a player's standing and its view.

The programme is one per realm. A ``PUT`` replaces it and re-places every player on
the new ladder by their XP (the only way a level goes down), in the same transaction.
Brands whose jurisdiction profile has ``vip_allowed: false`` take no part: their
players earn no XP, no level and no cashback, and the programme's view lists them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import service as compliance
from wowsino.kernel import audit
from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.realm import Actor, Realm
from wowsino.players import service as players
from wowsino.vip import levels, repository
from wowsino.vip.ladder import Programme, progress

Body = dict[str, Any]
RULE = "vip_allowed"


def _check_ladder(items: list[Body]) -> None:
    """Levels and ``xp_required`` strictly increasing, the first at ``xp_required: 0``."""
    if items[0]["xp_required"] != 0:
        raise ValidationFailed("levels.0.xp_required: the first level starts at 0",
                               field="levels.0.xp_required")
    for i, (before, item) in enumerate(pairwise(items), start=1):
        for name in ("level", "xp_required"):
            if item[name] <= before[name]:
                raise ValidationFailed(f"levels.{i}.{name}: must be above the level before's",
                                       field=f"levels.{i}.{name}")


async def _check_timezone(conn: AsyncConnection, name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        known = False
    else:
        known = await repository.timezone_known(conn, name)
    if not known:
        raise ValidationFailed(f"timezone: {name!r} is not an IANA time zone", field="timezone")


async def _reward(conn: AsyncConnection, realm: Realm, reward: Body | None) -> Body | None:
    """A level's reward with its references resolved (404 for an unknown one)."""
    from wowsino.bonuses import service as bonuses  # the bonus engine builds on players
    from wowsino.engines.draws import games
    from wowsino.engines.lootbox.service import LOOTBOX

    if reward is None:
        return None
    out = {"winz": reward["winz"], "bonus_template": None, "lootbox_id": None}
    if reward.get("bonus_template") is not None:
        out["bonus_template"] = str((await bonuses.load_template(
            conn, realm, reward["bonus_template"]))["id"])
    if reward.get("lootbox_id") is not None:
        out["lootbox_id"] = str((await games.load(conn, LOOTBOX, realm,
                                                  reward["lootbox_id"]))["id"])
    return out


async def _cashback_template(conn: AsyncConnection, realm: Realm, fields: Body) -> UUID | None:
    from wowsino.bonuses import service as bonuses

    ref = fields.get("cashback_template")
    pays = any(level["cashback_pct"] > 0 for level in fields["levels"])
    if ref is None:
        if pays and fields["cashback_as"] == "bonus":
            raise ValidationFailed("cashback_template: required to pay cashback as a bonus",
                                   field="cashback_template")
        return None
    template = await bonuses.load_template(conn, realm, ref)
    if template["type"] != "cashback":
        raise ValidationFailed("cashback_template: not a cashback template",
                               field="cashback_template")
    return UUID(str(template["id"]))


async def put(conn: AsyncConnection, *, realm: Realm, fields: Body, actor: Actor,
              at: datetime) -> Body:
    """Set the programme; re-place every player on its ladder. Raises 400 naming the field,
    404 ``NO_TEMPLATE`` / ``NO_LOOTBOX`` for an unknown reference."""
    _check_ladder(fields["levels"])
    await _check_timezone(conn, fields["timezone"])
    stored = [{"level": item["level"], "name": item["name"],
               "xp_required": item["xp_required"],
               "cashback_pct": format(Decimal(item["cashback_pct"]).normalize(), "f"),
               "level_up_reward": await _reward(conn, realm, item.get("level_up_reward"))}
              for item in fields["levels"]]
    before = await repository.config(conn, realm)
    values = {"xp_per_unit": fields["xp_per_unit"], "xp_daily_cap": fields["xp_daily_cap"],
              "timezone": fields["timezone"], "cashback_period": fields["cashback_period"],
              "cashback_as": fields["cashback_as"],
              "cashback_template_id": await _cashback_template(conn, realm, fields),
              "levels": stored}
    await repository.put_config(conn, realm, values, at)
    moved = await repository.replace_levels(conn, realm, stored, stored[0]["level"], at)
    await levels.announce(conn, realm, [
        ({"id": row["player_id"], "username": row["username"]}, int(row["before"]),
         int(row["level"])) for row in moved if row["allowed"]], at)
    shown = await show(conn, realm)
    await audit.record(conn, realm=realm, actor=actor, action="vip.updated",
                       target_type="vip", target_id=realm.mode.value,
                       before=None if before is None else _config_view(before),
                       after=shown["vip"], at=at)
    return {**shown, "players_moved": len(moved)}


def _config_view(row: Body) -> Body:
    programme = Programme.from_row(row)
    return {
        "xp_per_unit": programme.xp_per_unit, "xp_daily_cap": programme.xp_daily_cap,
        "timezone": programme.timezone, "cashback_period": programme.cashback_period,
        "cashback_as": programme.cashback_as,
        "cashback_template": None if programme.cashback_template_id is None
        else str(programme.cashback_template_id),
        "levels": [{"level": x.level, "name": x.name, "xp_required": x.xp_required,
                    "cashback_pct": x.cashback_pct, "level_up_reward": levels.reward_view(x.reward)}
                   for x in programme.levels],
        "version": int(row["version"]), "cashback_paid_until": row["cashback_paid_until"],
        "created_at": row["created_at"], "updated_at": row["updated_at"]}


async def show(conn: AsyncConnection, realm: Realm) -> Body:
    """``{vip: the programme or null, disallowed_brands: [slug]}``."""
    row = await repository.config(conn, realm)
    return {"vip": None if row is None else _config_view(row),
            "disallowed_brands": await compliance.brands_refusing(conn, realm, RULE)}


def _standing(programme: Programme | None, row: Body) -> Body:
    """Level, name, XP and progress of a player's stored standing."""
    xp = int(row["xp"])
    if programme is None or not row["allowed"]:
        return {"vip_allowed": bool(row["allowed"]), "level": None, "name": None, "xp": xp,
                "progress": None}
    level = programme.find(row["level"]) if row["level"] is not None else None
    level = level or programme.level_for(xp)
    return {"vip_allowed": True, "level": level.level, "name": level.name, "xp": xp,
            "progress": progress(programme, level.level, xp)}


async def summaries(conn: AsyncConnection, realm: Realm, player_ids: list[UUID]) -> dict[str, Body]:
    """The dossier's ``vip`` of many players, in one query."""
    found = await repository.standings(conn, realm, player_ids)
    return {str(pid): _standing(_programme(row), row) for pid, row in found.items()}


def _programme(row: Body) -> Programme | None:
    return None if row["levels"] is None else Programme.from_row(row)


async def player_view(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                      now: datetime) -> Body:
    """``GET /v1/players/<key>/vip``: standing, XP today against the cap, progress and
    the cashback accrued in the current period (at the player's level, as it stands)."""
    player = await players.get(conn, realm, brand_id, ref)
    row = await repository.config(conn, realm)
    programme = None if row is None else Programme.from_row(row)
    standing = (await repository.standings(conn, realm, [player["id"]]))[player["id"]]
    view: Body = {"user_id": str(player["id"]), **_standing(programme, standing),
                  "xp_today": 0, "xp_daily_cap": None, "cashback": None}
    if programme is None or view["level"] is None:
        return {"vip": view}
    today = programme.local_day(now)
    start, end = programme.period(today)
    paid = row["cashback_paid_until"] if row else None
    start = max(start, paid) if paid is not None else start
    done = await repository.days_total(conn, realm, player["id"], today,
                                       today + timedelta(days=1))
    period = await repository.days_total(conn, realm, player["id"], start, end)
    level = programme.find(view["level"]) or programme.base
    net = max(period["net_loss"], 0)
    currency = ASSETS[player["currency"]]
    view.update(xp_today=done["xp"], xp_daily_cap=programme.xp_daily_cap, cashback={
        "period_start": start, "period_end": end, "currency": currency.code,
        "net_loss": from_minor(net, currency), "cashback_pct": level.cashback_pct,
        "accrued": from_minor(int(Decimal(net) * level.cashback_pct / 100), currency),
        "paid_as": programme.cashback_as})
    return {"vip": view}


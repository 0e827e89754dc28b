"""Journey rules: configuration (create, change, pause, resume), named events from the
operator, a player's runs, and expiry. How triggers move runs: ``spine.py`` and
``progress.py``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import lifecycle
from wowsino.engines.journeys import repository, schemas
from wowsino.events import triggers
from wowsino.events.wagers import Context
from wowsino.kernel import audit
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.errors import Conflict, ValidationFailed
from wowsino.kernel.ids import new_id
from wowsino.kernel.pagination import NEWEST
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Actor, Realm
from wowsino.players import service as players

NOUN = "journey"
TABLE = "journeys"
NOT_FOUND = "NO_JOURNEY"
Body = dict[str, Any]


async def load(conn: AsyncConnection, realm: Realm, ref: str, *,
               for_update: bool = False) -> Body:
    """A journey by id, or 404 ``NO_JOURNEY``."""
    return await lifecycle.load(conn, table=TABLE, realm=realm, ref=ref,
                                not_found_code=NOT_FOUND, noun=NOUN, for_update=for_update)


def _steps(steps: list[Body]) -> list[Body]:
    """Steps as stored: defaults filled, amounts as decimal text."""
    return [{"trigger": s["trigger"], "count": s.get("count") or 1,
             "min_amount": None if s.get("min_amount") is None
             else format(Decimal(s["min_amount"]).normalize(), "f"),
             "within_hours": s.get("within_hours")} for s in steps]


async def _references(conn: AsyncConnection, realm: Realm, fields: Body) -> Body:
    """The reward's template and lootbox resolved to ids (404 for an unknown one)."""
    from wowsino.bonuses import service as bonuses  # the bonus engine uses the engines
    from wowsino.engines.draws import games
    from wowsino.engines.lootbox.service import LOOTBOX

    out: Body = {}
    if "reward_bonus_template" in fields:
        ref = fields["reward_bonus_template"]
        out["reward_bonus_template_id"] = None if ref is None else (
            await bonuses.load_template(conn, realm, ref))["id"]
    if "reward_lootbox_id" in fields:
        ref = fields["reward_lootbox_id"]
        out["reward_lootbox_id"] = None if ref is None else (
            await games.load(conn, LOOTBOX, realm, ref))["id"]
    return out


def _shape(fields: Body) -> Body:
    values: Body = {k: fields[k] for k in ("name", "entry_trigger", "reward_winz",
                                     "time_limit_hours", "repeatable") if k in fields}
    if "steps" in fields:
        values["steps"] = _steps(fields["steps"])
        values["triggers"] = sorted({s["trigger"] for s in fields["steps"]})
    return values


async def create(conn: AsyncConnection, *, realm: Realm, fields: Body, actor: Actor,
                 at: datetime) -> Body:
    """Create an active journey. 404 ``NO_TEMPLATE``/``NO_LOOTBOX`` for a bad reward."""
    values = {"id": new_id(), "reward_bonus_template_id": None, "reward_lootbox_id": None,
              **_shape(fields), **await _references(conn, realm, fields), "at": at}
    await repository.insert(conn, realm, values)
    shown = schemas.journey_view(await load(conn, realm, str(values["id"])))
    await audit.record(conn, realm=realm, actor=actor, action="journey.created",
                       target_type=NOUN, target_id=shown["id"], after=shown, at=at)
    return {"journey": shown}


async def update(conn: AsyncConnection, *, realm: Realm, ref: str, fields: Body, actor: Actor,
                 at: datetime) -> Body:
    """Change a journey. 409 ``JOURNEY_STARTED`` to change the entry trigger or the steps
    once a player has entered; 400 for a null where a value is required."""
    journey = await load(conn, realm, ref, for_update=True)
    for name in ("name", "entry_trigger", "steps", "reward_winz", "repeatable"):
        if name in fields and fields[name] is None:
            raise ValidationFailed(f"{name}: must not be null", field=name)
    if ({"entry_trigger", "steps"} & fields.keys()
            and await repository.entered(conn, realm, journey["id"])):
        raise Conflict("players have entered this journey: its entry trigger and steps are "
                       "fixed (create a new journey)", code="JOURNEY_STARTED")
    changes = {**_shape(fields), **await _references(conn, realm, fields)}
    before = schemas.journey_view(journey)
    if changes:
        await repository.update(conn, realm, journey["id"], changes, at)
    shown = schemas.journey_view(await load(conn, realm, ref))
    await audit.record(conn, realm=realm, actor=actor, action="journey.updated",
                       target_type=NOUN, target_id=shown["id"], before=before, after=shown,
                       at=at)
    return {"journey": shown}


async def set_status(conn: AsyncConnection, *, realm: Realm, ref: str, to: str, actor: Actor,
                     at: datetime) -> Body:
    """Pause (no entries, no progress) or resume; 409 ``NOT_ACTIVE`` otherwise."""
    journey = await load(conn, realm, ref, for_update=True)
    changed = await lifecycle.set_status(conn, table=TABLE, realm=realm, entity=journey, to=to,
                                         noun=NOUN, actor=actor, at=at)
    return {"journey": schemas.journey_view(changed)}


async def listing(conn: AsyncConnection, realm: Realm, *, status: str | None, limit: int,
                  cursor: str | None) -> Body:
    rows = await repository.search(conn, realm, status=status, after=NEWEST.decode(cursor),
                                   limit=limit)
    page = NEWEST.page(rows, limit)
    return {"data": [schemas.journey_view(r) for r in page["data"]],
            "next_cursor": page["next_cursor"]}


async def get_one(conn: AsyncConnection, realm: Realm, ref: str) -> Body:
    return {"journey": schemas.journey_view(await load(conn, realm, ref))}


async def record_event(conn: AsyncConnection, *, realm: Realm, brand_id: UUID,
                       service_mode: str, user_ref: str, trigger: str,
                       properties: Body | None, at: datetime) -> Body:
    """``POST /v1/journeys/event``: fire a named trigger for a player (every engine that
    reacts to triggers sees it). 404 ``NO_PLAYER``."""
    player = await players.get(conn, realm, brand_id, user_ref)
    done = await triggers.fire(conn, realm, [triggers.Trigger(
        player["id"], player["brand_id"], trigger, at, dict(properties or {}))],
        Context(service_mode, at))
    return {"user_id": str(player["id"]), "trigger": trigger, "effects": done}


async def player_runs(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                      limit: int, cursor: str | None, now: datetime) -> Body:
    """A player's journeys (the latest run of each), newest first."""
    player = await players.get(conn, realm, brand_id, ref)
    rows = await repository.player_runs(conn, realm, player["id"],
                                        after=repository.RUNS.decode(cursor), limit=limit)
    page = repository.RUNS.page(rows, limit)
    return {"data": [schemas.run_view(r, now) for r in page["data"]],
            "next_cursor": page["next_cursor"]}


async def expire_due(platform: Platform, *, batch: int = 1000) -> int:
    """The worker's job: record runs whose time is up as ``expired``."""
    now = platform.clock.now()
    total = 0
    while True:
        done = await unit_of_work(platform.engine,
                                  lambda conn: repository.expire_due(conn, now, batch))
        total += done
        if done < batch:
            return total

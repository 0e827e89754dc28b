"""Journeys on the spine: wagers fire ``wager``, deposits ``deposit`` (and
``first_deposit`` once), and every other named trigger arrives through
``events/triggers.fire`` (``vip.level_up``, ``rg.limit_set``, ``reality_check``, what an
operator sends to ``POST /v1/journeys/event``). All go through ``advance``.

``advance`` over a batch of triggers: one statement finds the active journeys they
concern (the only one a realm without such journeys pays); then the players' runs of
those journeys are read row-locked, each player's triggers are applied in order (an
expired run ends, a matching trigger counts toward its step, an entry trigger starts a
run), and the changed runs are written together. Before a player is entered, and
before a completed run's reward is given, ``compliance.engagement.holds`` is asked:
a held player is not entered and gets no reward (``skipped: rg``, on the timeline).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import engagement
from wowsino.engines import awards, rewards
from wowsino.engines.journeys import progress, repository
from wowsino.engines.journeys.progress import Run, Step
from wowsino.events.triggers import Trigger
from wowsino.events.wagers import Context, Deposit, Effects, Wager, configured
from wowsino.kernel import outbox, wire
from wowsino.kernel.errors import DomainError
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.realm import SYSTEM, Realm
from wowsino.players import service as players

ENGINE = "journeys"


class _Journey:
    """A journey row with its steps read once."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.id: UUID = row["id"]
        self.steps = [Step.stored(s) for s in row["steps"]]
        self.limit: int | None = row["time_limit_hours"]

    @property
    def award(self) -> awards.Award:
        template, box = self.row["reward_bonus_template_id"], self.row["reward_lootbox_id"]
        return awards.Award(winz=int(self.row["reward_winz"]),
                            bonus_template=None if template is None else str(template),
                            lootbox_id=None if box is None else str(box))


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": from_minor(amount, ASSETS[currency]), "currency": currency}


# Whether an active journey is entered or advanced by ``wager`` (JSON true/false), sent with
# the spine's player look-up: a realm without one pays no statement at all.
READS = configured("journeys", "status = 'active' AND (entry_trigger = 'wager' "
                               "OR 'wager' = ANY (triggers))")


async def apply_wagers(conn: AsyncConnection, realm: Realm, wagers: list[Wager],
                       ctx: Context) -> Effects:
    """The ``wager`` trigger of each wager."""
    if ctx.reads.get("journeys") is False:
        return {}
    return await advance(conn, realm, [
        (w.source_wager_id, Trigger(w.player_id, w.brand_id, "wager", ctx.at, {
            **_money(w.amount, w.currency), "game_category": w.game_category,
            "funding": w.funding})) for w in wagers], ctx)


async def reverse_wagers(conn: AsyncConnection, realm: Realm, wagers: list[Wager],
                         ctx: Context) -> Effects:
    """A step a wager counted toward stays counted (documented in docs/engines/journeys.md)."""
    return {}


async def apply_deposit(conn: AsyncConnection, realm: Realm, deposit: Deposit,
                        ctx: Context) -> list[dict[str, Any]]:
    """``deposit``, then ``first_deposit`` for a player's first."""
    names = ["deposit", "first_deposit"] if deposit.first_deposit else ["deposit"]
    money = _money(deposit.amount, deposit.currency)
    done = await advance(conn, realm, [
        (name, Trigger(deposit.player_id, deposit.brand_id, name, ctx.at, money))
        for name in names], ctx)
    return [effect for name in names for effect in done.get(name, [])]


async def apply_triggers(conn: AsyncConnection, realm: Realm, triggers: list[Trigger],
                         ctx: Context) -> list[dict[str, Any]]:
    """Named triggers from ``events.triggers.fire``."""
    done = await advance(conn, realm, [(str(i), t) for i, t in enumerate(triggers)], ctx)
    return [effect for i in range(len(triggers)) for effect in done.get(str(i), [])]


async def advance(conn: AsyncConnection, realm: Realm, keyed: list[tuple[str, Trigger]],
                  ctx: Context) -> Effects:
    """Apply ``keyed`` triggers (in order) to every journey they concern; the effects per
    key."""
    if not keyed:
        return {}
    found = await repository.matching(conn, realm, sorted({t.name for _, t in keyed}))
    if not found:
        return {}
    journeys = [_Journey(row) for row in found]
    player_ids = sorted({t.player_id for _, t in keyed}, key=str)
    stored = await repository.lock_runs(conn, realm, [j.id for j in journeys], player_ids)
    runs = {pair: Run.stored(row) for pair, row in stored.items()}
    held = await _entry_holds(conn, realm, ctx, journeys, keyed, runs)
    effects: Effects = defaultdict(list)
    new: set[tuple[UUID, UUID]] = set()
    completed: list[tuple[_Journey, Trigger, str]] = []
    skipped: dict[UUID, str] = {}
    for key, trigger in keyed:
        for journey in journeys:
            pair = (journey.id, trigger.player_id)
            effect = _apply(journey, runs, new, held, pair, trigger)
            if effect is None:
                continue
            effects[key].append(effect)
            if effect.get("skipped") == "rg":
                skipped[trigger.player_id] = effect["reason"]
            if effect.get("completed"):
                completed.append((journey, trigger, key))
    await _reward(conn, realm, ctx, completed, runs, effects, skipped)
    if skipped:
        await engagement.record_skips(conn, realm, skipped, engine=ENGINE, ref=None, at=ctx.at)
    await _write(conn, realm, ctx, runs, new, keyed, effects)
    return dict(effects)


async def _entry_holds(conn: AsyncConnection, realm: Realm, ctx: Context,
                       journeys: list[_Journey], keyed: list[tuple[str, Trigger]],
                       runs: dict[tuple[UUID, UUID], Run]) -> dict[UUID, str]:
    """The holds of the players a trigger may enter into a journey (asked only then)."""
    entering = set()
    for _, trigger in keyed:
        for journey in journeys:
            run = runs.get((journey.id, trigger.player_id))
            if trigger.name == journey.row["entry_trigger"] and (
                    run is None or run.status != "active" or run.expires_at is not None):
                entering.add(trigger.player_id)
    if not entering:
        return {}
    return await engagement.holds(conn, realm, sorted(entering, key=str), ctx.at)


def _apply(journey: _Journey, runs: dict[tuple[UUID, UUID], Run], new: set[tuple[UUID, UUID]],
           held: dict[UUID, str], pair: tuple[UUID, UUID],
           trigger: Trigger) -> dict[str, Any] | None:
    """One trigger on one journey of its player: what happened, or None."""
    named = {"journey_id": str(journey.id), "name": journey.row["name"]}
    run = runs.get(pair)
    if run is not None and progress.expire(run, trigger.at):
        named["expired"] = True
    if run is not None and run.status == "active":
        done = progress.advance(journey.steps, journey.limit, run, trigger.name,
                                progress.amount_of(trigger.properties), trigger.at)
        if done is None:
            return named if named.get("expired") else None
        return {**named, "step": run.step, "steps_total": len(journey.steps),
                "step_count": run.step_count, "completed": done == "completed"}
    if trigger.name != journey.row["entry_trigger"]:
        return named if named.get("expired") else None
    if run is not None and not journey.row["repeatable"]:
        return named if named.get("expired") else None
    if trigger.player_id in held:
        return {**named, "entered": False, "skipped": "rg", "reason": held[trigger.player_id]}
    runs[pair] = progress.start(journey.steps, journey.limit, run, trigger.at)
    if run is None:
        new.add(pair)
    return {**named, "entered": True, "run": runs[pair].run, "step": 0,
            "steps_total": len(journey.steps), "expires_at": runs[pair].expires_at}


async def _reward(conn: AsyncConnection, realm: Realm, ctx: Context,
                  completed: list[tuple[_Journey, Trigger, str]],
                  runs: dict[tuple[UUID, UUID], Run], effects: Effects,
                  skipped: dict[UUID, str]) -> None:
    """Give each completed run's reward once (it completes once), unless the player is
    held; announce ``journey.completed``."""
    if not completed:
        return
    held = await engagement.holds(conn, realm, sorted({t.player_id for _, t, _ in completed},
                                                      key=str), ctx.at)
    for journey, trigger, key in completed:
        player = await players.get(conn, realm, trigger.brand_id, str(trigger.player_id))
        run = runs[(journey.id, trigger.player_id)]
        reason = held.get(trigger.player_id)
        if reason is not None:
            run.reward = {"skipped": "rg", "reason": reason}
            skipped[trigger.player_id] = reason
        else:
            run.reward = await _give(conn, realm, ctx, journey, player, run)
        for effect in effects[key]:
            if effect["journey_id"] == str(journey.id) and effect.get("completed"):
                effect["reward"] = run.reward
        await outbox.emit(conn, realm=realm, type="journey.completed", at=ctx.at, data={
            "journey_id": str(journey.id), "journey_name": journey.row["name"],
            "user": players.player_ref(player), "run": run.run,
            "reward_winz_granted": int(run.reward.get("winz") or 0) if reason is None else 0,
            "reward": run.reward, "completed_at": ctx.at})


async def _give(conn: AsyncConnection, realm: Realm, ctx: Context, journey: _Journey,
                player: dict[str, Any], run: Run) -> dict[str, Any]:
    award = journey.award
    if award.empty:
        return {"winz": 0, "bonus": None, "lootbox_open": None}
    try:
        async with wire.savepoint(conn):
            rewards.check_eligible(player)
            return await awards.give(
                conn, realm=realm, service_mode=ctx.service_mode, player=player, award=award,
                kind="journey.reward", ref_type="journey_run",
                ref_id=f"{journey.id}:{player['id']}:{run.run}", actor=SYSTEM, at=ctx.at)
    except DomainError as error:
        return {"winz": 0, "granted": False, **error.body()}


async def _write(conn: AsyncConnection, realm: Realm, ctx: Context,
                 runs: dict[tuple[UUID, UUID], Run], new: set[tuple[UUID, UUID]],
                 keyed: list[tuple[str, Trigger]], effects: Effects) -> None:
    """Insert first runs, update the others; a first run a concurrent transaction entered
    first is left to it (this batch's triggers are not counted toward it)."""
    brands = {t.player_id: t.brand_id for _, t in keyed}
    rows = {pair: {"journey_id": pair[0], "player_id": pair[1], "brand_id": brands[pair[1]],
                   **{k: v for k, v in asdict(run).items() if k != "changed"}}
            for pair, run in runs.items() if run.changed}
    inserted = await repository.insert_runs(conn, realm, [rows[p] for p in new], ctx.at)
    for journey_id, player_id in new - inserted:
        for key, trigger in keyed:
            if trigger.player_id == player_id:
                effects[key] = [e for e in effects[key] if e["journey_id"] != str(journey_id)]
    await repository.update_runs(conn, realm, [row for pair, row in rows.items()
                                               if pair not in new], ctx.at)

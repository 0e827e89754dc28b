"""Campaign runs: batched, resumable, exactly once per player.

A run copies its campaign's expression, action and budget when it starts, then works
through the matching players in id order, ``BATCH`` at a time. Each batch is one short
transaction: the run row locked (so workers take its batches in turn), the next players
selected after the run's cursor, each player gated and granted in a savepoint (a refusal
undoes only that player's grant), then every handled player's result row
(``crm_run_results``, keyed by run and player: a second result for a player would undo
the whole batch), the cursor, the counters and the budget spend, all in the transaction
of the grants. A crash rolls back only the batch in flight; the worker resumes after the
last committed batch, never granting a player twice in one run.

A player whose grant fails in the database for another reason than a conflict or an
outage is skipped as ``error`` (logged): one bad row never stops a run for good.

Players the compliance gate blocks are skipped and counted by reason: the RG holds of
``compliance.engagement`` (``self_excluded``, ``timeout``, ``cooling_off``,
``limit_hit``), any other status (``status``), the jurisdiction profile
(``jurisdiction``) and the owning service's own refusals (its code, lower case).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import engagement
from wowsino.crm import actions, budget, grammar, repository, schedules, service, views
from wowsino.crm.compiler import compile_condition
from wowsino.kernel import audit, outbox, wire
from wowsino.kernel.db import RETRYABLE_SQLSTATES, database_unavailable, sqlstate, unit_of_work
from wowsino.kernel.errors import Conflict, DomainError, NotActive
from wowsino.kernel.ids import new_id
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import SYSTEM, Actor, Mode, Realm

log = structlog.get_logger("wowsino.crm")

BATCH = 200  # players per transaction
STEP_SECONDS = 5.0  # how long one worker pass (or a /run request) drives runs
Row = dict[str, Any]
HOLDS = frozenset({"self_excluded", "timeout", "cooling_off", "limit_hit"})


class _Stop(Exception):
    """The grant just made would pass a budget: undone, and the run stops."""

    def __init__(self, budget_name: str) -> None:
        self.budget_name = budget_name


async def start(conn: AsyncConnection, *, realm: Realm, campaign: Row, trigger: str,
                key: str | None, scheduled_for: datetime | None, at: datetime) -> Row | None:
    """A new run of ``campaign`` (None when one is running, or the time or key has one)."""
    segment = await repository.segment(conn, realm, campaign["brand_id"],
                                       campaign["segment_id"])
    assert segment is not None  # a campaign's segment cannot be deleted
    return await repository.insert_run(conn, realm, {
        "id": new_id(), "campaign_id": campaign["id"], "trigger": trigger, "key": key,
        "scheduled_for": scheduled_for, "segment_at": scheduled_for or at,
        "expression": segment["expression"], "action": campaign["action"],
        "asset": campaign["asset"], "budget": campaign["budget"], "at": at})


async def run_now(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                  key: str, actor: Actor, at: datetime) -> tuple[Row, bool]:
    """``POST /v1/campaigns/<id>/run``: the run this idempotency key names, created when
    new (True). 409 ``NOT_ACTIVE`` for a paused campaign, ``RUN_IN_PROGRESS`` while
    another run of it is running."""
    campaign = await service.own_campaign(conn, realm, brand_id, ref, for_update=True)
    found = await repository.run_by_key(conn, realm, campaign["id"], key)
    if found is not None:
        return found, False
    if campaign["status"] != "active":
        raise NotActive(f"this campaign is {campaign['status']}", status=campaign["status"])
    made = await start(conn, realm=realm, campaign=campaign, trigger="manual", key=key,
                       scheduled_for=None, at=at)
    if made is None:
        raise Conflict("a run of this campaign is in progress", code="RUN_IN_PROGRESS")
    await audit.record(conn, realm=realm, actor=actor, action="campaign.run_started",
                       target_type="campaign", target_id=str(campaign["id"]),
                       after={"run_id": str(made["id"]), "trigger": "manual"}, at=at)
    return made, True


async def _service_mode(conn: AsyncConnection, realm: Realm) -> str:
    return str(await conn.scalar(text("SELECT service_mode FROM tenants WHERE id = :tenant_id"),
                                 realm.params))


async def batch(conn: AsyncConnection, realm: Realm, run_id: UUID, now: datetime) -> bool:
    """One batch of a run in the caller's transaction; False when there is nothing more
    to do now (the run ended or its campaign is paused). The run's row is locked first:
    workers on one run take its batches in turn."""
    run = await repository.run(conn, realm, run_id, for_update=True)
    if run is None or run["status"] != "running":
        return False
    campaign = await repository.campaign(conn, realm, run["campaign_id"])
    assert campaign is not None
    if campaign["status"] != "active":
        return False
    compiled = compile_condition(grammar.parse(run["expression"]), run["segment_at"])
    ids = await repository.matching_ids(conn, realm, campaign["brand_id"], compiled,
                                        run["segment_at"], after=run["after_player"],
                                        limit=BATCH)
    if not ids:
        await _finish(conn, realm, run_id, "completed", None, now)
        return False
    stop = await _grant_batch(conn, realm, run, campaign, ids, now)
    if stop is not None:
        await _finish(conn, realm, run_id, "budget_reached", stop, now)
        if stop == "monthly_budget":
            await budget.reached(conn, realm, run["asset"], str(campaign["id"]), now)
        else:
            await repository.pause_campaign(conn, realm, campaign["id"], "run_budget_reached",
                                            now)
        return False
    return True


async def _grant_batch(conn: AsyncConnection, realm: Realm, run: Row, campaign: Row,
                       ids: list[UUID], now: datetime) -> str | None:
    """Gate and grant one batch; returns the budget that stopped it, if one did."""
    plan = await actions.plan(conn, realm, run["action"])
    rows = await repository.players(conn, realm, ids)
    held = await engagement.holds(conn, realm, ids, now)
    limit = campaign["max_per_player_per_month"]
    month = budget.month_of(now)
    so_far = await repository.month_grants(conn, realm, campaign["id"], ids, month) \
        if limit else {}
    deposits = await repository.last_deposits(conn, realm, ids, plan.template["currency"]) \
        if plan.template is not None and plan.template["type"] == "reload" else {}
    month_left = await budget.lock(conn, realm, run["asset"], now) if run["asset"] else None
    run_left = None if run["budget"] is None else int(run["budget"]) - int(run["cost"])
    service_mode = await _service_mode(conn, realm)
    skips: dict[UUID, str] = {}
    granted: dict[UUID, int] = {}  # player → cost
    stop = None
    for player in rows:
        reason = service.gate(player, held, so_far, limit)
        if reason is not None:
            skips[player["id"]] = reason
            continue
        spent_so_far = sum(granted.values())
        try:
            async with wire.savepoint(conn):
                spent = await actions.give(conn, realm=realm, service_mode=service_mode,
                                           plan_=plan, player=player, campaign_id=campaign["id"],
                                           run_id=run["id"], deposits=deposits, at=now)
                if run_left is not None and spent_so_far + spent > run_left:
                    raise _Stop("run_budget")
                if month_left is not None and spent_so_far + spent > month_left:
                    raise _Stop("monthly_budget")
        except _Stop as exc:
            stop = exc.budget_name
            break
        except actions.Refused as exc:
            skips[player["id"]] = exc.reason
        except DomainError as exc:
            skips[player["id"]] = exc.code.lower()
        except DBAPIError as exc:
            # a retryable conflict or an outage retries the batch; any other failure of one
            # player's grant (rolled back with its savepoint) must not stop the run forever
            if sqlstate(exc) in RETRYABLE_SQLSTATES or database_unavailable(exc):
                raise
            log.warning("campaign grant failed", run_id=str(run["id"]),
                        player_id=str(player["id"]), sqlstate=sqlstate(exc))
            skips[player["id"]] = "error"
        else:
            granted[player["id"]] = spent
    held_now = {p: r for p, r in skips.items() if r in HOLDS}
    await engagement.record_skips(conn, realm, held_now, engine="crm", ref=str(run["id"]), at=now)
    # the exactly-once key of every player handled, in the transaction of their grants
    await repository.record_results(conn, realm, run["id"], granted, skips, now)
    if limit and granted:
        await repository.count_month_grants(conn, realm, campaign["id"], list(granted), month)
    cost = sum(granted.values())
    if run["asset"]:
        await budget.spend(conn, realm, run["asset"], cost, now)
    await repository.advance_run(conn, realm, run["id"], after=ids[-1],
                                 processed=len(granted) + len(skips), granted=len(granted),
                                 skipped=dict(Counter(skips.values())), cost=cost, at=now)
    return stop


async def _finish(conn: AsyncConnection, realm: Realm, run_id: UUID, status: str,
                  stopped_by: str | None, now: datetime) -> None:
    """End the run; ``campaign.run_completed`` and an audit row."""
    await repository.finish_run(conn, realm, run_id, status, stopped_by, now)
    run = await repository.run(conn, realm, run_id)
    assert run is not None
    shown = views.run(run)
    await outbox.emit(conn, realm=realm, type="campaign.run_completed", at=now, data={
        "campaign_id": shown["campaign_id"], "run_id": shown["id"], "status": status,
        "granted": shown["granted"], "skipped": shown["skipped"],
        "total_cost": shown["total_cost"]})
    await audit.record(conn, realm=realm, actor=SYSTEM, action="campaign.run_completed",
                       target_type="campaign", target_id=shown["campaign_id"],
                       after={"run_id": shown["id"], "status": status,
                              "granted": shown["granted"], "skipped": shown["skipped"]}, at=now)


async def drive(platform: Platform, realm: Realm, run_id: UUID, *, seconds: float) -> int:
    """Run batches of one run, each its own transaction, for up to ``seconds``."""
    began, batches = time.monotonic(), 0
    while time.monotonic() - began < seconds:
        now = platform.clock.now()
        more = await unit_of_work(platform.engine,
                                  lambda conn, n=now: batch(conn, realm, run_id, n))  # type: ignore[misc]
        batches += 1
        if not more:
            break
    return batches


async def schedule_due(platform: Platform, limit: int = 50) -> int:
    """Start the runs that are due (any realm) and move each campaign's next run."""
    now = platform.clock.now()

    async def work(conn: AsyncConnection) -> int:
        started = 0
        for due in await repository.due_campaigns(conn, now, limit):
            realm = Realm(due["tenant_id"], Mode(due["mode"]))
            campaign = await repository.campaign(conn, realm, due["id"])
            assert campaign is not None
            if await start(conn, realm=realm, campaign=campaign, trigger="schedule", key=None,
                           scheduled_for=due["next_run_at"], at=now) is not None:
                started += 1
            await repository.set_next_run(conn, realm, due["id"],
                                          schedules.next_after(campaign["schedule"], now))
        return started

    return await unit_of_work(platform.engine, work)


async def run_due(platform: Platform) -> int:
    """The worker's job: start due runs, then drive running ones for up to
    ``STEP_SECONDS``; returns the batches done."""
    await schedule_due(platform)
    began, done = time.monotonic(), 0
    async with platform.engine.connect() as conn:
        pending = await repository.runnable(conn, 20)
    for row in pending:
        left = STEP_SECONDS - (time.monotonic() - began)
        if left <= 0:
            break
        done += await drive(platform, Realm(row["tenant_id"], Mode(row["mode"])), row["id"],
                            seconds=left)
    return done

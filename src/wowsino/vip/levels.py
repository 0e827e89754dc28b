"""Level changes: what a move up or down does.

Every change emits ``vip.level_changed {user, from, to}``. A move up also fires the
``vip.level_up`` trigger (journeys react to it) and gives the reward of each level
reached (``level_up_reward``), once per player and level, ever: the claim is the
primary key of ``vip_level_rewards``. A player held from engagement (responsible
gambling: ``compliance.engagement.holds``) gets no reward: the level's reward is
withheld, not deferred, and the skip is on the player's timeline. A reward the player
cannot receive (not active, a paused lootbox) is recorded as refused; neither stops
the wagers that earned the level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import engagement
from wowsino.engines import awards, rewards
from wowsino.events import triggers
from wowsino.events.wagers import Context
from wowsino.kernel import outbox, wire
from wowsino.kernel.canonical import canonical
from wowsino.kernel.errors import DomainError
from wowsino.kernel.realm import SYSTEM, Realm
from wowsino.players import repository as player_rows
from wowsino.players import service as players
from wowsino.vip.ladder import Level, Programme


@dataclass(frozen=True)
class Move:
    player_id: UUID
    brand_id: UUID
    before: int
    after: int


def reward_view(award: awards.Award | None) -> dict[str, Any] | None:
    if award is None:
        return None
    return {"winz": award.winz, "bonus_template": award.bonus_template,
            "lootbox_id": award.lootbox_id}


async def announce(conn: AsyncConnection, realm: Realm,
                   changes: list[tuple[dict[str, Any], int, int]], at: Any) -> None:
    """``vip.level_changed`` for each ``(player, before, after)``, in one statement."""
    await outbox.emit_all(conn, realm=realm, type="vip.level_changed", at=at, data=[
        {"user": players.player_ref(player), "from": before, "to": after}
        for player, before, after in changes])


async def _players(conn: AsyncConnection, realm: Realm, moves: list[Move]
                   ) -> dict[UUID, dict[str, Any]]:
    """The moved players, one statement per brand (a batch of wagers has one)."""
    found: dict[UUID, dict[str, Any]] = {}
    brands: dict[UUID, list[str]] = {}
    for move in moves:
        brands.setdefault(move.brand_id, []).append(str(move.player_id))
    for brand_id, refs in brands.items():
        found.update({row["id"]: row for row in (
            await player_rows.find_many(conn, realm, brand_id, refs)).values()})
    return found


async def settle(conn: AsyncConnection, realm: Realm, ctx: Context, programme: Programme,
                 moves: list[Move]) -> dict[UUID, dict[str, Any]]:
    """Announce each move, reward and trigger the moves up; what happened per player."""
    if not moves:
        return {}
    rows = await _players(conn, realm, moves)
    await announce(conn, realm, [(rows[m.player_id], m.before, m.after) for m in moves], ctx.at)
    out: dict[UUID, dict[str, Any]] = {
        m.player_id: {"from": m.before, "to": m.after, "rewards": []} for m in moves}
    ups = [m for m in moves if m.after > m.before]
    due = [(m, level) for m in ups for level in programme.crossed(m.before, m.after)
           if level.reward is not None]
    held = await engagement.holds(conn, realm, sorted({m.player_id for m, _ in due}, key=str),
                                  ctx.at) if due else {}
    skipped: dict[UUID, str] = {}
    for move, level in due:
        effect = await _reward(conn, realm, ctx, rows[move.player_id], level,
                               held.get(move.player_id))
        if effect is not None:
            out[move.player_id]["rewards"].append(effect)
            if effect.get("skipped") == "rg":
                skipped[move.player_id] = effect["reason"]
    if skipped:
        await engagement.record_skips(conn, realm, skipped, engine="vip", ref="level_up",
                                      at=ctx.at)
    if ups:
        await triggers.fire(conn, realm, [
            triggers.Trigger(m.player_id, m.brand_id, "vip.level_up", ctx.at,
                             {"from": m.before, "to": m.after}) for m in ups], ctx)
    return out


_CLAIM = text(
    "INSERT INTO vip_level_rewards (tenant_id, mode, player_id, level, outcome, reason, reward, "
    "created_at) VALUES (:tenant_id, :mode, :player, :level, :outcome, :reason, "
    "CAST(:reward AS jsonb), :at) ON CONFLICT DO NOTHING RETURNING level"
)


async def _claim(conn: AsyncConnection, realm: Realm, player_id: UUID, level: Level,
                 outcome: str, reason: str | None, at: Any) -> bool:
    """Record the level's reward for the player unless it ever was: whether it is now."""
    found = await conn.execute(_CLAIM, {
        **realm.params, "player": player_id, "level": level.level, "outcome": outcome,
        "reason": reason, "reward": canonical(reward_view(level.reward)).decode(), "at": at})
    return found.first() is not None


async def _reward(conn: AsyncConnection, realm: Realm, ctx: Context, player: dict[str, Any],
                  level: Level, hold: str | None) -> dict[str, Any] | None:
    """Give (or withhold) one level's reward; None when it was given before."""
    assert level.reward is not None
    if hold is not None:
        if not await _claim(conn, realm, player["id"], level, "skipped", hold, ctx.at):
            return None
        return {"level": level.level, "skipped": "rg", "reason": hold}
    try:
        async with wire.savepoint(conn):
            if not await _claim(conn, realm, player["id"], level, "granted", None, ctx.at):
                return None
            rewards.check_eligible(player)
            given = await awards.give(
                conn, realm=realm, service_mode=ctx.service_mode, player=player,
                award=level.reward, kind="vip.level_up", ref_type="vip_level",
                ref_id=f"{player['id']}:{level.level}", actor=SYSTEM, at=ctx.at)
    except DomainError as error:
        await _claim(conn, realm, player["id"], level, "refused", error.code, ctx.at)
        return {"level": level.level, "granted": False, **error.body()}
    return {"level": level.level, "granted": True, **given}

"""Bonus wagering, a consumer of the wager spine.

Every wager adds ``amount × game_weights[category]`` (rounded down to a minor unit)
to each active bonus of the player in the wager's currency, in grant order. A stake
above a bonus's ``max_bet`` forfeits that bonus (reason ``max_bet``) and adds nothing
to it. Reaching ``wagering_required`` converts the bonus at once.

A batch is one locking read of the players' active bonuses (in grant order, so
concurrent batches lock alike and never deadlock) and one statement that inserts
every contribution and updates every bonus's progress; only conversions and
forfeits, which move money, are written one by one.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import lifecycle, repository, terms
from wowsino.events.wagers import Context, Effects, Wager
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.realm import Realm


def weighted(amount: int, weight: Decimal) -> int:
    return int(Decimal(amount) * weight)


async def apply(conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context) -> Effects:
    """Add the wagers' weighted stakes to the players' active bonuses."""
    if not wagers:
        return {}
    bonuses = await repository.active_for_players(
        conn, realm, sorted({w.player_id for w in wagers}, key=str))
    if not bonuses:
        return {}
    by_player: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    for b in bonuses:
        b["wagering_completed"] = int(b["wagering_completed"])
        by_player[b["player_id"]].append(b)
    effects: Effects = {}
    progress: dict[UUID, int] = defaultdict(int)
    rows: list[tuple[Any, ...]] = []
    ended: list[tuple[dict[str, Any], str, str]] = []  # (bonus, how, wager id)
    for wager in wagers:
        for b in by_player.get(wager.player_id, ()):
            if b.get("_ended") or b["currency"] != wager.currency:
                continue
            currency = ASSETS[b["currency"]]
            max_bet = terms.money(b["terms"], "max_bet")
            if max_bet is not None and wager.amount > max_bet:
                b["_ended"] = True
                ended.append((b, "max_bet", wager.source_wager_id))
                continue
            added = weighted(wager.amount, terms.weight(b["terms"], wager.game_category))
            if added > 0:
                b["wagering_completed"] += added
                progress[b["id"]] += added
                rows.append((b["id"], wager.source_wager_id, wager.game_category, wager.amount,
                             added))
                effects.setdefault(wager.source_wager_id, []).append({
                    "bonus_id": str(b["id"]), "added": from_minor(added, currency),
                    "wagering_completed": from_minor(b["wagering_completed"], currency),
                    "wagering_required": from_minor(int(b["wagering_required"]), currency)})
            if b["wagering_completed"] >= int(b["wagering_required"]):
                b["_ended"] = True
                ended.append((b, "converted", wager.source_wager_id))
    await repository.add_wagering(conn, realm, rows, dict(progress), ctx.at)
    for b, how, wager_id in ended:
        if how == "converted":
            done = await lifecycle.convert(conn, realm=realm, service_mode=ctx.service_mode,
                                           bonus=b, at=ctx.at)
        else:
            done = await lifecycle.remove(conn, realm=realm, bonus=b, status="forfeited",
                                          reason="max_bet", at=ctx.at)
        effects.setdefault(wager_id, []).append(done)
    return effects


async def reverse(
    conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context
) -> Effects:
    """Take voided wagers' progress back from bonuses still active; a bonus that already
    ended keeps it (its conversion or forfeit stands)."""
    found = await repository.wagering_of(conn, realm, [w.source_wager_id for w in wagers])
    effects: Effects = {}
    progress: dict[UUID, int] = defaultdict(int)
    undone = []
    for row in found:
        if row["status"] == "active":
            progress[row["bonus_id"]] -= int(row["weighted"])
            undone.append((row["bonus_id"], row["source_wager_id"]))
            effects.setdefault(row["source_wager_id"], []).append(
                {"bonus_id": str(row["bonus_id"]), "reversed": True})
        else:
            effects.setdefault(row["source_wager_id"], []).append(
                {"bonus_id": str(row["bonus_id"]), "reversed": False,
                 "reason": f"the bonus is {row['status']}"})
    await repository.add_progress(conn, realm, dict(progress))
    await repository.mark_wagering_rolled_back(conn, realm, undone)
    return effects

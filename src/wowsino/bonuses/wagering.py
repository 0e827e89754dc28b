"""Bonus wagering, a consumer of the wager spine.

Every wager adds ``amount × game_weights[category]`` (rounded down to a minor unit)
to each active bonus of the player in the wager's currency, in grant order. A stake
above a bonus's ``max_bet`` forfeits that bonus (reason ``max_bet``) and adds nothing
to it. Reaching ``wagering_required`` converts the bonus at once.

A bonus-funded wager (``funding: bonus``) also moves the bonus money, as the
operator's wallet did: its stake comes off the balances in grant order, its win is
added to the first bonus that staked, so a conversion converts what is really left.
The seamless wallet moves its players' bonus money itself, as the game plays, by the
same rules (``bonuses/stakes.py``); its wagers say so (``bonus_money_moved``) and only
count for progress here.

A batch is one locking read of the players' active bonuses (in grant order, so
concurrent batches lock alike and never deadlock) and one statement that inserts
every contribution and updates every bonus's progress; only conversions and
forfeits, which move money, are written one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import flows, lifecycle, repository, terms
from wowsino.events.wagers import Context, Effects, Wager
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.realm import Realm


def weighted(amount: int, weight: Decimal) -> int:
    return int(Decimal(amount) * weight)


def take_stake(amount: int, bonuses: list[dict[str, Any]]) -> dict[UUID, int]:
    """A stake of bonus money taken from the balances of ``bonuses`` (in grant order):
    ``{bonus_id: -taken}``; what they cannot cover is left untaken."""
    moved: dict[UUID, int] = {}
    for b in bonuses:
        taken = min(amount, int(b["balance"]))
        if taken:
            moved[b["id"]] = -taken
            amount -= taken
    return moved


def winning_bonus(bonuses: list[dict[str, Any]], staked: Collection[UUID]
                  ) -> dict[str, Any] | None:
    """The bonus a win of bonus money goes to: the first of ``bonuses`` that staked,
    else the first one (None: there is none)."""
    return next((b for b in bonuses if b["id"] in staked), bonuses[0] if bonuses else None)


def _bonus_money(wager: Wager, bonuses: list[dict[str, Any]]) -> dict[UUID, int]:
    """What a bonus-funded wager moves on each bonus: the stake taken from the balances
    in grant order (what they cannot cover was the operator's real money), the win
    added to the first bonus that staked (else the first bonus)."""
    moved = take_stake(wager.amount, bonuses)
    winner = winning_bonus(bonuses, moved)
    if wager.win_amount and winner is not None:
        moved[winner["id"]] = moved.get(winner["id"], 0) + wager.win_amount
    return moved


async def apply(conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context) -> Effects:
    """Add the wagers' weighted stakes to the players' active bonuses, and mirror what
    bonus-funded wagers did to the bonus money."""
    if not wagers:
        return {}
    bonuses = await repository.active_for_players(
        conn, realm, sorted({w.player_id for w in wagers}, key=str))
    if not bonuses:
        return {}
    by_player: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    for b in bonuses:
        b["wagering_completed"] = int(b["wagering_completed"])
        b["balance"] = int(b["balance"])
        by_player[b["player_id"]].append(b)
    effects: Effects = {}
    progress: dict[UUID, list[int]] = defaultdict(lambda: [0, 0])
    played: dict[tuple[UUID, str], int] = defaultdict(int)  # bonus money, per player
    rows: list[tuple[Any, ...]] = []
    ended: list[tuple[dict[str, Any], str, str]] = []  # (bonus, how, wager id)
    for wager in wagers:
        live = [b for b in by_player.get(wager.player_id, ())
                if not b.get("_ended") and b["currency"] == wager.currency]
        # the seamless wallet moved its bonus money already (bonuses/stakes.py)
        moved = (_bonus_money(wager, live)
                 if wager.funding == "bonus" and not wager.bonus_money_moved else {})
        for b in live:
            currency = ASSETS[b["currency"]]
            money = moved.get(b["id"], 0)
            b["balance"] += money
            played[(b["player_id"], b["currency"])] += money
            max_bet = terms.money(b["terms"], "max_bet")
            over = max_bet is not None and wager.amount > max_bet
            added = 0 if over else weighted(wager.amount,
                                            terms.weight(b["terms"], wager.game_category))
            if added or money:
                b["wagering_completed"] += added
                progress[b["id"]][0] += added
                progress[b["id"]][1] += money
                rows.append((b["id"], wager.source_wager_id, wager.game_category, wager.amount,
                             added, money))
                effect = {"bonus_id": str(b["id"]), "added": from_minor(added, currency),
                          "wagering_completed": from_minor(b["wagering_completed"], currency),
                          "wagering_required": from_minor(int(b["wagering_required"]),
                                                          currency)}
                if money:
                    effect["balance_change"] = from_minor(money, currency)
                    effect["balance"] = from_minor(b["balance"], currency)
                effects.setdefault(wager.source_wager_id, []).append(effect)
            if over:
                b["_ended"] = True
                ended.append((b, "max_bet", wager.source_wager_id))
            elif b["wagering_completed"] >= int(b["wagering_required"]):
                b["_ended"] = True
                ended.append((b, "converted", wager.source_wager_id))
    await repository.add_wagering(conn, realm, rows,
                                  {k: (v[0], v[1]) for k, v in progress.items()}, ctx.at)
    # the play's money before any conversion or forfeit moves what is left of it
    await flows.play(conn, realm=realm, moved=dict(played), at=ctx.at,
                     ref_id=wagers[0].source_wager_id)
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
    """Take voided wagers' progress, and what they did to the bonus money, back from
    bonuses still active (never below a zero balance); a bonus that already ended keeps
    both (its conversion or forfeit stands)."""
    found = await repository.wagering_of(conn, realm, [w.source_wager_id for w in wagers])
    effects: Effects = {}
    progress: dict[UUID, list[int]] = defaultdict(lambda: [0, 0])
    balances: dict[UUID, int] = {}
    played: dict[tuple[UUID, str], int] = defaultdict(int)
    undone = []
    for row in found:
        if row["status"] == "active":
            bonus_id = row["bonus_id"]
            balance = balances.setdefault(bonus_id, int(row["balance"]))
            money = max(-int(row["balance_delta"]), -balance)
            balances[bonus_id] = balance + money
            progress[bonus_id][0] -= int(row["weighted"])
            progress[bonus_id][1] += money
            played[(row["player_id"], row["currency"])] += money
            undone.append((bonus_id, row["source_wager_id"]))
            effects.setdefault(row["source_wager_id"], []).append(
                {"bonus_id": str(bonus_id), "reversed": True})
        else:
            effects.setdefault(row["source_wager_id"], []).append(
                {"bonus_id": str(row["bonus_id"]), "reversed": False,
                 "reason": f"the bonus is {row['status']}"})
    await repository.add_progress(conn, realm, {k: (v[0], v[1]) for k, v in progress.items()})
    await flows.play(conn, realm=realm, moved=dict(played), at=ctx.at,
                     kind="bonus.play_reversed", ref_id=wagers[0].source_wager_id)
    await repository.mark_wagering_rolled_back(conn, realm, undone)
    return effects

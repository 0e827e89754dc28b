"""VIP XP, a consumer of the wager spine.

Each real-money wager (``funding: real``) of a player whose brand allows VIP earns
``amount × xp_per_unit`` XP per whole unit of its currency (``ladder.xp_for``), capped
per player and local calendar day of its ``settled_at`` in the programme's time zone;
bonus-funded wagers earn nothing. A batch costs one statement when the realm has no
programme (or no real wager), otherwise three: the programme, each wager's local day
and the day rows locked (one statement); the XP credited (one balanced ledger entry
from ``xp_issuance``); the players' standing locked. The rest rides with the write's
last statement. Locks are taken day rows → balances → standing, the order every XP
posting keeps (a prize's XP posts, then tracks), so concurrent writers never deadlock.

A level reached moves the player up (``levels.settle``). A rollback takes the wager's
XP back (never below zero) and out of its day; the level stays.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.events.wagers import Context, Effects, Wager, configured
from wowsino.kernel import ledger
from wowsino.kernel.ids import new_id
from wowsino.kernel.money import ASSETS, Rail
from wowsino.kernel.realm import Realm
from wowsino.vip import levels, repository
from wowsino.vip.ladder import Programme, capped

# Whether the realm runs a VIP programme (JSON true/false), sent with the spine's player
# look-up: a realm without one pays no statement at all.
READS = configured("vip_configs")


async def apply(conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context) -> Effects:
    """Credit the XP the batch's real-money wagers earn."""
    real = [w for w in wagers if w.funding == "real"]
    if not real or ctx.reads.get("vip") is False:
        return {}
    found = await repository.lock_days(conn, realm, [w.player_id for w in real],
                                       [w.currency for w in real], [w.settled_at for w in real])
    if found is None:
        return {}
    programme = Programme.from_row(found)
    so_far = {(UUID(str(p)), date.fromisoformat(d)): int(xp) for p, d, xp in found["days"]}
    by_day: dict[tuple[UUID, date], list[tuple[Wager, bool]]] = defaultdict(list)
    for index, day, own in found["wagers"]:
        wager = real[int(index) - 1]
        by_day[(wager.player_id, date.fromisoformat(day))].append((wager, bool(own)))
    effects: Effects = {}
    rows: list[tuple[Any, ...]] = []
    gained: dict[UUID, int] = defaultdict(int)
    brands: dict[UUID, UUID] = {}
    last: dict[UUID, str] = {}  # each player's last wager: where a level change is shown
    for (player_id, day), items in by_day.items():
        earned = [programme.xp_for(w.amount, ASSETS[w.currency]) for w, _ in items]
        total = so_far[(player_id, day)]
        for (wager, own), xp, wanted in zip(
                items, capped(earned, total, programme.xp_daily_cap), earned, strict=True):
            total += xp
            gained[player_id] += xp
            brands[player_id], last[player_id] = wager.brand_id, wager.source_wager_id
            rows.append((wager.source_wager_id, player_id, day, xp,
                         wager.amount if own else 0, wager.win_amount if own else 0))
            effects[wager.source_wager_id] = [{
                "xp": xp, "capped": xp < wanted, "day": day.isoformat(), "xp_today": total,
                "xp_daily_cap": programme.xp_daily_cap}]
    credited = {p: x for p, x in gained.items() if x > 0}
    if credited:
        await _post(conn, realm, ctx, credited, "vip.xp", [w.source_wager_id for w in real])
        moved = await _promote(conn, realm, ctx, programme, credited, brands)
        for player_id, effect in moved.items():
            effects[last[player_id]][0]["level"] = effect
    # held for the write's last statement: nothing above reads them (so no statement
    # is spent sending them early)
    await repository.record_wagers(conn, realm, rows, ctx.at)
    return effects


async def _promote(conn: AsyncConnection, realm: Realm, ctx: Context, programme: Programme,
                   credited: dict[UUID, int], brands: dict[UUID, UUID]) -> dict[UUID, Any]:
    """Add the XP to the players' standing; move up those who reached a level."""
    standing = await repository.lock_players(conn, realm, list(credited), programme.base.level,
                                             ctx.at)
    changes: dict[UUID, tuple[int, int | None, bool]] = {}
    moves = []
    for player_id, xp in credited.items():
        level, before = standing[player_id]
        after = programme.promoted(level, before + xp)
        changes[player_id] = (xp, after, after != level)
        if after != level:
            moves.append(levels.Move(player_id, brands[player_id], level, after))
    await repository.add_standing(conn, realm, changes, ctx.at)
    return await levels.settle(conn, realm, ctx, programme, moves)


async def reverse(
    conn: AsyncConnection, realm: Realm, wagers: list[Wager], ctx: Context
) -> Effects:
    """Take voided wagers' XP back (at most what the player holds) and out of their days."""
    rows = await repository.take_back(conn, realm, [w.source_wager_id for w in wagers], ctx.at)
    if not rows:
        return {}
    owed: dict[UUID, int] = defaultdict(int)
    held: dict[UUID, int] = {}
    for row in rows:
        owed[row["player_id"]] += int(row["xp"])
        held[row["player_id"]] = int(row["balance"])
    taken = {p: min(x, held[p]) for p, x in owed.items() if min(x, held[p]) > 0}
    if taken:
        await _post(conn, realm, ctx, {p: -x for p, x in taken.items()}, "vip.xp_reversal",
                    [r["source_wager_id"] for r in rows])
        await repository.add_standing(conn, realm, {p: (-x, None, False)
                                                    for p, x in taken.items()}, ctx.at)
    await repository.subtract_days(conn, realm, rows)
    return {row["source_wager_id"]: [{"xp_reversed": int(row["xp"])}] for row in rows}


async def _post(conn: AsyncConnection, realm: Realm, ctx: Context, amounts: dict[UUID, int],
                kind: str, wager_ids: list[str]) -> None:
    """One balanced entry: each player's XP against the XP mint."""
    postings = [ledger.Posting(ledger.Account.player(p, Rail.XP, "XP"), x)
                for p, x in sorted(amounts.items(), key=lambda item: str(item[0]))]
    postings.append(ledger.Posting(ledger.Account.system(ledger.XP_ISSUANCE, Rail.XP, "XP"),
                                   -sum(amounts.values())))
    one = len(wager_ids) == 1
    await ledger.post_entry(
        conn, realm=realm, kind=kind, at=ctx.at, postings=postings,
        ref_type="wager" if one else "wager_batch",
        ref_id=wager_ids[0] if one else str(new_id()), metadata={"wagers": len(wager_ids)})


async def track(conn: AsyncConnection, realm: Realm, player_id: UUID, xp: int, at: Any) -> None:
    """Keep the player's VIP standing in step with XP posted outside the spine (a lootbox
    or mini-game prize, an adjustment). Its level follows at the player's next XP from
    a wager (the spine is where levels move)."""
    await repository.track_xp(conn, realm, player_id, xp, at)

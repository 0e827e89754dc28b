"""Rounds left open: the worker settles them as lost.

An aggregator ends a round with a win (0 for a loss) or a rollback; one that never does
(a game server that crashed, a player who closed the game mid-round) would leave its
bets open for ever: never reaching the wager spine, so never counting for bonus
wagering, VIP or tournaments, and counted as open stakes by the daily limits. A round
whose last call is older than ``WOWSINO_GAME_ROUND_IDLE_SECONDS`` (one hour by default)
with bets still open is settled as lost: its open bets go through the same settlement a
win of 0 takes (``games/settlement.py``), so each reaches the spine exactly once, and an
audit row ``game.round_swept`` on the player's timeline names the round and its bets.
No money moves: the stakes went to the house with the bets.

Exactly once with several workers and with the aggregator's own calls: each round is
swept in its own transaction under the round row's lock (taken with ``SKIP LOCKED``: a
round a call is using waits for the next pass), and only if it is still idle and still
has open bets once locked. A win arriving after the sweep pays in the round's split, as
every win after its round's bets settled does, and is not a wager; a rollback of a swept
bet takes its wagering back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import stakes
from wowsino.games import catalogue, repository, sessions, settlement
from wowsino.games.adapters import ADAPTERS
from wowsino.kernel import audit, wire
from wowsino.kernel.config import Settings
from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import SYSTEM, Mode, Realm

BATCH = 200  # rounds a pass takes at most

# open bets are few (the partial index game_transactions_open_bets holds only them)
_DUE = text(
    "SELECT DISTINCT g.tenant_id, g.mode, g.adapter, g.round_id FROM game_transactions g "
    "JOIN game_rounds r ON r.tenant_id = g.tenant_id AND r.mode = g.mode "
    "AND r.adapter = g.adapter AND r.round_id = g.round_id "
    "WHERE g.kind = 'bet' AND g.status = 'accepted' AND g.settled_at IS NULL "
    "AND g.created_at <= :cutoff AND r.updated_at <= :cutoff LIMIT :limit"
)
_LOCK = text(
    "SELECT updated_at FROM game_rounds WHERE tenant_id = :tenant_id AND mode = :mode "
    "AND adapter = :adapter AND round_id = :round FOR UPDATE SKIP LOCKED"
)


def idle_cutoff(settings: Settings, now: datetime) -> datetime:
    """Rounds whose last call is at or before this are idle."""
    return now - timedelta(seconds=settings.game_round_idle_seconds)


async def sweep_round(conn: AsyncConnection, realm: Realm, *, settings: Settings, adapter: str,
                      round_id: str, at: datetime) -> bool:
    """Settle the round's open bets as lost if it is idle at ``at`` and no call holds it;
    whether it did."""
    idle_since = await conn.scalar(_LOCK, {**realm.params, "adapter": adapter,
                                           "round": round_id})
    if idle_since is None or idle_since > idle_cutoff(settings, at):
        return False  # a call holds the round, or one came since it was found
    bets = [b for b in await repository.round_bets(conn, realm, adapter, round_id)
            if b["settled_at"] is None]
    if not bets:
        return False  # another worker swept it, or a win settled it
    session = await sessions.by_id(conn, realm, bets[0]["session_id"])
    # the lock order every wallet call keeps: the round, the player, the bonuses
    await repository.lock_player(conn, realm, session.player_id)
    await stakes.hold(conn, realm, session.player_id)
    async with wire.deferring(conn):
        await settlement.settle(conn, session, adapter=adapter, bets=bets, cash_win=0,
                                bonus_win=0, at=at, category=catalogue.category(
                                    ADAPTERS[adapter], settings, session.game_id))
        await audit.record(conn, realm=realm, actor=SYSTEM, action="game.round_swept",
                           target_type="player", target_id=str(session.player_id), at=at,
                           after=_swept(adapter, round_id, idle_since, bets))
        await wire.flush(conn)
    return True


def _swept(adapter: str, round_id: str, idle_since: datetime,
           bets: list[dict[str, Any]]) -> dict[str, Any]:
    return {"aggregator": adapter, "round_id": round_id, "last_call_at": idle_since,
            "outcome": "lost", "bets": [b["transaction_id"] for b in bets],
            "cash_staked": sum(int(b["cash"]) for b in bets),
            "bonus_staked": sum(int(b["bonus"]) for b in bets),
            "currency": bets[0]["currency"]}


async def run_due(platform: Platform) -> int:
    """The worker's job: settle as lost every round idle past the setting; the number of
    rounds settled."""
    now = platform.clock.now()
    async with read_only(platform.engine) as conn:
        due = (await conn.execute(_DUE, {"cutoff": idle_cutoff(platform.settings, now),
                                         "limit": BATCH})).all()
    swept = 0
    for tenant_id, mode, adapter, round_id in due:
        if adapter not in ADAPTERS:
            continue
        realm = Realm(tenant_id, Mode(mode))
        swept += await unit_of_work(platform.engine, lambda conn, r=realm, a=adapter,
                                    i=round_id: sweep_round(  # type: ignore[misc]
                                        conn, r, settings=platform.settings, adapter=a,
                                        round_id=i, at=now))
    return swept

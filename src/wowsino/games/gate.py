"""A bet asks the compliance gate (``compliance/gate.py``): may this player stake this
now? This module gathers what the gate's bet checks read — the brand's rules, the UTC
day's real stakes (settled wagers from the spine's daily stats, plus the cash of bets
still open) and real wins, the start of the player's previous slot round (one that took a stake), whether the
player opened a newer game session, and when the player's login began — and names the
gate's refusal in the wallet's language: ``PLAYER_BLOCKED`` for who the player is
(status, self-exclusion, time-out, age, country, KYC, a game opened since) and
``LIMIT_EXCEEDED`` for what the bet is (a daily limit, the session limit, a stake cap,
a spin too soon). The gate's own code leads the answer's message, and the refusal is
recorded as a ``compliance.refused`` audit row naming the rule and profile version.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.compliance.service import BrandRules, Decision
from wowsino.games.adapters.base import Code
from wowsino.games.sessions import GameSession
from wowsino.kernel import wire
from wowsino.kernel.realm import Actor
from wowsino.players import rg

SLOTS = gate.SLOTS

# the gate's codes that are about the player rather than the bet
ABOUT_THE_PLAYER = frozenset({"TENANT_SUSPENDED", "PLAYER_BLOCKED", "SELF_EXCLUDED",
                              "TIMED_OUT", "JURISDICTION_BLOCKED", "KYC_REQUIRED",
                              "PARALLEL_SESSION"})

_PLAY = text(
    "SELECT coalesce((SELECT sum(s.wagered) FROM player_stats_daily s "
    "  WHERE s.tenant_id = :tenant_id AND s.mode = :mode AND s.player_id = :player "
    "    AND s.rail = 'real' AND s.currency = :currency AND s.day = :day), 0) "
    "+ coalesce((SELECT sum(t.cash) FROM game_transactions t "
    "  WHERE t.tenant_id = :tenant_id AND t.mode = :mode AND t.player_id = :player "
    "    AND t.kind = 'bet' AND t.status = 'accepted' AND t.settled_at IS NULL "
    "    AND t.currency = :currency AND t.created_at >= :since), 0) AS wagered, "
    "coalesce((SELECT sum(s.won) FROM player_stats_daily s "
    "  WHERE s.tenant_id = :tenant_id AND s.mode = :mode AND s.player_id = :player "
    "    AND s.rail = 'real' AND s.currency = :currency AND s.day = :day), 0) AS won, "
    "(SELECT max(r.created_at) FROM game_rounds r WHERE r.tenant_id = :tenant_id "
    "  AND r.mode = :mode AND r.player_id = :player AND r.game_id = ANY (CAST(:slots AS text[])) "
    "  AND r.cash_staked + r.bonus_staked > 0 "
    "  AND NOT (r.adapter = :adapter AND r.round_id = :round)) AS last_spin_at, "
    "EXISTS (SELECT FROM game_sessions g WHERE g.tenant_id = :tenant_id AND g.mode = :mode "
    "  AND g.player_id = :player AND g.created_at > :session_at AND g.id <> :session) "
    "  AS newer_session, "
    "(SELECT max(l.created_at) FROM player_sessions l WHERE l.tenant_id = :tenant_id "
    "  AND l.mode = :mode AND l.player_id = :player AND l.revoked_at IS NULL "
    "  AND l.idle_expires_at > :at AND l.absolute_expires_at > :at) AS login_at"
)


def _needs_play(player: dict[str, Any], rules: BrandRules, at: datetime) -> bool:
    """Whether any check of the bet reads the player's play (else no statement)."""
    limits = rg.effective(player["rg"] or {}, at)["limits"]
    return (any(limits.get(name) is not None for name in
                ("wager_daily_limit", "loss_daily_limit", "session_minutes_limit"))
            or bool(rules.rules.get("min_spin_interval_seconds"))
            or not rules.rules["parallel_sessions"])


async def _play(conn: AsyncConnection, session: GameSession, *, round_id: str,
                slots: list[str], at: datetime) -> gate.Play:
    await wire.settle(conn)  # the spine's daily stats are deferred writes
    day = at.astimezone(UTC).date()
    row = (await conn.execute(_PLAY, {
        **session.realm.params, "player": session.player_id, "currency": session.currency,
        "day": day, "since": datetime.combine(day, time(0), tzinfo=UTC), "slots": slots,
        "adapter": session.adapter, "round": round_id, "session": session.id,
        "session_at": session.created_at or at, "at": at})).mappings().one()
    return gate.Play(day_wagered=int(row["wagered"]), day_won=int(row["won"]),
                     last_spin_at=row["last_spin_at"], newer_session=bool(row["newer_session"]),
                     login_at=row["login_at"] or session.created_at)


async def decide_bet(conn: AsyncConnection, session: GameSession, player: dict[str, Any], *,
                     round_id: str, category: str, slots: list[str], amount: int, cash: int,
                     aggregator: str, transaction_id: str, at: datetime) -> Decision:
    """The gate's decision on a bet of ``amount`` (``cash`` of it real money) in
    ``round_id``. ``player``: the player's row, locked by the caller; ``slots``: the
    aggregator's slot games. A refusal's audit row goes in the caller's transaction."""
    realm = session.realm
    rules = await gate.rules_for(conn, realm, player)
    play = (await _play(conn, session, round_id=round_id, slots=slots, at=at)
            if _needs_play(player, rules, at) else gate.Play())
    facts = gate.Facts(gate.Action.BET, player, rules, at, tenant_status=session.tenant_status,
                       amount=amount, currency=session.currency, category=category, cash=cash,
                       play=play)
    return await gate.decide(conn, facts, realm=realm,
                             actor=Actor("system", f"aggregator:{aggregator}"),
                             target_type="player", target_id=str(session.player_id),
                             context={"aggregator": aggregator, "transaction_id": transaction_id})


def wallet_code(decision: Decision) -> Code:
    """A refused decision in the wallet's language."""
    return Code.PLAYER_BLOCKED if decision.code in ABOUT_THE_PLAYER else Code.LIMIT_EXCEEDED


def message(decision: Decision) -> str:
    return f"{decision.code}: {decision.detail}"


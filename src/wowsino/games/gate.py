"""Responsible gambling at bet time: may this player stake this now?

Every check of a bet is here, in one function, so the compliance gate (``compliance/``)
can take it over whole when it learns bets (stake caps per jurisdiction come then):

- the tenant: a suspended tenant's players do not bet (rule ``tenant_suspended``);
- the platform's play guard (``pam/guard.py``): only ``active`` and ``withdrawal_hold``
  players play; ``self_excluded`` (rule ``self_excluded``), a time-out running
  (``timeout_until``) and every other status (``player_status``) are refused;
- the daily limits of the player's ``rg`` (UTC day, real money only, as the engagement
  holds count them): the bet is refused when its cash part would take the day's real
  stakes past ``wager_daily_limit``, or the day's real net loss (stakes less wins) past
  ``loss_daily_limit``. The day counts settled wagers (the spine's daily stats) and the
  cash of bets still open.

A refusal is answered in the aggregator's protocol (``PLAYER_BLOCKED`` or
``LIMIT_EXCEEDED``) and recorded as a ``compliance.refused`` audit row naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.games.adapters.base import Code
from wowsino.kernel import audit, wire
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.realm import Actor, Realm
from wowsino.pam import guard
from wowsino.players import rg


@dataclass(frozen=True)
class Refusal:
    code: Code  # PLAYER_BLOCKED or LIMIT_EXCEEDED
    rule: str
    detail: str


# the play guard's refusals (pam/guard.py) as the rules a refused bet's audit row names
GUARD_RULES = {"SELF_EXCLUDED": "self_excluded", "TIMED_OUT": "timeout_until",
               "PLAYER_BLOCKED": "player_status"}


def status_refusal(player: dict[str, Any], at: datetime) -> Refusal | None:
    """Why the player may not play at all now (status, self-exclusion, a time-out): the
    platform's one play guard, or None."""
    refused = guard.refusal(player, "play", at)
    if refused is None:
        return None
    return Refusal(Code.PLAYER_BLOCKED, GUARD_RULES[refused.code], refused.message)


_TODAY = text(
    "SELECT coalesce((SELECT sum(s.wagered) FROM player_stats_daily s "
    "  WHERE s.tenant_id = :tenant_id AND s.mode = :mode AND s.player_id = :player "
    "    AND s.rail = 'real' AND s.currency = :currency AND s.day = :day), 0) AS wagered, "
    "coalesce((SELECT sum(s.won) FROM player_stats_daily s "
    "  WHERE s.tenant_id = :tenant_id AND s.mode = :mode AND s.player_id = :player "
    "    AND s.rail = 'real' AND s.currency = :currency AND s.day = :day), 0) AS won, "
    "coalesce((SELECT sum(t.cash) FROM game_transactions t "
    "  WHERE t.tenant_id = :tenant_id AND t.mode = :mode AND t.player_id = :player "
    "    AND t.kind = 'bet' AND t.status = 'accepted' AND t.settled_at IS NULL "
    "    AND t.currency = :currency AND t.created_at >= :since), 0) AS open_cash"
)


async def bet_refusal(conn: AsyncConnection, realm: Realm, player: dict[str, Any], *,
                      currency: str, cash: int, at: datetime,
                      tenant_status: str = "active") -> Refusal | None:
    """Why a bet whose cash part is ``cash`` (minor units) is refused now, or None.
    ``player``: the player's row (``id``, ``status``, ``rg``), locked by the caller."""
    if tenant_status == "suspended":
        return Refusal(Code.PLAYER_BLOCKED, "tenant_suspended", "this tenant is suspended")
    refused = status_refusal(player, at)
    if refused is not None:
        return refused
    limits = rg.effective(player["rg"] or {}, at)["limits"]
    wager_limit, loss_limit = limits.get("wager_daily_limit"), limits.get("loss_daily_limit")
    if cash <= 0 or (wager_limit is None and loss_limit is None):
        return None
    await wire.settle(conn)  # the spine's daily stats are deferred writes
    day = at.astimezone(UTC).date()
    row = (await conn.execute(_TODAY, {
        **realm.params, "player": player["id"], "currency": currency, "day": day,
        "since": datetime.combine(day, time(0), tzinfo=UTC)})).mappings().one()
    wagered = int(row["wagered"]) + int(row["open_cash"])
    unit = ASSETS[currency]
    if wager_limit is not None and wagered + cash > int(wager_limit):
        return Refusal(Code.LIMIT_EXCEEDED, "wager_daily_limit",
                       f"the stake would take today's wagers past the daily limit of "
                       f"{from_minor(int(wager_limit), unit)} {currency}")
    if loss_limit is not None and wagered - int(row["won"]) + cash > int(loss_limit):
        return Refusal(Code.LIMIT_EXCEEDED, "loss_daily_limit",
                       f"the stake could take today's net loss past the daily limit of "
                       f"{from_minor(int(loss_limit), unit)} {currency}")
    return None


async def record_refusal(conn: AsyncConnection, realm: Realm, *, player_id: UUID,
                         refusal: Refusal, aggregator: str, transaction_id: str,
                         at: datetime) -> None:
    """The ``compliance.refused`` audit row of a refused bet, on the player's timeline."""
    await audit.record(conn, realm=realm, actor=Actor("system", f"aggregator:{aggregator}"),
                       action="compliance.refused", target_type="player",
                       target_id=str(player_id), at=at,
                       after={"action": "bet", "rule": refusal.rule, "code": refusal.code.value,
                              "detail": refusal.detail, "aggregator": aggregator,
                              "transaction_id": transaction_id})

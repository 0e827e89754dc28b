"""VIP cashback, paid by the worker when each period ends in the programme's time zone.

For every player of a brand allowing VIP whose real money wagered minus won over the
period's local days (``vip_days``, in the player's currency) is positive: ``net loss ×
cashback_pct`` of the player's level at the time of the run, rounded down. Never when
the player is level or ahead. Paid as a ``cashback`` bonus through the bonus engine
(``cashback_template``: its wagering, expiry and ``max_amount`` apply, and its gate),
or as real money (``cashback_as: real``): in white-label from the house to the
player's real balance; in plug-in recorded against ``operator_payouts`` (funded by
``operator_settlement``), the operator paying it in its own wallet when
``vip.cashback_granted`` says ``operator_pays: true``.

Exactly once per player and period: each decision is a row of ``vip_cashback``
(primary key ``(player, period_start)``) written in the transaction of its grant. A
run pays in chunks, each its own transaction under a per-realm advisory lock, so a
run that stops half-way (a crash, a deploy) resumes with the players it had not
reached, and two workers never pay the same realm at once. When the whole period is
paid the programme's ``cashback_paid_until`` moves past it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.engines import rewards
from wowsino.kernel import ledger, outbox, wire
from wowsino.kernel.canonical import canonical
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.errors import DomainError
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import SYSTEM, Mode, Realm
from wowsino.players import service as players
from wowsino.vip import repository
from wowsino.vip.ladder import Programme, period

CHUNK = 200

_REALMS = text(
    "SELECT c.tenant_id, c.mode, t.service_mode, c.timezone, c.cashback_period, "
    "c.cashback_paid_until, c.created_at FROM vip_configs c JOIN tenants t ON t.id = c.tenant_id "
    "WHERE t.status = 'active' ORDER BY c.tenant_id, c.mode"
)

# The next players of a period to decide for: net losers not yet decided, in id order.
_CANDIDATES = text(
    "SELECT d.player_id, p.brand_id, sum(d.real_wagered - d.real_won) AS net_loss, "
    "vp.level, coalesce(vp.xp, 0) AS xp FROM vip_days d "
    "JOIN players p ON p.tenant_id = d.tenant_id AND p.mode = d.mode AND p.id = d.player_id "
    "LEFT JOIN vip_players vp ON vp.tenant_id = d.tenant_id AND vp.mode = d.mode "
    "AND vp.player_id = d.player_id "
    "WHERE d.tenant_id = :tenant_id AND d.mode = :mode AND d.day >= :start AND d.day < :end "
    "AND NOT EXISTS (SELECT 1 FROM vip_cashback c WHERE c.tenant_id = d.tenant_id "
    "AND c.mode = d.mode AND c.player_id = d.player_id AND c.period_start = :start) "
    f"AND {repository.ALLOWED} "
    "GROUP BY d.player_id, p.brand_id, vp.level, vp.xp "
    "HAVING sum(d.real_wagered - d.real_won) > 0 ORDER BY d.player_id LIMIT :limit"
)

_RECORD = text(
    "INSERT INTO vip_cashback (tenant_id, mode, player_id, period_start, period_end, currency, "
    "net_loss, level, cashback_pct, amount, outcome, granted_as, detail, created_at) VALUES "
    "(:tenant_id, :mode, :player_id, :start, :end, :currency, :net_loss, :level, :pct, :amount, "
    ":outcome, :granted_as, CAST(:detail AS jsonb), :at)"
)


async def run_due(platform: Platform, *, chunk: int = CHUNK) -> int:
    """Pay every ended, unpaid period of every realm's programme; decisions made."""
    now = platform.clock.now()
    async with platform.engine.connect() as conn:
        realms = [dict(r._mapping) for r in await conn.execute(_REALMS)]
    decided = 0
    for row in realms:
        decided += await _pay_realm(platform, row, now, chunk)
    return decided


async def _pay_realm(platform: Platform, row: dict[str, Any], now: datetime, chunk: int) -> int:
    """Every ended, unpaid period of one realm, oldest first, a chunk per transaction."""
    realm = Realm(row["tenant_id"], Mode(row["mode"]))
    zone, kind = ZoneInfo(row["timezone"]), row["cashback_period"]
    current, _ = period(kind, now.astimezone(zone).date())
    start = row["cashback_paid_until"] or period(kind, row["created_at"].astimezone(zone).date())[0]
    decided = 0
    while start < current:
        end = min(period(kind, start)[1], current)

        async def pay(conn: AsyncConnection, start: date = start, end: date = end) -> int | None:
            return await _pay(conn, realm, row["service_mode"], start, end, now, chunk)

        while (done := await unit_of_work(platform.engine, pay)) == chunk:
            decided += done
        if done is None:  # another worker is paying this realm
            return decided
        decided += done

        async def close(conn: AsyncConnection, end: date = end) -> None:
            await _paid_until(conn, realm, end)

        await unit_of_work(platform.engine, close)
        start = end
    return decided


async def _paid_until(conn: AsyncConnection, realm: Realm, end: date) -> None:
    await conn.execute(
        text("UPDATE vip_configs SET cashback_paid_until = :end WHERE tenant_id = :tenant_id "
             "AND mode = :mode AND (cashback_paid_until IS NULL OR cashback_paid_until < :end)"),
        {**realm.params, "end": end})


async def _pay(conn: AsyncConnection, realm: Realm, service_mode: str, start: date, end: date,
               at: datetime, limit: int) -> int | None:
    """Decide for the next ``limit`` players of the period; None when another worker holds
    the realm."""
    locked = await conn.scalar(text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
                               {"k": f"vip_cashback:{realm.tenant_id}:{realm.mode.value}"})
    if not locked:
        return None
    row = await repository.config(conn, realm)
    assert row is not None
    programme = Programme.from_row(row)
    candidates = (await conn.execute(_CANDIDATES, {
        **realm.params, **repository.ALLOWED_PARAMS, "start": start, "end": end,
        "limit": limit})).all()
    for candidate in candidates:
        await _decide(conn, realm, service_mode, programme, dict(candidate._mapping), start,
                      end, at)
    return len(candidates)


async def _decide(conn: AsyncConnection, realm: Realm, service_mode: str, programme: Programme,
                  candidate: dict[str, Any], start: date, end: date, at: datetime) -> None:
    player = await players.get(conn, realm, candidate["brand_id"], str(candidate["player_id"]))
    stored = candidate["level"]
    level = (programme.find(stored) if stored is not None else None) or programme.level_for(
        int(candidate["xp"]))
    net = int(candidate["net_loss"])
    amount = int(Decimal(net) * level.cashback_pct / 100)
    currency = ASSETS[player["currency"]]
    outcome, detail = "nothing", dict[str, Any]()
    if amount > 0:
        try:
            async with wire.savepoint(conn):
                outcome, detail = await _grant(conn, realm, service_mode, programme, player,
                                               amount, start, at)
        except DomainError as error:
            outcome, detail = "refused", error.body()
    granted_as = programme.cashback_as if outcome == "granted" else None
    await conn.execute(_RECORD, {
        **realm.params, "player_id": player["id"], "start": start, "end": end,
        "currency": currency.code, "net_loss": net, "level": level.level,
        "pct": level.cashback_pct, "amount": amount, "outcome": outcome,
        "granted_as": granted_as, "detail": canonical(detail).decode(), "at": at})
    if outcome == "granted":
        await outbox.emit(conn, realm=realm, type="vip.cashback_granted", at=at, data={
            "user": players.player_ref(player), "period_start": start.isoformat(),
            "period_end": end.isoformat(), "currency": currency.code,
            "net_loss": from_minor(net, currency), "level": level.level,
            "cashback_pct": level.cashback_pct, "amount": from_minor(amount, currency),
            "granted_as": granted_as, "bonus_id": detail.get("bonus_id"),
            "operator_pays": granted_as == "real" and service_mode == rewards.PLUG_IN})


async def _grant(conn: AsyncConnection, realm: Realm, service_mode: str, programme: Programme,
                 player: dict[str, Any], amount: int, start: date,
                 at: datetime) -> tuple[str, dict[str, Any]]:
    """Pay ``amount`` (minor units of the player's currency): the outcome and its detail."""
    from wowsino.bonuses import service as bonuses  # the bonus engine builds on players

    if programme.cashback_as == "real":
        rewards.check_eligible(player)
        currency = player["currency"]
        entry = await ledger.post_entry(
            conn, realm=realm, kind="vip.cashback", at=at, ref_type="player",
            ref_id=str(player["id"]), metadata={"period_start": start.isoformat()},
            postings=[ledger.Posting(rewards.real_payout(service_mode, player["id"], currency),
                                     amount),
                      ledger.Posting(rewards.real_funding(service_mode, currency), -amount)])
        return "granted", {"ledger_entry_id": entry.id}
    assert programme.cashback_template_id is not None
    template = await bonuses.load_template(conn, realm, str(programme.cashback_template_id))
    status, body = await bonuses.grant(
        conn, realm=realm, service_mode=service_mode, player=player, template=template,
        deposit_amount=None, amount=amount, reason=None, opted_in_at=None,
        source="vip_cashback", source_ref=start.isoformat(), actor=SYSTEM, at=at)
    if status >= 400:
        return "refused", body
    bonus = body.get("bonus") or {}
    return "granted", {"bonus_id": bonus.get("id")}


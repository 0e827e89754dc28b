"""Player rules: upsert, the dossier, status, RG limits, adjustments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.events import triggers
from wowsino.events.wagers import Context
from wowsino.kernel import audit, ledger, outbox
from wowsino.kernel.clock import iso
from wowsino.kernel.errors import (
    Conflict,
    DomainError,
    NotFound,
    PlayerBlocked,
    ValidationFailed,
)
from wowsino.kernel.ids import new_id
from wowsino.kernel.money import (
    ASSETS,
    Asset,
    Rail,
    asset,
    check_rail_asset,
    from_minor,
    to_minor,
)
from wowsino.kernel.realm import Actor, Realm, request_id_var
from wowsino.pam import sessions
from wowsino.players import repository, rg

DEFAULT_CURRENCY = "USD"
PUBLIC_FIELDS = ("username", "email", "external_ref", "country_code", "date_of_birth", "tags")


def player_ref(row: dict[str, Any]) -> dict[str, Any]:
    """How events and other domains name a player."""
    return {"user_id": str(row["id"]), "username": row["username"]}


async def get(
    conn: AsyncConnection, realm: Realm, brand_id: UUID, ref: str, *, for_update: bool = False
) -> dict[str, Any]:
    """A player by username or UUID within the brand, or 404 ``NO_PLAYER``."""
    row = await repository.find(conn, realm, brand_id, ref, for_update=for_update)
    if row is None:
        raise NotFound(f"no player {ref!r}", code="NO_PLAYER")
    return row


async def hold(conn: AsyncConnection, realm: Realm, player_id: UUID) -> None:
    """Key-share lock the player's row (what a foreign key to it takes) before moving the
    player's money: the global lock order is engine row, then player rows, then balances
    (``ledger_post``, in account order), so a writer that locks a player row FOR UPDATE
    before the balances (lootbox opens, status changes) never deadlocks with this one."""
    await repository.hold(conn, realm, player_id)


def require_eligible(player: dict[str, Any]) -> None:
    """The compliance gate's status check for a bonus grant (403 ``PLAYER_BLOCKED``): only
    the statuses the gate allows for one take part (``active``)."""
    if not gate.allows_status(player["status"], gate.Action.BONUS_GRANT):
        raise PlayerBlocked(
            f"player {player['username']!r} is {player['status']}: no rewards or draws",
            status=player["status"],
        )


async def dossiers(conn: AsyncConnection, realm: Realm, rows: list[dict[str, Any]],
                   now: datetime) -> list[dict[str, Any]]:
    """The dossiers of a page of players, their balances read in one query."""
    from wowsino.bonuses import service as bonuses  # bonuses builds on players
    from wowsino.vip import service as vip  # VIP builds on players

    ids = [r["id"] for r in rows]
    balances = await ledger.players_balances(conn, realm, ids)
    active = await bonuses.active_summaries(conn, realm, ids)
    standing = await vip.summaries(conn, realm, ids)
    return [await dossier(conn, realm, r, now, balances=balances[str(r["id"])],
                          active_bonuses=active[str(r["id"])], vip=standing.get(str(r["id"])))
            for r in rows]


async def dossier(conn: AsyncConnection, realm: Realm, row: dict[str, Any],
                  now: datetime, *, new: bool = False,
                  balances: dict[str, dict[str, int]] | None = None,
                  active_bonuses: list[dict[str, Any]] | None = None,
                  vip: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full player view: profile, compliance flags, RG limits, balances, VIP
    (level, name, XP, progress to the next level), active bonuses.

    ``new``: the player was created in this transaction, so has no ledger account yet
    and no VIP standing.
    """
    if balances is None:
        balances = {} if new else await ledger.player_balances(conn, realm, row["id"])
    if active_bonuses is None:
        from wowsino.bonuses import service as bonuses  # bonuses builds on players

        active_bonuses = [] if new else (
            await bonuses.active_summaries(conn, realm, [row["id"]]))[str(row["id"])]
    if vip is None and not new:
        from wowsino.vip import service as vip_service  # VIP builds on players

        vip = (await vip_service.summaries(conn, realm, [row["id"]])).get(str(row["id"]))
    currency = ASSETS[row["currency"]]
    shown = show_balances(balances, row["currency"])
    xp = int(balances.get("xp", {}).get("XP", 0))
    standing = vip or {"level": None, "name": None, "progress": None}
    return {
        "user_id": str(row["id"]),
        "username": row["username"],
        "email": row["email"],
        "external_ref": row["external_ref"],
        "country_code": row["country_code"],
        "date_of_birth": row["date_of_birth"],
        "currency": row["currency"],
        "status": row["status"],
        "kyc_status": row["kyc_status"],
        "kyc_level": row["kyc_level"],
        "risk_band": row["risk_band"],
        "is_pep": row["is_pep"],
        "is_sanctioned": row["is_sanctioned"],
        "tags": list(row["tags"] or []),
        "rg": rg.present(row["rg"] or {}, currency, now),
        "balances": shown,
        "vip": {"level": standing["level"], "name": standing["name"], "xp": xp,
                "progress": standing["progress"]},
        "active_bonuses": active_bonuses,
        "self_exclusion": self_exclusion(row),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def show_balances(balances: dict[str, dict[str, int]], currency_code: str
                  ) -> dict[str, dict[str, Any]]:
    """``{rail: {asset: amount}}`` in the asset's unit; the player's currency on the real
    and bonus rails, WINZ and XP always shown (zero when never credited)."""
    currency = ASSETS[currency_code]
    shown: dict[str, dict[str, Any]] = {
        "real": {currency.code: from_minor(0, currency)},
        "bonus": {currency.code: from_minor(0, currency)},
        "winz": {"WINZ": 0},
        "xp": {"XP": 0},
    }
    for rail_name, by_asset in balances.items():
        for code, minor in by_asset.items():
            shown.setdefault(rail_name, {})[code] = from_minor(minor, ASSETS[code])
    return shown


def self_exclusion(row: dict[str, Any]) -> dict[str, Any] | None:
    """The self-exclusion the player asked for, while it lasts: ``{period, since, until}``
    (``until`` null when permanent)."""
    period = row.get("self_exclusion_period")
    if period is None:
        return None
    return {"period": period, "since": row["self_excluded_at"],
            "until": row["self_excluded_until"]}


def exclusion_running(row: dict[str, Any], at: datetime) -> bool:
    """Whether a self-exclusion the player asked for still runs at ``at``."""
    if row.get("self_exclusion_period") is None:
        return False
    until = row.get("self_excluded_until")
    return until is None or until > at


async def upsert(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, fields: dict[str, Any],
    actor: Actor, at: datetime,
) -> tuple[int, dict[str, Any]]:
    """Create (201) or update (200) the player named by ``(brand, username)``; audited."""
    born = fields.get("date_of_birth")
    if born is not None and born > at.date():
        raise ValidationFailed("date_of_birth: must be a real date between 1900-01-01 and today",
                               field="date_of_birth")
    fields = dict(fields)
    referrer_ref = fields.pop("referred_by", None)
    before = await repository.find(conn, realm, brand_id, fields["username"], for_update=True)
    values = {**fields, "currency": (before or {}).get("currency")
              or fields.get("currency") or DEFAULT_CURRENCY}
    if before is not None:
        if fields.get("currency") not in (None, before["currency"]):
            raise ValidationFailed(
                f"currency: the player's currency is {before['currency']} and cannot change",
                field="currency")
        values = {**{k: before[k] for k in PUBLIC_FIELDS}, **fields,
                  "currency": before["currency"]}
    row, created = await repository.upsert(conn, realm, brand_id, new_id(), values, at)
    after_view = {k: row[k] for k in PUBLIC_FIELDS}
    before_view = None if before is None else {k: before[k] for k in PUBLIC_FIELDS}
    if created or before_view != after_view:
        await audit.record(
            conn, realm=realm, actor=actor, action="player.created" if created else "player.updated",
            target_type="player", target_id=str(row["id"]), before=before_view, after=after_view,
            at=at,
        )
    if referrer_ref is not None:
        await _set_referrer(conn, realm, brand_id, row, referrer_ref)
    await repository.mark_active(conn, realm, row["id"], at)
    return (201 if created else 200), {"player": await dossier(conn, realm, row, at, new=created)}


async def _set_referrer(conn: AsyncConnection, realm: Realm, brand_id: UUID,
                        row: dict[str, Any], ref: str) -> None:
    """Record who referred the player (once; a referral bonus reads it at the first deposit)."""
    referrer = await repository.find(conn, realm, brand_id, ref)
    if referrer is None or referrer["id"] == row["id"]:
        raise ValidationFailed("referred_by: not another player of this brand",
                               field="referred_by")
    await repository.set_referrer(conn, realm, row["id"], referrer["id"])


# While a self-exclusion the player asked for runs, the operator may only close the
# account; any other status would let the player back before its end.
STATUSES_DURING_EXCLUSION = frozenset({"self_excluded", "closed"})


async def change_status(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, status: str, reason: str,
    actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Set the status; the reason becomes a compliance note; emits ``player.status_changed``.
    409 ``SELF_EXCLUSION_ACTIVE`` for any status but ``closed`` while a self-exclusion
    the player asked for runs."""
    player = await get(conn, realm, brand_id, ref, for_update=True)
    if exclusion_running(player, at) and status not in STATUSES_DURING_EXCLUSION:
        raise Conflict(
            f"the player is self-excluded {_until(player)}: the status cannot change while "
            "the self-exclusion runs (only closing the account is possible)",
            code="SELF_EXCLUSION_ACTIVE", until=player["self_excluded_until"])
    changed = await set_status(conn, realm=realm, player=player, status=status, reason=reason,
                               actor=actor, at=at)
    return {"player": await dossier(conn, realm, player, at), "changed": changed}


def _until(player: dict[str, Any]) -> str:
    until = player.get("self_excluded_until")
    return "permanently" if until is None else f"until {iso(until)}"


async def set_status(conn: AsyncConnection, *, realm: Realm, player: dict[str, Any],
                     status: str, reason: str, actor: Actor, at: datetime) -> bool:
    """Set the status of a row-locked ``player`` (updated in place): a compliance note, an
    audit row and ``player.status_changed`` when it changes. A status that refuses the
    player's login (self-excluded, closed, suspended) ends every session of the player.
    Whether it changed."""
    previous = player["status"]
    await repository.add_note(conn, realm, player["id"], "status_change",
                              f"{previous} → {status}: {reason}", actor.label, at)
    if previous != status:
        await repository.set_status(conn, realm, player["id"], status, at)
        await audit.record(conn, realm=realm, actor=actor, action="player.status_changed",
                           target_type="player", target_id=str(player["id"]),
                           before={"status": previous}, after={"status": status, "reason": reason},
                           at=at)
        await outbox.emit(conn, realm=realm, type="player.status_changed", at=at, data={
            "user": player_ref(player), "from": previous, "to": status, "reason": reason})
    if status in sessions.LOCKED_OUT:
        await sessions.revoke_all(conn, realm=realm, player_id=player["id"], at=at,
                                  reason=f"status {status}")
    player["status"], player["updated_at"] = status, at
    return bool(previous != status)


async def set_kyc(conn: AsyncConnection, realm: Realm, player_id: UUID, *, status: str,
                  level: int, at: datetime) -> None:
    """Record the KYC status and level in force (``compliance.kyc`` decides them)."""
    await repository.set_kyc(conn, realm, player_id, status, level, at)


async def update_rg(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, service_mode: str, ref: str,
    requested: dict[str, Any], actor: Actor, at: datetime,
) -> dict[str, Any]:
    """Tighten at once, loosen after the cooling-off; emits ``rg.limit_changed``. A limit
    set or tightened fires the ``rg.limit_set`` trigger (safer-gambling journeys)."""
    player = await get(conn, realm, brand_id, ref, for_update=True)
    changes = await apply_rg(conn, realm=realm, service_mode=service_mode, player=player,
                             requested=requested, actor=actor, at=at)
    return {"player": await dossier(conn, realm, player, at),
            "changes": [{"limit": c.limit, "immediate": c.immediate,
                         "applies_at": c.applies_at} for c in changes]}


async def apply_rg(
    conn: AsyncConnection, *, realm: Realm, service_mode: str, player: dict[str, Any],
    requested: dict[str, Any], actor: Actor, at: datetime,
) -> list[rg.Change]:
    """``update_rg`` on a row-locked ``player`` (its ``rg`` updated in place): the changes
    made. Money limits arrive in the player's currency's unit; ``timeout_until`` as a
    datetime."""
    currency = ASSETS[player["currency"]]
    normalised: dict[str, Any] = {}
    for name, value in requested.items():
        if value is None:
            normalised[name] = None
        elif name in rg.MONEY_LIMITS:  # zero is a real limit: no deposits, no losses
            normalised[name] = to_minor(value, currency, field=name, allow_zero=True)
        elif name == "timeout_until":
            if value <= at:
                raise ValidationFailed("timeout_until: must be in the future",
                                       field="timeout_until")
            normalised[name] = iso(value)  # UTC with Z, as the API speaks time
        else:
            normalised[name] = int(value)
    state, changes = rg.apply_request(player["rg"] or {}, normalised, at)
    if changes:
        await repository.set_rg(conn, realm, player["id"], state, at)
        described = [
            {"limit": c.limit, "from": rg.display(c.limit, c.before, currency),
             "to": rg.display(c.limit, c.after, currency), "applies_at": c.applies_at,
             "immediate": c.immediate}
            for c in changes
        ]
        await audit.record(conn, realm=realm, actor=actor, action="player.rg_changed",
                           target_type="player", target_id=str(player["id"]),
                           before=player["rg"] or {}, after=state, at=at)
        await outbox.emit(conn, realm=realm, type="rg.limit_changed", at=at,
                          data={"user": player_ref(player), "changes": described})
    tightened = [c.limit for c in changes if c.immediate and c.after is not None]
    if tightened:
        await triggers.fire(conn, realm, [triggers.Trigger(
            player["id"], player["brand_id"], "rg.limit_set", at, {"limits": tightened})],
            Context(service_mode, at))
    player["rg"] = state
    return changes


async def apply_due_rg_changes(conn: AsyncConnection, *, now: datetime, batch: int = 200) -> int:
    """Materialise RG changes whose cooling-off has passed (the worker's job)."""
    from wowsino.kernel.realm import SYSTEM, Mode

    rows = await repository.due_rg_changes(conn, now, batch)
    for row in rows:
        realm = Realm(row.tenant_id, Mode(row.mode))
        before = row.rg or {}
        after = rg.effective(before, now)
        currency = ASSETS[row.currency]
        due = [n for n in before.get("pending", {}) if n not in after.get("pending", {})]
        await repository.set_rg(conn, realm, row.id, after, now)
        await audit.record(conn, realm=realm, actor=SYSTEM, action="player.rg_applied",
                           target_type="player", target_id=str(row.id), before=before,
                           after=after, at=now)
        await outbox.emit(conn, realm=realm, type="rg.limit_changed", at=now, data={
            "user": {"user_id": str(row.id), "username": row.username},
            "changes": [{"limit": n,
                         "from": rg.display(n, before.get("limits", {}).get(n), currency),
                         "to": rg.display(n, before["pending"][n]["value"], currency),
                         "applies_at": before["pending"][n]["applies_at"], "immediate": False}
                        for n in due]})
    return len(rows)


def check_currency(player: dict[str, Any], rail: Rail, the_asset: Asset) -> None:
    """The real and bonus rails hold the player's currency only (400 ``CURRENCY_MISMATCH``)."""
    if rail in (Rail.REAL, Rail.BONUS) and the_asset.code != player["currency"]:
        raise ValidationFailed(
            f"asset: this player's {rail.value} money is in {player['currency']}, not "
            f"{the_asset.code}", code="CURRENCY_MISMATCH", field="asset",
            player_currency=player["currency"])


@dataclass(frozen=True)
class Adjustment:
    """One adjustment as requested: whose, which rail and asset, how much, why, by whom."""

    ref: str
    rail: str
    asset_code: str
    amount: Any
    reason: str
    actor: Actor
    request_id: str | None = None  # the request's, for its audit row (group commit)


def _checked(player: dict[str, Any], wanted: Adjustment) -> tuple[Rail, Asset, int]:
    """The rail, asset and signed minor amount of ``wanted``, or the 400 it is refused with."""
    the_rail = Rail(wanted.rail)
    the_asset = asset(wanted.asset_code)
    check_rail_asset(the_rail, the_asset)
    check_currency(player, the_rail, the_asset)
    return the_rail, the_asset, to_minor(wanted.amount, the_asset, allow_negative=True)


def _entry(player: dict[str, Any], wanted: Adjustment, checked: tuple[Rail, Asset, int],
           at: datetime) -> ledger.NewEntry:
    """The ledger entry of a checked adjustment: the player's account first."""
    the_rail, the_asset, minor = checked
    return ledger.NewEntry(
        kind="adjustment", at=at, ref_type="player", ref_id=str(player["id"]),
        metadata={"reason": wanted.reason, "actor": wanted.actor.label},
        postings=[
            ledger.Posting(ledger.Account.player(player["id"], the_rail, the_asset.code), minor),
            ledger.Posting(ledger.Account.system(ledger.counterparty_for(the_rail), the_rail,
                                                 the_asset.code), -minor),
        ],
    )


async def _posted(conn: AsyncConnection, realm: Realm, player: dict[str, Any],
                  wanted: Adjustment, checked: tuple[Rail, Asset, int],
                  entry: ledger.PostedEntry, at: datetime) -> dict[str, Any]:
    """The answer (``adjustment``) of a posted adjustment; XP moves the player's VIP
    standing too."""
    the_rail, the_asset, minor = checked
    if the_rail is Rail.XP:
        from wowsino.vip import xp  # VIP builds on players

        await xp.track(conn, realm, player["id"], minor, at)
    balance = entry.balances_after[0] or 0
    return {
        "entry_id": entry.id, "user_id": str(player["id"]), "rail": wanted.rail,
        "asset": the_asset.code, "amount": from_minor(minor, the_asset),
        "balance_after": from_minor(balance, the_asset), "reason": wanted.reason,
        "created_at": at,
    }


def _audit_row(player: dict[str, Any], wanted: Adjustment, adjustment: dict[str, Any],
               at: datetime) -> audit.Row:
    return audit.Row(actor=wanted.actor, action="player.adjusted", target_type="player",
                     target_id=str(player["id"]), after=adjustment, at=at,
                     request_id=wanted.request_id)


async def adjust(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str, rail: str, asset_code: str,
    amount: Any, reason: str, actor: Actor, at: datetime,
) -> tuple[int, dict[str, Any]]:
    """Credit (or, negative, debit) a player against the rail's system account.

    Raises InsufficientFunds (402) when a debit exceeds the balance, 400
    ``CURRENCY_MISMATCH`` for money in another currency than the player's, 400 naming
    ``amount`` beyond the asset's bound (per posting or for the balance).
    """
    return await adjust_one(conn, realm=realm, brand_id=brand_id, at=at, wanted=Adjustment(
        ref, rail, asset_code, amount, reason, actor, request_id_var.get()))


async def adjust_one(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, wanted: Adjustment,
                     at: datetime) -> tuple[int, dict[str, Any]]:
    """``adjust`` for an ``Adjustment``."""
    player = await get(conn, realm, brand_id, wanted.ref)
    checked = _checked(player, wanted)
    entry = _entry(player, wanted, checked, at)
    posted = await ledger.post_entry(conn, realm=realm, kind=entry.kind, at=at,
                                     ref_type=entry.ref_type, ref_id=entry.ref_id,
                                     metadata=entry.metadata, postings=entry.postings)
    adjustment = await _posted(conn, realm, player, wanted, checked, posted, at)
    await audit.record_rows(conn, realm, [_audit_row(player, wanted, adjustment, at)])
    await repository.mark_active(conn, realm, player["id"], at)
    return 201, {"adjustment": adjustment}


async def adjust_many(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, wanted: list[Adjustment],
    at: datetime,
) -> list[tuple[int, dict[str, Any]] | DomainError]:
    """Several adjustments in the caller's transaction, each answered as ``adjust`` answers
    it: ``(201, body)``, or the refusal found before any posting (404 ``NO_PLAYER``, 400).
    The players are read in one statement, the postings are made in the order of the
    players' ids (the lock order of their balances, so that concurrent groups wait on
    each other rather than deadlock) in one statement, and the audit rows and activity
    marks are written together. A refusal of a posting (402, a balance beyond its bound)
    raises: it ends the transaction, so the caller sends the adjustments again one at a
    time. XP adjustments move VIP levels one at a time: they go through ``adjust_one``
    (here they raise ValueError, which a group commit answers by sending each alone)."""
    if any(w.rail == Rail.XP.value for w in wanted):
        raise ValueError("XP adjustments are written one at a time (adjust_one)")
    players = await repository.find_many(conn, realm, brand_id, [w.ref for w in wanted])
    outcomes: list[tuple[int, dict[str, Any]] | DomainError | None] = [None] * len(wanted)
    planned: list[tuple[UUID, int, dict[str, Any], tuple[Rail, Asset, int]]] = []
    for i, one in enumerate(wanted):
        player = players.get(one.ref)
        try:
            if player is None:
                raise NotFound(f"no player {one.ref!r}", code="NO_PLAYER")
            planned.append((player["id"], i, player, _checked(player, one)))
        except DomainError as error:
            outcomes[i] = error
    planned.sort(key=lambda p: (p[0], p[1]))
    posted = await ledger.post_entries(conn, realm=realm, entries=[
        _entry(player, wanted[i], checked, at) for _, i, player, checked in planned])
    rows = []
    for (_, i, player, checked), entry in zip(planned, posted, strict=True):
        adjustment = await _posted(conn, realm, player, wanted[i], checked, entry, at)
        rows.append(_audit_row(player, wanted[i], adjustment, at))
        outcomes[i] = (201, {"adjustment": adjustment})
    if rows:
        await audit.record_rows(conn, realm, rows)
        await repository.mark_active_many(conn, realm, [p[0] for p in planned], at)
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]

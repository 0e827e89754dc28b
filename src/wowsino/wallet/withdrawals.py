"""Withdrawals: the money leaves the player's real balance at once and waits in
``withdrawals_in_flight`` until it is paid out or returned.

::

    pending ──approve──▶ approved ──payout completed──▶ completed  in_flight → psp_clearing
       │                    └──────payout failed──────▶ failed     in_flight → player real
       └──────reject─────▶ rejected                                in_flight → player real

Every change locks the withdrawal's row first and checks its status, so whatever the
order of approve, reject and callbacks, exactly one of them settles it: a withdrawal is
never paid twice nor lost. An operator's approve or reject of a withdrawal that is not
``pending`` is 409 ``WITHDRAWAL_STATE``; a callback that does not fit the status is
recorded and flagged, and moves nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.bonuses import service as bonuses
from wowsino.compliance import gate
from wowsino.kernel import audit, ledger, outbox
from wowsino.kernel.errors import Conflict, NotFound, ValidationFailed
from wowsino.kernel.ids import new_id, parse_uuid
from wowsino.kernel.money import ASSETS, Rail, from_minor, to_minor
from wowsino.kernel.realm import SYSTEM, Actor, Realm
from wowsino.players import service as players
from wowsino.wallet import flows, psp_config, repository, views
from wowsino.wallet.deposits import player_currency
from wowsino.wallet.psp.base import CallbackEvent

Body = dict[str, Any]
AUTO_APPROVER = "system:auto_approval"
AUTO_REASON = "below the brand's auto-approval threshold"
DEFAULT_METHOD = "card"


def state_conflict(row: dict[str, Any], action: str) -> Conflict:
    return Conflict(f"this withdrawal is {row['status']}: only a pending one can be {action}",
                    code="WITHDRAWAL_STATE", status=row["status"])


async def request(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, player_id: UUID, amount: Any,
    currency: str, method: str | None, callback_base: str, actor: Actor, settings: Any,
    at: datetime, approved_by: Actor | None = None, reason: str | None = None,
) -> tuple[int, Body]:
    """Reserve ``amount`` of the player's real money for a payout.

    ``approved_by``: an operator who asks for the payout on the player's behalf (e.g. to
    return a self-excluded player's balance) approves it at once, with ``reason``.

    The gate first (403 ``KYC_REQUIRED``, ``SELF_EXCLUDED``, ``PLAYER_BLOCKED``, recorded);
    then every active bonus is forfeited (bonus money is never withdrawable) and the amount
    moves to ``withdrawals_in_flight`` (402 ``INSUFFICIENT_FUNDS`` beyond the real
    balance, and then nothing is forfeited). Below the brand's threshold it is approved at
    once. Raises 400 (currency, amount, method), 409 ``PSP_NOT_CONFIGURED``."""
    player = await players.get(conn, realm, brand_id, str(player_id))
    unit = player_currency(player, currency)
    minor = to_minor(amount, unit, field="amount")
    brand = await psp_config.for_brand(conn, realm, player["brand_id"])
    psp_config.require_usable(brand, realm, settings)
    chosen = method or DEFAULT_METHOD
    if chosen not in brand.adapter.payout_methods:
        raise ValidationFailed(f"method: {brand.adapter.name} pays out by "
                               f"{sorted(brand.adapter.payout_methods)}", field="method")
    withdrawal_id = new_id()
    facts = gate.Facts(gate.Action.WITHDRAWAL, player,
                       await gate.rules_for(conn, realm, player), at)
    decision = await gate.decide(conn, facts, realm=realm, actor=actor,
                                 target_id=str(withdrawal_id))
    if not decision.allowed:
        return 403, decision.refusal()
    # the lock order: the bonus rows (engine rows), then the player's row, then balances
    forfeited = await bonuses.forfeit_active(conn, realm=realm, brand_id=player["brand_id"],
                                             player_id=player["id"], reason="withdrawal",
                                             actor=actor, at=at)
    await players.hold(conn, realm, player["id"])
    entry = await flows.reserve_withdrawal(conn, realm=realm, withdrawal_id=withdrawal_id,
                                           player_id=player["id"], currency=unit.code,
                                           amount=minor, at=at)
    auto = approved_by is None and brand.auto_approves(unit.code, minor)
    reviewer, review_reason = ((approved_by.label, reason) if approved_by is not None
                               else (AUTO_APPROVER, AUTO_REASON) if auto else (None, None))
    await repository.insert(conn, realm, "withdrawal", {
        "id": withdrawal_id, "brand_id": player["brand_id"], "player_id": player["id"],
        "currency": unit.code, "amount": minor, "method": chosen,
        "adapter": brand.adapter.name, "status": "pending" if reviewer is None else "approved",
        "auto_approved": auto, "reviewed_by": reviewer, "review_reason": review_reason,
        "reviewed_at": None if reviewer is None else at, "callback_base": callback_base,
        "forfeited_bonuses": forfeited, "request_entry_id": entry.id, "created_at": at,
        "updated_at": at})
    row = await _row(conn, realm, withdrawal_id)
    await outbox.emit(conn, realm=realm, type="withdrawal.requested", at=at, data={
        **_event_data(row), "auto_approved": auto, "forfeited_bonuses": forfeited,
        "requested_by": "player" if approved_by is None else "operator"})
    if approved_by is not None:
        await audit.record(conn, realm=realm, actor=approved_by, action="withdrawal.approved",
                           target_type="withdrawal", target_id=str(withdrawal_id), at=at,
                           before={"status": "pending"},
                           after={"status": "approved", "reason": reason,
                                  "requested_by": "operator"})
    elif auto:
        await audit.record(conn, realm=realm, actor=SYSTEM, action="withdrawal.approved",
                           target_type="withdrawal", target_id=str(withdrawal_id), at=at,
                           before={"status": "pending"},
                           after={"status": "approved", "automatic": True})
    real = ledger.Account.player(player["id"], Rail.REAL, unit.code)
    return 201, {"withdrawal": views.withdrawal(row, realm), "forfeited_bonuses": forfeited,
                 "real_balance": from_minor(int(entry.balance_after(real) or 0), unit)}


async def _row(conn: AsyncConnection, realm: Realm, withdrawal_id: UUID, *,
               for_update: bool = False) -> dict[str, Any]:
    found = await repository.row(conn, realm, "withdrawal", withdrawal_id,
                                 for_update=for_update)
    assert found is not None
    return found


async def _own(conn: AsyncConnection, realm: Realm, brand_id: UUID, ref: str, *,
               player_id: UUID | None = None, for_update: bool = False) -> dict[str, Any]:
    """A withdrawal of the brand (and player), or 404 ``NO_WITHDRAWAL``."""
    withdrawal_id = parse_uuid(ref)
    found = None if withdrawal_id is None else await repository.row(
        conn, realm, "withdrawal", withdrawal_id, for_update=for_update)
    if (found is None or found["brand_id"] != brand_id
            or (player_id is not None and found["player_id"] != player_id)):
        raise NotFound(f"no withdrawal {ref[:64]!r}", code="NO_WITHDRAWAL")
    return found


async def get(conn: AsyncConnection, realm: Realm, brand_id: UUID, ref: str) -> Body:
    found = await _own(conn, realm, brand_id, ref)
    return {"withdrawal": views.withdrawal(found, realm),
            "callbacks": await repository.callbacks_of(conn, realm, found["id"])}


def _event_data(row: dict[str, Any]) -> Body:
    unit = ASSETS[row["currency"]]
    return {"withdrawal_id": str(row["id"]),
            "user": players.player_ref({"id": row["player_id"], "username": row["username"]}),
            "amount": from_minor(int(row["amount"]), unit), "currency": unit.code}


async def approve(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                  reason: str | None, actor: Actor, at: datetime) -> Body:
    """Approve a pending withdrawal (the payout is sent after the commit); audited.
    409 ``WITHDRAWAL_STATE`` for any other status."""
    row = await _own(conn, realm, brand_id, ref, for_update=True)
    if row["status"] != "pending":
        raise state_conflict(row, "approved")
    await repository.update(conn, realm, "withdrawal", row["id"], {
        "status": "approved", "reviewed_by": actor.label, "review_reason": reason,
        "reviewed_at": at, "updated_at": at})
    await audit.record(conn, realm=realm, actor=actor, action="withdrawal.approved",
                       target_type="withdrawal", target_id=str(row["id"]), at=at,
                       before={"status": "pending"},
                       after={"status": "approved", "reason": reason})
    return {"withdrawal": views.withdrawal(await _row(conn, realm, row["id"]), realm)}


async def reject(conn: AsyncConnection, *, realm: Realm, brand_id: UUID, ref: str,
                 reason: str, actor: Actor, at: datetime) -> Body:
    """Reject a pending withdrawal: its money returns to the player's real balance;
    ``withdrawal.rejected``, audited. 409 ``WITHDRAWAL_STATE`` for any other status."""
    row = await _own(conn, realm, brand_id, ref, for_update=True)
    if row["status"] != "pending":
        raise state_conflict(row, "rejected")
    entry = await flows.return_withdrawal(
        conn, realm=realm, withdrawal_id=row["id"], player_id=row["player_id"],
        currency=row["currency"], amount=int(row["amount"]), reason="rejected", at=at)
    await repository.update(conn, realm, "withdrawal", row["id"], {
        "status": "rejected", "reviewed_by": actor.label, "review_reason": reason,
        "reviewed_at": at, "settle_entry_id": entry.id, "settled_at": at, "updated_at": at})
    await outbox.emit(conn, realm=realm, type="withdrawal.rejected", at=at,
                      data={**_event_data(row), "reason": reason})
    await audit.record(conn, realm=realm, actor=actor, action="withdrawal.rejected",
                       target_type="withdrawal", target_id=str(row["id"]), at=at,
                       before={"status": "pending"},
                       after={"status": "rejected", "reason": reason})
    return {"withdrawal": views.withdrawal(await _row(conn, realm, row["id"]), realm)}


def _judge(row: dict[str, Any], event: CallbackEvent) -> tuple[str, str | None]:
    """``(outcome, flag)`` of a verified payout callback for the withdrawal ``row``."""
    unit = ASSETS[row["currency"]]
    status = row["status"]
    if event.status == "completed" and event.amount_in(unit) != int(row["amount"]):
        return "flagged", "amount_mismatch"
    if status == "approved":
        return "applied", None
    if status == "pending":
        return "flagged", "payout_not_requested"
    if event.status == "completed":
        return "flagged", {"completed": "second_payout", "failed": "completed_after_failed",
                           "rejected": "completed_after_rejected"}[status]
    if status == "completed":
        return "flagged", "failed_after_completed"
    return "ignored", None



async def settle(conn: AsyncConnection, *, realm: Realm, row_id: UUID, adapter: str,
                 event: CallbackEvent, body: str, at: datetime) -> str:
    """Apply a verified payout callback for the withdrawal ``row_id`` once per (PSP
    transaction, status): ``applied``, ``flagged``, ``ignored`` or ``duplicate``."""
    row = await repository.row(conn, realm, "withdrawal", row_id, for_update=True)
    if row is None:
        raise NotFound("no withdrawal with this reference", code="NO_WITHDRAWAL")
    outcome, flag = _judge(row, event)
    unit = ASSETS[row["currency"]]
    if not await repository.insert_callback(conn, realm, {
            "adapter": adapter, "psp_transaction_id": event.transaction_id,
            "status": event.status, "target_type": "withdrawal", "target_id": row_id,
            "amount": event.amount_in(unit),
            "currency": event.currency[:16], "outcome": outcome, "flag": flag,
            "body": body, "at": at}):
        return "duplicate"
    if flag is not None:
        await repository.update(conn, realm, "withdrawal", row["id"],
                                {"flag": flag, "flagged_at": at, "updated_at": at})
        await audit.record(conn, realm=realm, actor=SYSTEM, action="withdrawal.flagged",
                           target_type="withdrawal", target_id=str(row["id"]), at=at,
                           before={"status": row["status"]},
                           after={"flag": flag, "psp_transaction_id": event.transaction_id,
                                  "callback_status": event.status})
    if outcome != "applied":
        return outcome
    if event.status == "completed":
        entry_id = await flows.pay_withdrawal(
            conn, realm=realm, withdrawal_id=row["id"], currency=unit.code,
            amount=int(row["amount"]), psp_reference=event.transaction_id, at=at)
        await repository.update(conn, realm, "withdrawal", row["id"], {
            "status": "completed", "settle_entry_id": entry_id, "settled_at": at,
            "psp_reference": row["psp_reference"] or event.transaction_id, "updated_at": at})
        await outbox.emit(conn, realm=realm, type="withdrawal.completed", at=at, data={
            **_event_data(row), "psp_reference": event.transaction_id})
    else:
        await fail_payout(conn, realm=realm, row=row, reason=event.reason or "failed", at=at)
    return outcome


async def fail_payout(conn: AsyncConnection, *, realm: Realm, row: dict[str, Any], reason: str,
                      at: datetime) -> None:
    """An approved payout failed (or the PSP refused it): the money returns to the
    player; ``withdrawal.failed``. ``row`` is locked by the caller and ``approved``."""
    entry = await flows.return_withdrawal(
        conn, realm=realm, withdrawal_id=row["id"], player_id=row["player_id"],
        currency=row["currency"], amount=int(row["amount"]), reason=reason, at=at)
    await repository.update(conn, realm, "withdrawal", row["id"], {
        "status": "failed", "failure_reason": reason, "settle_entry_id": entry.id,
        "settled_at": at, "updated_at": at})
    await outbox.emit(conn, realm=realm, type="withdrawal.failed", at=at,
                      data={**_event_data(row), "reason": reason})


async def fail_unsent(conn: AsyncConnection, *, realm: Realm, withdrawal_id: UUID, reason: str,
                      at: datetime) -> None:
    """The PSP refused the payout: an approved withdrawal it never took fails, and its
    money returns."""
    row = await repository.row(conn, realm, "withdrawal", withdrawal_id, for_update=True)
    if row is not None and row["status"] == "approved" and row["psp_reference"] is None:
        await fail_payout(conn, realm=realm, row=row, reason=reason, at=at)

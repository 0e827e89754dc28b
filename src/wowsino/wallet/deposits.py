"""Deposits: ``pending`` when asked for, settled by the PSP's callback.

::

    pending ──completed──▶ completed   psp_clearing → player real, the spine's deposit
       │                                (deposit bonuses, journeys), deposit.completed
       └────failed─────▶ failed        nothing moves; deposit.failed
                           │
                           └─completed─▶ completed (late: credited and flagged)

A callback that contradicts a settlement (``failed`` after ``completed``, a second
completion, an amount or currency other than asked) is recorded and flagged for an
operator; it never reverses or adds money by itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.compliance import gate
from wowsino.events import service as spine
from wowsino.events.schemas import DepositIn
from wowsino.kernel import audit, outbox
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.ids import new_id, parse_uuid
from wowsino.kernel.money import ASSETS, Asset, asset, from_minor, to_minor
from wowsino.kernel.realm import SYSTEM, Actor, Realm
from wowsino.players import service as players
from wowsino.wallet import flows, psp_config, repository, views
from wowsino.wallet.psp.base import CallbackEvent

Body = dict[str, Any]
WHITE_LABEL = "white_label"


def player_currency(player: dict[str, Any], code: str) -> Asset:
    """The asset ``code`` if it is the player's currency (400 naming ``currency``)."""
    found = asset(code, field="currency")
    if not found.is_currency:
        raise ValidationFailed(f"currency: {found.code} is not a currency", field="currency")
    if found.code != player["currency"]:
        raise ValidationFailed(
            f"currency: this player's money is in {player['currency']}, not {found.code}",
            code="CURRENCY_MISMATCH", field="currency", player_currency=player["currency"])
    return found


async def request(
    conn: AsyncConnection, *, realm: Realm, brand_id: UUID, player_id: UUID, amount: Any,
    currency: str, method: str, promo_code: str | None, callback_base: str, actor: Actor,
    settings: Any, at: datetime,
) -> tuple[int, Body]:
    """A ``pending`` deposit through the brand's PSP (the PSP is asked after the commit;
    ``callback_base``: this API's address for its callback, kept so that every request
    for this payment says the same).

    Raises 400 (currency, amount, method), 404 ``NO_PLAYER``, 409 ``PSP_NOT_CONFIGURED``;
    answers 403 ``DEPOSIT_LIMIT``, ``SELF_EXCLUDED`` or ``PLAYER_BLOCKED`` (recorded)."""
    # the player's row, locked: two deposits of one player are judged one after the other
    player = await players.get(conn, realm, brand_id, str(player_id), for_update=True)
    unit = player_currency(player, currency)
    minor = to_minor(amount, unit, field="amount")
    brand = await psp_config.for_brand(conn, realm, player["brand_id"])
    psp_config.require_usable(brand, realm, settings)
    if method not in brand.adapter.methods:
        raise ValidationFailed(f"method: {brand.adapter.name} takes "
                               f"{sorted(brand.adapter.methods)}", field="method")
    deposit_id = new_id()
    # the gate counts the player's pending and completed deposits against their limits
    history = await repository.deposits_since(conn, realm, player["id"], unit.code,
                                              at - gate.DEPOSIT_HISTORY)
    facts = gate.Facts(gate.Action.DEPOSIT, player, await gate.rules_for(conn, realm, player),
                       at, amount=minor, currency=unit.code, deposits=history)
    decision = await gate.decide(conn, facts, realm=realm, actor=actor,
                                 target_id=str(deposit_id))
    if not decision.allowed:
        return 403, decision.refusal()
    await repository.insert(conn, realm, "deposit", {
        "id": deposit_id, "brand_id": player["brand_id"], "player_id": player["id"],
        "currency": unit.code, "amount": minor, "method": method,
        "adapter": brand.adapter.name, "promo_code": promo_code,
        "callback_base": callback_base, "created_at": at,
        "updated_at": at})
    return 201, {"deposit": await show(conn, realm, deposit_id)}


async def show(conn: AsyncConnection, realm: Realm, deposit_id: UUID) -> Body:
    found = await repository.row(conn, realm, "deposit", deposit_id)
    assert found is not None
    return views.deposit(found, realm)


async def get(conn: AsyncConnection, realm: Realm, brand_id: UUID, ref: str,
              player_id: UUID | None = None) -> Body:
    """One deposit of the brand (and player), or 404 ``NO_DEPOSIT``."""
    deposit_id = parse_uuid(ref)
    found = None if deposit_id is None else await repository.row(conn, realm, "deposit",
                                                                 deposit_id)
    if (found is None or found["brand_id"] != brand_id
            or (player_id is not None and found["player_id"] != player_id)):
        raise NotFound(f"no deposit {ref[:64]!r}", code="NO_DEPOSIT")
    return {"deposit": views.deposit(found, realm),
            "callbacks": await repository.callbacks_of(conn, realm, found["id"])}


def _judge(row: dict[str, Any], event: CallbackEvent) -> tuple[str, str | None]:
    """``(outcome, flag)`` of a verified callback for the deposit ``row``: ``applied``
    (credit or fail it now), ``flagged`` (recorded for review, nothing moves) or
    ``ignored`` (it repeats what is known)."""
    unit = ASSETS[row["currency"]]
    if event.status == "completed":
        if event.amount_in(unit) != int(row["amount"]):
            return "flagged", "amount_mismatch"
        if row["status"] == "pending":
            return "applied", None
        if row["status"] == "failed":
            return "applied", "completed_after_failed"
        return "flagged", "second_completion"
    if row["status"] == "pending":
        return "applied", None
    if row["status"] == "completed":
        return "flagged", "failed_after_completed"
    return "ignored", None



async def settle(conn: AsyncConnection, *, realm: Realm, row_id: UUID, adapter: str,
                 event: CallbackEvent, body: str, at: datetime) -> str:
    """Apply a verified callback for the deposit ``row_id`` once per (PSP transaction,
    status); the outcome: ``applied``, ``flagged``, ``ignored`` or ``duplicate``."""
    row = await repository.row(conn, realm, "deposit", row_id, for_update=True)
    if row is None:
        raise NotFound("no deposit with this reference", code="NO_DEPOSIT")
    outcome, flag = _judge(row, event)
    unit = ASSETS[row["currency"]]
    if not await repository.insert_callback(conn, realm, {
            "adapter": adapter, "psp_transaction_id": event.transaction_id,
            "status": event.status, "target_type": "deposit", "target_id": row_id,
            "amount": event.amount_in(unit),
            "currency": event.currency[:16], "outcome": outcome, "flag": flag,
            "body": body, "at": at}):
        return "duplicate"
    if flag is not None:
        await _flag(conn, realm, row, flag, event, at)
    if outcome != "applied":
        return outcome
    if event.status == "completed":
        await _complete(conn, realm, row, event, at)
    else:
        await _fail(conn, realm, row, event.reason or "failed", at)
    return outcome


async def _flag(conn: AsyncConnection, realm: Realm, row: dict[str, Any], flag: str,
                event: CallbackEvent, at: datetime) -> None:
    await repository.update(conn, realm, "deposit", row["id"],
                            {"flag": flag, "flagged_at": at, "updated_at": at})
    await audit.record(conn, realm=realm, actor=SYSTEM, action="deposit.flagged",
                       target_type="deposit", target_id=str(row["id"]), at=at,
                       before={"status": row["status"]},
                       after={"flag": flag, "psp_transaction_id": event.transaction_id,
                              "callback_status": event.status})


def _event_data(row: dict[str, Any]) -> Body:
    unit = ASSETS[row["currency"]]
    return {"deposit_id": str(row["id"]), "user": players.player_ref(
                {"id": row["player_id"], "username": row["username"]}),
            "amount": from_minor(int(row["amount"]), unit), "currency": unit.code,
            "method": row["method"]}


async def _complete(conn: AsyncConnection, realm: Realm, row: dict[str, Any],
                    event: CallbackEvent, at: datetime) -> None:
    """Credit the real rail from ``psp_clearing`` and run the spine's deposit event."""
    unit = ASSETS[row["currency"]]
    entry_id = await flows.credit_deposit(
        conn, realm=realm, deposit_id=row["id"], player_id=row["player_id"],
        currency=unit.code, amount=int(row["amount"]), psp_reference=event.transaction_id,
        at=at)
    await repository.update(conn, realm, "deposit", row["id"], {
        "status": "completed", "entry_id": entry_id, "settled_at": at, "updated_at": at,
        "psp_reference": row["psp_reference"] or event.transaction_id,
        "failure_reason": None})
    _, recorded = await spine.record_deposit(
        conn, realm=realm, brand_id=row["brand_id"], service_mode=WHITE_LABEL,
        event=DepositIn(user_id=str(row["player_id"]), source_deposit_id=str(row["id"]),
                        amount=from_minor(int(row["amount"]), unit), currency=unit.code,
                        promo_code=row["promo_code"]), at=at)
    await outbox.emit(conn, realm=realm, type="deposit.completed", at=at, data={
        **_event_data(row), "psp_reference": event.transaction_id,
        "first_deposit": bool(recorded.get("deposit", {}).get("first_deposit", False))})


async def _fail(conn: AsyncConnection, realm: Realm, row: dict[str, Any], reason: str,
                at: datetime) -> None:
    await repository.update(conn, realm, "deposit", row["id"], {
        "status": "failed", "failure_reason": reason, "settled_at": at, "updated_at": at})
    await outbox.emit(conn, realm=realm, type="deposit.failed", at=at,
                      data={**_event_data(row), "reason": reason})


async def fail_unstarted(conn: AsyncConnection, *, realm: Realm, deposit_id: UUID, reason: str,
                         at: datetime) -> None:
    """The PSP refused to start the payment: a pending deposit without a PSP reference
    fails (nothing was credited)."""
    row = await repository.row(conn, realm, "deposit", deposit_id, for_update=True)
    if row is not None and row["status"] == "pending" and row["psp_reference"] is None:
        await _fail(conn, realm, row, reason, at)

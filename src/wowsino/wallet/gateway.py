"""Calls to the PSP, made outside any database transaction.

The row is committed first (``pending`` deposit, ``approved`` withdrawal), then the PSP
is asked, then its reference is recorded in a second short transaction. So a crash or a
PSP that does not answer leaves:

- a ``pending`` deposit without a PSP reference: harmless, nothing was credited; replaying
  the request (same idempotency key) asks the PSP again, which knows our reference;
- an ``approved`` withdrawal without a PSP reference: the payout is asked again (by a
  replay of the approval, the player's request, or the worker's ``payouts_sent`` job),
  always with our reference as the PSP's idempotency key, so the PSP pays it once.

Every request for one payment or payout says exactly the same (the row's amount,
method, reference and the callback address kept on it), so the PSP recognises a repeat.
A PSP that refuses outright (4xx) fails the deposit, or fails the withdrawal and returns
its money.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import ServiceUnavailable
from wowsino.kernel.money import ASSETS, from_minor
from wowsino.kernel.platform import Platform
from wowsino.kernel.realm import Mode, Realm
from wowsino.kernel.vendors import Account, VendorRefused, VendorUnavailable
from wowsino.kernel.vendors import account_for as vendor_account
from wowsino.wallet import deposits, psp, psp_config, references, repository, withdrawals
from wowsino.wallet.psp.base import PaymentRequest, PayoutRequest, PspAdapter

log = structlog.get_logger("wowsino.wallet")
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RESEND_AFTER = timedelta(minutes=1)  # an approval younger than this may still be sending
RESEND_BATCH = 50


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)


def callback_url(base: str, adapter: PspAdapter) -> str:
    return f"{base.rstrip('/')}/v1/psp/{adapter.name}/callback"


async def account_for(conn: AsyncConnection, platform: Platform, realm: Realm,
                   row: dict[str, Any]) -> tuple[PspAdapter, Account]:
    """The adapter a row was made with, and the brand's account for it (the brand's
    stored credentials when it still uses that adapter, else the adapter's defaults)."""
    brand = await psp_config.for_brand(conn, realm, row["brand_id"])
    return vendor_account(psp.adapter(row["adapter"]), brand.adapter, brand.credentials,
                          platform.settings)


async def start_deposit(platform: Platform, realm: Realm, deposit_id: Any) -> None:
    """Ask the PSP for the payment of a pending deposit that has no PSP reference yet, and
    record the PSP's reference and page. Raises 503 ``SERVICE_UNAVAILABLE`` when the PSP
    does not answer (the deposit stays pending: replay the request)."""
    async with read_only(platform.engine) as conn:
        row = await repository.row(conn, realm, "deposit", deposit_id)
        if row is None or row["status"] != "pending" or row["psp_reference"] is not None:
            return
        adapter, account = await account_for(conn, platform, realm, row)
    unit = ASSETS[row["currency"]]
    payment = PaymentRequest(
        reference=references.encode("deposit", realm, row["id"]),
        amount=from_minor(int(row["amount"]), unit), currency=unit.code,
        method=row["method"], callback_url=callback_url(row["callback_base"], adapter))
    try:
        async with client() as http:
            created = await adapter.create_payment(http, account, payment)
    except VendorRefused as refused:
        at, reason = platform.clock.now(), refused.reason[:255]
        await unit_of_work(platform.engine, lambda conn: deposits.fail_unstarted(
            conn, realm=realm, deposit_id=row["id"], reason=reason, at=at))
        return
    except VendorUnavailable as exc:
        log.warning("PSP did not start a deposit", adapter=adapter.name, error=str(exc))
        raise ServiceUnavailable("the payment provider did not answer; the deposit is pending: "
                                 "send the request again with the same idempotency key") from None
    at = platform.clock.now()
    await unit_of_work(platform.engine, lambda conn: repository.record_psp_reference(
        conn, realm, "deposit", row["id"], created.transaction_id,
        {"redirect_url": created.redirect_url, "updated_at": at}))


async def send_payout(platform: Platform, realm: Realm, withdrawal_id: Any) -> bool:
    """Ask the PSP to pay an approved withdrawal it has not acknowledged yet; record its
    reference. False when the PSP did not answer (sent again later)."""
    async with read_only(platform.engine) as conn:
        row = await repository.row(conn, realm, "withdrawal", withdrawal_id)
        if row is None or row["status"] != "approved" or row["psp_reference"] is not None:
            return True
        adapter, account = await account_for(conn, platform, realm, row)
    unit = ASSETS[row["currency"]]
    payout = PayoutRequest(
        reference=references.encode("withdrawal", realm, row["id"]),
        amount=from_minor(int(row["amount"]), unit), currency=unit.code,
        method=row["method"], callback_url=callback_url(row["callback_base"], adapter))
    try:
        async with client() as http:
            created = await adapter.create_payout(http, account, payout)
    except VendorRefused as refused:
        at, reason = platform.clock.now(), refused.reason[:255]
        await unit_of_work(platform.engine, lambda conn: withdrawals.fail_unsent(
            conn, realm=realm, withdrawal_id=row["id"], reason=reason, at=at))
        return True
    except VendorUnavailable as exc:
        log.warning("PSP did not take a payout; it is sent again later", adapter=adapter.name,
                    error=str(exc))
        return False
    at = platform.clock.now()
    await unit_of_work(platform.engine, lambda conn: repository.record_psp_reference(
        conn, realm, "withdrawal", row["id"], created.transaction_id,
        {"payout_sent_at": at, "updated_at": at}))
    return True


async def send_due(platform: Platform) -> int:
    """The worker's job: send again every approved payout the PSP has not acknowledged a
    minute after its approval; the number the PSP took."""
    before = platform.clock.now() - RESEND_AFTER
    async with read_only(platform.engine) as conn:
        due = await repository.unsent_payouts(conn, before, RESEND_BATCH)
    sent = 0
    for tenant_id, mode, withdrawal_id in due:
        if await send_payout(platform, Realm(tenant_id, Mode(mode)), withdrawal_id):
            sent += 1
    return sent

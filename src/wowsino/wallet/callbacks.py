"""PSP callbacks: ``POST /v1/psp/<adapter>/callback``, with no API key.

1. The adapter reads our reference from the raw body (``references``): it names the
   realm and the deposit or withdrawal, hence the brand.
2. The brand's secret verifies the signature over the raw body — before anything is
   believed or recorded: a bad signature is 401 ``SIGNATURE_INVALID`` and leaves no trace.
3. The verified callback is recorded once per (adapter, PSP transaction, status) and
   applied under the row's lock (``deposits.settle``, ``withdrawals.settle``). A repeat
   answers ``duplicate``; a late or contradicting one is ``flagged`` or ``ignored``.

The PSP gets 200 once the callback is recorded (a repeat included), so it stops retrying.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wowsino.kernel import vendors
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.platform import Platform
from wowsino.wallet import deposits, psp, references, repository, withdrawals
from wowsino.wallet.gateway import account_for

KIND = {"deposit": "payment", "withdrawal": "payout"}


def _unknown() -> NotFound:
    return NotFound("no deposit or withdrawal with this reference", code="NOT_FOUND")


async def receive(platform: Platform, adapter_name: str, body: bytes,
                  headers: Mapping[str, str]) -> dict[str, Any]:
    """Verify and apply one callback; the body to answer with 200.

    Raises 404 for an unknown adapter or reference, 401 ``SIGNATURE_INVALID`` for a
    signature that does not hold, 400 for a body the adapter cannot read."""
    adapter = psp.adapter(adapter_name)
    raw, reference, event = await vendors.verified(
        platform, adapter, body, headers, word="callback", decode=references.decode,
        unknown=_unknown, account_for=account_for,
        load=lambda conn, found: repository.row(conn, found.realm, found.target, found.id))
    if event is None:  # the PSP's news of a payment still under way: nothing settles
        return adapter.acknowledge("ignored")
    realm, target = reference.realm, reference.target
    if event.reference != raw or event.kind != KIND[target]:
        raise ValidationFailed(f"type: a {event.kind} callback for a {target}", field="type")
    text_body = body.decode("utf-8", errors="replace")
    at = platform.clock.now()
    settle = deposits.settle if target == "deposit" else withdrawals.settle
    outcome = await unit_of_work(platform.engine, lambda conn: settle(
        conn, realm=realm, row_id=reference.id, adapter=adapter.name, event=event,
        body=text_body, at=at))
    return adapter.acknowledge(outcome)

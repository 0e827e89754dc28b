"""KYC vendors' webhooks: ``POST /v1/kyc/<adapter>/callback``, with no API key.

1. The adapter reads our reference from the raw body (``references``): it names the
   realm and the verification session, hence the brand.
2. The brand's secret verifies the signature over the raw body — before anything is
   believed or recorded: a bad signature is 401 ``SIGNATURE_INVALID`` and leaves no trace.
3. The verified decision is recorded once and applied in the vendor's order
   (``decisions``): ``applied``, ``stale`` (older than the decision in force) or
   ``duplicate``.

The vendor gets 200 once the webhook is recorded (a repeat included), so it stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wowsino.kernel import vendors
from wowsino.kernel.db import unit_of_work
from wowsino.kernel.errors import NotFound, ValidationFailed
from wowsino.kernel.platform import Platform
from wowsino.kyc import adapters, decisions, references, repository
from wowsino.kyc.sessions import account_for


def _unknown() -> NotFound:
    return NotFound("no KYC session with this reference", code="NOT_FOUND")


async def receive(platform: Platform, adapter_name: str, body: bytes,
                  headers: Mapping[str, str]) -> dict[str, Any]:
    """Verify and record one webhook; the body to answer with 200.

    Raises 404 for an unknown adapter or reference, 401 ``SIGNATURE_INVALID`` for a
    signature that does not hold, 400 for a body the adapter cannot read."""
    adapter = adapters.adapter(adapter_name)
    raw, reference, decision = await vendors.verified(
        platform, adapter, body, headers, word="webhook", decode=references.decode,
        unknown=_unknown, account_for=account_for,
        load=lambda conn, found: repository.session(conn, found.realm, found.session_id))
    if decision is None:  # the vendor's news of a verification under way
        return adapter.acknowledge("ignored")
    if decision.reference != raw:
        raise ValidationFailed("reference: the webhook names two references", field="reference")
    text_body = body.decode("utf-8", errors="replace")
    at = platform.clock.now()
    outcome = await unit_of_work(platform.engine, lambda conn: decisions.record(
        conn, realm=reference.realm, session_id=reference.session_id, adapter=adapter.name,
        decision=decision, body=text_body, at=at))
    return adapter.acknowledge(outcome)

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

from wowsino.kernel.db import read_only, unit_of_work
from wowsino.kernel.errors import AuthInvalid, NotFound, ValidationFailed
from wowsino.kernel.platform import Platform
from wowsino.kyc import adapters, decisions, references, repository
from wowsino.kyc.adapters.base import CallbackInvalid
from wowsino.kyc.sessions import account_for


def _unknown() -> NotFound:
    return NotFound("no KYC session with this reference", code="NOT_FOUND")


async def receive(platform: Platform, adapter_name: str, body: bytes,
                  headers: Mapping[str, str]) -> dict[str, Any]:
    """Verify and record one webhook; the body to answer with 200.

    Raises 404 for an unknown adapter or reference, 401 ``SIGNATURE_INVALID`` for a
    signature that does not hold, 400 for a body the adapter cannot read."""
    adapter = adapters.adapter(adapter_name)
    try:
        raw = adapter.reference_of(body, headers)
    except CallbackInvalid as exc:
        raise ValidationFailed(str(exc), field="body") from None
    if raw is None:
        raise ValidationFailed("reference: the webhook names no reference", field="reference")
    reference = references.decode(raw)
    if reference is None:
        raise _unknown()
    realm = reference.realm
    async with read_only(platform.engine) as conn:
        row = await repository.session(conn, realm, reference.session_id)
        if row is None or row["adapter"] != adapter.name:
            raise _unknown()
        _, account = await account_for(conn, platform, realm, row)
    if not adapter.verify(body, headers, account):
        raise AuthInvalid("the webhook's signature does not verify", code="SIGNATURE_INVALID")
    try:
        decision = adapter.parse(body, headers)
    except CallbackInvalid as exc:
        raise ValidationFailed(str(exc), field="body") from None
    if decision is None:  # the vendor's news of a verification under way
        return adapter.acknowledge("ignored")
    if decision.reference != raw:
        raise ValidationFailed("reference: the webhook names two references", field="reference")
    text_body = body.decode("utf-8", errors="replace")
    at = platform.clock.now()
    outcome = await unit_of_work(platform.engine, lambda conn: decisions.record(
        conn, realm=realm, session_id=reference.session_id, adapter=adapter.name,
        decision=decision, body=text_body, at=at))
    return adapter.acknowledge(outcome)

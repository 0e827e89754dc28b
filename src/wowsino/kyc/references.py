"""Our reference for a KYC verification session, as the vendor knows it.

``kyc_<mode>_<tenant>_<session>`` (ids as 32 hex digits): the vendor echoes it in its
webhooks, so the callback route, which has no API key, finds the realm and the session
from it alone — no global index, every lookup keyed by tenant. The reference only
routes: nothing is believed before the brand's secret verifies the webhook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from wowsino.kernel.realm import Mode, Realm

_PATTERN = re.compile(r"^kyc_(live|test)_([0-9a-f]{32})_([0-9a-f]{32})$")


@dataclass(frozen=True)
class Reference:
    realm: Realm
    session_id: UUID

    def __str__(self) -> str:
        return encode(self.realm, self.session_id)


def encode(realm: Realm, session_id: UUID) -> str:
    return f"kyc_{realm.mode.value}_{realm.tenant_id.hex}_{session_id.hex}"


def decode(raw: str) -> Reference | None:
    """The reference ``raw`` spells, or None when it is not one of ours."""
    found = _PATTERN.fullmatch(raw)
    if found is None:
        return None
    return Reference(Realm(UUID(found.group(2)), Mode(found.group(1))), UUID(found.group(3)))

"""Our reference for a deposit or a withdrawal, as the PSP knows it.

``dep_<mode>_<tenant>_<id>`` or ``wdr_<mode>_<tenant>_<id>`` (ids as 32 hex digits): the
PSP echoes it in its callbacks, so the callback route, which has no API key, finds the
realm and the row from it alone — no global index, every lookup keyed by tenant. The
reference only routes: nothing is believed before the brand's secret verifies the
callback. It is also the payout's idempotency key at the PSP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from wowsino.kernel.realm import Mode, Realm

Target = Literal["deposit", "withdrawal"]
PREFIX: dict[Target, str] = {"deposit": "dep", "withdrawal": "wdr"}
_PATTERN = re.compile(r"^(dep|wdr)_(live|test)_([0-9a-f]{32})_([0-9a-f]{32})$")


@dataclass(frozen=True)
class Reference:
    target: Target
    realm: Realm
    id: UUID

    def __str__(self) -> str:
        return encode(self.target, self.realm, self.id)


def encode(target: Target, realm: Realm, row_id: UUID) -> str:
    return f"{PREFIX[target]}_{realm.mode.value}_{realm.tenant_id.hex}_{row_id.hex}"


def decode(raw: str) -> Reference | None:
    """The reference ``raw`` spells, or None when it is not one of ours."""
    found = _PATTERN.fullmatch(raw)
    if found is None:
        return None
    target: Target = "deposit" if found.group(1) == "dep" else "withdrawal"
    return Reference(target, Realm(UUID(found.group(3)), Mode(found.group(2))),
                     UUID(found.group(4)))

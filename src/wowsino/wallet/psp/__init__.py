"""The PSP adapters a brand may choose (``PUT /v1/brands/<slug>/psp``), by name.

Adding a PSP is one module beside ``sandbox.py`` implementing ``base.PspAdapter`` and one
line here (docs/psp.md has the checklist).
"""

from __future__ import annotations

from wowsino.kernel import vendors
from wowsino.wallet.psp.base import PspAdapter
from wowsino.wallet.psp.sandbox import SandboxAdapter

DEFAULT = vendors.SANDBOX  # a white-label brand's adapter until it chooses one

ADAPTERS: dict[str, PspAdapter] = {adapter.name: adapter for adapter in (SandboxAdapter(),)}


def adapter(name: str) -> PspAdapter:
    """The registered adapter ``name``, or 404 ``NOT_FOUND``."""
    return vendors.registered(ADAPTERS, name, "PSP")

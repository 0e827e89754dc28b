"""The KYC adapters a brand may choose (``PUT /v1/brands/<slug>/kyc``), by name.

Adding a vendor is one module beside ``sandbox.py`` implementing ``base.KycAdapter`` and
one line here (docs/kyc.md has the checklist).
"""

from __future__ import annotations

from wowsino.kernel import vendors
from wowsino.kyc.adapters.base import KycAdapter
from wowsino.kyc.adapters.sandbox import SandboxAdapter
from wowsino.kyc.adapters.sumsub import SumsubAdapter

DEFAULT = vendors.SANDBOX  # a white-label brand's KYC vendor until it chooses one

ADAPTERS: dict[str, KycAdapter] = {adapter.name: adapter
                                   for adapter in (SandboxAdapter(), SumsubAdapter())}


def adapter(name: str) -> KycAdapter:
    """The registered adapter ``name``, or 404 ``NOT_FOUND``."""
    return vendors.registered(ADAPTERS, name, "KYC")

"""The scope dependencies of the engines' routes: read, use for a player, configure, and
the public listings a brand's publishable key may read too."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from wowsino.kernel.auth import Principal, scoped

Read = Annotated[Principal, scoped("engagement:read")]
Use = Annotated[Principal, scoped("engagement:write")]
Config = Annotated[Principal, scoped("config:write")]
# A catalogue a browser site shows (``wpk_…``): configuration and fairness data, never a
# player's identity (see ``viewer``).
Public = Annotated[Principal, scoped("engagement:read", public=True)]


def viewer(principal: Principal) -> UUID | None:
    """The brand whose players an answer may name: the key's, or none for a publishable
    key (a public page names no player: winners by holder id or not at all)."""
    return None if principal.publishable else principal.brand_id

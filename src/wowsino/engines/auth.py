"""The scope dependencies of the engines' routes: read, use for a player, configure."""

from __future__ import annotations

from typing import Annotated

from wowsino.kernel.auth import Principal, scoped

Read = Annotated[Principal, scoped("engagement:read")]
Use = Annotated[Principal, scoped("engagement:write")]
Config = Annotated[Principal, scoped("config:write")]

"""The registry of game aggregator adapters: one line per aggregator."""

from __future__ import annotations

from wowsino.games.adapters.base import Adapter
from wowsino.games.adapters.hub88 import HUB88
from wowsino.games.adapters.sandbox import SANDBOX

ADAPTERS: dict[str, Adapter] = {adapter.name: adapter for adapter in (SANDBOX, HUB88)}

"""The simulator's own cost: 10,000 players in well under 2 s of CPU."""

from __future__ import annotations

import time
from decimal import Decimal

from wowsino.bonuses import simulator
from wowsino.bonuses.schemas import SimulateIn

TEMPLATE = {"id": "01a22c4a-0000-7000-8000-000000000000", "currency": "USD",
            "type": "no_deposit",
            "terms": {"amount": 2000, "wagering_multiple": "30", "max_conversion": 10000}}


def test_10000_players_take_under_2_seconds_of_cpu_and_repeat_exactly() -> None:
    ask = SimulateIn(players=10_000, game_category="slots", rtp=Decimal("0.96"),
                     volatility=Decimal(3), bet_size=Decimal(1), seed=42)
    started = time.thread_time()  # CPU of this thread: other load on the machine does not count
    first = simulator.run(TEMPLATE, ask)
    assert time.thread_time() - started < 2.0
    assert simulator.run(TEMPLATE, ask) == first
    assert first["players"] == 10_000 and first["unfinished"] == 0

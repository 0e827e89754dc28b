"""The webhook retry schedule: about 30 s, 2 m, 10 m, 1 h, 6 h, then every 12 h, each
with ±20 % jitter; which answers are retried and which fail at once.

The expected schedule is written here from the API contract, not read from the code.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from wowsino.webhooks import delivery

# attempt number (1-based, the attempt that just failed) → the nominal wait before the next
SCHEDULE = {1: timedelta(seconds=30), 2: timedelta(minutes=2), 3: timedelta(minutes=10),
            4: timedelta(hours=1), 5: timedelta(hours=6), 6: timedelta(hours=12),
            7: timedelta(hours=12), 10: timedelta(hours=12), 50: timedelta(hours=12)}
JITTER = 0.2


def band(nominal: timedelta) -> tuple[timedelta, timedelta]:
    return nominal * (1 - JITTER), nominal * (1 + JITTER)


class Extreme(random.Random):
    """A generator that always answers one end of the requested range."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


@pytest.mark.parametrize(("attempts", "nominal"), sorted(SCHEDULE.items()))
def test_each_delay_stays_within_its_jitter_band(attempts: int, nominal: timedelta) -> None:
    low, high = band(nominal)
    rng = random.Random(attempts)
    delays = [delivery.next_delay(attempts, rng) for _ in range(500)]
    assert all(low <= d <= high for d in delays), (attempts, min(delays), max(delays))
    # the jitter is real: the waits spread over most of the band, around the nominal value
    assert max(delays) - min(delays) > (high - low) * 0.8
    assert min(delays) < nominal < max(delays)


@pytest.mark.parametrize("attempts", sorted(SCHEDULE))
def test_the_band_edges_are_exactly_plus_and_minus_twenty_percent(attempts: int) -> None:
    low, high = band(SCHEDULE[attempts])
    assert delivery.next_delay(attempts, Extreme(high=False)) == low
    assert delivery.next_delay(attempts, Extreme(high=True)) == high


def test_delays_grow_until_the_twelve_hour_steady_state() -> None:
    rng = Extreme(high=False)
    waits = [delivery.next_delay(n, rng) for n in range(1, 9)]
    assert waits == sorted(waits)
    assert waits[-1] == waits[-2] == timedelta(hours=12) * (1 - JITTER)


def outcome(status: int | None = None, error: str | None = None) -> delivery.Outcome:
    return delivery.Outcome(status_code=status, error=error, duration_ms=1)


@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_mean_later_and_are_retried(status: int) -> None:
    got = outcome(status)
    assert not got.ok and not got.permanent


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 451, 499])
def test_other_4xx_fail_at_once(status: int) -> None:
    got = outcome(status)
    assert not got.ok and got.permanent


@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 599])
def test_5xx_are_retried(status: int) -> None:
    got = outcome(status)
    assert not got.ok and not got.permanent


@pytest.mark.parametrize("error", ["timeout", "network error: ConnectError"])
def test_timeouts_and_network_errors_are_retried(error: str) -> None:
    got = outcome(error=error)
    assert not got.ok and not got.permanent


def test_a_refused_destination_fails_at_once() -> None:
    assert outcome(error="refused").permanent


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_acknowledges(status: int) -> None:
    got = outcome(status)
    assert got.ok and not got.permanent

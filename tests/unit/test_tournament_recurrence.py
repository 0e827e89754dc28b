"""Recurring tournaments repeat their local wall-clock times, across daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wowsino.engines.tournaments.config import shown_score
from wowsino.engines.tournaments.recurrence import Recurrence, check, next_window, shift
from wowsino.kernel.errors import ValidationFailed

MALTA = Recurrence("daily", "Europe/Malta")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_daily_instance_keeps_its_local_time_when_the_clocks_go_back() -> None:
    # 18:00 in Malta: 16:00 UTC in summer time, 17:00 UTC after 2026-10-25
    assert shift(utc(2026, 10, 24, 16), MALTA) == utc(2026, 10, 25, 17)
    assert shift(utc(2026, 10, 25, 17), MALTA) == utc(2026, 10, 26, 17)


def test_a_daily_instance_keeps_its_local_time_when_the_clocks_go_forward() -> None:
    assert shift(utc(2026, 3, 28, 17), MALTA) == utc(2026, 3, 29, 16)


def test_a_weekly_instance_moves_seven_local_days() -> None:
    weekly = Recurrence("weekly", "America/New_York")
    # Friday 20:00 in New York: 00:00 UTC Saturday in summer, 01:00 UTC after 2026-11-01
    assert shift(utc(2026, 10, 31, 0), weekly) == utc(2026, 11, 7, 1)


def test_a_time_the_spring_change_skips_is_read_with_the_offset_before_it() -> None:
    # 02:30 on 2026-03-29 does not exist in Malta; the day before it is 01:30 UTC
    assert shift(utc(2026, 3, 28, 1, 30), MALTA) == utc(2026, 3, 29, 1, 30)


def test_a_late_close_skips_the_periods_already_over() -> None:
    start, end = next_window(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12), Recurrence("daily", "UTC"),
                             after=utc(2026, 1, 5, 11))
    assert (start, end) == (utc(2026, 1, 5, 10), utc(2026, 1, 5, 12))


def test_instances_of_a_series_may_not_overlap() -> None:
    with pytest.raises(ValidationFailed):
        check(utc(2026, 1, 1), utc(2026, 1, 2, 1), Recurrence("daily", "UTC"))
    check(utc(2026, 1, 1), utc(2026, 1, 2), Recurrence("daily", "UTC"))


@pytest.mark.parametrize(("value", "scoring", "currency", "shown"), [
    (250, "sum_wagered", "USD", "2.50"), (12, "bet_count", None, "12"),
    (2_500_000, "max_multiplier", None, "2.5"), (333_333, "sum_multipliers", None, "0.333333"),
    (7_000_000, "points", None, "7"), (100_000_000, "sum_won", "BTC", "1.00000000")])
def test_scores_are_shown_as_exact_decimals(value: int, scoring: str, currency: str | None,
                                            shown: str) -> None:
    assert str(shown_score(value, scoring, currency)) == shown


def test_a_series_whose_next_instance_would_leave_the_calendar_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check(utc(9999, 12, 28), utc(9999, 12, 29), Recurrence("weekly", "UTC"))
    assert refused.value.details["field"] == "recurrence"

"""Responsible-gaming limits: stricter at once, looser only after a 24 h cooling-off."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from wowsino.kernel.clock import iso
from wowsino.kernel.money import ASSETS
from wowsino.players import rg

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
DAY = timedelta(hours=24)
TICK = timedelta(microseconds=1)


def with_limits(**limits: Any) -> dict[str, Any]:
    return {"limits": dict(limits)}


def test_the_cooling_off_is_24_hours() -> None:
    assert rg.COOLING_OFF == DAY


def test_a_first_limit_applies_at_once() -> None:
    state, changes = rg.apply_request({}, {"deposit_daily_limit": 10_000}, NOW)
    assert state == {"limits": {"deposit_daily_limit": 10_000}}
    assert changes == [rg.Change("deposit_daily_limit", None, 10_000, NOW, True)]


@pytest.mark.parametrize("limit", [*rg.MONEY_LIMITS, "session_minutes_limit"])
def test_lowering_a_limit_is_stricter_and_immediate(limit: str) -> None:
    state, changes = rg.apply_request(with_limits(**{limit: 500}), {limit: 200}, NOW)
    assert state == {"limits": {limit: 200}}
    assert changes == [rg.Change(limit, 500, 200, NOW, True)]


@pytest.mark.parametrize("limit", [*rg.MONEY_LIMITS, "session_minutes_limit"])
def test_raising_a_limit_waits_24_hours(limit: str) -> None:
    state, changes = rg.apply_request(with_limits(**{limit: 500}), {limit: 900}, NOW)
    assert state == {
        "limits": {limit: 500},
        "pending": {limit: {"value": 900, "applies_at": iso(NOW + DAY)}},
    }
    assert changes == [rg.Change(limit, 500, 900, NOW + DAY, False)]
    assert rg.effective(state, NOW + DAY - TICK)["limits"] == {limit: 500}
    assert rg.effective(state, NOW + DAY) == {"limits": {limit: 900}}


def test_removing_a_limit_waits_24_hours() -> None:
    state, changes = rg.apply_request(
        with_limits(loss_daily_limit=300, wager_daily_limit=50), {"loss_daily_limit": None}, NOW
    )
    assert state["limits"] == {"loss_daily_limit": 300, "wager_daily_limit": 50}
    assert state["pending"] == {"loss_daily_limit": {"value": None,
                                                     "applies_at": iso(NOW + DAY)}}
    assert changes == [rg.Change("loss_daily_limit", 300, None, NOW + DAY, False)]
    assert rg.effective(state, NOW + DAY - TICK)["limits"]["loss_daily_limit"] == 300
    assert rg.effective(state, NOW + DAY) == {"limits": {"wager_daily_limit": 50}}


def test_removing_an_unset_limit_changes_nothing() -> None:
    state, changes = rg.apply_request(with_limits(), {"deposit_weekly_limit": None}, NOW)
    assert state == {"limits": {}}
    assert changes == []


def test_the_same_value_changes_nothing() -> None:
    start = with_limits(deposit_daily_limit=100)
    state, changes = rg.apply_request(start, {"deposit_daily_limit": 100}, NOW)
    assert state == start
    assert changes == []


def test_asking_for_the_current_value_cancels_a_pending_loosening() -> None:
    state, _ = rg.apply_request(with_limits(deposit_daily_limit=100),
                                {"deposit_daily_limit": 1000}, NOW)
    later = NOW + timedelta(hours=3)
    state, changes = rg.apply_request(state, {"deposit_daily_limit": 100}, later)
    assert state == {"limits": {"deposit_daily_limit": 100}}
    assert changes == [rg.Change("deposit_daily_limit", 100, 100, later, True)]
    assert rg.effective(state, NOW + 2 * DAY) == {"limits": {"deposit_daily_limit": 100}}


def test_a_stricter_request_replaces_a_pending_loosening() -> None:
    state, _ = rg.apply_request(with_limits(deposit_daily_limit=100),
                                {"deposit_daily_limit": None}, NOW)
    state, changes = rg.apply_request(state, {"deposit_daily_limit": 40}, NOW + TICK)
    assert state == {"limits": {"deposit_daily_limit": 40}}
    assert changes[0].immediate
    assert rg.effective(state, NOW + 2 * DAY) == {"limits": {"deposit_daily_limit": 40}}


def test_a_second_loosening_restarts_the_cooling_off() -> None:
    state, _ = rg.apply_request(with_limits(loss_weekly_limit=100),
                                {"loss_weekly_limit": 200}, NOW)
    later = NOW + timedelta(hours=20)
    state, changes = rg.apply_request(state, {"loss_weekly_limit": 500}, later)
    assert state["pending"] == {"loss_weekly_limit": {"value": 500,
                                                      "applies_at": iso(later + DAY)}}
    assert changes == [rg.Change("loss_weekly_limit", 100, 500, later + DAY, False)]
    assert rg.effective(state, NOW + DAY)["limits"] == {"loss_weekly_limit": 100}


def test_a_due_pending_change_counts_before_a_new_request() -> None:
    state, _ = rg.apply_request(with_limits(wager_daily_limit=100),
                                {"wager_daily_limit": 300}, NOW)
    # a day later 300 is in force, so 200 is a tightening and applies at once
    state, changes = rg.apply_request(state, {"wager_daily_limit": 200}, NOW + DAY)
    assert state == {"limits": {"wager_daily_limit": 200}}
    assert changes == [rg.Change("wager_daily_limit", 300, 200, NOW + DAY, True)]


def test_a_time_out_tightens_at_once_and_later_is_stricter() -> None:
    first = iso(NOW + timedelta(days=7))
    state, changes = rg.apply_request({}, {"timeout_until": first}, NOW)
    assert state == {"limits": {"timeout_until": first}}
    assert changes[0].immediate
    longer = iso(NOW + timedelta(days=30))
    state, changes = rg.apply_request(state, {"timeout_until": longer}, NOW)
    assert state == {"limits": {"timeout_until": longer}}
    assert changes[0].immediate


def test_shortening_or_lifting_a_time_out_waits() -> None:
    until = iso(NOW + timedelta(days=30))
    start = with_limits(timeout_until=until)
    shorter = iso(NOW + timedelta(days=2))
    state, changes = rg.apply_request(start, {"timeout_until": shorter}, NOW)
    assert state["limits"] == {"timeout_until": until}
    assert state["pending"]["timeout_until"]["value"] == shorter
    assert not changes[0].immediate
    state, changes = rg.apply_request(start, {"timeout_until": None}, NOW)
    assert state["limits"] == {"timeout_until": until}
    assert state["pending"] == {"timeout_until": {"value": None, "applies_at": iso(NOW + DAY)}}
    assert rg.effective(state, NOW + DAY) == {"limits": {}}


def test_time_outs_compare_as_instants_not_text() -> None:
    # the same instant in another offset is not a change in strictness
    until = "2026-03-05T12:00:00+00:00"
    same_instant = "2026-03-05T14:00:00+02:00"
    _, changes = rg.apply_request(with_limits(timeout_until=until),
                                  {"timeout_until": same_instant}, NOW)
    assert changes[0].immediate
    earlier_by_offset = "2026-03-05T13:00:00+02:00"  # 11:00 UTC, text sorts later
    _, changes = rg.apply_request(with_limits(timeout_until=until),
                                  {"timeout_until": earlier_by_offset}, NOW)
    assert not changes[0].immediate


def test_several_limits_in_one_request() -> None:
    start = with_limits(deposit_daily_limit=100, loss_daily_limit=100)
    state, changes = rg.apply_request(
        start, {"deposit_daily_limit": 50, "loss_daily_limit": 150, "session_minutes_limit": 60},
        NOW,
    )
    assert state["limits"] == {"deposit_daily_limit": 50, "loss_daily_limit": 100,
                               "session_minutes_limit": 60}
    assert set(state["pending"]) == {"loss_daily_limit"}
    assert [(c.limit, c.immediate) for c in changes] == [
        ("deposit_daily_limit", True), ("loss_daily_limit", False),
        ("session_minutes_limit", True),
    ]


def test_rules_do_not_mutate_their_input() -> None:
    state, _ = rg.apply_request(with_limits(deposit_daily_limit=100),
                                {"deposit_daily_limit": 500}, NOW)
    frozen = copy.deepcopy(state)
    rg.effective(state, NOW + 2 * DAY)
    rg.apply_request(state, {"deposit_daily_limit": 10, "loss_daily_limit": 5}, NOW + 2 * DAY)
    assert state == frozen


def test_effective_applies_only_what_is_due() -> None:
    state = {
        "limits": {"deposit_daily_limit": 100, "loss_daily_limit": 100},
        "pending": {
            "deposit_daily_limit": {"value": 300, "applies_at": iso(NOW)},
            "loss_daily_limit": {"value": None, "applies_at": iso(NOW + timedelta(hours=1))},
            "wager_daily_limit": {"value": None, "applies_at": iso(NOW - DAY)},
        },
    }
    assert rg.effective(state, NOW) == {
        "limits": {"deposit_daily_limit": 300, "loss_daily_limit": 100},
        "pending": {"loss_daily_limit": state["pending"]["loss_daily_limit"]},
    }
    assert rg.effective(state, NOW + timedelta(hours=1)) == {
        "limits": {"deposit_daily_limit": 300},
    }
    assert rg.effective({}, NOW) == {"limits": {}}


def test_the_api_view_shows_money_in_the_players_currency() -> None:
    state, _ = rg.apply_request(with_limits(deposit_daily_limit=12_345, session_minutes_limit=90),
                                {"deposit_daily_limit": 20_000}, NOW)
    view = rg.present(state, ASSETS["EUR"], NOW)
    assert set(view) == {*rg.LIMITS, "pending"}
    assert view["deposit_daily_limit"] == Decimal("123.45")
    assert str(view["deposit_daily_limit"]) == "123.45"
    assert view["session_minutes_limit"] == 90
    assert view["loss_daily_limit"] is None
    assert view["timeout_until"] is None
    assert view["pending"] == {"deposit_daily_limit": {"value": Decimal("200.00"),
                                                       "applies_at": iso(NOW + DAY)}}
    assert rg.present(state, ASSETS["EUR"], NOW + DAY)["deposit_daily_limit"] == Decimal("200")
    assert rg.display("loss_daily_limit", 5, ASSETS["USD"]) == Decimal("0.05")
    assert rg.display("session_minutes_limit", 5, ASSETS["USD"]) == 5
    assert rg.display("loss_daily_limit", None, ASSETS["USD"]) is None

"""Who is held from engagement: each reason on its own, and nobody else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wowsino.compliance.engagement import hold_reason
from wowsino.kernel.clock import iso

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _row(status: str = "active", rg: dict | None = None, *, wagered: int = 0, loss: int = 0,
         deposited: int = 0) -> dict:
    return {"status": status, "rg": rg or {}, "day_wagered": wagered, "day_loss": loss,
            "deposited": deposited}


def test_an_ordinary_player_is_not_held() -> None:
    assert hold_reason(_row(wagered=10_000, loss=5_000, deposited=5_000), AT) is None


def test_self_exclusion_holds() -> None:
    assert hold_reason(_row("self_excluded"), AT) == "self_excluded"


def test_a_running_timeout_holds_and_a_past_one_does_not() -> None:
    running = {"limits": {"timeout_until": iso(AT + timedelta(hours=1))}}
    past = {"limits": {"timeout_until": iso(AT - timedelta(hours=1))}}
    assert hold_reason(_row(rg=running), AT) == "timeout"
    assert hold_reason(_row(rg=past), AT) is None


def test_a_pending_loosening_is_a_cooling_off() -> None:
    pending = {"limits": {"deposit_daily_limit": 1000},
               "pending": {"deposit_daily_limit": {"value": None,
                                                   "applies_at": iso(AT + timedelta(hours=3))}}}
    assert hold_reason(_row(rg=pending), AT) == "cooling_off"
    # once the cooling-off has passed the change applies and nothing holds the player
    assert hold_reason(_row(rg=pending), AT + timedelta(hours=4)) is None


@pytest.mark.parametrize(("limit", "column"), [
    ("wager_daily_limit", "wagered"), ("loss_daily_limit", "loss"),
    ("deposit_daily_limit", "deposited")])
def test_reaching_a_daily_limit_holds(limit: str, column: str) -> None:
    rg = {"limits": {limit: 5_000}}
    assert hold_reason(_row(rg=rg, **{column: 4_999}), AT) is None
    assert hold_reason(_row(rg=rg, **{column: 5_000}), AT) == "limit_hit"

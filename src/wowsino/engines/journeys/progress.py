"""A player's run of a journey, step by step: pure rules, no database.

- The entry trigger starts a run at step 0; the event that starts a run never counts
  toward it (the steps count what happens next).
- A trigger counts toward the current step when its name is the step's ``trigger``
  and, with ``min_amount``, its amount reaches it; ``count`` of them complete the step.
  One trigger completes at most one step.
- ``within_hours``: the step must be completed within that many hours of its start
  (the run's start for the first step, the previous step's completion for the others);
  ``time_limit_hours``: the whole run within that many hours of its start. The earlier
  of the two is the run's ``expires_at``; at or after it the run is ``expired``.
- A journey is entered once per player, ever, unless ``repeatable``: then a run that
  ended (completed or expired) starts over on the next entry trigger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass(frozen=True)
class Step:
    trigger: str
    count: int = 1
    min_amount: Decimal | None = None
    within_hours: int | None = None

    @classmethod
    def stored(cls, item: dict[str, Any]) -> Step:
        minimum = item.get("min_amount")
        return cls(item["trigger"], int(item.get("count") or 1),
                   None if minimum is None else Decimal(str(minimum)), item.get("within_hours"))


@dataclass
class Run:
    """The state of a ``journey_players`` row."""

    run: int
    status: str
    step: int
    step_count: int
    step_started_at: datetime
    started_at: datetime
    expires_at: datetime | None
    ended_at: datetime | None = None
    reward: dict[str, Any] | None = None
    changed: bool = field(default=False, compare=False)

    @classmethod
    def stored(cls, row: dict[str, Any]) -> Run:
        return cls(int(row["run"]), row["status"], int(row["step"]), int(row["step_count"]),
                   row["step_started_at"], row["started_at"], row["expires_at"],
                   row["ended_at"], row["reward"])


def amount_of(properties: dict[str, Any]) -> Decimal | None:
    """A trigger's ``amount`` (in its currency's unit, as the API speaks), if a number."""
    amount = properties.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str | Decimal):
        return None
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def matches(step: Step, name: str, amount: Decimal | None) -> bool:
    if step.trigger != name:
        return False
    return step.min_amount is None or (amount is not None and amount >= step.min_amount)


def deadline(steps: list[Step], time_limit_hours: int | None, run: Run) -> datetime | None:
    """The earlier of the run's time limit and its current step's ``within_hours``."""
    ends = []
    if time_limit_hours is not None:
        ends.append(run.started_at + timedelta(hours=time_limit_hours))
    if run.status == "active" and run.step < len(steps):
        within = steps[run.step].within_hours
        if within is not None:
            ends.append(run.step_started_at + timedelta(hours=within))
    return min(ends) if ends else None


def start(steps: list[Step], time_limit_hours: int | None, previous: Run | None,
          at: datetime) -> Run:
    """A new run (the first, or the next of a repeatable journey)."""
    run = Run(1 if previous is None else previous.run + 1, "active", 0, 0, at, at, None,
              changed=True)
    run.expires_at = deadline(steps, time_limit_hours, run)
    return run


def expire(run: Run, at: datetime) -> bool:
    """End an active run whose time is up at ``at``; whether it did."""
    if run.status != "active" or run.expires_at is None or at < run.expires_at:
        return False
    run.status, run.ended_at, run.changed = "expired", run.expires_at, True
    return True


def advance(steps: list[Step], time_limit_hours: int | None, run: Run, name: str,
            amount: Decimal | None, at: datetime) -> str | None:
    """Count one trigger toward an active run: ``counted``, ``step_done``, ``completed``,
    or None when it does not count."""
    if run.status != "active" or not matches(steps[run.step], name, amount):
        return None
    run.step_count += 1
    run.changed = True
    if run.step_count < steps[run.step].count:
        return "counted"
    run.step, run.step_count, run.step_started_at = run.step + 1, 0, at
    if run.step == len(steps):
        run.status, run.ended_at = "completed", at
        run.expires_at = None
        return "completed"
    run.expires_at = deadline(steps, time_limit_hours, run)
    return "step_done"

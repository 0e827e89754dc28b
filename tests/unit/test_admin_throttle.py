"""The admin throttle: failures per address within a window, then a lockout."""

from __future__ import annotations

import pytest

from wowsino.kernel.admin import (
    LOCKOUT_SECONDS,
    MAX_FAILURES,
    WINDOW_SECONDS,
    AdminLockedOut,
    AdminThrottle,
)


def test_failures_older_than_the_window_do_not_count() -> None:
    throttle = AdminThrottle()
    for i in range(MAX_FAILURES - 1):
        throttle.failed("a", float(i))
    throttle.failed("a", WINDOW_SECONDS + 10.0)  # the first ones have aged out
    throttle.check("a", WINDOW_SECONDS + 11.0)


def test_the_limit_locks_the_address_for_the_lockout_only() -> None:
    throttle = AdminThrottle()
    for _ in range(MAX_FAILURES):
        throttle.failed("a", 100.0)
    with pytest.raises(AdminLockedOut) as refused:
        throttle.check("a", 100.0)
    assert refused.value.retry_after == LOCKOUT_SECONDS
    assert refused.value.status == 429 and refused.value.code == "RATE_LIMIT"
    throttle.check("b", 100.0)
    throttle.check("a", 100.0 + LOCKOUT_SECONDS)

"""``make restore-test`` kept working: the drill of ``tests.ops.restore`` restores a base
backup and archived WAL to a point in time into a fresh server and verifies it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.ops.restore import drill


def test_a_point_in_time_restore_holds_what_stood_at_the_target_and_verifies(
        tmp_path: Path) -> None:
    said: list[str] = []
    result = drill(tmp_path / "drill", say=said.append)
    # before the target: the entry in the base backup and the one replayed from the archive
    assert result.entries_at_target == result.entries_restored == 2
    assert result.balance_at_target == result.balance_restored == Decimal("15.00")
    assert any(line.startswith("restored: wowsino ledger verify: ✓ ledger verified")
               for line in said), said
    assert any(line.startswith("restored: wowsino audit verify: ✓ audit verified")
               for line in said), said
    assert result.seconds < 60

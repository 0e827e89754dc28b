"""Identifiers: UUIDv7, time-ordered so inserts stay index-friendly."""

from __future__ import annotations

import time
import uuid

import pytest

from wowsino.kernel import ids


def _ms(value: uuid.UUID) -> int:
    return value.int >> 80


def test_version_and_variant_bits() -> None:
    for _ in range(200):
        value = ids.new_id()
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        assert str(value)[14] == "7"
        assert str(value)[19] in "89ab"


def test_the_timestamp_is_unix_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    moment_ns = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z
    monkeypatch.setattr(ids.time, "time_ns", lambda: moment_ns)
    value = ids.new_id()
    assert _ms(value) == 1_767_225_600_123
    assert str(value).startswith("019b76da-a87b-7")
    assert value.version == 7


def test_ids_order_by_creation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(1_767_225_600_000, 1_767_225_600_000 + 50))
    monkeypatch.setattr(ids.time, "time_ns", lambda: next(clock) * 1_000_000)
    made = [ids.new_id() for _ in range(50)]
    assert made == sorted(made)
    assert [str(v) for v in made] == sorted(str(v) for v in made)  # text order agrees
    assert made[0].bytes < made[-1].bytes


def test_real_time_ordering_across_milliseconds() -> None:
    first = ids.new_id()
    time.sleep(0.002)
    second = ids.new_id()
    assert _ms(second) > _ms(first)
    assert second > first
    assert abs(_ms(second) - time.time_ns() // 1_000_000) < 5_000


def test_ids_are_unique_within_a_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids.time, "time_ns", lambda: 1_767_225_600_000_000_000)
    made = {ids.new_id() for _ in range(10_000)}
    assert len(made) == 10_000
    assert {_ms(v) for v in made} == {1_767_225_600_000}


def test_parse_uuid() -> None:
    value = ids.new_id()
    assert ids.parse_uuid(str(value)) == value
    assert ids.parse_uuid(str(value).upper()) == value
    assert ids.parse_uuid(value.hex) == value
    for bad in ("", "alice", "123", str(value)[:-1], "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"):
        assert ids.parse_uuid(bad) is None

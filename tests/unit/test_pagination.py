"""The one pagination: ``limit`` (default 50, 1–500) and an opaque cursor."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wowsino.kernel.errors import ValidationFailed
from wowsino.kernel.jsonio import dumps, loads
from wowsino.kernel.pagination import (
    BIGINT,
    BY_ID,
    DEFAULT_LIMIT,
    INSTANT,
    MAX_CURSOR_LENGTH,
    MAX_LIMIT,
    NEWEST,
    Keyset,
    check_limit,
    decode_cursor,
    encode_cursor,
    one_of,
    page,
)
from wowsino.players.history import TIMELINE


def test_limit_defaults_and_bounds() -> None:
    assert DEFAULT_LIMIT == 50
    assert MAX_LIMIT == 500
    assert check_limit(None) == 50
    assert check_limit(1) == 1
    assert check_limit(500) == 500
    for bad in (0, -1, 501, 10**9):
        with pytest.raises(ValidationFailed, match="limit: between 1 and 500") as caught:
            check_limit(bad)
        assert caught.value.details == {"field": "limit"}


def test_cursor_round_trip() -> None:
    at = datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    cursor = encode_cursor([at, "0190a6f2-0000-7000-8000-000000000001", 42])
    assert "=" not in cursor  # URL-safe, unpadded
    assert decode_cursor(cursor, 3) == ["2026-05-01T08:00:00.123456Z",
                                        "0190a6f2-0000-7000-8000-000000000001", 42]


# A keyset's values are integers, instants, UUIDs and short names (pagination's kinds): the
# texts of a position are printable ASCII, at most 40 characters. (Free text of any length
# could make a cursor longer than the bound decode_cursor sets on what it reads.)
POSITION_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@given(st.lists(st.one_of(st.integers(min_value=-2**63, max_value=2**63 - 1), POSITION_TEXT,
                          st.booleans(), st.none(),
                          st.decimals(allow_nan=False, allow_infinity=False, places=4,
                                      min_value=-10**18, max_value=10**18)),
                min_size=1, max_size=4))
def test_any_position_survives_the_cursor(position: list[Any]) -> None:
    cursor = encode_cursor(position)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(cursor, len(position)) == position


def test_the_longest_position_a_list_issues_is_well_under_the_bound() -> None:
    """The widest keyset (a player's timeline) at its longest values: an instant with
    microseconds, its longest source name, the most negative bigint."""
    at = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    cursor = TIMELINE.page([{"at": at, "source": "ledger", "id": -(2**63)}] * 2, 1)["next_cursor"]
    assert len(cursor) < 200 < MAX_CURSOR_LENGTH
    assert TIMELINE.decode(cursor) == (at, "ledger", -(2**63))


def test_no_cursor_means_the_first_page() -> None:
    assert decode_cursor(None, 2) is None
    assert decode_cursor("", 2) is None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        _b64(b"{not json"),
        _b64(b'{"a": 1}'),  # not a list
        _b64(b"[1]"),  # wrong size
        _b64(b"[1, 2, 3]"),
        _b64(b"[NaN, 1]"),
        _b64(b"\xff\xfe"),
        encode_cursor(["only-one"]),
    ],
)
def test_a_foreign_cursor_is_a_400(cursor: str) -> None:
    with pytest.raises(ValidationFailed, match="cursor: not a cursor this API issued") as caught:
        decode_cursor(cursor, 2)
    assert caught.value.details == {"field": "cursor"}


def test_page_with_more_rows() -> None:
    rows = [{"id": i} for i in range(4)]  # limit + 1 fetched
    out = page(rows, 3, lambda r: [r["id"]])
    assert out["data"] == rows[:3]
    assert decode_cursor(out["next_cursor"], 1) == [2]


def test_last_page_has_no_cursor() -> None:
    rows = [{"id": i} for i in range(3)]
    assert page(rows, 3, lambda r: [r["id"]]) == {"data": rows, "next_cursor": None}
    assert page([], 3, lambda r: [r["id"]]) == {"data": [], "next_cursor": None}


def test_paging_through_visits_every_row_once() -> None:
    table = [{"id": i, "amount": Decimal(i) / 4} for i in range(23)]

    def fetch(after: list[Any] | None, limit: int) -> list[dict[str, Any]]:
        start = 0 if after is None else after[0] + 1
        return table[start:start + limit + 1]

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        out = page(fetch(decode_cursor(cursor, 1), 5), 5, lambda r: [r["id"]])
        seen += out["data"]
        pages += 1
        cursor = out["next_cursor"]
        if cursor is None:
            break
    assert seen == table
    assert pages == 5


def test_a_keyset_reads_its_values_typed() -> None:
    at = datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    cursor = encode_cursor([at, "0190a6f2-0000-7000-8000-000000000001"])
    assert NEWEST.decode(cursor) == (at, uuid.UUID("0190a6f2-0000-7000-8000-000000000001"))
    assert BY_ID.decode(encode_cursor([2**63 - 1])) == (2**63 - 1,)
    assert NEWEST.decode(None) is None


@pytest.mark.parametrize("position", [
    [1, 2], ["garbage", "x"], [Decimal("1e30"), 1], [{"a": 1}, []], [True, None],
    ["2026-05-01T08:00:00", "0190a6f2-0000-7000-8000-000000000001"],
    ["9999-12-31T23:59:59-14:00", "0190a6f2-0000-7000-8000-000000000001"],
    ["2026-05-01T08:00:00Z", "0190a6f2"],
])
def test_a_keyset_refuses_values_of_another_kind(position: list[Any]) -> None:
    with pytest.raises(ValidationFailed, match="cursor") as caught:
        NEWEST.decode(encode_cursor(position))
    assert caught.value.details == {"field": "cursor"}


@given(st.one_of(st.integers(), st.booleans(),
                 st.decimals(allow_nan=False, allow_infinity=False), st.text(), st.none()))
def test_a_bigint_cursor_holds_only_a_64_bit_integer(value: Any) -> None:
    value = loads(dumps([value]))[0]  # what a client could send
    fits = type(value) is int and -(2**63) <= value < 2**63
    if fits:
        assert BY_ID.decode(encode_cursor([value])) == (value,)
    else:
        with pytest.raises(ValidationFailed):
            BY_ID.decode(encode_cursor([value]))


def test_a_keyset_writes_its_clauses_and_cursors() -> None:
    timeline = Keyset(("at", "source", "id"), (INSTANT, one_of("audit", "note"), BIGINT))
    params: dict[str, Any] = {}
    at = datetime(2026, 5, 1, tzinfo=UTC)
    assert timeline.before((at, "note", 7), params, alias="t") == (
        "(t.at, t.source, t.id) < (CAST(:after_0 AS timestamptz), CAST(:after_1 AS text), "
        "CAST(:after_2 AS bigint))")
    assert params == {"after_0": at, "after_1": "note", "after_2": 7}
    assert timeline.order() == "at DESC, source DESC, id DESC"
    rows = [{"at": at, "source": "note", "id": i} for i in (3, 2, 1)]
    out = timeline.page(rows, 2)
    assert timeline.decode(out["next_cursor"]) == (at, "note", 2)
